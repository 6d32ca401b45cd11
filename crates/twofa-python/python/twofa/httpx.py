"""``httpx`` integration: ``httpx.Client(auth=twofa.httpx.Auth(auth))``, sync or async.

Every request gets every header of the current session; on a 401 the session is renewed once
and the request is sent once more.
"""

from __future__ import annotations

from typing import AsyncGenerator, Generator

import httpx

from ._twofa import Authenticator


class Auth(httpx.Auth):
    """An ``httpx`` auth flow over a twofa ``Authenticator`` (sync and async clients)."""

    requires_response_body = False

    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        session = self.authenticator.session()
        request.headers.update(session.headers)
        response = yield request
        if response.status_code == 401:
            self.authenticator.invalidate(session)
            request.headers.update(self.authenticator.session().headers)
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        session = await self.authenticator.session_async()
        request.headers.update(session.headers)
        response = yield request
        if response.status_code == 401:
            self.authenticator.invalidate(session)
            fresh = await self.authenticator.session_async()
            request.headers.update(fresh.headers)
            yield request

    def __repr__(self) -> str:
        return f"twofa.httpx.Auth({self.authenticator!r})"
