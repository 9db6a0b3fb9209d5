"""`casper review --web`: the review app served to browsers by textual-serve, its /healthz, its
refusals, and the Databricks App entry point and app.yaml.

The browser tests run `casper review --web` as a user would and drive Debian's headless Chromium
with Playwright. textual-serve draws the terminal on a canvas, so the page has no text to read:
the tests read what the app sent down the page's websocket instead (the terminal's byte stream),
and ask the app store what was decided.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import psutil
import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from casper.appstore import AppStore, open_store, sync_frames
from casper.errors import CasperError
from casper.home import CasperHome
from engines.databricks.app_yaml import APP_ENTRY_MODULE, app_yaml
from tests.appstore_fixtures import FULL, ORDERS, PARTIAL, SteppingClock, realistic_frames
from tests.cli_helpers import casper, casper_env
from tui.databricks_app import app_port
from tui.web import APP_STORE_ENV, ReviewWebServer, session_command, session_environment

T = TypeVar("T")
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium's own connections are refused on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REVIEWER = "Ann O'Neil"  # a quote and a space: the per-session command must quote it
SECRET = "s3cret-pw"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def closed_port_dsn() -> str:
    """A PostgreSQL DSN, password included, to a loopback port nothing listens on."""
    return f"postgresql://casper:{SECRET}@127.0.0.1:{free_port()}/caspers"


def wait_for_health(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited {process.returncode}:\n{log.read_text()}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/healthz", timeout=5) as response,
        ):
            return json.loads(response.read())
        time.sleep(0.2)
    raise AssertionError(f"no /healthz within {timeout}s:\n{log.read_text()}")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError("the server did not stop on SIGTERM") from None


@pytest.fixture
def home(tmp_path: Path) -> CasperHome:
    """A home whose embedded store holds the realistic recommendations."""
    chosen = CasperHome(tmp_path / "home")
    with open_store(chosen, None, clock=SteppingClock()) as store:
        sync_frames(store, *realistic_frames())
    return chosen


# --- the server, in process ---------------------------------------------------------------


async def fetch(server: ReviewWebServer, path: str, headers: dict[str, str] | None = None):
    async with TestClient(TestServer(await server._make_app())) as client:
        response = await client.get(path, headers=headers)
        return response.status, response.headers.get("Content-Type", ""), await response.text()


@pytest.mark.anyio
async def test_healthz_is_200_with_the_store_counts(home: CasperHome) -> None:
    status, content_type, body = await fetch(ReviewWebServer(home, lambda: None), "/healthz")
    assert status == 200 and content_type.startswith("application/json")
    report = json.loads(body)
    assert report["ok"] is True and report["backend"] == "sqlite"
    assert (report["recommendations"], report["decisions"]) == (len(ORDERS), 0)


@pytest.mark.anyio
async def test_healthz_is_503_with_the_problem_when_the_store_is_down(home: CasperHome) -> None:
    status, _, body = await fetch(ReviewWebServer(home, closed_port_dsn), "/healthz")
    report = json.loads(body)
    assert status == 503 and report["ok"] is False and report["backend"] == "postgresql"
    assert "Connection refused" in report["error"]
    assert SECRET not in body and "Traceback" not in body


@pytest.mark.anyio
async def test_healthz_is_503_when_the_credential_cannot_be_had(home: CasperHome) -> None:
    def expired() -> str:
        raise CasperError("token refresh failed: 403 from the workspace")

    status, _, body = await fetch(ReviewWebServer(home, expired), "/healthz")
    assert status == 503
    assert json.loads(body) == {
        "ok": False,
        "error": "token refresh failed: 403 from the workspace",
    }


@pytest.mark.anyio
async def test_the_page_sends_the_browser_back_to_the_address_it_used(home: CasperHome) -> None:
    """Behind the Databricks Apps gateway (https) and when bound to 0.0.0.0, the websocket and
    static URLs must be the ones the browser reached, not the bind address."""
    server = ReviewWebServer(home, lambda: None, host="0.0.0.0", allow_remote=True)
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "refunds.example.com"}
    status, _, page = await fetch(server, "/", forwarded)
    assert status == 200
    assert 'data-session-websocket-url="wss://refunds.example.com/ws"' in page
    assert 'src="https://refunds.example.com/static/js/textual.js"' in page
    assert "0.0.0.0" not in page


def test_the_session_command_is_this_interpreters_review_app_without_the_dsn(tmp_path: Path):
    home = CasperHome(tmp_path / "a home with 'quotes'")
    command = session_command(home, REVIEWER)
    assert shlex.split(command) == [
        "exec", sys.executable, "-m", "casper", "--home", str(home.root), "review", "--user", REVIEWER,
    ]  # fmt: skip
    dsn = closed_port_dsn()
    assert session_environment({"PATH": "/bin"}, dsn) == {"PATH": "/bin", APP_STORE_ENV: dsn}
    # the embedded store, even if the server's own environment named another store
    assert session_environment({APP_STORE_ENV: dsn}, None) == {}


# --- the command's refusals -----------------------------------------------------------------


def test_a_non_loopback_host_is_refused_without_allow_remote(home: CasperHome) -> None:
    result = casper(home.root, "review", "--web", "--host", "0.0.0.0", check=False, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: --host 0.0.0.0 is reachable from other machines and the review app has no login; "
        "add --allow-remote to serve it there anyway"
    ]


def test_a_port_in_use_is_one_line(home: CasperHome) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = casper(home.root, "review", "--web", "--port", str(port), check=False, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: port {port} on 127.0.0.1 is already in use; pick another with --port"
    ]


def test_an_unreachable_store_stops_before_serving_without_showing_the_password(
    home: CasperHome,
) -> None:
    port = free_port()
    result = casper(
        home.root, "review", "--web", "--port", str(port), "--app-store", closed_port_dsn(),
        check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("error: app store (postgresql): connection failed")
    assert "Traceback" not in result.stderr
    assert SECRET not in result.stdout + result.stderr


# --- the Databricks App ---------------------------------------------------------------------


def test_app_yaml_runs_the_databricks_entry_with_its_environment() -> None:
    text = app_yaml(env={"REVIEW_NOTE": 'say "hi": ok'}, value_from={"SLACK_TOKEN": "slack"})
    assert yaml.safe_load(text) == {
        "command": ["python", "-m", "tui.databricks_app"],
        "env": [
            {"name": "CASPER_HOME", "value": "/tmp/casper"},
            {"name": "REVIEW_NOTE", "value": 'say "hi": ok'},
            {"name": "SLACK_TOKEN", "valueFrom": "slack"},
        ],
    }
    entry = __import__(APP_ENTRY_MODULE, fromlist=["main"])
    assert callable(entry.main)


def test_the_app_port_must_be_a_number() -> None:
    assert app_port({"DATABRICKS_APP_PORT": "8000"}) == 8000
    with pytest.raises(CasperError, match="DATABRICKS_APP_PORT must be"):
        app_port({})


def test_the_databricks_entry_serves_every_interface_on_the_app_port(
    home: CasperHome, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    code = "from tui.databricks_app import serve_databricks_app; serve_databricks_app(lambda: None)"
    env = {**casper_env(), "DATABRICKS_APP_PORT": str(port), "CASPER_HOME": str(home.root)}
    with log.open("w") as sink:
        process = subprocess.Popen([sys.executable, "-c", code], stdout=sink, stderr=sink, env=env)
    try:
        report = wait_for_health(f"http://127.0.0.1:{port}", process, log)
        assert report["ok"] and report["recommendations"] == len(ORDERS)
        listening = {
            c.laddr.ip
            for c in psutil.Process(process.pid).net_connections()
            if c.status == psutil.CONN_LISTEN
        }
        assert listening == {"0.0.0.0"}
    finally:
        stop(process)


# --- in a real browser ----------------------------------------------------------------------


def terminal_text(frames: list[bytes | str]) -> str:
    """What the app wrote to a page's terminal, escape sequences removed."""
    raw = b"".join(f if isinstance(f, bytes) else f.encode() for f in frames)
    return re.sub(rb"\x1b\[[0-9;?<=>]*[ -/]*[@-~]", b"", raw).decode("utf-8", "replace")


class Tab:
    """A browser page on the review app, and every frame its terminal received."""

    def __init__(self, browser, url: str) -> None:
        self.frames: list[bytes | str] = []
        self.page = browser.new_page(viewport={"width": 1200, "height": 640})
        # The page asks Google for its font; offline that must fail at once, not time out.
        self.page.route("https://fonts.googleapis.com/**", lambda route: route.abort())
        self.page.on("websocket", lambda ws: ws.on("framereceived", self._received))
        self.page.goto(url)

    def _received(self, payload: bytes | str) -> None:
        self.frames.append(payload)

    def wait_for(self, text: str, timeout: float = 60) -> None:
        """Until the app has sent `text` to this page; Playwright's waits let its events in."""
        deadline = time.monotonic() + timeout
        while text not in terminal_text(self.frames):
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never reached the page")
            self.page.wait_for_timeout(100)

    def wait_until_drawn(self, quiet_ms: int = 600) -> None:
        """Until the app has sent nothing for `quiet_ms`, so the canvas shows a settled screen."""
        seen = -1
        while seen != len(self.frames):
            seen = len(self.frames)
            self.page.wait_for_timeout(quiet_ms)

    def focus(self) -> None:
        """Focus the terminal, as a click does, and let the app settle its own focus on the list
        before any key arrives (it does so a moment after the page's focus reaches it)."""
        self.page.locator(".xterm-helper-textarea").focus()  # xterm.js reads keys from here
        self.wait_until_drawn()

    def press(self, *keys: str) -> None:
        for key in keys:
            self.page.keyboard.press(key)
            self.page.wait_for_timeout(150)


def keep_artifact(path: Path) -> None:
    """Screenshots and logs stay in the test's tmp dir and, when CI collects artifacts, are copied
    to $CASPER_TEST_ARTIFACTS."""
    if folder := os.environ.get("CASPER_TEST_ARTIFACTS"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, Path(folder) / path.name)


def screenshot(tab: Tab, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    tab.page.screenshot(path=str(path))
    keep_artifact(path)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        reason = f"no browser at {CHROMIUM} (Debian's chromium package; .ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI runs the browser tests: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


class ServedReview:
    def __init__(self, home: CasperHome, process: subprocess.Popen, url: str) -> None:
        self.home, self.process, self.url = home, process, url

    def sessions(self) -> list[psutil.Process]:
        """The review app processes textual-serve started, one per connected tab."""
        found = []
        for child in psutil.Process(self.process.pid).children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                argv = child.cmdline()
                if "review" in argv and "--web" not in argv:
                    found.append(child)
        return found

    def store(self) -> AppStore:
        return open_store(self.home, None)


@pytest.fixture
def served(
    home: CasperHome, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[ServedReview]:
    """`casper review --web` on a free loopback port, as a user starts it."""
    port = free_port()
    log = tmp_path / f"{request.node.name}-server.log"
    argv = [sys.executable, "-m", "casper", "--home", str(home.root), "review", "--web"]
    with log.open("w") as sink:
        process = subprocess.Popen(
            [*argv, "--port", str(port), "--user", REVIEWER],
            stdout=sink,
            stderr=sink,
            env=casper_env(),
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, process, log)
        review = ServedReview(home, process, url)
        yield review
        sessions = review.sessions()  # tabs may still be open: stopping must end their apps too
    finally:
        stop(process)
        keep_artifact(log)
    _, alive = psutil.wait_procs(sessions, timeout=10)
    assert not alive, f"apps left running after the server stopped: {alive}"


def wait_until(
    read: Callable[[], T], done: Callable[[T], bool], what: str, timeout: float = 30
) -> T:
    deadline = time.monotonic() + timeout
    while not done(value := read()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last saw {value!r}")
        time.sleep(0.2)
    return value


def decisions_by_order(served: ServedReview) -> dict[str, tuple[str, Decimal, str | None]]:
    with served.store() as store:
        return {d.order_id: (d.refund_class, d.amount_usd, d.decided_by) for d in store.decisions()}


@pytest.mark.slow
def test_a_reviewer_accepts_a_suggestion_in_the_browser(
    served: ServedReview, browser, tmp_path: Path
) -> None:
    tab = Tab(browser, served.url)
    tab.wait_for(ORDERS[-1].order_id)  # the last row: the whole list is on the page
    tab.wait_until_drawn()
    screenshot(tab, tmp_path, "review-web-list.png")
    assert decisions_by_order(served) == {}

    tab.focus()
    tab.press("a")  # accepts the highlighted suggestion, the newest: ORDERS[PARTIAL]
    decided = wait_until(lambda: decisions_by_order(served), bool, "the decision in the store")
    assert decided == {ORDERS[PARTIAL].order_id: ("partial", Decimal("8.50"), REVIEWER)}
    tab.wait_until_drawn()
    screenshot(tab, tmp_path, "review-web-accepted.png")


@pytest.mark.slow
def test_each_tab_gets_its_own_app_on_the_same_store(
    served: ServedReview, browser, tmp_path: Path
) -> None:
    first, second = Tab(browser, served.url), Tab(browser, served.url)
    for tab in (first, second):
        tab.wait_for(ORDERS[-1].order_id)
        tab.focus()
    wait_until(served.sessions, lambda apps: len(apps) == 2, "an app per tab")

    first.press("a")  # the first tab's cursor is on the newest row
    second.press("ArrowDown", "a")  # the second tab's own cursor moved to the next one
    decided = wait_until(
        lambda: decisions_by_order(served), lambda by_order: len(by_order) == 2, "both decisions"
    )
    assert set(decided) == {ORDERS[PARTIAL].order_id, ORDERS[FULL].order_id}

    first.page.close()  # its app ends; the other tab's app carries on
    wait_until(served.sessions, lambda apps: len(apps) == 1, "the closed tab's app to exit")
    second.wait_until_drawn()
    screenshot(second, tmp_path, "review-web-second-tab.png")
    second.page.close()
