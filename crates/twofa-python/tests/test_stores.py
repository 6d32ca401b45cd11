"""The Redis store from Python: two authenticators (two "processes") share one login.

Runs when `TWOFA_TEST_REDIS` names a Redis (`.ci/run` starts one); skipped otherwise, unless
`TWOFA_REQUIRE_REDIS` is set.
"""

from __future__ import annotations

import os
import uuid

import pytest

import twofa
from twofa.sandbox import Sandbox

from conftest import etna_flow

REDIS = os.environ.get("TWOFA_TEST_REDIS")


@pytest.fixture
def redis_url() -> str:
    if not REDIS:
        if os.environ.get("TWOFA_REQUIRE_REDIS"):
            pytest.fail("TWOFA_REQUIRE_REDIS is set but TWOFA_TEST_REDIS is not")
        pytest.skip("no Redis: set TWOFA_TEST_REDIS=redis://127.0.0.1:PORT/")
    return REDIS


def test_two_authenticators_on_one_redis_share_one_login(sandbox: Sandbox, redis_url: str) -> None:
    prefix = f"twofa-py-test-{uuid.uuid4().hex}"
    one = twofa.Authenticator(etna_flow(sandbox, user="bob"), store=twofa.RedisStore(redis_url, prefix=prefix), profile="desk")
    token = one.token().expose_secret()
    logins = sandbox.requests("etna.token")
    two = twofa.Authenticator(etna_flow(sandbox, user="bob"), store=twofa.RedisStore(redis_url, prefix=prefix), profile="desk")
    assert two.token().expose_secret() == token
    assert sandbox.requests("etna.token") == logins
    two.logout()


def test_an_unreachable_redis_is_a_store_error() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(twofa.StoreError) as e:
        twofa.RedisStore(f"redis://127.0.0.1:{port}/")
    assert e.value.kind == "store"
