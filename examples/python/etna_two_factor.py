"""The vendor's ETNA two-factor sample (docs: "Two-Factor Authentication", Python tab) on twofa.

The vendor's version, for comparison, posts twice to ``/token`` by hand::

    auth = requests.post(baseURL + 'token', headers={"Et-App-Key": ..., "Username": ..., "Password": ...})
    token = "Bearer " + auth.json()["Token"]                 # the interim token
    code = input("Enter the verification code: ")
    second = requests.post(baseURL + 'token', headers={..., "VerificationCode": code, "Authorization": token})
    token = "Bearer " + second.json()["Token"]               # the final token (no error handling,
                                                             # no expiry, no wrong-code retry)

With twofa the same login is one call; a wrong code is asked again, an expired challenge starts
over, the token is kept in a private file and renewed when it expires, and nothing is printed
that could leak it.

Run against the local sandbox: ``python etna_two_factor.py --sandbox``; against ETNA: set
``ETNA_BASE_URL``, ``ETNA_APP_KEY``, ``ETNA_USERNAME`` and ``ETNA_PASSWORD``.
"""

from __future__ import annotations

import os
import sys

import twofa
from twofa.sandbox import Sandbox


def main(base_url: str, app_key: str, username: str, codes: twofa.CodeSource | twofa._twofa.CodeCallable) -> None:
    flow = twofa.EtnaFlow(base_url=base_url, app_key=app_key, username=username, password_env="ETNA_PASSWORD")
    auth = twofa.Authenticator(flow, codes=codes, store=twofa.FileStore("~/.cache/twofa-example"), profile="etna")
    session = auth.session()
    print("logged in; session ends at", session.expires_at)
    print("headers to send:", sorted(session.headers))  # names only: values are secrets


if __name__ == "__main__":
    if "--sandbox" in sys.argv:
        with Sandbox() as sb:
            users = sb.users["etna"]
            os.environ["ETNA_PASSWORD"] = users["password"]

            def mailed(challenge: twofa.Challenge) -> str:
                print(f"code asked: {challenge.method}, attempt {challenge.attempt}")
                return sb.latest_code(users["user_2fa"]) or ""

            main(sb.etna_base_url, users["app_key"], users["user_2fa"], mailed)
    else:
        main(os.environ["ETNA_BASE_URL"], os.environ["ETNA_APP_KEY"], os.environ["ETNA_USERNAME"], twofa.Prompt())
