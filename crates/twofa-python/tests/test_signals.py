"""Ctrl-C during a prompt stops the login within 200 ms; no call into Python after shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

PROMPT_SCRIPT = r"""
import sys, time, twofa
from twofa.sandbox import Sandbox
with Sandbox() as sb:
    u = sb.users["etna"]
    flow = twofa.EtnaFlow(base_url=sb.etna_base_url, app_key=u["app_key"], username="alice", password=u["password"])
    print("waiting", flush=True)
    try:
        flow.login(codes=twofa.Prompt())
    except KeyboardInterrupt:
        print("interrupted", time.monotonic(), flush=True)
        sys.exit(42)
"""


INPUT_SCRIPT = PROMPT_SCRIPT.replace("codes=twofa.Prompt()", "codes=lambda ch: input()")


@pytest.mark.parametrize("script", [PROMPT_SCRIPT, INPUT_SCRIPT], ids=["twofa.Prompt", "python-input-callable"])
def test_ctrl_c_during_a_prompt_stops_the_login_within_200_ms(script: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "waiting"
        time.sleep(0.5)  # the prompt is up and reading stdin, which never answers
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        line = child.stdout.readline().split()
        assert child.wait(5) == 42
        assert line[0] == "interrupted"
        assert float(line[1]) - sent < 0.2, f"KeyboardInterrupt after {float(line[1]) - sent:.3f} s"
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        assert child.stdin is not None
        child.stdin.close()


SHUTDOWN_SCRIPT = r"""
import threading, time, twofa
from twofa.sandbox import Sandbox
sb = Sandbox()
u = sb.users["etna"]
flow = twofa.EtnaFlow(base_url=sb.etna_base_url, app_key=u["app_key"], username="alice", password=u["password"])
def code(ch):
    time.sleep(0.3)
    return "000000"
def login():
    try:
        flow.login(codes=code, max_code_attempts=3)
    except Exception:
        pass
threading.Thread(target=login, daemon=True).start()
time.sleep(0.1)
print("exiting", flush=True)
"""


def test_exit_while_a_login_calls_back_into_python_is_clean() -> None:
    done = subprocess.run([sys.executable, "-c", SHUTDOWN_SCRIPT], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "exiting"
    assert "panicked" not in done.stderr and "Fatal" not in done.stderr, done.stderr
