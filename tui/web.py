"""`casper review --web`: the review app in a browser, served by textual-serve.

textual-serve starts one process per browser websocket, so every tab gets its own `casper review`
session on the same app store, exactly the app the terminal runs. The store's DSN may hold a
password, so it reaches each session through its environment (`CASPER_APP_STORE`), never its command
line, and is asked for afresh per session so a short-lived credential (Lakebase's OAuth token) is
current when the session connects. GET /healthz answers whether the app store does.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import shlex
import signal
import sys
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import WSCloseCode, web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from casper.appstore import AppStore
from casper.appstore.store import backend_for, open_store
from casper.errors import CasperError
from casper.home import CasperHome

log = logging.getLogger("casper.web")

APP_STORE_ENV = "CASPER_APP_STORE"
HEALTH_PATH = "/healthz"
SESSION_EXIT_SECONDS = 5.0

StoreDsn = Callable[[], str | None]
"""Returns the app store's DSN, fresh on every call; None means the embedded store under the home."""


class WebServeError(CasperError):
    """The review app cannot be served as asked."""


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


def check_bind_host(host: str, *, allow_remote: bool) -> None:
    """The app has no login: anyone who reaches it decides refunds, so only loopback by default."""
    if not allow_remote and not is_loopback(host):
        raise WebServeError(
            f"--host {host} is reachable from other machines and the review app has no login; "
            "add --allow-remote to serve it there anyway"
        )


def session_command(home: CasperHome, user: str | None = None) -> str:
    """The shell command textual-serve runs per browser session: this interpreter's `casper review`
    on the same home. The app store is not in it (see `session_environment`)."""
    argv = [sys.executable, "-m", "casper", "--home", str(home.root), "review"]
    if user:
        argv += ["--user", user]
    # exec: the app replaces the shell textual-serve starts, so stopping the session stops the app
    return "exec " + shlex.join(argv)


def session_environment(base: Mapping[str, str], dsn: str | None) -> dict[str, str]:
    environment = dict(base)
    environment.pop(APP_STORE_ENV, None)  # the embedded store, whatever the server inherited
    if dsn is not None:
        environment[APP_STORE_ENV] = dsn
    return environment


def store_health(home: CasperHome, store_dsn: StoreDsn) -> dict[str, Any]:
    """`AppStore.health()` on a fresh connection, so a broken or expired one cannot hide a
    recovered store, nor a cached one a lost store. Never raises."""
    try:
        backend = backend_for(home, store_dsn())
    except Exception as exc:  # a bad DSN or a failed credential refresh: the store is unreachable
        return {"ok": False, "error": _one_line(exc)}
    with AppStore(backend) as store:
        return store.health()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _public_base_url(request: web.Request) -> str:
    """The URL the browser used, so the page's websocket and static links reach this server behind
    a proxy (a Databricks App is served over https by its gateway) and when bound to 0.0.0.0. The
    forwarded headers only shape the page returned to the same requester, so trusting them is safe."""
    scheme = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip()
    host = request.headers.get("X-Forwarded-Host", request.host).split(",")[0].strip()
    return f"{scheme}://{host}"


class _ReviewSession(AppService):
    """One browser tab's app process, with the app store's DSN in its environment."""

    def __init__(self, command: str, *, store_dsn: str | None, **options: Any) -> None:
        super().__init__(command, **options)
        self._store_dsn = store_dsn

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        return session_environment(super()._build_environment(width, height), self._store_dsn)

    async def stop(self) -> None:
        """Quit the app and wait for its process: textual-serve only waits for its output to
        end, which leaves the process to outlive a server that stops right after."""
        await super().stop()
        process = self._process
        if process is None or process.returncode is not None:
            return
        try:
            await asyncio.wait_for(process.wait(), SESSION_EXIT_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()


class ReviewWebServer(Server):
    """textual-serve's server with the review app's session, a health route, per-request URLs,
    and logging that never prints local variables (textual-serve's tracebacks would show the
    session's environment, DSN included)."""

    def __init__(
        self,
        home: CasperHome,
        store_dsn: StoreDsn,
        *,
        user: str | None = None,
        host: str = "127.0.0.1",
        port: int = 8000,
        allow_remote: bool = False,
    ) -> None:
        check_bind_host(host, allow_remote=allow_remote)
        super().__init__(
            session_command(home, user), host=host, port=port, title="Casper's Kitchens · Refunds"
        )
        self.home = home
        self.store_dsn = store_dsn
        self._open_sockets: set[web.WebSocketResponse] = set()

    def initialize_logging(self) -> None:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.router.add_get(HEALTH_PATH, self.handle_health, name="health")
        return app

    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints a banner here, before the port is bound; `serve` says it after."""

    async def on_shutdown(self, app: web.Application) -> None:
        """Close every tab's websocket, which quits its app: otherwise aiohttp waits for these
        long-lived handlers until its shutdown timeout, and Ctrl-C takes a minute."""
        for websocket in list(self._open_sockets):
            await websocket.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")

    async def handle_health(self, request: web.Request) -> web.Response:
        try:
            report = await asyncio.to_thread(store_health, self.home, self.store_dsn)
        except Exception as exc:  # whatever happens, the answer is a status, not a traceback
            report = {"ok": False, "error": _one_line(exc)}
        return web.json_response(report, status=200 if report.get("ok") else 503)

    async def handle_index(self, request: web.Request) -> web.Response:
        router = request.app.router
        base = _public_base_url(request)
        websocket = base.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        context = {
            "font_size": _int_or(request.query.get("fontsize"), 16),
            "app_websocket_url": websocket + str(router["websocket"].url_for()),
            "config": {"static": {"url": base + str(router["static"].url_for(filename="/"))}},
            "application": {"name": self.title},
        }
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """textual-serve's own handler, with a fresh DSN handed to each session's process."""
        websocket = web.WebSocketResponse(heartbeat=15)
        width = _int_or(request.query.get("width"), 80)
        height = _int_or(request.query.get("height"), 24)
        session: _ReviewSession | None = None
        try:
            await websocket.prepare(request)
            self._open_sockets.add(websocket)
            dsn = await asyncio.to_thread(self.store_dsn)
            session = _ReviewSession(
                self.command,
                store_dsn=dsn,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,
                download_manager=self.download_manager,
                debug=self.debug,
            )
            await session.start(width, height)
            await self._process_messages(websocket, session)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as exc:
            log.error("review session failed: %s", _one_line(exc))
        finally:
            self._open_sockets.discard(websocket)
            if session is not None:
                await session.stop()
        return websocket

    def serve(self, debug: bool = False) -> None:
        """textual-serve's `serve`, saying where it listens once it does, and binding failures
        (the port taken, the host unknown or not ours) as one line."""
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        loop.add_signal_handler(signal.SIGINT, self.request_exit)
        loop.add_signal_handler(signal.SIGTERM, self.request_exit)
        try:
            web.run_app(
                self._make_app(),
                host=self.host,
                port=self.port,
                handle_signals=False,
                loop=loop,
                print=lambda *_: self._say_listening(),
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                problem = (
                    f"port {self.port} on {self.host} is already in use; pick another with --port"
                )
            else:
                problem = (
                    f"cannot listen on {self.host}:{self.port}: {exc.strerror or _one_line(exc)}"
                )
            raise WebServeError(problem) from None
        finally:
            loop.close()

    def _say_listening(self) -> None:
        print(
            f"serving the review app on http://{self.host}:{self.port} "
            f"(health: {HEALTH_PATH}); Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )


def _int_or(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def serve_review(
    home: CasperHome,
    store_dsn: StoreDsn,
    *,
    user: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    allow_remote: bool = False,
) -> None:
    """Serve the review app until Ctrl-C or SIGTERM. The store is opened once first (schema
    ensured), so a wrong DSN or an unreachable store stops here with one line, not per tab."""
    server = ReviewWebServer(
        home, store_dsn, user=user, host=host, port=port, allow_remote=allow_remote
    )
    with open_store(home, store_dsn()):
        pass
    server.serve()
