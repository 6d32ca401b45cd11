"""Each provider's login through the package, against the sandbox."""

from __future__ import annotations

from datetime import timezone

import pytest

import twofa
from twofa.sandbox import Sandbox

from conftest import etna_flow, mailed_code


def test_etna_login_with_emailed_code(sandbox: Sandbox) -> None:
    seen: list[twofa.Challenge] = []

    def code(ch: twofa.Challenge) -> str:
        seen.append(ch)
        value = sandbox.latest_code("alice")
        assert value is not None
        return value

    session = etna_flow(sandbox).login(codes=code)
    assert session.provider == "etna"
    assert set(session.headers) == {"Authorization", "Et-App-Key"}
    assert session.headers["Authorization"] == "Bearer " + session.access_token.expose_secret()
    assert session.expires_at is not None and session.expires_at.tzinfo is timezone.utc
    assert [c.attempt for c in seen] == [1]
    assert seen[0].provider == "etna" and seen[0].method == "email_or_sms"


def test_etna_wrong_code_then_right_code(sandbox: Sandbox) -> None:
    attempts: list[int] = []

    def code(ch: twofa.Challenge) -> str:
        attempts.append(ch.attempt)
        if ch.attempt == 1:
            return "000000"
        value = sandbox.latest_code("alice")
        assert value is not None
        return value

    session = etna_flow(sandbox).login(codes=code)
    assert attempts == [1, 2]
    assert session.access_token.expose_secret()


def test_async_def_code_callable_in_a_sync_login(sandbox: Sandbox) -> None:
    async def code(ch: twofa.Challenge) -> str:
        value = sandbox.latest_code("alice")
        assert value is not None
        return value

    assert etna_flow(sandbox).login(codes=code).provider == "etna"


def test_expired_challenge(sandbox: Sandbox) -> None:
    def code(ch: twofa.Challenge) -> str:
        sandbox.advance(3600)
        value = sandbox.latest_code("alice")
        assert value is not None
        return value

    with pytest.raises(twofa.ChallengeExpired) as raised:
        etna_flow(sandbox).login(codes=code, restart_on_expired=False)
    assert raised.value.kind == "challenge_expired"
    assert raised.value.is_retryable is False


def test_oms_websocket_login_on_a_totp_seed(sandbox: Sandbox) -> None:
    u = sandbox.users["oms"]
    flow = twofa.OmsFlow(endpoint=sandbox.oms_ws_url, username=u["user_totp"], password=u["password"])
    session = flow.login(codes=twofa.Totp(twofa.Secret(u["totp_seed"])))
    assert session.provider == "oms"
    assert session.headers


def test_oms_http_login_on_a_totp_seed(sandbox: Sandbox) -> None:
    u = sandbox.users["oms"]
    flow = twofa.OmsFlow(endpoint=sandbox.oms_http_url, username=u["user_totp"], password=u["password"], transport="http")
    assert flow.login(codes=twofa.Totp(u["totp_seed"])).provider == "oms"


def test_oms_api_key_login(sandbox: Sandbox) -> None:
    u = sandbox.users["oms"]
    flow = twofa.OmsFlow(
        endpoint=sandbox.oms_ws_url, user_id=int(u["api_user_id"]), api_key=u["api_key"], api_secret=u["api_secret"]
    )
    assert flow.login().provider == "oms"


def test_onlineordering_login_with_emailed_code(sandbox: Sandbox) -> None:
    u = sandbox.users["onlineordering"]
    flow = twofa.OnlineOrderingFlow(
        base_url=sandbox.onlineordering_base_url,
        company_code=u["company_code"],
        api_user=u["api_user"],
        api_password=u["api_password"],
        email=u["customer_email_2fa"],
        password=u["password"],
    )
    session = flow.login(codes=mailed_code(sandbox, u["customer_email_2fa"]))
    assert session.provider == "onlineordering"
    assert session.headers


def test_password_from_env_and_from_a_callable_asked_only_on_login(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWOFA_TEST_PASSWORD", sandbox.users["etna"]["password"])
    u = sandbox.users["etna"]
    by_env = twofa.EtnaFlow(base_url=sandbox.etna_base_url, app_key=u["app_key"], username="bob", password_env="TWOFA_TEST_PASSWORD")
    assert by_env.login().provider == "etna"
    asked: list[int] = []

    def password() -> str:
        asked.append(1)
        return u["password"]

    flow = twofa.EtnaFlow(base_url=sandbox.etna_base_url, app_key=u["app_key"], username="bob", password=password)
    assert asked == []
    auth = twofa.Authenticator(flow, store=twofa.MemoryStore())
    auth.token()
    auth.token()
    assert asked == [1]


def test_authenticator_file_store_resumes_without_a_new_login(sandbox: Sandbox, tmp_path: "object") -> None:
    store_dir = str(tmp_path)
    codes = mailed_code(sandbox, "alice")
    first = twofa.Authenticator(etna_flow(sandbox), codes=codes, store=twofa.FileStore(store_dir), profile="etna-alice")
    token = first.token().expose_secret()
    before = sandbox.requests("etna.token")
    second = twofa.Authenticator(etna_flow(sandbox), codes=codes, store=twofa.FileStore(store_dir), profile="etna-alice")
    assert second.token().expose_secret() == token
    assert second.session().subject == first.session().subject
    assert sandbox.requests("etna.token") == before
    second.logout()
    assert second.peek() is None
