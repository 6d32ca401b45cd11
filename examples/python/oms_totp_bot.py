"""A trading bot on an exchange OMS (AlphaPoint APEX): password + TOTP seed, no person needed.

The session is kept in Redis when ``REDIS_URL`` is set (one login for the whole fleet), else in
a private file; ``auth.headers()`` renews it only when it is about to expire.

``python oms_totp_bot.py --sandbox`` runs it against the local sandbox.
"""

from __future__ import annotations

import asyncio
import os
import sys

import twofa
from twofa.sandbox import Sandbox


def authenticator(endpoint: str, username: str) -> twofa.Authenticator:
    flow = twofa.OmsFlow(endpoint=endpoint, username=username, password_env="OMS_PASSWORD")
    redis_url = os.environ.get("REDIS_URL")
    store = twofa.RedisStore(redis_url) if redis_url else twofa.FileStore("~/.cache/twofa-example")
    # The seed is read once, here, and never printed: Secret hides it from repr and logs.
    seed = twofa.Secret(os.environ["OMS_TOTP_SEED"])
    return twofa.Authenticator(flow, codes=twofa.Totp(seed), store=store, profile="oms-bot")


async def trade(auth: twofa.Authenticator, rounds: int) -> None:
    for _ in range(rounds):
        headers = await auth.headers_async()  # renewed here when needed, one login for all tasks
        print("would send an order with", sorted(headers))
        await asyncio.sleep(0.1)


if __name__ == "__main__":
    if "--sandbox" in sys.argv:
        with Sandbox() as sb:
            users = sb.users["oms"]
            os.environ.update(OMS_PASSWORD=users["password"], OMS_TOTP_SEED=users["totp_seed"])
            os.environ.pop("REDIS_URL", None)
            asyncio.run(trade(authenticator(sb.oms_ws_url, users["user_totp"]), rounds=3))
    else:
        asyncio.run(trade(authenticator(os.environ["OMS_ENDPOINT"], os.environ["OMS_USERNAME"]), rounds=10))
