"""twofa.requests.Auth and twofa.httpx.Auth: every header, and 401 → renew once → retry once."""

from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import httpx
import pytest
import requests

import twofa
import twofa.httpx
import twofa.requests
from twofa.sandbox import Sandbox

from conftest import etna_flow


class Api:
    """A REST API on loopback that accepts only the newest token twofa got, and counts calls."""

    def __init__(self) -> None:
        self.accepted: set[str] = set()
        self.seen: list[tuple[str, str]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                auth = self.headers.get("Authorization", "")
                api.seen.append((auth, self.headers.get("Et-App-Key", "")))
                ok = auth in api.accepted
                body = b'{"ok": true}' if ok else b'{"ok": false}'
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/accounts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def api() -> Iterator[Api]:
    a = Api()
    yield a
    a.server.shutdown()


def test_requests_auth_adds_every_header_and_renews_once_on_401(sandbox: Sandbox, api: Api) -> None:
    auth = twofa.Authenticator(etna_flow(sandbox, user="bob"), store=twofa.MemoryStore())
    first = auth.session()
    logins = sandbox.requests("etna.token")

    # The API revoked the first token; the renewed one (a new login) is accepted.
    with requests.Session() as http:
        http.auth = twofa.requests.Auth(auth)
        # The API accepts any token but the first one.
        class NotFirst(set[str]):
            def __contains__(self, item: object) -> bool:
                return item != first.headers["Authorization"]

        api.accepted = NotFirst()
        r = http.get(api.url)
        assert r.status_code == 200
        assert len(r.history) == 1 and r.history[0].status_code == 401
        assert sandbox.requests("etna.token") == logins + 1
        assert api.seen[0] == (first.headers["Authorization"], first.headers["Et-App-Key"])
        assert api.seen[1][0] != first.headers["Authorization"] and api.seen[1][1] == first.headers["Et-App-Key"]
        # A second 401 after the renewal is returned, not retried again.
        api.accepted = set()
        r = http.get(api.url)
        assert r.status_code == 401
        assert len(api.seen) == 4


def test_httpx_auth_sync_and_async_renew_once_on_401(sandbox: Sandbox, api: Api) -> None:
    auth = twofa.Authenticator(etna_flow(sandbox, user="bob"), store=twofa.MemoryStore())
    first = auth.session().headers["Authorization"]

    class NotFirst(set[str]):
        def __contains__(self, item: object) -> bool:
            return item != first

    api.accepted = NotFirst()
    logins = sandbox.requests("etna.token")
    with httpx.Client(auth=twofa.httpx.Auth(auth)) as client:
        r = client.get(api.url)
    assert r.status_code == 200 and len(api.seen) == 2
    assert sandbox.requests("etna.token") == logins + 1

    second = auth.session().headers["Authorization"]

    class NotSecond(set[str]):
        def __contains__(self, item: object) -> bool:
            return item not in (first, second)

    api.accepted = NotSecond()

    async def call() -> int:
        async with httpx.AsyncClient(auth=twofa.httpx.Auth(auth)) as client:
            return (await client.get(api.url)).status_code

    assert asyncio.run(call()) == 200
    assert len(api.seen) == 4
    assert sandbox.requests("etna.token") == logins + 2
