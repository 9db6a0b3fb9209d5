"""`FakeWorkspace`: an in-process HTTP server that answers the Databricks REST routes the project uses.

It listens on 127.0.0.1 (a free port) in a daemon thread, so the real `databricks-sdk`, MLflow's UC
registry client and subprocesses (`casper up/down`) all reach it by URL. Every call is recorded
without credentials; `fail_next` injects 429/503 answers; `state()` says what exists. Files API paths
live on disk under `root`, a fresh temporary folder that `stop()` removes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from databricks.sdk.environments import Cloud
from databricks.sdk.oauth import HostMetadata
from databricks.sdk.service.iam import ComplexValue, User
from databricks.sdk.service.jobs import JobSettings

from .apps import Apps
from .experiments import Experiments
from .files import FilesApi
from .jobs import Jobs, RunOutcome
from .lakebase import Lakebase
from .models import ModelRegistry
from .routing import ApiError, Request, Response, Router, error_response
from .sql import SqlWarehouses
from .unity_catalog import UnityCatalog
from .workspace_files import WorkspaceFiles

TOKEN = "dapi-fake-token"
SECRET_HEADERS = {"authorization", "cookie", "x-databricks-azure-sp-management-token"}
SECRET_KEYS = ("token", "password", "secret")

# The 4xx/5xx codes Databricks sends with throttling and outages.
FAULT_ERROR_CODES = {
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    503: "TEMPORARILY_UNAVAILABLE",
}


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, Any]
    body: Any
    """Parsed JSON (secret-looking keys redacted), `{"<form>": [...field names]}` for multipart, or
    `{"<bytes>": n}` for a raw upload."""
    headers: dict[str, str]
    status: int


@dataclass
class InjectedFault:
    method: str
    path_prefix: str
    status: int
    times: int
    retry_after: int


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: "<redacted>" if any(s in k.lower() for s in SECRET_KEYS) else _redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


class FakeWorkspace:
    def __init__(
        self,
        *,
        pending_polls: int | dict[str, int] = 1,
        user_name: str = "dev@example.com",
        database_host: str | None = None,
    ):
        self.user_name = user_name
        #: the host a Lakebase instance gives as its read-write DNS once available: a PostgreSQL
        #: server on this machine plays the instance's database (None: a made-up host)
        self.database_host = database_host
        self.workspace_id = "1234567890123456"
        self.metastore_id = "11111111-2222-3333-4444-555555555555"
        self.pending_polls = {
            kind: pending_polls if isinstance(pending_polls, int) else pending_polls.get(kind, 1)
            for kind in (
                "warehouse",
                "run",
                "database_instance",
                "synced_table",
                "app",
                "app_deployment",
            )
        }
        self.calls: list[Call] = []
        self.unhandled: list[Call] = []
        self.crashes: list[str] = []
        self._faults: list[InjectedFault] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._on_stop: list[Callable[[], None]] = []
        self.root = Path(tempfile.mkdtemp(prefix="databricks-fake-")).resolve()
        """Where the Files API keeps `/Volumes/...` and `/Models/...` (and job runs their scratch)."""
        self.uc = UnityCatalog(self)
        self.files = FilesApi(self)
        self.models = ModelRegistry(self)
        self.workspace_files = WorkspaceFiles(self)
        self.sql = SqlWarehouses(self)
        self.jobs = Jobs(self)
        self.lakebase = Lakebase(self)
        self.apps = Apps(self)
        self.experiments = Experiments(self)
        self.router = Router()
        self.router.add("GET", "/.well-known/databricks-config", self._host_metadata)
        self.router.add("GET", "/api/2.0/preview/scim/v2/Me", self._me)
        for service in (
            self.uc,
            self.files,
            self.models,
            self.workspace_files,
            self.sql,
            self.jobs,
            self.lakebase,
            self.apps,
            self.experiments,
        ):
            for method, template, handler in service.routes():
                self.router.add(method, template, handler)

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> FakeWorkspace:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                fake._serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

            def log_message(self, format, *args):  # the test output stays quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._serve_forever, name="fake-databricks", daemon=True
        )
        self._thread.start()
        return self

    def _serve_forever(self) -> None:
        # A short poll interval keeps stop() (which waits for the loop to notice) at a few ms.
        self._server.serve_forever(poll_interval=0.01)

    def stop(self) -> None:
        """Runs the `on_stop` callbacks (a job executor ends its processes there), stops serving and
        removes `root`."""
        callbacks, self._on_stop = self._on_stop, []
        for callback in reversed(callbacks):
            callback()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        shutil.rmtree(self.root, ignore_errors=True)

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Calls `callback` in `stop()`, before `root` is removed."""
        self._on_stop.append(callback)

    def __enter__(self) -> FakeWorkspace:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def hostname(self) -> str:
        return self.url.removeprefix("http://")

    @staticmethod
    def now_ms() -> int:
        return int(time.time() * 1000)

    # -- clients -----------------------------------------------------------------------------------

    def client(self, **config):
        """A real `WorkspaceClient` for this fake, with PAT auth pinned and a short retry budget
        (`retry_timeout_seconds` is a `Config` option only, so the client is built from a Config)."""
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.config import Config

        options = {
            "host": self.url,
            "token": TOKEN,
            "auth_type": "pat",
            "config_file": "/dev/null",
            "retry_timeout_seconds": 15,
            "http_timeout_seconds": 30,
        }
        return WorkspaceClient(config=Config(**{**options, **config}))

    def environ(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """Environment for a subprocess or MLflow: this fake's host and token, and no other DATABRICKS_*
        variable (a developer's profile or OAuth settings must never reach a real workspace)."""
        env = dict(os.environ if base is None else base)
        for key in list(env):
            if key.startswith("DATABRICKS_") or key == "MLFLOW_ENABLE_UC_NATIVE_MODEL_REGISTRY":
                del env[key]
        env.update(
            {
                "DATABRICKS_HOST": self.url,
                "DATABRICKS_TOKEN": TOKEN,
                "DATABRICKS_AUTH_TYPE": "pat",
                "DATABRICKS_CONFIG_FILE": "/dev/null",
                "MLFLOW_USE_DATABRICKS_SDK_MODEL_ARTIFACTS_REPO_FOR_UC": "true",
                "NO_PROXY": ",".join(filter(None, ["127.0.0.1", "localhost", env.get("NO_PROXY")])),
            }
        )
        return env

    # -- faults, calls, state ----------------------------------------------------------------------

    def fail_next(
        self, method: str, path_prefix: str, status: int = 503, times: int = 1, retry_after: int = 0
    ) -> None:
        """The next `times` calls matching answer `status` with a Retry-After header (the SDK retries
        429 and 503 after that many seconds, plus up to one of jitter)."""
        with self._lock:
            self._faults.append(
                InjectedFault(method.upper(), path_prefix, status, times, retry_after)
            )

    def calls_to(self, method: str, path_prefix: str = "") -> list[Call]:
        return [
            c for c in self.calls if c.method == method.upper() and c.path.startswith(path_prefix)
        ]

    @property
    def sql_handler(self):
        return self.sql.handler

    @sql_handler.setter
    def sql_handler(self, handler) -> None:
        self.sql.handler = handler

    @property
    def job_executor(self):
        return self.jobs.executor

    @job_executor.setter
    def job_executor(self, executor) -> None:
        self.jobs.executor = executor

    def fail_next_run(self, job_name: str, error: str, *, task_key: str | None = None) -> None:
        """The next run of the job named `job_name` ends FAILED on `task_key` with `error`."""
        with self._lock:
            self.jobs.queued_failures.setdefault(job_name, []).append(
                RunOutcome.failed(error, task_key=task_key)
            )

    def state(self) -> dict[str, list[str]]:
        """What exists now, by kind, as sorted names; compare with a snapshot taken after seeding."""
        with self._lock:
            return {
                "catalogs": sorted(self.uc.catalogs),
                "schemas": sorted(self.uc.schemas),
                "volumes": sorted(self.uc.volumes),
                "files": self.files.paths(),
                "workspace_objects": sorted(
                    set(self.workspace_files.objects) - self.workspace_files.builtin
                ),
                "warehouses": sorted(w.info.name for w in self.sql.warehouses.values()),
                "jobs": sorted(j.settings.name or str(j.job_id) for j in self.jobs.jobs.values()),
                "models": sorted(self.models.models),
                "database_instances": sorted(self.lakebase.instances),
                "database_catalogs": sorted(self.lakebase.database_catalogs),
                "synced_tables": sorted(self.lakebase.synced_tables),
                "apps": sorted(self.apps.apps),
                "experiments": self.experiments.active_names(),
            }

    def volume_folder(self, catalog: str, schema: str, volume: str) -> Path:
        """The folder on disk that holds `/Volumes/<catalog>/<schema>/<volume>/...`."""
        return self.root / "Volumes" / catalog / schema / volume

    # -- seeding: what the user already had --------------------------------------------------------

    def seed_catalog(self, name: str, *, owner: str = "someone-else@example.com") -> None:
        with self._lock:
            self.uc.add_catalog(name, owner=owner, comment="created by the user, not by casper")

    def seed_schema(self, catalog_name: str, name: str) -> None:
        with self._lock:
            self.uc.add_schema(catalog_name, name)

    def seed_volume(self, catalog_name: str, schema_name: str, name: str) -> None:
        with self._lock:
            self.uc.add_volume(catalog_name, schema_name, name)

    def seed_job(self, name: str, *, creator: str = "someone-else@example.com") -> int:
        with self._lock:
            return self.jobs.add_job(JobSettings(name=name), creator=creator).job_id

    # -- serving -----------------------------------------------------------------------------------

    def _host_metadata(self, request: Request):
        return HostMetadata(
            oidc_endpoint="", workspace_id=self.workspace_id, cloud=Cloud.AWS
        ).as_dict()

    def _me(self, request: Request):
        user = User(
            id="4242424242",
            user_name=self.user_name,
            display_name=self.user_name.split("@")[0],
            active=True,
            emails=[ComplexValue(value=self.user_name, primary=True, type="work")],
        )
        return user.as_dict()

    def _take_fault(self, method: str, path: str) -> InjectedFault | None:
        for fault in self._faults:
            if fault.method == method and path.startswith(fault.path_prefix) and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    def _dispatch(self, request: Request) -> tuple[Response, bool]:
        fault = self._take_fault(request.method, request.path)
        if fault is not None:
            error = ApiError(
                fault.status,
                FAULT_ERROR_CODES.get(fault.status, "UNKNOWN"),
                "Injected by the fake.",
            )
            return error_response(error, {"Retry-After": str(fault.retry_after)}), True
        found = self.router.match(request.method, request.path)
        if found is None:
            error = ApiError(
                404, "ENDPOINT_NOT_FOUND", f"No API found for '{request.method} {request.path}'"
            )
            return error_response(error), False
        route, params = found
        request.params = params
        try:
            result = route.handler(request)
        except ApiError as error:
            return error_response(error), True
        except Exception as crash:
            # A bug in the fake answers 500 (which the SDK does not retry) instead of dropping the
            # connection, which every client would retry for its whole retry budget.
            self.crashes.append(traceback.format_exc())
            message = f"The fake's handler for {route.template} crashed: {crash!r}"
            return error_response(ApiError(500, "INTERNAL_ERROR", message)), True
        if isinstance(result, Response):
            return result, True
        return Response(json_body={} if result is None else result), True

    @staticmethod
    def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
        if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(handler.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    handler.rfile.readline()
                    return b"".join(chunks)
                chunks.append(handler.rfile.read(size))
                handler.rfile.readline()
        length = int(handler.headers.get("Content-Length") or 0)
        return handler.rfile.read(length) if length else b""

    def _recorded_body(self, request: Request) -> Any:
        if not request.body:
            return None
        if request.is_multipart():
            return {"<form>": sorted(request.form())}
        try:
            return _redact(request.json())
        except ValueError:
            return {"<bytes>": len(request.body)}

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        query: dict[str, Any] = {
            k: v[0] if len(v) == 1 else v
            for k, v in parse_qs(split.query, keep_blank_values=True).items()
        }
        headers = {k: v for k, v in handler.headers.items()}
        request = Request(
            method=handler.command,
            path=unquote(split.path),
            query=query,
            headers=headers,
            body=self._read_body(handler),
        )
        with self._lock:
            response, handled = self._dispatch(request)
            call = Call(
                method=request.method,
                path=request.path,
                query=query,
                body=self._recorded_body(request),
                headers={k: v for k, v in headers.items() if k.lower() not in SECRET_HEADERS},
                status=response.status,
            )
            self.calls.append(call)
            if not handled:
                self.unhandled.append(call)
        payload, content_type = response.encoded()
        handler.send_response(response.status)
        sent = {k.lower() for k in response.headers}
        for key, value in response.headers.items():
            handler.send_header(key, value)
        if "content-type" not in sent and (payload or response.json_body is not None):
            handler.send_header("Content-Type", content_type)
        if "content-length" not in sent:
            handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        if request.method != "HEAD" and payload:
            handler.wfile.write(payload)
