"""Jobs API 2.2: jobs, run-now and the run lifecycle PENDING -> RUNNING -> TERMINATED.

What a run does is up to `fake.job_executor`, called in a background thread at run-now with the job's
`JobSettings` and its resolved parameters (defaults overridden by `job_parameters`); it returns a
`RunOutcome` (None means success). `fake.fail_next_run(job_name, error)` makes the next run of a job
fail without an executor. A run stays RUNNING until its executor returns, so a slow executor (a
subprocess: `executor.SubprocessTaskExecutor`) is polled like a real job.

As on Databricks, a missing job or run answers 400 INVALID_PARAMETER_VALUE "Job 1 does not exist."
(the SDK turns it into ResourceDoesNotExist for jobs/get and runs/get only), and runs/get-output only
works on a task's run id, never on the job run.
"""

from __future__ import annotations

import itertools
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from databricks.sdk.service.jobs import (
    BaseJob,
    BaseRun,
    CreateResponse,
    Job,
    JobParameter,
    JobSettings,
    ListJobsResponse,
    ListRunsResponse,
    Run,
    RunLifeCycleState,
    RunLifecycleStateV2State,
    RunNowResponse,
    RunOutput,
    RunResultState,
    RunState,
    RunStatus,
    RunTask,
    RunType,
    TerminationCodeCode,
    TerminationDetails,
    TerminationTypeType,
    TriggerType,
)

from .lifecycle import Countdown
from .routing import Request, invalid

if TYPE_CHECKING:
    from .workspace import FakeWorkspace

JOBS = "/api/2.2/jobs"


@dataclass
class RunOutcome:
    """What a run ended with. A failure is pinned on `task_key` (default: the job's first task)."""

    ok: bool = True
    error: str | None = None
    error_trace: str | None = None
    logs: str | None = None
    task_key: str | None = None

    @classmethod
    def success(cls, logs: str | None = None) -> RunOutcome:
        return cls(ok=True, logs=logs)

    @classmethod
    def failed(
        cls, error: str, *, task_key: str | None = None, error_trace: str | None = None
    ) -> RunOutcome:
        return cls(ok=False, error=error, task_key=task_key, error_trace=error_trace)


JobExecutor = Callable[[JobSettings, dict[str, str]], "RunOutcome | None"]


@dataclass
class JobRun:
    run: Run
    countdown: Countdown
    finished: threading.Event = field(default_factory=threading.Event)
    outcome: RunOutcome | None = None
    polls: int = 0


def _not_exist(kind: str, ident) -> Exception:
    return invalid(f"{kind} {ident} does not exist.")


def _state(
    life: RunLifeCycleState, result: RunResultState | None = None, message: str = ""
) -> RunState:
    return RunState(life_cycle_state=life, result_state=result, state_message=message)


def _status(
    life: RunLifecycleStateV2State, code: TerminationCodeCode | None = None, message: str = ""
) -> RunStatus:
    details = None
    if code is not None:
        kind = (
            TerminationTypeType.SUCCESS
            if code == TerminationCodeCode.SUCCESS
            else TerminationTypeType.CLIENT_ERROR
        )
        details = TerminationDetails(code=code, type=kind, message=message)
    return RunStatus(state=life, termination_details=details)


def _downstream_of(failed_key: str, settings: JobSettings) -> set[str]:
    """Task keys that depend, directly or not, on the failed task: they end UPSTREAM_FAILED."""
    blocked = {failed_key}
    changed = True
    while changed:
        changed = False
        for task in settings.tasks or []:
            needs = {d.task_key for d in task.depends_on or []}
            if task.task_key not in blocked and needs & blocked:
                blocked.add(task.task_key)
                changed = True
    return blocked - {failed_key}


class Jobs:
    def __init__(self, ws: FakeWorkspace):
        self.ws = ws
        self._job_ids = itertools.count(1001)
        self._run_ids = itertools.count(50_001)
        self.jobs: dict[int, Job] = {}
        self.runs: dict[int, JobRun] = {}
        self.task_runs: dict[int, tuple[int, str]] = {}
        """Task run id -> (job run id, task key)."""
        self.executor: JobExecutor | None = None
        self.queued_failures: dict[str, list[RunOutcome]] = {}

    def routes(self):
        return [
            ("POST", f"{JOBS}/create", self.create),
            ("GET", f"{JOBS}/get", self.get),
            ("GET", f"{JOBS}/list", self.list),
            ("POST", f"{JOBS}/reset", self.reset),
            ("POST", f"{JOBS}/delete", self.delete),
            ("POST", f"{JOBS}/run-now", self.run_now),
            ("GET", f"{JOBS}/runs/get", self.get_run),
            ("GET", f"{JOBS}/runs/list", self.list_runs),
            ("GET", f"{JOBS}/runs/get-output", self.get_run_output),
        ]

    def add_job(self, settings: JobSettings, *, creator: str | None = None) -> Job:
        job_id = next(self._job_ids)
        job = Job(
            job_id=job_id,
            creator_user_name=creator or self.ws.user_name,
            run_as_user_name=creator or self.ws.user_name,
            created_time=self.ws.now_ms(),
            settings=settings,
        )
        self.jobs[job_id] = job
        return job

    def _job(self, job_id) -> Job:
        try:
            return self.jobs[int(job_id)]
        except (KeyError, TypeError, ValueError):
            raise _not_exist("Job", job_id) from None

    def _run(self, run_id) -> JobRun:
        try:
            return self.runs[int(run_id)]
        except (KeyError, TypeError, ValueError):
            raise _not_exist("Run", run_id) from None

    # -- jobs --------------------------------------------------------------------------------------

    def create(self, request: Request):
        settings = JobSettings.from_dict(request.json())
        keys = [t.task_key for t in settings.tasks or []]
        if len(keys) != len(set(keys)):
            raise invalid("Task keys must be unique within a job.")
        return CreateResponse(job_id=self.add_job(settings).job_id).as_dict()

    def get(self, request: Request):
        return self._job(request.query.get("job_id")).as_dict()

    def list(self, request: Request):
        jobs = sorted(self.jobs.values(), key=lambda j: j.job_id, reverse=True)
        name = request.query.get("name")
        if name:
            jobs = [j for j in jobs if (j.settings.name or "").lower() == name.lower()]
        limit = int(request.query.get("limit", 20))
        start = int(request.query.get("page_token") or request.query.get("offset") or 0)
        page = jobs[start : start + limit]
        more = start + limit < len(jobs)
        expand = request.flag("expand_tasks")
        listed = []
        for job in page:
            settings = JobSettings.from_dict(job.settings.as_dict())
            if not expand:
                settings.tasks = None
            listed.append(BaseJob.from_dict({**job.as_dict(), "settings": settings.as_dict()}))
        return ListJobsResponse(
            jobs=listed, has_more=more, next_page_token=str(start + limit) if more else None
        ).as_dict()

    def reset(self, request: Request):
        """Replace a job's settings whole (what `w.jobs.reset` sends)."""
        body = request.json()
        job = self._job(body.get("job_id"))
        job.settings = JobSettings.from_dict(body.get("new_settings") or {})
        return {}

    def delete(self, request: Request):
        job = self._job(request.json().get("job_id"))
        del self.jobs[job.job_id]
        return {}

    # -- runs --------------------------------------------------------------------------------------

    def run_now(self, request: Request):
        body = request.json()
        job = self._job(body.get("job_id"))
        settings = job.settings
        given = body.get("job_parameters") or {}
        defined = {p.name: p.default for p in settings.parameters or []}
        unknown = set(given) - set(defined)
        if unknown:
            raise invalid(f"Job parameters {sorted(unknown)} are not defined in job {job.job_id}.")
        parameters = {**defined, **given}
        run_id = next(self._run_ids)
        tasks = []
        for task in settings.tasks or []:
            task_run_id = next(self._run_ids)
            self.task_runs[task_run_id] = (run_id, task.task_key)
            tasks.append(
                RunTask(
                    task_key=task.task_key,
                    run_id=task_run_id,
                    depends_on=task.depends_on,
                    environment_key=task.environment_key,
                    python_wheel_task=task.python_wheel_task,
                    spark_python_task=task.spark_python_task,
                    notebook_task=task.notebook_task,
                    state=_state(RunLifeCycleState.PENDING),
                    status=_status(RunLifecycleStateV2State.PENDING),
                    attempt_number=0,
                )
            )
        number = 1 + sum(1 for r in self.runs.values() if r.run.job_id == job.job_id)
        run = Run(
            run_id=run_id,
            job_id=job.job_id,
            run_name=settings.name,
            number_in_job=number,
            creator_user_name=self.ws.user_name,
            start_time=self.ws.now_ms(),
            run_type=RunType.JOB_RUN,
            trigger=TriggerType.ONE_TIME,
            run_page_url=f"{self.ws.url}/#job/{job.job_id}/run/{run_id}",
            job_parameters=[
                JobParameter(name=k, default=defined[k], value=v) for k, v in parameters.items()
            ],
            state=_state(RunLifeCycleState.PENDING),
            status=_status(RunLifecycleStateV2State.PENDING),
            tasks=tasks,
            attempt_number=0,
        )
        job_run = JobRun(run, Countdown(self.ws.pending_polls["run"]))
        self.runs[run_id] = job_run
        queued = self.queued_failures.get(settings.name or "", [])
        if queued:
            job_run.outcome = queued.pop(0)
            job_run.finished.set()
        else:
            worker = threading.Thread(
                target=self._execute,
                args=(job_run, JobSettings.from_dict(settings.as_dict()), dict(parameters)),
                name=f"fake-run-{run_id}",
                daemon=True,
            )
            worker.start()
        return RunNowResponse(run_id=run_id, number_in_job=number).as_dict()

    def _execute(self, job_run: JobRun, settings: JobSettings, parameters: dict[str, str]) -> None:
        try:
            outcome = self.executor(settings, parameters) if self.executor else None
        except Exception as error:  # the executor's own bug shows up as the run's failure
            outcome = RunOutcome.failed(
                f"{type(error).__name__}: {error}", error_trace=traceback.format_exc()
            )
        job_run.outcome = outcome or RunOutcome.success()
        job_run.finished.set()

    def _advance(self, job_run: JobRun) -> None:
        run = job_run.run
        if run.state.life_cycle_state == RunLifeCycleState.TERMINATED:
            return
        job_run.polls += 1
        settled = job_run.countdown.poll()
        if not (settled and job_run.finished.is_set()):
            # With two or more pending polls the first one still shows PENDING, then RUNNING.
            if job_run.polls == 1 and self.ws.pending_polls["run"] >= 2:
                return
            run.state = _state(RunLifeCycleState.RUNNING)
            run.status = _status(RunLifecycleStateV2State.RUNNING)
            for task in run.tasks or []:
                task.state = _state(RunLifeCycleState.RUNNING)
                task.status = _status(RunLifecycleStateV2State.RUNNING)
                task.start_time = task.start_time or self.ws.now_ms()
            return
        self._terminate(job_run)

    def _terminate(self, job_run: JobRun) -> None:
        run, outcome = job_run.run, job_run.outcome or RunOutcome.success()
        settings = self.jobs[run.job_id].settings if run.job_id in self.jobs else JobSettings()
        tasks = run.tasks or []
        failed_key = None
        if not outcome.ok:
            failed_key = outcome.task_key or (tasks[0].task_key if tasks else None)
        blocked = _downstream_of(failed_key, settings) if failed_key else set()
        now = self.ws.now_ms()
        for task in tasks:
            if task.task_key == failed_key:
                result, code, message = (
                    RunResultState.FAILED,
                    TerminationCodeCode.RUN_EXECUTION_ERROR,
                    outcome.error or "",
                )
            elif task.task_key in blocked:
                result, code, message = (
                    RunResultState.UPSTREAM_FAILED,
                    TerminationCodeCode.RUN_EXECUTION_ERROR,
                    "Upstream task failed.",
                )
            else:
                result, code, message = RunResultState.SUCCESS, TerminationCodeCode.SUCCESS, ""
            task.state = _state(RunLifeCycleState.TERMINATED, result, message)
            task.status = _status(RunLifecycleStateV2State.TERMINATED, code, message)
            task.start_time = task.start_time or run.start_time
            task.end_time = now
        if outcome.ok:
            run.state = _state(RunLifeCycleState.TERMINATED, RunResultState.SUCCESS)
            run.status = _status(RunLifecycleStateV2State.TERMINATED, TerminationCodeCode.SUCCESS)
        else:
            message = f"Task {failed_key} failed with message: {outcome.error}"
            run.state = _state(RunLifeCycleState.TERMINATED, RunResultState.FAILED, message)
            run.status = _status(
                RunLifecycleStateV2State.TERMINATED,
                TerminationCodeCode.RUN_EXECUTION_ERROR,
                message,
            )
        run.end_time = now
        run.run_duration = now - (run.start_time or now)

    def get_run(self, request: Request):
        job_run = self._run(request.query.get("run_id"))
        self._advance(job_run)
        return job_run.run.as_dict()

    def list_runs(self, request: Request):
        runs = sorted(self.runs.values(), key=lambda r: r.run.run_id, reverse=True)
        job_id = request.query.get("job_id")
        if job_id is not None:
            runs = [r for r in runs if r.run.job_id == int(job_id)]
        return ListRunsResponse(
            runs=[BaseRun.from_dict(r.run.as_dict()) for r in runs], has_more=False
        ).as_dict()

    def get_run_output(self, request: Request):
        run_id = request.query.get("run_id")
        if run_id is not None and int(run_id) in self.runs:
            raise invalid(
                "Retrieving the output of runs with multiple tasks is not supported. "
                "Please retrieve the output of each individual task run instead."
            )
        try:
            parent_id, task_key = self.task_runs[int(run_id)]
        except (KeyError, TypeError, ValueError):
            raise _not_exist("Run", run_id) from None
        job_run = self.runs[parent_id]
        task = next(t for t in job_run.run.tasks if t.task_key == task_key)
        metadata = Run.from_dict(
            {
                **job_run.run.as_dict(),
                "run_id": task.run_id,
                "tasks": None,
                "state": task.state.as_dict(),
                "status": task.status.as_dict() if task.status else None,
            }
        )
        output = RunOutput(metadata=metadata)
        terminated = task.state.life_cycle_state == RunLifeCycleState.TERMINATED
        outcome = job_run.outcome
        if terminated and outcome is not None:
            if task.state.result_state == RunResultState.FAILED:
                output.error = outcome.error
                output.error_trace = outcome.error_trace
            output.logs = outcome.logs
        return output.as_dict()
