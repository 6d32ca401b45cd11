"""The keyring store against a real Secret Service (`.ci/python` runs this file under
`.ci/with-secret-service`); skipped elsewhere, unless `TWOFA_REQUIRE_KEYRING` is set."""

from __future__ import annotations

import os
import uuid

import pytest

import twofa
from twofa.sandbox import Sandbox

from conftest import etna_flow


@pytest.fixture
def service() -> str:
    if not os.environ.get("TWOFA_TEST_KEYRING"):
        if os.environ.get("TWOFA_REQUIRE_KEYRING"):
            pytest.fail("TWOFA_REQUIRE_KEYRING is set but TWOFA_TEST_KEYRING is not")
        pytest.skip("no Secret Service: run under .ci/with-secret-service")
    return f"twofa-py-test-{uuid.uuid4().hex}"


def test_a_session_in_the_keyring_is_adopted_by_a_second_authenticator(sandbox: Sandbox, service: str) -> None:
    one = twofa.Authenticator(etna_flow(sandbox, user="bob"), store=twofa.KeyringStore(service), profile="desk")
    token = one.token().expose_secret()
    logins = sandbox.requests("etna.token")
    two = twofa.Authenticator(etna_flow(sandbox, user="bob"), store=twofa.KeyringStore(service), profile="desk")
    assert two.token().expose_secret() == token
    assert sandbox.requests("etna.token") == logins, "the second adopted the stored session"
    assert token not in repr(two) and token not in repr(twofa.KeyringStore(service))
    two.logout()
    three = twofa.Authenticator(etna_flow(sandbox, user="bob"), store=twofa.KeyringStore(service), profile="desk")
    assert three.peek() is None
    assert three.token().expose_secret() != token, "after the logout the keyring held no session"
    assert sandbox.requests("etna.token") == logins + 1
    three.logout()
