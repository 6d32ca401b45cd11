"""Benchmark rows of the Python package, side by side in one run (`bash .ci/bench python`).

1. An ETNA 2FA login through twofa vs the vendor's `requests` sample
   (crates/twofa-bench/vendor_baseline.py's loop, in this process), both against the sandbox and
   both reading the code the same way, from the sandbox's outbox in this process (no HTTP), so
   the row compares the two logins, not two ways of reading mail.
2. `auth.token()` from Python on a fresh session (the in-memory fast path).

Prints a Markdown table. Needs `requests`.
"""

from __future__ import annotations

import statistics
import sys
import time
import timeit

import requests

import twofa
from twofa.sandbox import Sandbox

LOGINS = int(sys.argv[1]) if len(sys.argv) > 1 else 50


def vendor_login(sb: Sandbox, base: str, app_key: str, user: str, password: str) -> None:
    headers = {"Accept": "application/json", "Et-App-Key": app_key, "Username": user, "Password": password}
    first = requests.post(base + "token", headers=headers).json()
    code = sb.latest_code(user)
    assert code is not None
    second = requests.post(
        base + "token", headers=dict(headers, VerificationCode=code, Authorization="Bearer " + first["Token"])
    ).json()
    assert second["State"] == "Succeeded", second


def main() -> None:
    with Sandbox() as sb:
        u = sb.users["etna"]
        base = sb.etna_base_url + "/"
        user = "alice.python"

        def code(ch: twofa.Challenge) -> str:
            return sb.latest_code(user) or ""

        flow = twofa.EtnaFlow(base_url=sb.etna_base_url, app_key=u["app_key"], username=user, password=u["password"])
        vendor, ours = [], []
        for _ in range(LOGINS):
            t = time.perf_counter()
            vendor_login(sb, base, u["app_key"], user, u["password"])
            vendor.append(time.perf_counter() - t)
            t = time.perf_counter()
            flow.login(codes=code)
            ours.append(time.perf_counter() - t)
        v, o = statistics.median(vendor), statistics.median(ours)

        auth = twofa.Authenticator(flow, codes=code, store=twofa.MemoryStore())
        auth.token()
        n = 200_000
        per_call = min(timeit.repeat(auth.token, number=n, repeat=5)) / n

    print("| row | twofa (Python package) | baseline | ratio | target |")
    print("|---|---|---|---|---|")
    print(f"| ETNA 2FA login vs the vendor's `requests` sample (median of {LOGINS}) | {o * 1e3:.2f} ms | {v * 1e3:.2f} ms (vendor) | {v / o:.1f}× faster | ≥ 5× |")
    print(f"| `auth.token()` from Python on a fresh session | {per_call * 1e9:.0f} ns/call | - | - | ≤ 1 µs |")


if __name__ == "__main__":
    main()
