"""Fixtures: a sandbox per test, and flows on its demo users."""

from __future__ import annotations

from typing import Iterator

import pytest

import twofa
from twofa.sandbox import Sandbox


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


def etna_flow(sb: Sandbox, user: str = "alice", **kwargs: object) -> twofa.EtnaFlow:
    u = sb.users["etna"]
    args: dict[str, object] = dict(base_url=sb.etna_base_url, app_key=u["app_key"], username=user, password=u["password"])
    args.update(kwargs)
    return twofa.EtnaFlow(**args)  # type: ignore[arg-type]


def mailed_code(sb: Sandbox, recipient: str) -> "twofa._twofa.CodeCallable":
    """A code callable that reads the code the sandbox just "sent" to ``recipient``."""

    def code(challenge: twofa.Challenge) -> str:
        value = sb.latest_code(recipient)
        assert value is not None
        return value

    return code
