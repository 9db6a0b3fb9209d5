"""`casper up/down --engine databricks` from the CLI (subprocesses), against the local fake workspace.

The fake (tests/databricks_fake) answers the REST routes with the SDK's own dataclasses and records
every call; the deploy code runs the real databricks-sdk against it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from casper.manifest import Manifest, Resource
from tests.cli_helpers import NOW, casper_env, casper_in_process
from tests.databricks_fake import (
    FakeWorkspace,
    databricks_fake_fixture,  # noqa: F401  (provides the `databricks_fake` fixture)
)
from tests.databricks_fake.workspace import TOKEN

pytestmark = pytest.mark.slow

CATALOG = "caspers_test"
STAGE_JOBS = ("lakeflow", "refund_agent", "refund_stream", "lakebase")
#: where the refund_agent job's MLflow tracks its runs (the job makes it on its compute, not `up`)
EXPERIMENT = f"/Shared/caspers-{CATALOG}-refunds"


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The project's wheel, built once: what the jobs install."""
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(folder), str(Path(__file__).parent.parent)],
        check=True,
    )  # fmt: skip
    return next(folder.glob("*.whl"))


@pytest.fixture
def workspace(databricks_fake: FakeWorkspace) -> FakeWorkspace:
    return databricks_fake


def run(home: Path, fake: FakeWorkspace, wheel: Path, *args: str) -> subprocess.CompletedProcess:
    env = fake.environ(casper_env()) | {
        "CASPER_WHEEL": str(wheel),
        "CASPER_DATABRICKS_RETRY_SECONDS": "20",
    }
    return subprocess.run(
        [sys.executable, "-m", "casper", "--home", str(home), *args],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip


def up(home: Path, fake: FakeWorkspace, wheel: Path, *extra: str) -> subprocess.CompletedProcess:
    return run(
        home, fake, wheel,
        "up", "--engine", "databricks", "--catalog", CATALOG,
        "--now", NOW, "--days", "1", "--locations", "sanfrancisco", *extra,
    )  # fmt: skip


def job_names(*stages: str) -> list[str]:
    return [f"caspers-{CATALOG}-{stage}" for stage in stages]


def test_up_deploys_the_stages_and_down_removes_exactly_that(workspace, wheel, tmp_path):
    workspace.seed_job("someone's nightly report")
    w = workspace.client()
    w.experiments.create_experiment("/Shared/someone-else")
    before = workspace.state()
    home = tmp_path / "home"

    first = up(home, workspace, wheel)
    assert first.returncode == 0, first.stderr
    state = workspace.state()
    assert CATALOG in state["catalogs"]
    assert {f"{CATALOG}.{s}" for s in ("simulator", "lakeflow", "ai", "recommender")} <= set(
        state["schemas"]
    )
    assert {f"{CATALOG}.simulator.events", f"{CATALOG}.simulator.artifacts"} <= set(
        state["volumes"]
    )
    events = [f for f in state["files"] if f.startswith(f"/Volumes/{CATALOG}/simulator/events/")]
    assert events and all(Path(f).name.startswith("history-sanfrancisco-") for f in events)
    assert any(f.endswith(".whl") and "/artifacts/wheels/" in f for f in state["files"])
    assert set(job_names("live", *STAGE_JOBS)) <= set(state["jobs"])
    # each stage job ran once (the reverse ETL once more after the app exists, to grant its
    # identity), and its task is our wheel's `casper` entry point on this engine
    ran = [c.body["job_id"] for c in workspace.calls_to("POST", "/api/2.2/jobs/run-now")]
    ids = {j.settings.name: j.job_id for j in w.jobs.list()}
    assert sorted(ran) == sorted(ids[name] for name in job_names(*STAGE_JOBS, "lakebase"))
    created = [c.body for c in workspace.calls_to("POST", "/api/2.2/jobs/create")]
    lakeflow = next(b for b in created if b["name"] == job_names("lakeflow")[0])
    task = lakeflow["tasks"][0]
    assert task["python_wheel_task"]["entry_point"] == "casper"
    arguments = task["python_wheel_task"]["parameters"]
    assert arguments[-3:] == ["pipeline", "--engine", "databricks"]
    assert arguments[arguments.index("--catalog") :][:2] == ["--catalog", CATALOG]
    environment = lakeflow["environments"][0]["spec"]
    assert environment["dependencies"][0].endswith(wheel.name)
    # Lakebase: the instance, its database as a catalog, the synced table the app reads
    assert state["database_instances"] == ["caspers-test-lakebase"]
    assert state["database_catalogs"] == [f"{CATALOG}_lakebase"]
    assert state["synced_tables"] == [f"{CATALOG}_lakebase.recommender.pg_recommendations"]
    synced = workspace.calls_to("POST", "/api/2.0/database/synced_tables")[0].body
    assert (
        synced["spec"]["source_table_full_name"] == f"{CATALOG}.recommender.refund_recommendations"
    )
    assert synced["spec"]["primary_key_columns"] == ["order_id"]
    # the app, deployed from a workspace folder holding app.yaml, the wheel and requirements.txt
    assert state["apps"] == ["refundmanager"]
    folder = f"/Shared/caspers-{CATALOG}/refundmanager"
    assert {f"{folder}/app.yaml", f"{folder}/requirements.txt", f"{folder}/{wheel.name}"} <= set(
        state["workspace_objects"]
    )
    app = workspace.calls_to("POST", "/api/2.0/apps")[0].body
    assert app["resources"][0]["database"]["instance_name"] == "caspers-test-lakebase"
    deployment = workspace.calls_to("POST", "/api/2.0/apps/refundmanager/deployments")[0].body
    assert deployment["source_code_path"] == f"/Workspace{folder}"
    for stage in ("raw_data", *STAGE_JOBS, "app"):
        assert f"done {stage}:" in first.stdout

    # a second up creates nothing: no new catalog, schema, volume, job, and no history re-upload
    creations = len(workspace.calls_to("POST"))
    uploads = workspace.calls_to("PUT", f"/api/2.0/fs/files/Volumes/{CATALOG}/simulator/events")
    again = up(home, workspace, wheel)
    assert again.returncode == 0, again.stderr
    posted = [c.path for c in workspace.calls_to("POST")[creations:]]
    assert not [
        p for p in posted if p.endswith(("/catalogs", "/schemas", "/volumes", "/jobs/create"))
    ]
    assert (
        workspace.calls_to("PUT", f"/api/2.0/fs/files/Volumes/{CATALOG}/simulator/events")
        == uploads
    )
    assert workspace.state()["jobs"] == state["jobs"]

    # the refund_agent job's MLflow made its experiment, as it does on Databricks compute
    w.experiments.create_experiment(EXPERIMENT)
    seen = len(workspace.calls)
    gone = run(home, workspace, wheel, "down", "--engine", "databricks")
    assert gone.returncode == 0, gone.stderr
    # the user's job and experiment stay; everything we made is gone
    assert workspace.state() == before
    assert f"catalog {CATALOG}" in gone.stdout
    assert f"removed experiment {EXPERIMENT}" in gone.stdout
    deletions = [
        c.path for c in workspace.calls[seen:] if c.method == "DELETE" or c.path.endswith("/delete")
    ]
    assert deletions[0] == "/api/2.0/mlflow/experiments/delete", deletions  # the reference's order


def test_an_existing_catalog_is_used_and_never_dropped(workspace, wheel, tmp_path):
    workspace.seed_catalog(CATALOG)
    before = workspace.state()
    home = tmp_path / "home"
    assert up(home, workspace, wheel, "--stages", "raw_data").returncode == 0
    assert not workspace.calls_to("POST", "/api/2.1/unity-catalog/catalogs")
    down = run(home, workspace, wheel, "down", "--engine", "databricks")
    assert down.returncode == 0, down.stderr
    assert workspace.state() == before
    assert f"catalog {CATALOG}" not in down.stdout


def home_with_the_refund_agent_job(home: Path, fake: FakeWorkspace) -> Path:
    """A home as `up` leaves it once the refund_agent job exists, without running up: the manifest
    records the job (made in the fake) and the deployment's settings."""
    name = job_names("refund_agent")[0]
    job_id = fake.client().jobs.create(name=name).job_id
    settings = {"catalog": CATALOG, "events_volume": "events", "simulator_schema": "simulator"}
    Manifest(home, settings=settings).add_resource(Resource("job", name, True, id=str(job_id)))
    return home


def down_in_process(home: Path, fake: FakeWorkspace, monkeypatch) -> subprocess.CompletedProcess:
    for key, value in fake.environ({}).items():
        monkeypatch.setenv(key, value)
    return casper_in_process(home, "down", "--engine", "databricks", monkeypatch=monkeypatch)


def test_down_that_cannot_delete_the_experiment_says_so_and_a_second_down_finishes(
    workspace, tmp_path, monkeypatch
):
    w = workspace.client()
    w.experiments.create_experiment("/Shared/someone-else")
    before = workspace.state()
    home = home_with_the_refund_agent_job(tmp_path / "home", workspace)
    w.experiments.create_experiment(EXPERIMENT)
    workspace.fail_next("POST", "/api/2.0/mlflow/experiments/delete", status=403)

    refused = down_in_process(home, workspace, monkeypatch)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: down: the workspace refused: "), refused.stderr
    assert "Traceback" not in refused.stderr
    # the experiment goes first: nothing after it was deleted, and all of it is still recorded
    assert EXPERIMENT in workspace.state()["experiments"]
    assert job_names("refund_agent")[0] in workspace.state()["jobs"]
    assert [r.kind for r in Manifest.load(home).resources] == ["job"]

    finished = down_in_process(home, workspace, monkeypatch)
    assert finished.returncode == 0, finished.stderr
    assert f"removed experiment {EXPERIMENT}" in finished.stdout
    assert f"removed job {job_names('refund_agent')[0]}" in finished.stdout
    assert workspace.state() == before  # someone else's experiment stays
    assert not workspace.unhandled and not workspace.crashes


@pytest.mark.parametrize("earlier", ["never made", "deleted already"])
def test_down_says_nothing_of_an_experiment_that_is_not_there(
    workspace, tmp_path, monkeypatch, earlier
):
    home = home_with_the_refund_agent_job(tmp_path / "home", workspace)
    if earlier == "deleted already":  # get-by-name still answers with it, deleted
        w = workspace.client()
        w.experiments.delete_experiment(w.experiments.create_experiment(EXPERIMENT).experiment_id)
    deletes = len(workspace.calls_to("POST", "/api/2.0/mlflow/experiments/delete"))
    down = down_in_process(home, workspace, monkeypatch)
    assert down.returncode == 0, down.stderr
    assert "experiment" not in down.stdout + down.stderr
    assert len(workspace.calls_to("POST", "/api/2.0/mlflow/experiments/delete")) == deletes
    assert workspace.state()["jobs"] == []


def test_throttled_and_unavailable_answers_are_retried(workspace, wheel, tmp_path):
    workspace.fail_next("POST", "/api/2.1/unity-catalog/schemas", status=503, times=2)
    workspace.fail_next("POST", "/api/2.2/jobs/create", status=429, times=1)
    result = up(tmp_path / "home", workspace, wheel, "--stages", "lakeflow")
    assert result.returncode == 0, result.stderr
    assert job_names("lakeflow")[0] in workspace.state()["jobs"]


def test_a_failed_job_run_stops_up_with_the_runs_error(workspace, wheel, tmp_path):
    workspace.fail_next_run(job_names("lakeflow")[0], "AnalysisException: no such table lakeflow.x")
    result = up(tmp_path / "home", workspace, wheel)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("error: job caspers-caspers_test-lakeflow run ")
    assert "FAILED" in error and "no such table lakeflow.x" in error
    assert "done lakeflow" not in result.stdout and "refund_agent" not in result.stdout
    assert not [c for c in workspace.calls_to("POST", "/api/2.2/jobs/run-now")][1:]


def test_the_token_never_reaches_output_logs_or_files(workspace, wheel, tmp_path):
    home = tmp_path / "home"
    result = up(home, workspace, wheel)
    down = run(home, workspace, wheel, "down", "--engine", "databricks")
    assert result.returncode == 0 and down.returncode == 0
    for text in (result.stdout, result.stderr, down.stdout, down.stderr):
        assert TOKEN not in text
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    assert all(TOKEN not in repr(call) for call in workspace.calls)


def test_unreachable_workspace_is_one_line(tmp_path, wheel):
    env = casper_env() | {
        "DATABRICKS_HOST": "http://127.0.0.1:9",
        "DATABRICKS_TOKEN": TOKEN,
        "DATABRICKS_CONFIG_FILE": "/dev/null",
        "CASPER_DATABRICKS_RETRY_SECONDS": "2",
        "CASPER_WHEEL": str(wheel),
    }
    result = subprocess.run(
        [sys.executable, "-m", "casper", "--home", str(tmp_path / "home"), "up", "--engine",
         "databricks", "--stages", "raw_data", "--days", "1", "--locations", "sanfrancisco"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and TOKEN not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")


def test_pending_states_are_waited_out_with_a_progress_line(workspace, wheel, tmp_path):
    workspace.pending_polls["run"] = 1
    workspace.pending_polls["database_instance"] = 1
    result = up(tmp_path / "home", workspace, wheel, "--stages", "lakebase")
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: ")]
    assert any("caspers-caspers_test-lakeflow: run" in line for line in notes), notes
    assert any("Lakebase instance caspers-test-lakebase: STARTING" in line for line in notes), notes
    assert "done lakebase:" in result.stdout


def test_status_reports_the_same_keys_read_through_the_workspace(workspace, wheel, tmp_path):
    import json

    from tests.databricks_fake import SqlError

    home = tmp_path / "home"
    assert up(home, workspace, wheel, "--stages", "raw_data").returncode == 0
    assert len(workspace.state()["warehouses"]) == 1  # up made the one status reads through
    in_volume = [
        f
        for f in workspace.state()["files"]
        if f.startswith(f"/Volumes/{CATALOG}/simulator/events/")
    ]
    landed = sum(len(workspace.files.read(f).splitlines()) for f in in_volume)
    answers = {"all_events": 5000, "quarantine": 7, "delivered_ts": 410, "DISTINCT": 390}

    def answer(sql: str):
        if "recommender" in sql:
            raise SqlError("[TABLE_OR_VIEW_NOT_FOUND] The table cannot be found", "42P01")
        for fragment, count in answers.items():
            if fragment in sql:
                return ["count"], [[count]]
        return ["count"], [[450]]  # every order

    workspace.sql_handler = answer
    local = json.loads(run(tmp_path / "local", workspace, wheel, "status", "--json").stdout)
    result = run(home, workspace, wheel, "status", "--engine", "databricks", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status.keys() == local.keys()
    assert status["landed_events"] == landed > 0
    assert status["landed_files"] == len(in_volume) > 0
    assert (status["bronze_events"], status["quarantined"]) == (5000, 7)
    assert (status["orders"], status["delivered_orders"]) == (450, 410)
    assert status["recommendations"] == 0  # its table is not built yet
    assert status["champion_model_version"] is None
    assert status["stages"]["raw_data"] is True
    executed = [c.body["statement"] for c in workspace.calls_to("POST", "/api/2.0/sql/statements")]
    assert any("lakeflow.all_events" in sql for sql in executed)
