"""Single flight at expiry from 16 threads and 1,000 asyncio tasks; several event loops;
asyncio cancellation; the GIL released while a login waits."""

from __future__ import annotations

import asyncio
import threading
import time

import twofa
from twofa.sandbox import Sandbox

from conftest import etna_flow

LIFETIME = 1.0


def expiring_auth(sandbox: Sandbox) -> twofa.Authenticator:
    flow = etna_flow(sandbox, user="bob", token_lifetime=LIFETIME)
    return twofa.Authenticator(flow, store=twofa.MemoryStore(), refresh_margin=0)


def test_16_threads_at_expiry_make_one_renewal(sandbox: Sandbox) -> None:
    auth = expiring_auth(sandbox)
    first = auth.token().expose_secret()
    time.sleep(LIFETIME + 0.2)
    before = sandbox.requests("etna.token")
    barrier = threading.Barrier(16)
    tokens: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        t = auth.token().expose_secret()
        with lock:
            tokens.append(t)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sandbox.requests("etna.token") - before == 1
    assert len(tokens) == 16 and len(set(tokens)) == 1 and tokens[0] != first


def test_1000_asyncio_tasks_at_expiry_make_one_renewal(sandbox: Sandbox) -> None:
    auth = expiring_auth(sandbox)
    first = auth.token().expose_secret()
    time.sleep(LIFETIME + 0.2)
    before = sandbox.requests("etna.token")

    async def main() -> list[twofa.Secret]:
        return await asyncio.gather(*(auth.token_async() for _ in range(1000)))

    tokens = {t.expose_secret() for t in asyncio.run(main())}
    assert sandbox.requests("etna.token") - before == 1
    assert len(tokens) == 1 and first not in tokens


def test_several_event_loops_in_several_threads(sandbox: Sandbox) -> None:
    auth = twofa.Authenticator(etna_flow(sandbox, user="bob"), store=twofa.MemoryStore())
    results: list[str] = []

    def loop_thread() -> None:
        async def main() -> str:
            session = await auth.session_async()
            headers = await auth.headers_async()
            assert headers == session.headers
            return (await auth.token_async()).expose_secret()

        results.append(asyncio.run(main()))

    threads = [threading.Thread(target=loop_thread) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len(set(results)) == 1


def test_async_code_callable_runs_on_the_callers_loop_and_cancel_stops_the_login(sandbox: Sandbox) -> None:
    loops: list[asyncio.AbstractEventLoop] = []
    cancelled: list[bool] = []

    async def slow_code(ch: twofa.Challenge) -> str:
        loops.append(asyncio.get_running_loop())
        if len(loops) > 1:
            value = sandbox.latest_code("alice")
            assert value is not None
            return value
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            # The Rust future was dropped, and with it the Python coroutine it awaited.
            cancelled.append(True)
            raise
        return "000000"

    auth = twofa.Authenticator(etna_flow(sandbox), codes=slow_code, store=twofa.MemoryStore())

    async def main() -> float:
        task = asyncio.ensure_future(auth.token_async())
        for _ in range(100):
            if loops:
                break
            await asyncio.sleep(0.02)
        assert loops == [asyncio.get_running_loop()]
        t0 = time.monotonic()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            elapsed = time.monotonic() - t0
        else:
            raise AssertionError("the task was not cancelled")
        # The loop runs on: the Rust login is dropped and cancels the code coroutine it awaited
        # (before this fix it slept on until asyncio.run closed the loop).
        for _ in range(100):
            if cancelled:
                break
            await asyncio.sleep(0.01)
        assert cancelled == [True], "the code coroutine was cancelled with the task"
        return elapsed

    assert asyncio.run(main()) < 0.5
    # Nothing of the cancelled login lingers: the same authenticator's next call runs a login of
    # its own (the dropped one would hold the single flight forever).
    assert auth.token().expose_secret()
    assert len(loops) == 2


def test_the_gil_is_released_while_a_login_waits(sandbox: Sandbox) -> None:
    release = threading.Event()

    def code(ch: twofa.Challenge) -> str:
        release.wait(5)
        value = sandbox.latest_code("alice")
        assert value is not None
        return value

    ticks = 0
    done = threading.Event()

    def login() -> None:
        etna_flow(sandbox).login(codes=code)
        done.set()

    t = threading.Thread(target=login)
    t.start()
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        ticks += 1  # Python code runs here while the other thread is inside the Rust login
    release.set()
    t.join()
    assert done.is_set() and ticks > 1000
