"""twofa: log programs and people into APIs that demand a second factor.

The logic is the Rust crates' (PyO3 bindings in ``twofa._twofa``); this package only names things
the Python way. See ``docs/python.md``.
"""

from __future__ import annotations

import atexit as _atexit
import os as _os
from typing import Union as _Union

from . import _twofa
from ._twofa import (
    AccountLocked,
    Authenticator,
    Challenge,
    ChallengeExpired,
    CodeSource,
    CodeSourceError,
    ConfigError,
    Error,
    EtnaFlow,
    Flow,
    InvalidApiKey,
    InvalidAppKey,
    InvalidCode,
    InvalidCredentials,
    InvalidInput,
    InvalidPin,
    MalformedCredential,
    OmsFlow,
    OnlineOrderingFlow,
    PasswordExpired,
    PinNotSet,
    ProviderError,
    RateLimited,
    Secret,
    Session,
    SessionExpired,
    Store,
    StoreError,
    TransportError,
    UnexpectedResponse,
    Unsupported,
    UnsupportedStep,
)

__version__: str = _twofa.__version__

# From here on no Rust task calls back into Python (callbacks fail, log records are dropped).
_atexit.register(_twofa._shutdown)


def Prompt() -> CodeSource:
    """Ask the person at the terminal for the code (no echo)."""
    return CodeSource.prompt()


def Totp(seed: _Union[str, Secret]) -> CodeSource:
    """Compute the code from a base32 TOTP seed."""
    return CodeSource.totp(seed)


def EnvCode(var: str) -> CodeSource:
    """Read the code from the environment variable ``var`` when a login needs it."""
    return CodeSource.env(var)


def ConsoleCodeSource(profile: str, url: _Union[str, None] = None, wait_limit: _Union[float, None] = None) -> CodeSource:
    """Ask a person through the ``twofa serve`` web console (``url`` defaults to ``$TWOFA_CONSOLE``)."""
    return CodeSource.console(profile, url, wait_limit)


def FileStore(dir: _Union[str, "_os.PathLike[str]"]) -> Store:
    """Sessions in private files (0600, directory 0700) under ``dir`` (``~`` expanded)."""
    return Store.file(_os.path.expanduser(_os.fspath(dir)))


def MemoryStore() -> Store:
    """Sessions in memory only."""
    return Store.memory()


def RedisStore(url: str, *, prefix: _Union[str, None] = None) -> Store:
    """Sessions in Redis, shared by a fleet with one renewal at a time."""
    return Store.redis(url, prefix=prefix)


def KeyringStore(service: str) -> Store:
    """Sessions in the OS keyring under ``service``."""
    return Store.keyring(service)


AsyncAuthenticator = Authenticator
"""The same class: its ``*_async`` methods are the asyncio form."""

__all__ = [
    "AccountLocked", "AsyncAuthenticator", "Authenticator", "Challenge", "ChallengeExpired", "CodeSource",
    "CodeSourceError", "ConfigError", "ConsoleCodeSource", "EnvCode", "Error", "EtnaFlow", "FileStore", "Flow",
    "InvalidApiKey", "InvalidAppKey", "InvalidCode", "InvalidCredentials", "InvalidInput", "InvalidPin",
    "KeyringStore", "MalformedCredential", "MemoryStore", "OmsFlow", "OnlineOrderingFlow", "PasswordExpired",
    "PinNotSet", "Prompt", "ProviderError", "RateLimited", "RedisStore", "Secret", "Session", "SessionExpired",
    "Store", "StoreError", "Totp", "TransportError", "UnexpectedResponse", "Unsupported", "UnsupportedStep",
]
