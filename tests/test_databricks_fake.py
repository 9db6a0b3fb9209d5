"""The fake Databricks workspace, driven by the real databricks-sdk and MLflow's UC registry client.

These tests pin two things: that the fake behaves like the workspace where the project relies on it
(errors, waiters, retries, file semantics), and - in the route tables at the bottom - that the installed
SDK and MLflow still call the endpoints the fake answers, so an SDK upgrade that moves a route fails
here rather than against a real workspace.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import io
import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import (
    AlreadyExists,
    BadRequest,
    DatabricksError,
    InvalidParameterValue,
    NotFound,
    ResourceAlreadyExists,
    ResourceConflict,
    ResourceDoesNotExist,
)
from databricks.sdk.service import apps, compute, database, jobs, workspace
from databricks.sdk.service.catalog import VolumeType
from databricks.sdk.service.sql import StatementState

from tests.databricks_fake import (
    FakeWorkspace,
    RunOutcome,
    SqlError,
    databricks_fake_fixture,  # noqa: F401  (provides the `databricks_fake` fixture)
)
from tests.databricks_fake.workspace import TOKEN

WAIT = timedelta(seconds=20)
ME = "dev@example.com"
APP_DIR = f"/Workspace/Users/{ME}/caspers/app"


@pytest.fixture
def w(databricks_fake: FakeWorkspace) -> WorkspaceClient:
    return databricks_fake.client()


def seed_volume(w: WorkspaceClient) -> str:
    w.catalogs.create(name="caspers")
    w.schemas.create(name="simulator", catalog_name="caspers")
    w.volumes.create("caspers", "simulator", "events", VolumeType.MANAGED)
    return "/Volumes/caspers/simulator/events"


def wheel_job(w: WorkspaceClient, name: str = "casper-init") -> int:
    def task(key: str, after: str | None = None) -> jobs.Task:
        return jobs.Task(
            task_key=key,
            depends_on=[jobs.TaskDependency(after)] if after else None,
            python_wheel_task=jobs.PythonWheelTask(
                package_name="caspers_kitchens", entry_point=key
            ),
            environment_key="default",
        )

    created = w.jobs.create(
        name=name,
        tasks=[task("raw_data"), task("pipeline", after="raw_data"), task("app")],
        environments=[
            jobs.JobEnvironment(
                environment_key="default",
                spec=compute.Environment(
                    environment_version="3", dependencies=["/Volumes/c/s/v/x.whl"]
                ),
            )
        ],
        parameters=[
            jobs.JobParameterDefinition(name="CATALOG", default="caspers"),
            jobs.JobParameterDefinition(name="LOCATIONS", default="all"),
        ],
    )
    return created.job_id


# -- client, identity ------------------------------------------------------------------------------


def test_client_reads_host_metadata_then_authenticates_with_the_token(databricks_fake, w):
    assert w.current_user.me().user_name == ME
    assert [(c.method, c.path) for c in databricks_fake.calls] == [
        ("GET", "/.well-known/databricks-config"),
        ("GET", "/api/2.0/preview/scim/v2/Me"),
    ]
    assert w.config.auth_type == "pat"


def test_recorded_calls_never_hold_the_token(databricks_fake, w):
    w.current_user.me()
    w.database.create_database_instance(database.DatabaseInstance(name="db", capacity="CU_1"))
    w.database.generate_database_credential(instance_names=["db"], request_id="r")
    assert databricks_fake.calls
    assert TOKEN not in repr(databricks_fake.calls)
    assert all("authorization" not in {k.lower() for k in c.headers} for c in databricks_fake.calls)


def test_environ_gives_clients_only_the_fake(databricks_fake, monkeypatch):
    monkeypatch.setenv("DATABRICKS_CONFIG_PROFILE", "my-real-workspace")
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", "real-secret")
    env = databricks_fake.environ()
    assert sorted(k for k in env if k.startswith("DATABRICKS_")) == [
        "DATABRICKS_AUTH_TYPE",
        "DATABRICKS_CONFIG_FILE",
        "DATABRICKS_HOST",
        "DATABRICKS_TOKEN",
    ]
    assert env["MLFLOW_USE_DATABRICKS_SDK_MODEL_ARTIFACTS_REPO_FOR_UC"] == "true"
    # What a subprocess (or MLflow) does with that environment: a bare WorkspaceClient().
    for key in [k for k in os.environ if k not in env]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert WorkspaceClient().current_user.me().user_name == ME


# -- errors and retries ----------------------------------------------------------------------------


def test_unity_catalog_objects_conflict_and_go_missing_like_the_workspace(w):
    seed_volume(w)
    assert w.catalogs.get("caspers").owner == ME
    assert {s.name for s in w.schemas.list("caspers")} == {
        "default",
        "information_schema",
        "simulator",
    }
    assert [v.full_name for v in w.volumes.list("caspers", "simulator")] == [
        "caspers.simulator.events"
    ]
    assert w.volumes.read("caspers.simulator.events").volume_type == VolumeType.MANAGED
    with pytest.raises(ResourceAlreadyExists):
        w.catalogs.create(name="caspers")
    with pytest.raises(ResourceAlreadyExists):
        w.volumes.create("caspers", "simulator", "events", VolumeType.MANAGED)
    with pytest.raises(NotFound):
        w.schemas.get("caspers.nope")
    with pytest.raises(NotFound):
        w.schemas.create(name="x", catalog_name="nope")
    with pytest.raises(BadRequest, match="not empty"):
        w.catalogs.delete("caspers")
    w.catalogs.delete("caspers", force=True)
    with pytest.raises(NotFound):
        w.volumes.read("caspers.simulator.events")
    assert [c.name for c in w.catalogs.list()] == []


@pytest.mark.parametrize("status", [429, 503])
def test_throttling_and_outages_are_retried_until_they_pass(databricks_fake, w, status):
    databricks_fake.fail_next("POST", "/api/2.1/unity-catalog/catalogs", status=status, times=2)
    assert w.catalogs.create(name="caspers").name == "caspers"
    answers = [
        c.status for c in databricks_fake.calls_to("POST", "/api/2.1/unity-catalog/catalogs")
    ]
    assert answers == [status, status, 200]


# -- files -----------------------------------------------------------------------------------------


def test_files_in_a_volume_refuse_an_overwrite_unless_asked(databricks_fake, w):
    root = seed_volume(w)
    path = f"{root}/landing/batch 1.json"
    w.files.upload(path, io.BytesIO(b'{"a": 1}'), overwrite=False)
    with pytest.raises(AlreadyExists):
        w.files.upload(path, io.BytesIO(b"other"), overwrite=False)
    w.files.upload(path, io.BytesIO(b'{"a": 2}'), overwrite=True)
    assert w.files.get_metadata(path).content_length == 8
    assert w.files.download(path).contents.read() == b'{"a": 2}'
    # The SDK asks for a presigned URL first and falls back on 501.
    tried = [(c.method, c.path, c.status) for c in databricks_fake.calls[-2:]]
    assert tried == [
        ("POST", "/api/2.0/fs/create-download-url", 501),
        ("GET", f"/api/2.0/fs/files{path}", 200),
    ]
    listed = list(w.files.list_directory_contents(root))
    assert [(e.name, e.is_directory) for e in listed] == [("landing", True)]
    assert [e.name for e in w.files.list_directory_contents(f"{root}/landing")] == ["batch 1.json"]
    w.files.create_directory(f"{root}/empty/deeper")
    w.files.get_directory_metadata(f"{root}/empty")
    with pytest.raises(ResourceConflict):
        w.files.delete_directory(f"{root}/empty")
    w.files.delete_directory(f"{root}/empty/deeper")
    w.files.delete_directory(f"{root}/empty")
    w.files.delete(path)
    with pytest.raises(NotFound):
        w.files.get_metadata(path)
    with pytest.raises(NotFound):
        w.files.upload("/Volumes/caspers/simulator/missing/x.json", io.BytesIO(b"x"))


def test_volume_files_are_a_folder_on_disk_that_other_processes_share(databricks_fake, w):
    root = seed_volume(w)
    folder = databricks_fake.volume_folder("caspers", "simulator", "events")
    assert folder == databricks_fake.root / root.lstrip("/")
    assert folder.is_dir()  # the volume's FUSE path exists before anything is written
    w.files.upload(f"{root}/landing/a.json", io.BytesIO(b'{"a": 1}\n'))
    assert (folder / "landing" / "a.json").read_bytes() == b'{"a": 1}\n'
    # What a job writes on disk, as through /Volumes on its compute, the API then sees.
    (folder / "landing" / "b.json").write_bytes(b"12345")
    (folder / "landing" / ".part").write_bytes(b"x")
    (folder / "landing" / "day=1").mkdir()
    listed = {e.name: e for e in w.files.list_directory_contents(f"{root}/landing")}
    assert sorted(listed) == [".part", "a.json", "b.json", "day=1"]
    assert (listed["b.json"].file_size, listed["day=1"].is_directory) == (5, True)
    modified_ms = (folder / "landing" / "b.json").stat().st_mtime_ns // 1_000_000
    assert listed["b.json"].last_modified == modified_ms
    assert w.files.get_metadata(f"{root}/landing/b.json").content_length == 5
    assert w.files.download(f"{root}/landing/b.json").contents.read() == b"12345"
    assert databricks_fake.state()["files"] == [
        f"{root}/landing/.part",
        f"{root}/landing/a.json",
        f"{root}/landing/b.json",
    ]
    assert not list(databricks_fake.root.joinpath(".uploads").iterdir())  # no temporary left
    with pytest.raises(AlreadyExists):
        w.files.upload(f"{root}/landing/a.json/inner", io.BytesIO(b"x"))
    w.volumes.delete("caspers.simulator.events")
    assert not folder.exists()
    assert databricks_fake.state()["files"] == []


def test_a_volume_lander_names_what_it_does_not_read_from_its_one_listing(
    databricks_fake, w, tmp_path
):
    from casper.landing import summarize_landing
    from engines.databricks.volume import VolumeLander

    root = seed_volume(w)
    for name in ("a.ndjson", "i.NDJSON", "notes.txt", ".part"):
        w.files.upload(f"{root}/landing/{name}", io.BytesIO(b"{}\n"))
    w.files.create_directory(f"{root}/landing/day=1")
    lander = VolumeLander(w, f"{root}/landing")
    survey = lander.survey()
    assert [landed.name for landed in survey.files] == ["a.ndjson"]
    assert survey.ignored == ("day=1/", "i.NDJSON", "notes.txt")
    listings = len(databricks_fake.calls_to("GET", "/api/2.0/fs/directories"))
    summary = summarize_landing(lander, tmp_path / "index")
    assert (summary.files, summary.events, summary.ignored) == (1, 1, survey.ignored)
    # status lists the volume once
    assert len(databricks_fake.calls_to("GET", "/api/2.0/fs/directories")) == listings + 1


def test_stop_removes_the_folder_the_files_live_in():
    with FakeWorkspace() as fake:
        fake.seed_catalog("c")
        fake.seed_schema("c", "s")
        fake.seed_volume("c", "s", "v")
        fake.client().files.upload("/Volumes/c/s/v/a.json", io.BytesIO(b"{}"))
        assert (fake.volume_folder("c", "s", "v") / "a.json").is_file()
    assert not fake.root.exists()


def test_workspace_files_for_app_sources(databricks_fake, w):
    w.workspace.mkdirs(APP_DIR)
    w.workspace.upload(f"{APP_DIR}/app.py", b"print('hi')", format=workspace.ImportFormat.AUTO)
    w.workspace.import_(
        f"{APP_DIR}/app.yaml",
        content=base64.b64encode(b"command: [python, app.py]").decode(),
        format=workspace.ImportFormat.AUTO,
    )
    # Without format=AUTO a .py path becomes a notebook, which an app cannot run.
    w.workspace.upload(f"{APP_DIR}/notebook.py", b"print('hi')")
    kinds = {o.path.rsplit("/", 1)[1]: o.object_type for o in w.workspace.list(APP_DIR)}
    assert kinds == {
        "app.py": workspace.ObjectType.FILE,
        "app.yaml": workspace.ObjectType.FILE,
        "notebook.py": workspace.ObjectType.NOTEBOOK,
    }
    assert w.workspace.get_status(APP_DIR).object_type == workspace.ObjectType.DIRECTORY
    assert w.workspace.download(f"{APP_DIR}/app.py").read() == b"print('hi')"
    assert databricks_fake.calls_to("POST", "/api/2.0/workspace/import")[0].body == {
        "<form>": ["content", "format", "path"]
    }
    with pytest.raises(ResourceAlreadyExists):
        w.workspace.upload(f"{APP_DIR}/app.py", b"again", format=workspace.ImportFormat.AUTO)
    with pytest.raises(NotFound):
        w.workspace.upload("/Users/nobody/x/app.py", b"x", format=workspace.ImportFormat.AUTO)
    with pytest.raises(DatabricksError, match="not empty"):
        w.workspace.delete(APP_DIR)
    w.workspace.delete(APP_DIR, recursive=True)
    with pytest.raises(NotFound):
        w.workspace.get_status(APP_DIR)


# -- SQL -------------------------------------------------------------------------------------------


def test_warehouse_starts_then_runs_and_answers_sql_through_the_handler(databricks_fake, w):
    databricks_fake.pending_polls["warehouse"] = 1
    seen = []
    warehouse = w.warehouses.create(
        name="casper", cluster_size="2X-Small", enable_serverless_compute=True, auto_stop_mins=10
    ).result(timeout=WAIT, callback=lambda polled: seen.append(polled.state.value))
    assert (seen, warehouse.state.value) == (["STARTING"], "RUNNING")
    assert warehouse.odbc_params.path == f"/sql/1.0/warehouses/{warehouse.id}"
    assert [x.name for x in w.warehouses.list()] == ["casper"]

    failed = w.statement_execution.execute_statement("select 1", warehouse.id, wait_timeout="30s")
    assert failed.status.state == StatementState.FAILED

    def answer(sql: str):
        if "boom" in sql:
            raise SqlError("[TABLE_OR_VIEW_NOT_FOUND] boom")
        return [("order_id", "STRING"), ("revenue", "DOUBLE")], [("o1", 12.5), ("o2", None)]

    databricks_fake.sql_handler = answer
    done = w.statement_execution.execute_statement(
        "select order_id, revenue from gold", warehouse.id, catalog="caspers", wait_timeout="30s"
    )
    assert done.status.state == StatementState.SUCCEEDED
    assert [c.name for c in done.manifest.schema.columns] == ["order_id", "revenue"]
    assert done.result.data_array == [["o1", "12.5"], ["o2", None]]
    assert (
        w.statement_execution.get_statement(done.statement_id).status.state
        == StatementState.SUCCEEDED
    )
    chunk = w.statement_execution.get_statement_result_chunk_n(done.statement_id, 0)
    assert chunk.row_count == 2
    bad = w.statement_execution.execute_statement("select boom", warehouse.id, wait_timeout="30s")
    assert "TABLE_OR_VIEW_NOT_FOUND" in bad.status.error.message
    w.warehouses.delete(warehouse.id)
    with pytest.raises(NotFound):
        w.warehouses.get(warehouse.id)


# -- jobs ------------------------------------------------------------------------------------------


def test_run_goes_pending_running_terminated_and_the_executor_gets_the_parameters(
    databricks_fake, w
):
    databricks_fake.pending_polls["run"] = 2
    received = []
    databricks_fake.job_executor = lambda settings, params: received.append((settings.name, params))
    job_id = wheel_job(w)
    run_id = w.jobs.run_now(job_id, job_parameters={"CATALOG": "test_cat"}).run_id
    states = [w.jobs.get_run(run_id).state.life_cycle_state.value for _ in range(3)]
    assert states == ["PENDING", "RUNNING", "TERMINATED"]
    run = w.jobs.get_run(run_id)
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    assert {t.task_key: t.state.result_state.value for t in run.tasks} == dict.fromkeys(
        ["raw_data", "pipeline", "app"], "SUCCESS"
    )
    assert received == [("casper-init", {"CATALOG": "test_cat", "LOCATIONS": "all"})]
    assert {p.name: p.value for p in run.job_parameters} == {
        "CATALOG": "test_cat",
        "LOCATIONS": "all",
    }


def test_run_now_result_waits_and_a_failure_is_a_terminated_run(databricks_fake, w):
    databricks_fake.pending_polls["run"] = 1
    job_id = wheel_job(w)
    assert (
        w.jobs.run_now(job_id).result(timeout=WAIT).state.result_state
        == jobs.RunResultState.SUCCESS
    )

    databricks_fake.pending_polls["run"] = 0
    databricks_fake.fail_next_run(
        "casper-init", "ValueError: no events landed", task_key="raw_data"
    )
    run = w.jobs.run_now(job_id).result(timeout=WAIT)
    assert run.state.life_cycle_state == jobs.RunLifeCycleState.TERMINATED
    assert run.state.result_state == jobs.RunResultState.FAILED
    by_key = {t.task_key: t for t in run.tasks}
    assert {k: t.state.result_state.value for k, t in by_key.items()} == {
        "raw_data": "FAILED",
        "pipeline": "UPSTREAM_FAILED",
        "app": "SUCCESS",
    }
    assert w.jobs.get_run_output(by_key["raw_data"].run_id).error == "ValueError: no events landed"
    with pytest.raises(InvalidParameterValue, match="multiple tasks"):
        w.jobs.get_run_output(run.run_id)


def test_executor_outcomes_decide_the_run(databricks_fake, w):
    job_id = wheel_job(w)
    databricks_fake.job_executor = lambda s, p: RunOutcome.failed("exit code 3", task_key="app")
    run = w.jobs.run_now(job_id).result(timeout=WAIT)
    app_task = next(t for t in run.tasks if t.task_key == "app")
    assert (run.state.result_state.value, w.jobs.get_run_output(app_task.run_id).error) == (
        "FAILED",
        "exit code 3",
    )

    def crash(settings, params):
        raise RuntimeError("executor bug")

    databricks_fake.job_executor = crash
    run = w.jobs.run_now(job_id).result(timeout=WAIT)
    assert "executor bug" in run.state.state_message


def test_jobs_list_get_delete_and_a_foreign_job_stays(databricks_fake, w):
    foreign = databricks_fake.seed_job("someone-elses-job")
    job_id = wheel_job(w)
    assert [j.job_id for j in w.jobs.list(name="CASPER-INIT")] == [job_id]
    assert {j.job_id for j in w.jobs.list()} == {job_id, foreign}
    assert w.jobs.get(job_id).settings.tasks[1].depends_on[0].task_key == "raw_data"
    w.jobs.delete(job_id)
    with pytest.raises(ResourceDoesNotExist):
        w.jobs.get(job_id)
    with pytest.raises(InvalidParameterValue):
        w.jobs.delete(job_id)
    assert databricks_fake.state()["jobs"] == ["someone-elses-job"]


# -- MLflow experiments ----------------------------------------------------------------------------


def test_experiments_are_found_by_name_and_a_delete_leaves_them_deleted(databricks_fake, w):
    from databricks.sdk.service.ml import ExperimentTag

    with pytest.raises(ResourceDoesNotExist):
        w.experiments.get_by_name("/Shared/caspers-refunds")
    foreign = w.experiments.create_experiment("/Shared/someone-else").experiment_id
    ours = w.experiments.create_experiment(
        "/Shared/caspers-refunds", tags=[ExperimentTag(key="casper", value="yes")]
    ).experiment_id
    assert ours != foreign
    found = w.experiments.get_by_name("/Shared/caspers-refunds").experiment
    assert (found.experiment_id, found.lifecycle_stage) == (ours, "active")
    assert found.artifact_location and found.tags[0].key == "casper"
    assert databricks_fake.state()["experiments"] == [
        "/Shared/caspers-refunds",
        "/Shared/someone-else",
    ]
    with pytest.raises(ResourceAlreadyExists):
        w.experiments.create_experiment("/Shared/caspers-refunds")
    with pytest.raises(InvalidParameterValue):
        w.experiments.create_experiment("caspers-refunds")  # names are workspace paths
    with pytest.raises(ResourceDoesNotExist):
        w.experiments.create_experiment("/Shared/no-such-folder/refunds")

    w.experiments.delete_experiment(ours)
    assert databricks_fake.state()["experiments"] == ["/Shared/someone-else"]
    # soft: get-by-name still answers with it, deleted, until that name is used again
    gone = w.experiments.get_by_name("/Shared/caspers-refunds").experiment
    assert (gone.experiment_id, gone.lifecycle_stage) == (ours, "deleted")
    again = w.experiments.create_experiment("/Shared/caspers-refunds").experiment_id
    assert w.experiments.get_by_name("/Shared/caspers-refunds").experiment.experiment_id == again
    with pytest.raises(ResourceDoesNotExist):
        w.experiments.delete_experiment("404")
    assert not databricks_fake.unhandled and not databricks_fake.crashes


# -- Lakebase and apps -----------------------------------------------------------------------------


def test_lakebase_instance_waits_until_available_then_syncs_and_issues_tokens(databricks_fake, w):
    databricks_fake.pending_polls["database_instance"] = 1
    with pytest.raises(InvalidParameterValue):
        w.database.create_database_instance(database.DatabaseInstance(name="caspers_db"))
    instance = w.database.create_database_instance(
        database.DatabaseInstance(name="caspers-db", capacity="CU_1")
    ).result(timeout=WAIT)
    assert instance.state == database.DatabaseInstanceState.AVAILABLE
    assert instance.read_write_dns.endswith(".database.cloud.databricks.com")
    assert len(databricks_fake.calls_to("GET", "/api/2.0/database/instances/caspers-db")) == 2
    credential = w.database.generate_database_credential(
        instance_names=["caspers-db"], request_id="r1"
    )
    assert credential.token and credential.expiration_time

    w.database.create_database_catalog(
        database.DatabaseCatalog(
            name="caspers_pg",
            database_instance_name="caspers-db",
            database_name="caspers",
            create_database_if_not_exists=True,
        )
    )
    assert w.catalogs.get("caspers_pg").catalog_type.value == "MANAGED_ONLINE_CATALOG"
    spec = database.SyncedTableSpec(
        source_table_full_name="caspers.recommender.refund_recommendations",
        primary_key_columns=["order_id"],
        scheduling_policy=database.SyncedTableSchedulingPolicy.SNAPSHOT,
    )
    name = "caspers_pg.recommender.pg_recommendations"
    with pytest.raises(InvalidParameterValue, match="primary key"):
        w.database.create_synced_database_table(
            database.SyncedDatabaseTable(
                name=name,
                spec=database.SyncedTableSpec(
                    source_table_full_name=spec.source_table_full_name,
                    scheduling_policy=spec.scheduling_policy,
                ),
            )
        )
    table = w.database.create_synced_database_table(
        database.SyncedDatabaseTable(name=name, spec=spec)
    )
    assert table.effective_database_instance_name == "caspers-db"
    assert (
        w.database.get_synced_database_table(name).unity_catalog_provisioning_state.value
        == "ACTIVE"
    )
    w.database.delete_synced_database_table(name, purge_data=True)
    w.database.delete_database_catalog("caspers_pg")
    with pytest.raises(BadRequest):
        w.database.delete_database_instance("caspers-db", purge=False)
    w.database.delete_database_instance("caspers-db", purge=True)
    with pytest.raises(NotFound):
        w.database.get_database_instance("caspers-db")


def test_app_compute_starts_then_a_deployment_succeeds(databricks_fake, w):
    databricks_fake.pending_polls["app"] = 1
    created = w.apps.create(apps.App(name="refund-manager", description="Refund Manager"))
    app = created.result(timeout=WAIT)
    assert app.compute_status.state == apps.ComputeState.ACTIVE
    with pytest.raises(InvalidParameterValue, match="workspace folder"):
        w.apps.deploy("refund-manager", apps.AppDeployment(source_code_path=APP_DIR))
    w.workspace.mkdirs(APP_DIR)
    deployment = w.apps.deploy(
        "refund-manager",
        apps.AppDeployment(source_code_path=APP_DIR, mode=apps.AppDeploymentMode.SNAPSHOT),
    ).result(timeout=WAIT)
    assert deployment.status.state == apps.AppDeploymentState.SUCCEEDED
    assert w.apps.get("refund-manager").app_status.state == apps.ApplicationState.RUNNING
    with pytest.raises(ResourceAlreadyExists):
        w.apps.create(apps.App(name="refund-manager"))
    w.apps.delete("refund-manager")
    with pytest.raises(NotFound):
        w.apps.get("refund-manager")


def test_teardown_leaves_only_what_the_user_had(databricks_fake, w):
    databricks_fake.seed_catalog("users_catalog")
    databricks_fake.seed_job("users_job")
    before = databricks_fake.state()
    root = seed_volume(w)
    w.files.upload(f"{root}/a.json", io.BytesIO(b"{}"))
    job_id = wheel_job(w)
    w.database.create_database_instance(database.DatabaseInstance(name="caspers-db"))
    assert databricks_fake.state() != before
    w.jobs.delete(job_id)
    w.catalogs.delete("caspers", force=True)
    assert databricks_fake.state()["database_instances"] == ["caspers-db"]
    w.database.delete_database_instance("caspers-db", purge=True)
    assert databricks_fake.state() == before


# -- MLflow's Unity Catalog registry ---------------------------------------------------------------


def test_mlflow_registers_aliases_and_loads_a_model_through_the_fake(
    databricks_fake, monkeypatch, tmp_path
):
    mlflow = pytest.importorskip("mlflow")
    import pandas as pd
    from mlflow.models import infer_signature

    for key, value in databricks_fake.environ().items():
        monkeypatch.setenv(key, value)
    # Let MLflow ask the workspace whether model files go through the Files API, so that route is exercised.
    monkeypatch.delenv("MLFLOW_USE_DATABRICKS_SDK_MODEL_ARTIFACTS_REPO_FOR_UC")
    databricks_fake.seed_catalog("caspers")
    databricks_fake.seed_schema("caspers", "refunds")

    class Doubler(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input):
            return model_input * 2

    name = "caspers.refunds.refund_model"
    frame = pd.DataFrame({"minutes": [10.0, 42.0]})
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    mlflow.set_registry_uri("databricks-uc")
    try:
        # A sqlite store puts artifacts in ./mlruns unless the experiment says otherwise.
        experiment_id = mlflow.create_experiment(
            "refunds", artifact_location=str(tmp_path / "artifacts")
        )
        mlflow.set_experiment(experiment_id=experiment_id)
        with mlflow.start_run():
            logged = mlflow.pyfunc.log_model(
                name="model",
                python_model=Doubler(),
                signature=infer_signature(frame, frame * 2),
                # Naming the requirements skips MLflow's inference, which loads the model in a subprocess.
                pip_requirements=["pandas"],
            )
        version = mlflow.register_model(logged.model_uri, name)
        mlflow.MlflowClient().set_registered_model_alias(name, "champion", version.version)
        loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
        assert loaded.predict(frame)["minutes"].tolist() == [20.0, 84.0]
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])

    registry_calls = [
        (c.method, c.path.removeprefix("/api/2.0/mlflow/unity-catalog/"))
        for c in databricks_fake.calls
        if c.path.startswith("/api/2.0/mlflow/unity-catalog/")
    ]
    expected_order = [
        ("POST", "registered-models/create"),
        ("POST", "model-versions/create"),
        ("GET", "registered-models:is-databricks-sdk-models-artifact-repository-enabled"),
        ("POST", "model-versions/finalize"),
        ("POST", "registered-models/alias"),
        ("GET", "registered-models/alias"),
        ("POST", "model-versions/emit-lineage"),
    ]
    remaining = iter(registry_calls)
    assert all(step in remaining for step in expected_order), registry_calls
    uploaded = databricks_fake.calls_to(
        "PUT", "/api/2.0/fs/files/Models/caspers/refunds/refund_model/1/"
    )
    assert any(c.path.endswith("/MLmodel") for c in uploaded)
    assert not databricks_fake.unhandled
    assert not databricks_fake.crashes

    # The SDK sees the same model: the alias, then a delete that takes the files with it.
    w = databricks_fake.client()
    assert w.model_versions.get_by_alias(name, "champion").version == 1
    assert [a.alias_name for a in w.registered_models.get(name).aliases] == ["champion"]
    w.registered_models.delete(name)
    assert databricks_fake.state()["models"] == []
    assert databricks_fake.state()["files"] == []


# -- routes the project relies on ------------------------------------------------------------------

# One row per SDK method the `databricks` engine calls: (method on WorkspaceClient, call, HTTP verb,
# route). The call runs against an empty fake; an error answer is fine, the route is what is checked.
SDK_ROUTES = [
    ("current_user.me", lambda w: w.current_user.me(), "GET", "/api/2.0/preview/scim/v2/Me"),
    (
        "catalogs.create",
        lambda w: w.catalogs.create(name="c"),
        "POST",
        "/api/2.1/unity-catalog/catalogs",
    ),
    (
        "catalogs.get",
        lambda w: w.catalogs.get("c"),
        "GET",
        "/api/2.1/unity-catalog/catalogs/{name}",
    ),
    ("catalogs.list", lambda w: list(w.catalogs.list()), "GET", "/api/2.1/unity-catalog/catalogs"),
    (
        "catalogs.delete",
        lambda w: w.catalogs.delete("c", force=True),
        "DELETE",
        "/api/2.1/unity-catalog/catalogs/{name}",
    ),
    (
        "schemas.create",
        lambda w: w.schemas.create("s", "c"),
        "POST",
        "/api/2.1/unity-catalog/schemas",
    ),
    (
        "schemas.get",
        lambda w: w.schemas.get("c.s"),
        "GET",
        "/api/2.1/unity-catalog/schemas/{full_name}",
    ),
    ("schemas.list", lambda w: list(w.schemas.list("c")), "GET", "/api/2.1/unity-catalog/schemas"),
    (
        "schemas.delete",
        lambda w: w.schemas.delete("c.s"),
        "DELETE",
        "/api/2.1/unity-catalog/schemas/{full_name}",
    ),
    (
        "volumes.create",
        lambda w: w.volumes.create("c", "s", "v", VolumeType.MANAGED),
        "POST",
        "/api/2.1/unity-catalog/volumes",
    ),
    (
        "volumes.read",
        lambda w: w.volumes.read("c.s.v"),
        "GET",
        "/api/2.1/unity-catalog/volumes/{name}",
    ),
    (
        "volumes.list",
        lambda w: list(w.volumes.list("c", "s")),
        "GET",
        "/api/2.1/unity-catalog/volumes",
    ),
    (
        "volumes.delete",
        lambda w: w.volumes.delete("c.s.v"),
        "DELETE",
        "/api/2.1/unity-catalog/volumes/{name}",
    ),
    (
        "files.upload",
        lambda w: w.files.upload("/Volumes/c/s/v/f", io.BytesIO(b"x"), overwrite=False),
        "PUT",
        "/api/2.0/fs/files/Volumes/c/s/v/f",
    ),
    (
        "files.download",
        lambda w: w.files.download("/Volumes/c/s/v/f").contents.read(),
        "GET",
        "/api/2.0/fs/files/Volumes/c/s/v/f",
    ),
    (
        "files.get_metadata",
        lambda w: w.files.get_metadata("/Volumes/c/s/v/f"),
        "HEAD",
        "/api/2.0/fs/files/Volumes/c/s/v/f",
    ),
    (
        "files.delete",
        lambda w: w.files.delete("/Volumes/c/s/v/f"),
        "DELETE",
        "/api/2.0/fs/files/Volumes/c/s/v/f",
    ),
    (
        "files.list_directory_contents",
        lambda w: list(w.files.list_directory_contents("/Volumes/c/s/v")),
        "GET",
        "/api/2.0/fs/directories/Volumes/c/s/v",
    ),
    (
        "files.create_directory",
        lambda w: w.files.create_directory("/Volumes/c/s/v/d"),
        "PUT",
        "/api/2.0/fs/directories/Volumes/c/s/v/d",
    ),
    (
        "files.get_directory_metadata",
        lambda w: w.files.get_directory_metadata("/Volumes/c/s/v/d"),
        "HEAD",
        "/api/2.0/fs/directories/Volumes/c/s/v/d",
    ),
    (
        "files.delete_directory",
        lambda w: w.files.delete_directory("/Volumes/c/s/v/d"),
        "DELETE",
        "/api/2.0/fs/directories/Volumes/c/s/v/d",
    ),
    (
        "workspace.mkdirs",
        lambda w: w.workspace.mkdirs("/Users/x/a"),
        "POST",
        "/api/2.0/workspace/mkdirs",
    ),
    (
        "workspace.upload",
        lambda w: w.workspace.upload("/Users/x/a/app.py", b"x", format=workspace.ImportFormat.AUTO),
        "POST",
        "/api/2.0/workspace/import",
    ),
    (
        "workspace.import_",
        lambda w: w.workspace.import_(
            "/Users/x/a/b", content="eA==", format=workspace.ImportFormat.AUTO
        ),
        "POST",
        "/api/2.0/workspace/import",
    ),
    (
        "workspace.get_status",
        lambda w: w.workspace.get_status("/Users/x"),
        "GET",
        "/api/2.0/workspace/get-status",
    ),
    (
        "workspace.list",
        lambda w: list(w.workspace.list("/Users")),
        "GET",
        "/api/2.0/workspace/list",
    ),
    (
        "workspace.delete",
        lambda w: w.workspace.delete("/Users/x", recursive=True),
        "POST",
        "/api/2.0/workspace/delete",
    ),
    (
        "warehouses.create",
        lambda w: w.warehouses.create(name="wh", cluster_size="2X-Small"),
        "POST",
        "/api/2.0/sql/warehouses",
    ),
    (
        "warehouses.create_and_wait",
        lambda w: w.warehouses.create_and_wait(name="wh", cluster_size="2X-Small", timeout=WAIT),
        "POST",
        "/api/2.0/sql/warehouses",
    ),
    ("warehouses.get", lambda w: w.warehouses.get("1"), "GET", "/api/2.0/sql/warehouses/{id}"),
    ("warehouses.list", lambda w: list(w.warehouses.list()), "GET", "/api/2.0/sql/warehouses"),
    (
        "warehouses.delete",
        lambda w: w.warehouses.delete("1"),
        "DELETE",
        "/api/2.0/sql/warehouses/{id}",
    ),
    (
        "statement_execution.execute_statement",
        lambda w: w.statement_execution.execute_statement("select 1", "1"),
        "POST",
        "/api/2.0/sql/statements",
    ),
    (
        "statement_execution.get_statement",
        lambda w: w.statement_execution.get_statement("s1"),
        "GET",
        "/api/2.0/sql/statements/{id}",
    ),
    (
        "statement_execution.get_statement_result_chunk_n",
        lambda w: w.statement_execution.get_statement_result_chunk_n("s1", 1),
        "GET",
        "/api/2.0/sql/statements/{id}/result/chunks/{n}",
    ),
    ("jobs.create", lambda w: w.jobs.create(name="j"), "POST", "/api/2.2/jobs/create"),
    ("jobs.get", lambda w: w.jobs.get(1), "GET", "/api/2.2/jobs/get"),
    ("jobs.list", lambda w: list(w.jobs.list(name="j")), "GET", "/api/2.2/jobs/list"),
    (
        "jobs.reset",
        lambda w: w.jobs.reset(1, jobs.JobSettings(name="j")),
        "POST",
        "/api/2.2/jobs/reset",
    ),
    ("jobs.delete", lambda w: w.jobs.delete(1), "POST", "/api/2.2/jobs/delete"),
    (
        "jobs.run_now",
        lambda w: w.jobs.run_now(1, job_parameters={"A": "b"}),
        "POST",
        "/api/2.2/jobs/run-now",
    ),
    ("jobs.get_run", lambda w: w.jobs.get_run(1), "GET", "/api/2.2/jobs/runs/get"),
    (
        "jobs.get_run_output",
        lambda w: w.jobs.get_run_output(1),
        "GET",
        "/api/2.2/jobs/runs/get-output",
    ),
    (
        "registered_models.get",
        lambda w: w.registered_models.get("c.s.m"),
        "GET",
        "/api/2.1/unity-catalog/models/{name}",
    ),
    (
        "registered_models.delete",
        lambda w: w.registered_models.delete("c.s.m"),
        "DELETE",
        "/api/2.1/unity-catalog/models/{name}",
    ),
    (
        "registered_models.set_alias",
        lambda w: w.registered_models.set_alias("c.s.m", "champion", 1),
        "PUT",
        "/api/2.1/unity-catalog/models/{name}/aliases/{alias}",
    ),
    (
        "model_versions.get_by_alias",
        lambda w: w.model_versions.get_by_alias("c.s.m", "champion"),
        "GET",
        "/api/2.1/unity-catalog/models/{name}/aliases/{alias}",
    ),
    (
        "database.create_database_instance",
        lambda w: w.database.create_database_instance(database.DatabaseInstance(name="db")),
        "POST",
        "/api/2.0/database/instances",
    ),
    (
        "database.get_database_instance",
        lambda w: w.database.get_database_instance("db"),
        "GET",
        "/api/2.0/database/instances/{name}",
    ),
    (
        "database.wait_get_database_instance_database_available",
        lambda w: w.database.wait_get_database_instance_database_available("db", timeout=WAIT),
        "GET",
        "/api/2.0/database/instances/{name}",
    ),
    (
        "database.delete_database_instance",
        lambda w: w.database.delete_database_instance("db", purge=True),
        "DELETE",
        "/api/2.0/database/instances/{name}",
    ),
    (
        "database.create_database_catalog",
        lambda w: w.database.create_database_catalog(
            database.DatabaseCatalog(name="pg", database_instance_name="db", database_name="d")
        ),
        "POST",
        "/api/2.0/database/catalogs",
    ),
    (
        "database.get_database_catalog",
        lambda w: w.database.get_database_catalog("pg"),
        "GET",
        "/api/2.0/database/catalogs/{name}",
    ),
    (
        "database.delete_database_catalog",
        lambda w: w.database.delete_database_catalog("pg"),
        "DELETE",
        "/api/2.0/database/catalogs/{name}",
    ),
    (
        "database.create_synced_database_table",
        lambda w: w.database.create_synced_database_table(
            database.SyncedDatabaseTable(name="c.s.t")
        ),
        "POST",
        "/api/2.0/database/synced_tables",
    ),
    (
        "database.get_synced_database_table",
        lambda w: w.database.get_synced_database_table("c.s.t"),
        "GET",
        "/api/2.0/database/synced_tables/{name}",
    ),
    (
        "database.delete_synced_database_table",
        lambda w: w.database.delete_synced_database_table("c.s.t", purge_data=True),
        "DELETE",
        "/api/2.0/database/synced_tables/{name}",
    ),
    (
        "database.generate_database_credential",
        lambda w: w.database.generate_database_credential(instance_names=["db"], request_id="r"),
        "POST",
        "/api/2.0/database/credentials",
    ),
    (
        "experiments.create_experiment",
        lambda w: w.experiments.create_experiment("/Shared/e"),
        "POST",
        "/api/2.0/mlflow/experiments/create",
    ),
    (
        "experiments.get_by_name",
        lambda w: w.experiments.get_by_name("/Shared/e"),
        "GET",
        "/api/2.0/mlflow/experiments/get-by-name",
    ),
    (
        "experiments.delete_experiment",
        lambda w: w.experiments.delete_experiment("1"),
        "POST",
        "/api/2.0/mlflow/experiments/delete",
    ),
    ("apps.create", lambda w: w.apps.create(apps.App(name="app")), "POST", "/api/2.0/apps"),
    ("apps.get", lambda w: w.apps.get("app"), "GET", "/api/2.0/apps/{name}"),
    ("apps.delete", lambda w: w.apps.delete("app"), "DELETE", "/api/2.0/apps/{name}"),
    (
        "apps.deploy",
        lambda w: w.apps.deploy("app", apps.AppDeployment(source_code_path="/Workspace/x")),
        "POST",
        "/api/2.0/apps/{name}/deployments",
    ),
    (
        "apps.get_deployment",
        lambda w: w.apps.get_deployment("app", "d1"),
        "GET",
        "/api/2.0/apps/{name}/deployments/{id}",
    ),
]


def _route_regex(route: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(route)) + "$")


@pytest.mark.parametrize(
    ("method_name", "call", "verb", "route"), SDK_ROUTES, ids=[row[0] for row in SDK_ROUTES]
)
def test_sdk_method_calls_the_route_the_fake_answers(
    databricks_fake, w, method_name, call, verb, route
):
    service, method = method_name.split(".")
    assert callable(getattr(getattr(w, service), method, None)), f"the SDK has no {method_name}"
    seen = len(databricks_fake.calls)
    # An empty workspace answers most of these with an error: the route is the point.
    with contextlib.suppress(DatabricksError):
        call(w)
    made = [(c.method, c.path) for c in databricks_fake.calls[seen:]]
    assert any(m == verb and _route_regex(route).match(p) for m, p in made), made
    assert not databricks_fake.unhandled
    assert not databricks_fake.crashes


ENGINE_DIR = Path(__file__).resolve().parent.parent / "engines" / "databricks"


def _is_client(node: ast.expr) -> bool:
    """`client`, `self.client` or `self._client`: how the engine holds its WorkspaceClient."""
    if isinstance(node, ast.Name):
        return node.id in {"client", "_client"}
    return (
        isinstance(node, ast.Attribute)
        and node.attr in {"client", "_client"}
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    )


def engine_sdk_calls() -> dict[str, list[str]]:
    """Every `<client>.<service>.<method>(...)` in engines/databricks, as `service.method` -> where.
    `<client>.config` is the client's own configuration, not a workspace service: its
    `authenticate()` gives the headers the client sends (no route of the workspace API)."""
    found: dict[str, list[str]] = {}
    for source in sorted(ENGINE_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
            func = node.func if isinstance(node, ast.Call) else None
            if (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Attribute)
                and _is_client(func.value.value)
                and func.value.attr != "config"
            ):
                where = f"{source.name}:{node.lineno}"
                found.setdefault(f"{func.value.attr}.{func.attr}", []).append(where)
    return found


def test_every_sdk_call_the_engine_makes_has_a_route_row():
    found = engine_sdk_calls()
    # Calls from deploy.py, lakebase.py and volume.py (`self._client`): a parse finding nothing fails.
    assert {"jobs.reset", "database.get_database_catalog", "files.download"} <= set(found)
    routed = {row[0] for row in SDK_ROUTES}
    missing = {name: where for name, where in found.items() if name not in routed}
    assert not missing, f"SDK calls in engines/databricks without a row in SDK_ROUTES: {missing}"


# The MLflow UC registry requests the project's register / alias / load path makes, and their routes.
MLFLOW_ROUTES = [
    ("CreateRegisteredModelRequest", "POST", "registered-models/create"),
    ("GetRegisteredModelRequest", "GET", "registered-models/get"),
    ("DeleteRegisteredModelRequest", "DELETE", "registered-models/delete"),
    ("CreateModelVersionRequest", "POST", "model-versions/create"),
    ("GetModelVersionRequest", "GET", "model-versions/get"),
    ("FinalizeModelVersionRequest", "POST", "model-versions/finalize"),
    ("SearchModelVersionsRequest", "GET", "model-versions/search"),
    ("SetRegisteredModelAliasRequest", "POST", "registered-models/alias"),
    ("GetModelVersionByAliasRequest", "GET", "registered-models/alias"),
    ("DeleteRegisteredModelAliasRequest", "DELETE", "registered-models/alias"),
    ("EmitModelVersionLineageRequest", "POST", "model-versions/emit-lineage"),
    (
        "IsDatabricksSdkModelsArtifactRepositoryEnabledRequest",
        "GET",
        "registered-models:is-databricks-sdk-models-artifact-repository-enabled",
    ),
]


def test_mlflow_uc_registry_routes_are_the_ones_the_fake_answers(databricks_fake):
    pytest.importorskip("mlflow")
    from mlflow.protos import databricks_uc_registry_messages_pb2 as messages
    from mlflow.protos.databricks_uc_registry_service_pb2 import UcModelRegistryService
    from mlflow.utils.rest_utils import _REST_API_PATH_PREFIX, extract_api_info_for_service

    routes = extract_api_info_for_service(UcModelRegistryService, _REST_API_PATH_PREFIX)
    for request_name, verb, route in MLFLOW_ROUTES:
        path, method = routes[getattr(messages, request_name)]
        assert (method, path) == (verb, f"/api/2.0/mlflow/unity-catalog/{route}"), request_name
        assert databricks_fake.router.match(verb, path) is not None, f"the fake lacks {verb} {path}"
