"""Every exception type, raised by the real flows where the sandbox can provoke it."""

from __future__ import annotations

import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import twofa
from twofa.sandbox import Sandbox

from conftest import etna_flow

ALL = [
    "InvalidAppKey", "InvalidCredentials", "InvalidApiKey", "AccountLocked", "PasswordExpired", "PinNotSet",
    "InvalidPin", "UnsupportedStep", "InvalidCode", "ChallengeExpired", "SessionExpired", "RateLimited",
    "Unsupported", "ConfigError", "InvalidInput", "CodeSourceError", "TransportError", "UnexpectedResponse",
    "MalformedCredential", "StoreError", "ProviderError",
]


@pytest.mark.parametrize("name", ALL)
def test_every_error_is_a_twofa_error(name: str) -> None:
    cls = getattr(twofa, name)
    assert issubclass(cls, twofa.Error) and issubclass(cls, Exception)


def test_invalid_credentials(sandbox: Sandbox) -> None:
    with pytest.raises(twofa.InvalidCredentials) as e:
        etna_flow(sandbox, password="wrong-password").login()
    assert e.value.kind == "invalid_credentials" and e.value.is_retryable is False
    assert "wrong-password" not in str(e.value)


def test_invalid_app_key(sandbox: Sandbox) -> None:
    with pytest.raises(twofa.InvalidAppKey):
        etna_flow(sandbox, app_key="not-the-key").login()


def test_password_expired(sandbox: Sandbox) -> None:
    with pytest.raises(twofa.PasswordExpired):
        etna_flow(sandbox, user="carol").login()


def test_pin_not_set(sandbox: Sandbox) -> None:
    with pytest.raises(twofa.PinNotSet):
        etna_flow(sandbox, user="frank").login()


def test_invalid_pin(sandbox: Sandbox) -> None:
    with pytest.raises(twofa.InvalidPin):
        etna_flow(sandbox, user="dave", pin="0000").login()


def test_invalid_code_after_every_attempt(sandbox: Sandbox) -> None:
    with pytest.raises(twofa.InvalidCode) as e:
        etna_flow(sandbox).login(codes=lambda ch: "000000", max_code_attempts=2)
    assert e.value.retry_after is None


def test_account_locked(sandbox: Sandbox) -> None:
    u = sandbox.users["oms"]
    with pytest.raises(twofa.AccountLocked):
        twofa.OmsFlow(endpoint=sandbox.oms_ws_url, username=u["user_locked"], password=u["password"]).login()


def test_invalid_api_key(sandbox: Sandbox) -> None:
    u = sandbox.users["oms"]
    with pytest.raises(twofa.InvalidApiKey):
        twofa.OmsFlow(endpoint=sandbox.oms_ws_url, user_id=int(u["api_user_id"]), api_key=u["api_key"], api_secret="wrong").login()


def test_rate_limited_is_retryable_with_retry_after(sandbox: Sandbox) -> None:
    sandbox.set_etna_rate_limit(1)
    flow = etna_flow(sandbox, user="bob")
    flow.login()
    with pytest.raises(twofa.RateLimited) as e:
        flow.login()
    assert e.value.is_retryable is True
    assert e.value.retry_after is None or e.value.retry_after > 0


def test_transport_error_is_retryable() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    flow = twofa.EtnaFlow(base_url=f"http://127.0.0.1:{port}/api", app_key="k", username="u", password="p")
    with pytest.raises(twofa.TransportError) as e:
        flow.login()
    assert e.value.is_retryable is True and e.value.kind == "transport"


def test_config_error() -> None:
    with pytest.raises(twofa.ConfigError):
        twofa.EtnaFlow(base_url="", app_key="k", username="u", password="p")


def test_code_source_error_names_the_exception_not_its_message(sandbox: Sandbox) -> None:
    def code(ch: twofa.Challenge) -> str:
        raise RuntimeError("the code is 424242")

    with pytest.raises(twofa.CodeSourceError) as e:
        etna_flow(sandbox).login(codes=code)
    assert "RuntimeError" in str(e.value)
    assert "424242" not in str(e.value)


def test_invalid_input_for_an_empty_code(sandbox: Sandbox) -> None:
    with pytest.raises(twofa.InvalidInput):
        etna_flow(sandbox).login(codes=lambda ch: "")


def test_store_error_when_the_store_directory_is_a_file(sandbox: Sandbox, tmp_path: "os.PathLike[str]") -> None:
    not_a_dir = os.path.join(os.fspath(tmp_path), "file")
    with open(not_a_dir, "w") as f:
        f.write("x")
    auth = twofa.Authenticator(etna_flow(sandbox, user="bob"), store=twofa.FileStore(not_a_dir))
    with pytest.raises(twofa.StoreError) as e:
        auth.token()
    assert e.value.kind == "store"


def test_unexpected_response_from_a_server_that_answers_nonsense() -> None:
    class Nonsense(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = b"<html>maintenance</html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Nonsense)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        flow = twofa.EtnaFlow(base_url=f"http://127.0.0.1:{server.server_address[1]}/api", app_key="k", username="u", password="p")
        with pytest.raises(twofa.UnexpectedResponse) as e:
            flow.login()
        assert e.value.kind == "unexpected_response" and e.value.is_retryable is False
    finally:
        server.shutdown()
