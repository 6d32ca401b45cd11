"""A notbank/requests-style REST client with twofa doing the login: ``session.auth = twofa.requests.Auth(auth)``.

Every request carries every header of the current session; on a 401 the session is renewed once
and the request retried once. ``python rest_with_requests.py --sandbox`` runs it locally (the
sandbox has no account API, so the call shows the headers reaching a loopback echo server).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import requests

import twofa
import twofa.requests
from twofa.sandbox import Sandbox


def client(auth: twofa.Authenticator) -> requests.Session:
    http = requests.Session()
    http.auth = twofa.requests.Auth(auth)
    http.headers["Accept"] = "application/json"
    return http


class Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"header_names": sorted(self.headers.keys())}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    if "--sandbox" in sys.argv:
        with Sandbox() as sb:
            users = sb.users["etna"]
            flow = twofa.EtnaFlow(
                base_url=sb.etna_base_url, app_key=users["app_key"], username=users["user_no_2fa"], password=users["password"]
            )
            auth = twofa.Authenticator(flow, store=twofa.MemoryStore())
            server = HTTPServer(("127.0.0.1", 0), Echo)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            with client(auth) as http:
                print(http.get(f"http://127.0.0.1:{server.server_address[1]}/v1.0/accounts").json())
            server.shutdown()
    else:
        flow = twofa.EtnaFlow(
            base_url=os.environ["ETNA_BASE_URL"],
            app_key=os.environ["ETNA_APP_KEY"],
            username=os.environ["ETNA_USERNAME"],
            password_env="ETNA_PASSWORD",
        )
        auth = twofa.Authenticator(flow, codes=twofa.Prompt(), store=twofa.FileStore("~/.cache/twofa-example"))
        with client(auth) as http:
            print(http.get(os.environ["ETNA_BASE_URL"] + "/v1.0/users/@me/accounts").json())
