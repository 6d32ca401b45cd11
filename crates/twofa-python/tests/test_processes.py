"""Across processes: two Python processes on one file store log in once (the store's lease), and a
bot's code comes from a person at the web console of `twofa serve`."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests

import twofa
from twofa.sandbox import Sandbox

from conftest import etna_flow

# A process that waits for the go file, then asks for a token; its password takes a second, so the
# two processes' renewals overlap and the second must wait on the lease the first holds.
CHILD = """
import os, sys, time
import twofa
base, app_key, password, store, go, asked = sys.argv[1:]

def slow_password() -> str:
    with open(asked, "a") as f:
        f.write("1")
    time.sleep(1.0)
    return password

flow = twofa.EtnaFlow(base_url=base, app_key=app_key, username="bob", password=slow_password)
auth = twofa.Authenticator(flow, store=twofa.FileStore(store), profile="desk")
while not os.path.exists(go):
    time.sleep(0.005)
print(auth.token().expose_secret())
"""


def test_two_processes_on_one_file_store_log_in_once(sandbox: Sandbox, tmp_path: Path) -> None:
    u = sandbox.users["etna"]
    store, go, asked = tmp_path / "store", tmp_path / "go", tmp_path / "asked"
    argv = [sys.executable, "-c", CHILD, sandbox.etna_base_url, u["app_key"], u["password"], str(store), str(go), str(asked)]
    before = sandbox.requests("etna.token")
    children = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    time.sleep(0.5)  # both imported and waiting (a late one only adopts the stored session sooner)
    go.touch()
    outputs = [c.communicate(timeout=60) for c in children]
    for child, (_, err) in zip(children, outputs):
        assert child.returncode == 0, err
    tokens = {out.strip() for out, _ in outputs}
    assert len(tokens) == 1, "both processes hold the one session"
    assert sandbox.requests("etna.token") == before + 1, "one login across the two processes"
    assert asked.read_text() == "1", "the password was asked once"


TWOFA_BIN = os.environ.get("TWOFA_BIN")


@pytest.fixture
def console(tmp_path: Path) -> Iterator[str]:
    """`twofa serve` on loopback, with an empty home: its printed link."""
    if not TWOFA_BIN:
        if os.environ.get("TWOFA_REQUIRE_CONSOLE"):
            pytest.fail("TWOFA_REQUIRE_CONSOLE is set but TWOFA_BIN is not")
        pytest.skip("no twofa binary: set TWOFA_BIN to target/debug/twofa")
    env = {"PATH": os.environ.get("PATH", ""), "TWOFA_HOME": str(tmp_path / "home")}
    serve = subprocess.Popen([TWOFA_BIN, "serve"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    try:
        assert serve.stdout is not None
        first = serve.stdout.readline()
        assert first.startswith("twofa console: "), first
        yield first.removeprefix("twofa console: ").strip()
    finally:
        serve.terminate()
        serve.wait(10)


def type_the_code(link: str, profile: str, code: str) -> str:
    """A person: opens the link, waits for the profile's pending card, types `code`; the page after."""
    person = requests.Session()
    opened = person.get(link, allow_redirects=False, timeout=5)
    assert opened.status_code == 303, opened.text
    base = link.split("/?", 1)[0]
    for _ in range(400):
        page = person.get(f"{base}/pending", timeout=5).text
        card = page.find(f'id="pending-{profile}"')
        if card >= 0 and 'action="/pending/' in page[card:]:
            action = html.unescape(re.search(r'action="(/pending/[^"]+)"', page[card:]).group(1))  # type: ignore[union-attr]
            csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            answered = person.post(f"{base}{action}", data={"csrf": csrf, "code": code}, allow_redirects=False, timeout=5)
            assert answered.status_code == 303, answered.text
            return person.get(f"{base}/pending", timeout=5).text
        time.sleep(0.025)
    raise AssertionError(f"no pending code for {profile}")


def test_a_bots_code_comes_from_a_person_at_the_console(sandbox: Sandbox, console: str) -> None:
    import threading

    auth = twofa.Authenticator(etna_flow(sandbox), codes=twofa.ConsoleCodeSource("desk", url=console, wait_limit=30))
    tokens: list[str] = []
    bot = threading.Thread(target=lambda: tokens.append(auth.token().expose_secret()))
    bot.start()
    for _ in range(400):
        code = sandbox.latest_code("alice")
        if code is not None:
            break
        time.sleep(0.025)
    assert code is not None, "the sandbox sent no code"
    after = type_the_code(console, "desk", code)
    bot.join(30)
    assert not bot.is_alive(), "the bot's login did not finish"
    assert len(tokens) == 1 and tokens[0] == auth.session().access_token.expose_secret()
    assert code not in after and tokens[0] not in after, "no code or token in the console's page"


def test_a_bot_waiting_at_the_console_gives_up_after_its_wait_limit(sandbox: Sandbox, console: str) -> None:
    auth = twofa.Authenticator(etna_flow(sandbox), codes=twofa.ConsoleCodeSource("desk", url=console, wait_limit=1))
    t0 = time.monotonic()
    with pytest.raises(twofa.CodeSourceError) as e:
        auth.token()
    assert time.monotonic() - t0 < 10
    assert e.value.kind == "code_source"
    code = sandbox.latest_code("alice")
    assert code is not None and code not in str(e.value)
