"""Job runs of the fake workspace that really run: the wheel task's `casper` command in a subprocess.

The code that runs is this checkout's (the wheel is only checked for); each `casper` process costs a
second or two of imports, so only three start here.
"""

from __future__ import annotations

import io
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.service import compute, jobs
from databricks.sdk.service.catalog import VolumeType

from tests.databricks_fake import (
    FakeWorkspace,
    SubprocessTaskExecutor,
    databricks_fake_fixture,  # noqa: F401  (provides the `databricks_fake` fixture)
)
from tests.databricks_fake.executor import CHECKOUT, task_environment, task_order
from tests.databricks_fake.workspace import TOKEN

WAIT = timedelta(seconds=60)
WHEEL = "/Volumes/caspers/artifacts/wheels/caspers_kitchens-0.1.0-py3-none-any.whl"


@pytest.fixture
def executor(databricks_fake: FakeWorkspace) -> SubprocessTaskExecutor:
    databricks_fake.job_executor = SubprocessTaskExecutor(databricks_fake, timeout_s=120)
    return databricks_fake.job_executor


@pytest.fixture
def w(databricks_fake: FakeWorkspace) -> WorkspaceClient:
    w = databricks_fake.client()
    w.catalogs.create(name="caspers")
    w.schemas.create(name="artifacts", catalog_name="caspers")
    w.volumes.create("caspers", "artifacts", "wheels", VolumeType.MANAGED)
    w.files.upload(WHEEL, io.BytesIO(b"PK\x03\x04 not really a wheel"))
    return w


def casper_job(
    w: WorkspaceClient,
    parameters: list[str],
    *,
    package: str = "caspers-kitchens",
    wheel: str = WHEEL,
    job_parameters: dict[str, str] | None = None,
) -> int:
    """A job like the ones `casper up` deploys: one wheel task running the `casper` console script."""
    return w.jobs.create(
        name="caspers-test-job",
        tasks=[
            jobs.Task(
                task_key="stage",
                python_wheel_task=jobs.PythonWheelTask(
                    package_name=package, entry_point="casper", parameters=parameters
                ),
                environment_key="casper",
            )
        ],
        environments=[
            jobs.JobEnvironment(
                environment_key="casper",
                spec=compute.Environment(environment_version="3", dependencies=[wheel]),
            )
        ],
        parameters=[
            jobs.JobParameterDefinition(name=name, default=default)
            for name, default in (job_parameters or {}).items()
        ]
        or None,
    ).job_id


def run_and_output(
    w: WorkspaceClient, job_id: int, **job_parameters
) -> tuple[jobs.Run, jobs.RunOutput]:
    run = w.jobs.run_now(job_id, job_parameters=job_parameters or None).result(timeout=WAIT)
    return run, w.jobs.get_run_output(run.tasks[0].run_id)


def test_a_wheel_task_runs_casper_in_a_subprocess_and_its_output_is_the_runs_logs(
    databricks_fake, executor, w
):
    run, output = run_and_output(w, casper_job(w, ["status", "--json"]))
    assert (run.state.life_cycle_state, run.state.result_state) == (
        jobs.RunLifeCycleState.TERMINATED,
        jobs.RunResultState.SUCCESS,
    ), executor
    [ran] = executor.runs
    assert (ran.job_name, ran.parameters, ran.returncode) == (
        "caspers-test-job",
        ["status", "--json"],
        0,
    )
    status = json.loads(output.logs)
    # The run's home is a fresh folder of its own (CASPER_HOME), as on ephemeral compute.
    assert status["home"] == str(databricks_fake.root / "runs" / "1" / "home")
    assert ran.folder == databricks_fake.root / "runs" / "1"
    assert TOKEN not in output.logs and TOKEN not in ran.stderr


def test_a_failing_command_fails_the_run_with_its_last_line_as_the_error(executor, w):
    job_id = casper_job(w, ["{{job.parameters.COMMAND}}"], job_parameters={"COMMAND": "status"})
    run, output = run_and_output(w, job_id, COMMAND="no-such-command")
    assert run.state.result_state == jobs.RunResultState.FAILED, executor
    # Click's error panel, without its frame.
    assert output.error == "No such command 'no-such-command'."
    assert "Usage: casper" in output.error_trace
    assert [(r.parameters, r.returncode) for r in executor.runs] == [(["no-such-command"], 2)]
    assert run.state.state_message == "Task stage failed with message: " + output.error


def test_a_missing_wheel_fails_the_run_before_any_process_starts(executor, w):
    missing = "/Volumes/caspers/artifacts/wheels/caspers_kitchens-9.9.9-py3-none-any.whl"
    run, output = run_and_output(w, casper_job(w, ["--help"], wheel=missing))
    assert run.state.result_state == jobs.RunResultState.FAILED
    assert output.error == f"Library installation failed: {missing} does not exist"
    assert executor.runs == []


def test_an_unknown_package_and_a_task_past_its_timeout_fail_in_one_line(
    databricks_fake, executor, w
):
    _, output = run_and_output(w, casper_job(w, ["--help"], package="no-such-package"))
    assert output.error == "Package 'no-such-package' is not installed in this environment."
    # `casper` takes far longer than 50 ms to import: the run is killed first.
    executor.timeout_s = 0.05
    run, output = run_and_output(w, casper_job(w, ["--help"]))
    assert (run.state.result_state, output.error) == (
        jobs.RunResultState.FAILED,
        "timed out after 0.05 s",
    )
    assert executor.runs[-1].timed_out


def test_only_wheel_tasks_run_and_a_task_runs_after_those_it_depends_on(executor, w):
    job_id = w.jobs.create(
        name="notebooks",
        tasks=[jobs.Task(task_key="nb", notebook_task=jobs.NotebookTask(notebook_path="/x"))],
    ).job_id
    _, output = run_and_output(w, job_id)
    assert "notebook_task is not supported" in output.error
    assert executor.runs == []

    def task(key: str, *after: str) -> jobs.Task:
        return jobs.Task(task_key=key, depends_on=[jobs.TaskDependency(a) for a in after] or None)

    settings = jobs.JobSettings(tasks=[task("c", "b"), task("a"), task("b", "a"), task("d")])
    assert [t.task_key for t in task_order(settings)] == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="depend on each other"):
        task_order(jobs.JobSettings(tasks=[task("a", "b"), task("b", "a")]))


def test_a_tasks_environment_is_the_one_serverless_compute_gives_a_job(
    databricks_fake, monkeypatch, tmp_path
):
    monkeypatch.setenv("DATABRICKS_CONFIG_PROFILE", "my-real-workspace")
    monkeypatch.setenv("CASPER_CATALOG", "my_own_catalog")
    monkeypatch.setenv("PYTHONPATH", "relative/dir")
    home = tmp_path / "home"
    env = task_environment(databricks_fake, home, extra={"CASPER_DATABRICKS_RETRY_SECONDS": "5"})
    assert {key: env[key] for key in env if key.startswith(("DATABRICKS_", "CASPER_"))} == {
        "DATABRICKS_HOST": databricks_fake.url,
        "DATABRICKS_TOKEN": TOKEN,
        "DATABRICKS_AUTH_TYPE": "pat",
        "DATABRICKS_CONFIG_FILE": "/dev/null",
        "DATABRICKS_RUNTIME_VERSION": "client.2.0",
        "CASPER_DATABRICKS_STAND_IN": str(databricks_fake.root),
        "CASPER_HOME": str(home),
        "CASPER_DATABRICKS_RETRY_SECONDS": "5",
    }
    assert (env["HOME"], env["PYSPARK_PYTHON"]) == (str(home), sys.executable)
    # A run has its own cwd: every entry is absolute, and this checkout's code comes first.
    assert env["PYTHONPATH"].split(os.pathsep) == [str(CHECKOUT), str(Path.cwd() / "relative/dir")]
