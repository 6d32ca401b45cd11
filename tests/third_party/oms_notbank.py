"""notbank's Python client (PyPI `notbank`) against the sandbox's OMS gateways: API-key login over
HTTP, a private call on that session, then session resume with `WebAuthenticateUser
{SessionToken}` on a new WebSocket (whose typed reply model wants `UserId` as a string), `Ping`,
`LogOut`, and the token refused after it.

Usage: python oms_notbank.py <host:port> <user-id> <api-key> <api-secret> <username>
Exits non-zero on the first failed step. The client is patched only where it hard-codes TLS (see
README.md beside this file).
"""

import sys

from notbank_python_sdk.client_connection_factory import (
    new_rest_client_connection,
    new_websocket_client_connection,
)
from notbank_python_sdk.notbank_client import NotbankClient
from notbank_python_sdk.requests_models.authenticate_request import AuthenticateRequest
from notbank_python_sdk.requests_models.get_user_info import GetUserInfoRequest
from notbank_python_sdk.requests_models.web_authenticate_user_request import WebAuthenticateUserRequest
from notbank_python_sdk.rest.rest_client_connection import RestClientConnection
from notbank_python_sdk.websocket.websocket_manager import WebsocketManager

# Patches (README.md): the client builds `https://` and `wss://` URLs itself; the sandbox speaks
# plain HTTP and WebSocket on loopback. Nothing else is changed.
RestClientConnection._get_host_url = lambda self, host: "http://" + host
WebsocketManager._build_url = lambda self, host: "ws://" + host + "/wsgateway/"


def check(condition, step, detail=None):
    if not condition:
        print(f"FAIL {step}: {detail!r}", file=sys.stderr)
        sys.exit(1)
    print(f"ok   {step}")


def main():
    host, user_id, api_key, api_secret, username = sys.argv[1:6]

    rest = NotbankClient(new_rest_client_connection(host))
    login = rest.authenticate(AuthenticateRequest(api_public_key=api_key, api_secret_key=api_secret, user_id=user_id))
    check(login.authenticated and login.session_token, "AuthenticateUser with the API key (HTTP)", login.errormsg)
    check(login.requires_2fa is False, "the API key bypasses 2FA", login.requires_2fa)
    token = login.session_token
    info = rest.get_user_info(GetUserInfoRequest())
    check(info.user_name == username, "GetUserInfo on the API-key session (aptoken)", info.user_name)
    rest.close()

    ws = new_websocket_client_connection(host)
    ws.connect()
    client = NotbankClient(ws)
    resumed = client.web_authenticate_user(WebAuthenticateUserRequest(session_token=token))
    check(resumed.authenticated is True, "WebAuthenticateUser {SessionToken} resumes on a WebSocket", resumed.errormsg)
    check(resumed.user_id == user_id, "UserId is the string the typed model wants", resumed.user_id)
    pong = client.ping()
    check(pong is None or getattr(pong, "msg", "PONG") == "PONG", "Ping answers PONG", pong)
    client.logout()
    print("ok   LogOut")
    ws.close()

    ws = new_websocket_client_connection(host)
    ws.connect()
    dead = NotbankClient(ws).web_authenticate_user(WebAuthenticateUserRequest(session_token=token))
    check(dead.authenticated is False, "the token is refused after LogOut", dead.authenticated)
    ws.close()
    print("notbank: all steps passed")


if __name__ == "__main__":
    main()
