"""ccxt's `ndax` exchange (PyPI `ccxt`) against the sandbox's OMS HTTP gateway, as a bot signs in:
`sign_in()` (`GET /AP/Authenticate` with Basic, then `GET /AP/Authenticate2FA?Code=…` with the
`Pending2FaToken` header and a code from the TOTP seed), a private call on the session (`APToken`),
private calls signed with the API-key headers instead (no session, a fresh nonce each), `LogOut`.

Usage: python oms_ccxt.py <http-base> <username> <password> <totp-seed> <user-id> <api-key> <api-secret>
Exits non-zero on the first failed step. The client is not patched: its API URLs are
configuration (`exchange.urls['api']`), pointed at the sandbox.
"""

import sys
import time

import ccxt


def check(condition, step, detail=None):
    if not condition:
        print(f"FAIL {step}: {detail!r}", file=sys.stderr)
        sys.exit(1)
    print(f"ok   {step}")


def main():
    base, username, password, seed, user_id, api_key, api_secret = sys.argv[1:8]
    exchange = ccxt.ndax({
        "login": username,
        "password": password,
        "twofa": seed,
        "uid": user_id,
        "apiKey": api_key,
        "secret": api_secret,
    })
    exchange.urls["api"] = {"public": base + "/AP", "private": base + "/AP"}

    signed_in = exchange.sign_in()
    check(signed_in.get("Authenticated") is True and signed_in.get("SessionToken"),
          "sign_in: Authenticate (Basic), then GET Authenticate2FA?Code= with Pending2FaToken",
          {k: signed_in.get(k) for k in ("Authenticated", "UserId")})
    check(str(signed_in.get("UserId")) == user_id, "Authenticate2FA names the user", signed_in.get("UserId"))

    info = exchange.request("GetUserInfo", ["private"], "GET")
    check(info.get("UserName") == username, "a private call on the session (APToken)", info.get("UserName"))

    # Without a session ccxt signs each private call: Nonce, APIKey, Signature, UserId.
    exchange.options.pop("sessionToken", None)
    for n in (1, 2):
        info = exchange.request("GetUserInfo", ["private"], "GET")
        check(str(info.get("UserId")) == user_id, f"a private call signed with the API key ({n})", info.get("UserId"))
        time.sleep(0.002)  # ccxt's nonce is the time in ms: two calls in one ms would reuse it

    out = exchange.publicGetLogOut()
    check(out.get("result") in (True, "true"), "GET LogOut", out)
    print("ccxt ndax: all steps passed")


if __name__ == "__main__":
    main()
