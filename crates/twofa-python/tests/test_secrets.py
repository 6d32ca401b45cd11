"""No secret in any repr, str, exception text or log record; secrets refuse to be pickled."""

from __future__ import annotations

import copy
import logging
import pickle

import pytest

import twofa
from twofa.sandbox import Sandbox

from conftest import etna_flow


def test_secret_repr_str_and_pickle() -> None:
    s = twofa.Secret("hunter2-value")
    assert repr(s) == "Secret('***')" and str(s) == "***" and f"{s}" == "***"
    assert s.expose_secret() == "hunter2-value"
    with pytest.raises(TypeError):
        pickle.dumps(s)
    with pytest.raises(TypeError):
        copy.copy(s)


def test_no_secret_in_session_authenticator_repr_logs_or_errors(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    password = sandbox.users["etna"]["password"]
    codes_given: list[str] = []

    def code(ch: twofa.Challenge) -> str:
        value = sandbox.latest_code("alice")
        assert value is not None
        codes_given.append(value)
        return "000000" if ch.attempt == 1 else value

    auth = twofa.Authenticator(etna_flow(sandbox), codes=code, store=twofa.MemoryStore())
    session = auth.session()
    token = session.access_token.expose_secret()
    with pytest.raises(twofa.InvalidCredentials) as e:
        etna_flow(sandbox, password="p@ss-wrong-secret").login()
    with pytest.raises(TypeError):
        pickle.dumps(session)
    secrets = [password, token, "p@ss-wrong-secret", sandbox.users["etna"]["app_key"], *codes_given]
    texts = [repr(session), str(session), repr(auth), repr(session.access_token), str(e.value), repr(e.value)]
    texts += [r.getMessage() for r in caplog.records]
    assert any(r.name.startswith("twofa_core") for r in caplog.records), "Rust tracing reached Python logging"
    for text in texts:
        for secret in secrets:
            assert secret not in text, (secret, text)
