"""Job runs that really run: each task's `python_wheel_task` in a subprocess, as serverless compute does.

    fake.job_executor = SubprocessTaskExecutor(fake)

Faithful: the task's command line (`package_name`, `entry_point`, `parameters` with
`{{job.parameters.NAME}}` resolved, or `named_parameters` as `--name=value`), the library check before
the run (a `/Volumes/...` dependency of the task's environment must be a file in the volume, else
"Library installation failed"), the environment a job sees (`DATABRICKS_RUNTIME_VERSION`, the
workspace's host and token and no developer settings, a fresh home), volumes as a folder shared with
the Files API (`CASPER_DATABRICKS_STAND_IN` names the fake's root, which holds `Volumes/...` as the
FUSE mount `/Volumes` does), and the run's logs and one-line error as `runs/get-output` gives them.

Not faithful: the code that runs is the dev environment's installed package (the wheel is checked,
never installed), on this machine and in this Python, with no cluster and no Spark of Databricks'
(the project's runtime keeps a local Spark under `<root>/spark`). Tasks run one after the other in
`depends_on` order, and the first failure ends the run (Databricks would still run independent
tasks); `run_if`, retries and task values are not modelled. A run's folder is numbered by this
executor, not by the run id.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from databricks.sdk.service.jobs import JobSettings, Task

from .jobs import RunOutcome

if TYPE_CHECKING:
    from .workspace import FakeWorkspace

RUNTIME_VERSION = "client.2.0"
"""What serverless compute sets in DATABRICKS_RUNTIME_VERSION."""
LOG_LINES = 200
CHECKOUT = Path(__file__).resolve().parents[2]
"""The project checkout this fake belongs to: its code is what a run imports first."""

# Runs the console script `entry_point` of the installed distribution `package_name`, as a wheel
# task does once its wheel is installed: argv is [package_name, entry_point, *parameters].
BOOTSTRAP = """\
import sys
from importlib.metadata import PackageNotFoundError, distribution

package, name, *arguments = sys.argv[1:]
try:
    found = distribution(package)
except PackageNotFoundError:
    sys.exit(f"Package {package!r} is not installed in this environment.")
scripts = [e for e in found.entry_points if e.group == "console_scripts" and e.name == name]
if not scripts:
    sys.exit(f"Package {package!r} has no entry point {name!r}.")
sys.argv = [name, *arguments]
sys.exit(scripts[0].load()())
"""

_REFERENCE = re.compile(r"\{\{job\.parameters\.([\w-]+)\}\}")
_BOX_DRAWING = "".join(chr(c) for c in range(0x2500, 0x2580))


@dataclass
class TaskRun:
    """One task's process: what ran and what it said."""

    job_name: str
    task_key: str
    parameters: list[str]
    returncode: int
    duration_s: float
    stdout: str
    stderr: str
    folder: Path
    timed_out: bool = False

    def __str__(self) -> str:
        how = "timed out" if self.timed_out else f"exit code {self.returncode}"
        return (
            f"{self.job_name}/{self.task_key} {self.parameters} -> {how} in {self.duration_s:.1f} s"
            f" ({self.folder})\n--- stdout\n{_tail(self.stdout, 40)}--- stderr\n"
            f"{_tail(self.stderr, 40)}"
        )


def _tail(text: str, lines: int = LOG_LINES) -> str:
    kept = text.splitlines(keepends=True)[-lines:]
    return "".join(kept)


def last_line(text: str) -> str | None:
    """The last line that says something, without the frame a rich panel draws around it."""
    for line in reversed(text.splitlines()):
        line = line.strip().strip(_BOX_DRAWING).strip()
        if line:
            return line
    return None


def task_order(settings: JobSettings) -> list[Task]:
    """The job's tasks, each after those it depends on, otherwise in the order they are declared."""
    tasks = list(settings.tasks or [])
    done: set[str] = set()
    ordered: list[Task] = []
    while len(ordered) < len(tasks):
        ready = [
            t
            for t in tasks
            if t.task_key not in done and all(d.task_key in done for d in t.depends_on or [])
        ]
        if not ready:
            stuck = sorted(t.task_key for t in tasks if t.task_key not in done)
            raise ValueError(
                f"Tasks {stuck} depend on each other or on a task the job does not have."
            )
        ordered.append(ready[0])
        done.add(ready[0].task_key)
    return ordered


def task_type(task: Task) -> str | None:
    """The `..._task` field a task sets (`python_wheel_task`, `notebook_task`, ...)."""
    return next((key for key in task.as_dict() if key.endswith("_task")), None)


def resolve_references(arguments: list[str], parameters: Mapping[str, str]) -> list[str]:
    """`{{job.parameters.NAME}}` in each argument replaced with NAME's resolved value; a reference
    to a parameter the job does not define raises ValueError."""

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in parameters:
            raise ValueError(
                f"{match.group(0)} refers to job parameter {name!r}, which the job does not define."
            )
        return str(parameters[name])

    return [_REFERENCE.sub(value, argument) for argument in arguments]


def python_path(current: str | None) -> str:
    """The test process's PYTHONPATH with every entry absolute (a run has its own cwd), after the
    checkout this fake belongs to, so a worktree runs its own code."""
    entries = [str(Path(e).resolve()) for e in (current or "").split(os.pathsep) if e]
    if str(CHECKOUT) not in entries:
        entries.insert(0, str(CHECKOUT))
    return os.pathsep.join(dict.fromkeys(entries))


def task_environment(
    fake: FakeWorkspace,
    home: Path,
    base: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a task's process: `base` (default: this process's) with the fake's host
    and token instead of any DATABRICKS_* and no CASPER_* of the developer's, what serverless
    compute sets, the fake's root as the volumes' stand-in, `home` as HOME and CASPER_HOME, then
    `extra`."""
    env = fake.environ(dict(os.environ if base is None else base))
    for key in [k for k in env if k.startswith("CASPER_")]:
        del env[key]
    env.pop("PYSPARK_DRIVER_PYTHON", None)  # defaults to PYSPARK_PYTHON
    env.update(
        {
            "DATABRICKS_RUNTIME_VERSION": RUNTIME_VERSION,
            "CASPER_DATABRICKS_STAND_IN": str(fake.root),
            "PYSPARK_PYTHON": sys.executable,
            "HOME": str(home),
            "CASPER_HOME": str(home),
            "PYTHONPATH": python_path(env.get("PYTHONPATH")),
            # the stand-in's local Spark Connect server takes a free port and its client asks
            # which, instead of 15002: another test run on this machine may hold that one
            "SPARK_TESTING": "1",
        }
    )
    env.update(extra or {})
    return env


def task_libraries(settings: JobSettings, task: Task) -> list[str]:
    """The dependencies of the task's environment, then the wheels it lists as libraries; a task
    naming an environment the job lacks raises ValueError."""
    found = []
    if task.environment_key:
        environments = {e.environment_key: e for e in settings.environments or []}
        if task.environment_key not in environments:
            raise ValueError(f"environment {task.environment_key!r} is not defined in the job.")
        spec = environments[task.environment_key].spec
        found += list(spec.dependencies or []) if spec else []
    return found + [library.whl for library in task.libraries or [] if library.whl]


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:  # the fake stopped and removed its root meanwhile
        return ""


class _Failed(Exception):
    def __init__(self, outcome: RunOutcome):
        super().__init__(outcome.error)
        self.outcome = outcome


class SubprocessTaskExecutor:
    """A `fake.job_executor` that runs each task in a subprocess of its own (see the module)."""

    def __init__(
        self, fake: FakeWorkspace, *, timeout_s: float = 900, env: Mapping[str, str] | None = None
    ):
        self.fake = fake
        self.timeout_s = timeout_s
        self.env = dict(env or {})
        """Extra variables for every task's process, over those `task_environment` sets."""
        self.runs: list[TaskRun] = []
        self._numbers = itertools.count(1)
        self._live: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._stopped = False
        fake.on_stop(self.stop)

    def __str__(self) -> str:
        """Every task run so far, for a failing test's message."""
        return "\n".join(str(run) for run in self.runs) or "no task ran"

    def __call__(self, settings: JobSettings, parameters: dict[str, str]) -> RunOutcome:
        try:
            tasks = task_order(settings)
        except ValueError as error:
            return RunOutcome.failed(str(error))
        logs = []
        try:
            folder = self._run_folder()
            for task in tasks:
                argv = self._prepare(settings, task, parameters)
                record = self._run(settings, task, argv, folder)
                if record.returncode != 0 or record.timed_out:
                    raise _Failed(self._failure(task, record))
                logs.append(record.stdout)
        except _Failed as failed:
            return failed.outcome
        return RunOutcome.success(logs=_tail("".join(logs)) or None)

    def stop(self) -> None:
        """Kills every task still running (with its children); no task starts after this."""
        with self._lock:
            self._stopped = True
            live = list(self._live)
        for process in live:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)

    # -- before a task runs ------------------------------------------------------------------------

    def _prepare(self, settings: JobSettings, task: Task, parameters: dict[str, str]) -> list[str]:
        """The task's arguments after the checks Databricks makes before running it."""
        key = task.task_key
        wheel = task.python_wheel_task
        if wheel is None:
            kind = task_type(task) or "no task type"
            raise _Failed(
                RunOutcome.failed(
                    f"Task {key}: {kind} is not supported by the fake's executor "
                    "(only python_wheel_task).",
                    task_key=key,
                )
            )
        try:
            libraries = task_libraries(settings, task)
            arguments = list(wheel.parameters or [])
            named = wheel.named_parameters or {}
            arguments += [f"--{name}={value}" for name, value in named.items()]
            arguments = resolve_references(arguments, parameters)
        except ValueError as error:
            raise _Failed(RunOutcome.failed(f"Task {key}: {error}", task_key=key)) from None
        for library in libraries:
            if not library.startswith("/Volumes/"):
                continue  # a PyPI requirement: the dev environment has what the project needs
            with self.fake._lock:
                present = self.fake.files.is_file(library)
            if not present:
                raise _Failed(
                    RunOutcome.failed(
                        f"Library installation failed: {library} does not exist", task_key=key
                    )
                )
        return arguments

    # -- running it --------------------------------------------------------------------------------

    def _run_folder(self) -> Path:
        """A fresh `<root>/runs/<n>` with an empty `home` in it: the run's ephemeral compute."""
        with self._lock:
            if self._stopped:
                raise _Failed(RunOutcome.failed("The fake workspace has stopped."))
            folder = self.fake.root / "runs" / str(next(self._numbers))
            (folder / "home").mkdir(parents=True)
        return folder

    def _run(
        self, settings: JobSettings, task: Task, arguments: list[str], folder: Path
    ) -> TaskRun:
        wheel = task.python_wheel_task
        argv = [sys.executable, "-c", BOOTSTRAP, wheel.package_name, wheel.entry_point, *arguments]
        env = task_environment(self.fake, folder / "home", extra=self.env)
        out_path, err_path = folder / f"{task.task_key}.stdout", folder / f"{task.task_key}.stderr"
        started = time.monotonic()
        with self._lock:
            if self._stopped:
                raise _Failed(
                    RunOutcome.failed("The fake workspace has stopped.", task_key=task.task_key)
                )
            with out_path.open("wb") as out, err_path.open("wb") as err:
                process = subprocess.Popen(
                    argv,
                    env=env,
                    cwd=folder,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                )
            self._live.add(process)
        try:
            timed_out = not self._wait_unreaped(process, started + self.timeout_s)
            # Whatever is left of its process group goes, as with the compute: the leader is not
            # reaped yet, so the group id cannot have been reused.
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            returncode = process.wait()
        finally:
            with self._lock:
                self._live.discard(process)
        record = TaskRun(
            job_name=settings.name or "",
            task_key=task.task_key,
            parameters=list(arguments),
            returncode=returncode,
            duration_s=time.monotonic() - started,
            stdout=_read(out_path),
            stderr=_read(err_path),
            folder=folder,
            timed_out=timed_out,
        )
        with self._lock:
            self.runs.append(record)
        return record

    @staticmethod
    def _wait_unreaped(process: subprocess.Popen, deadline: float) -> bool:
        """Waits until `process` exits (True) or `deadline` passes (False), leaving it unreaped."""
        while True:
            if os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def _failure(self, task: Task, record: TaskRun) -> RunOutcome:
        if record.timed_out:
            error = f"timed out after {self.timeout_s:g} s"
        else:
            error = (
                last_line(record.stderr)
                or last_line(record.stdout)
                or f"exit code {record.returncode}"
            )
        outcome = RunOutcome.failed(
            error, task_key=task.task_key, error_trace=_tail(record.stderr) or None
        )
        outcome.logs = _tail(record.stdout) or None
        return outcome
