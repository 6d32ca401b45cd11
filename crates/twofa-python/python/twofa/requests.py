"""``requests`` integration: ``session.auth = twofa.requests.Auth(auth)``.

Every request gets every header of the current session; on a 401 the session is renewed once
and the request is sent once more.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.auth import AuthBase

from ._twofa import Authenticator


class Auth(AuthBase):
    """A ``requests`` auth that logs in through a twofa ``Authenticator``."""

    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        session = self.authenticator.session()
        r.headers.update(session.headers)
        r.register_hook("response", self._make_retry_hook(session))
        return r

    def _make_retry_hook(self, used: Any) -> Any:
        def on_response(response: requests.Response, **kwargs: Any) -> requests.Response:
            if response.status_code != 401 or getattr(response.request, "_twofa_retried", False):
                return response
            self.authenticator.invalidate(used)
            fresh = self.authenticator.session()
            request = response.request.copy()
            request.headers.update(fresh.headers)
            setattr(request, "_twofa_retried", True)
            # The first answer's body is not needed: release the connection before the retry.
            response.content
            response.raw.release_conn()
            retried = response.connection.send(request, **kwargs)
            retried.history.append(response)
            retried.request = request
            return retried

        return on_response

    def __repr__(self) -> str:
        return f"twofa.requests.Auth({self.authenticator!r})"
