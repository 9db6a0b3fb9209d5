"""`casper up/down --engine databricks`: the reference's stages deployed to a workspace.

Every step is idempotent and recorded in the manifest as a Resource with whether we created it: a
second `up` finds what the first made and creates nothing; `down` deletes exactly what `up`
created (and what the jobs it created made: the refund model's experiment), in dependency order,
and never what the user already had (an existing catalog is used, never dropped).

What each stage does here:
- raw_data: the catalog (unless it exists), the schemas (simulator, lakeflow, ai, recommender), the
  events and artifacts volumes; the history generated on this machine and uploaded to the events
  volume (casper.stages.land_history with the engine's VolumeLander) and the simulation's state to
  the artifacts volume; the project's wheel uploaded to the artifacts volume; a scheduled job that
  continues the simulation (`casper live`) from that state.
- lakeflow, refund_agent, refund_stream: a job each whose one task is the `casper` entry point of
  our wheel in a serverless environment (`casper pipeline`, `casper refunds train`,
  `casper refunds score`), run once now and waited for; a FAILED run stops `up` with its error. The
  scorer's job keeps running on a schedule (every `REFUND_STREAM_MINUTES`). The refund_agent job's
  MLflow makes the experiment its runs are tracked in (WorkspaceNames.experiment_path): not `up`,
  so the manifest does not record it; `down` deletes it, by that name, when the manifest records
  the job.
- lakebase: a Lakebase instance (engines/databricks/lakebase.py), its logical database as a
  database catalog, and the synced table recommender.pg_recommendations (primary key order_id)
  from recommender.refund_recommendations; then the Lakebase_Reverse_ETL job: `casper sync` on the
  job's compute, the laptop's reverse ETL, which makes the app store's tables in that database
  (refunds.refund_decisions with the reference's constraints, the parsed suggestions the review
  app lists, the orders' context) and fills them, run once now and then a few minutes after each
  scorer run. The job's identity owns those tables; each run grants the app's service principal,
  once the app exists, what the review app needs (read, add decisions).
- app: a Databricks App (default name refundmanager) with the database as a resource, deployed
  from a workspace folder holding app.yaml (the review app's web entry, tui.databricks_app),
  our wheel and a requirements.txt installing it; then the reverse-ETL job once more, which
  grants the new app's identity its rights on the app store.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from casper.manifest import Manifest, Resource
from casper.resources import models_dir
from engines.databricks.client import DatabricksError, one_line, workspace_errors
from engines.databricks.lakebase import Lakebase, LakebaseNames
from engines.databricks.names import ARTIFACTS_VOLUME, JOB_PREFIX, WorkspaceNames
from engines.databricks.runtime import GENERATOR_FOLDER

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

    from casper.stages import StageContext
    from engines.databricks import DatabricksEngine

#: the distribution our jobs install and whose `casper` entry point their task runs
PACKAGE = "caspers-kitchens"
#: a prebuilt wheel to deploy instead of building one from the source tree (CI, tests)
WHEEL_ENV = "CASPER_WHEEL"
#: serverless environment version of the jobs
ENVIRONMENT_VERSION = "2"
#: the reference's Refund_Recommender_Stream runs every 10 minutes
REFUND_STREAM_MINUTES = 10
#: the live generator job's cadence, and how much simulated time each run adds
LIVE_MINUTES = 10
#: how long `up` waits for one job run
RUN_TIMEOUT_MINUTES = 60


@dataclass(frozen=True)
class JobSpec:
    """One job `up` creates: its stage (the job is caspers-<catalog>-<stage>), the `casper` command
    its task runs, and its schedule in minutes (None: unscheduled, it runs when `up` runs it)."""

    stage: str
    command: tuple[str, ...]
    every_minutes: int | None = None
    #: minutes past each period's start (a job that follows another runs after it)
    offset_minutes: int = 0


#: the jobs `up` creates, in stage order; `casper bundle` (engines/databricks/bundle.py) exports
#: the same definitions
JOBS = {
    job.stage: job
    for job in (
        JobSpec("live", ("live", "--sim-minutes", str(LIVE_MINUTES)), every_minutes=LIVE_MINUTES),
        JobSpec("lakeflow", ("pipeline",)),
        JobSpec("refund_agent", ("refunds", "train")),
        JobSpec("refund_stream", ("refunds", "score"), every_minutes=REFUND_STREAM_MINUTES),
        JobSpec(
            "lakebase",
            ("sync",),
            every_minutes=REFUND_STREAM_MINUTES,
            offset_minutes=REFUND_STREAM_MINUTES // 2,
        ),
    )
}
#: the order `down` deletes in: what depends on something goes before it (the experiment first,
#: as in the reference's destroy)
TEARDOWN_ORDER = (
    "experiment",
    "app",
    "workspace_source",
    "synced_table",
    "database_catalog",
    "database_instance",
    "job",
    "warehouse",
    "model",
    "file",
    "landed_files",
    "volume",
    "schema",
    "catalog",
)
#: the prefixes of the landing files our generators write
LANDED_PREFIXES = ("history-", "live-", "replay-")


class WorkspaceDeployment:
    """casper.engine.Deployment for a Databricks workspace."""

    def __init__(self, engine: DatabricksEngine) -> None:
        self.engine = engine
        self.names = WorkspaceNames.of(engine.settings)

    @property
    def client(self) -> WorkspaceClient:
        return self.engine.client

    # -- up ------------------------------------------------------------------------------------

    def run_stage(self, stage: str, context: StageContext) -> str:
        settings = self.engine.settings
        context.manifest.settings = {
            "catalog": settings.catalog,
            "events_volume": settings.events_volume,
            "simulator_schema": settings.simulator_schema,
        }
        context.manifest.save()
        runners: dict[str, Callable[[StageContext], str]] = {
            "raw_data": self._raw_data,
            "lakeflow": self._lakeflow,
            "refund_agent": self._refund_agent,
            "refund_stream": self._refund_stream,
            "lakebase": self._lakebase,
            "app": self._app,
        }
        with workspace_errors(stage, self.client.config.host):
            return runners[stage](context)

    def _raw_data(self, context: StageContext) -> str:
        from casper.stages import land_history

        manifest = context.manifest
        self._ensure_catalog(manifest)
        for schema in self.names.schemas:
            self._ensure_schema(manifest, schema)
        for volume in (self.names.events_volume, ARTIFACTS_VOLUME):
            self._ensure_volume(manifest, self.names.simulator_schema, volume)
        manifest.add_resource(Resource("landed_files", self.names.events_path, created=True))
        self._ensure_sql_warehouse(manifest, context.notify)
        landed = land_history(context)
        self._upload_generator_state(manifest, context.home.generator)
        wheel = self._upload_wheel(manifest, context.notify)
        self._ensure_job(manifest, JOBS["live"], wheel)
        return f"{landed}; live orders every {LIVE_MINUTES} minutes (job {self.names.job_name('live')})"

    def _lakeflow(self, context: StageContext) -> str:
        return self._run_stage_job(context, JOBS["lakeflow"])

    def _refund_agent(self, context: StageContext) -> str:
        return self._run_stage_job(context, JOBS["refund_agent"])

    def _refund_stream(self, context: StageContext) -> str:
        return self._run_stage_job(context, JOBS["refund_stream"])

    def _lakebase(self, context: StageContext) -> str:
        manifest, lakebase = context.manifest, Lakebase(self.client, self.names)
        n = lakebase.names
        if lakebase.instance_exists():
            host = lakebase.wait_available(context.notify)
            manifest.add_resource(Resource("database_instance", n.instance, created=False))
        else:
            host = lakebase.create_instance(context.notify)
            manifest.add_resource(Resource("database_instance", n.instance, created=True))
        if not lakebase.database_catalog_exists():
            lakebase.create_database_catalog()
            manifest.add_resource(Resource("database_catalog", n.database_catalog, created=True))
        if not lakebase.synced_table_exists():
            lakebase.create_synced_table(self.names.catalog, "recommender")
            manifest.add_resource(Resource("synced_table", n.synced_table, created=True))
        reverse_etl = self._run_stage_job(context, JOBS["lakebase"])
        return (
            f"Lakebase {n.instance} ({host}): {n.synced_table} synced from {n.source_table}; "
            f"the app store's tables filled by {reverse_etl}"
        )

    def _app(self, context: StageContext) -> str:
        from databricks.sdk.errors import NotFound
        from databricks.sdk.service.apps import (
            App,
            AppDeployment,
            AppDeploymentMode,
            AppResource,
            AppResourceDatabase,
            AppResourceDatabaseDatabasePermission,
        )

        manifest, lakebase = context.manifest, LakebaseNames.of(self.names)
        name = self.names.app_name
        source = self._upload_app_source(manifest, context.notify)
        try:
            self.client.apps.get(name)
            if manifest.resource("app", name) is None:
                raise DatabricksError(
                    f"an app named {name} exists and `casper up` did not make it: "
                    "remove it or choose another name"
                )
        except NotFound:
            database = AppResourceDatabase(
                instance_name=lakebase.instance,
                database_name=lakebase.database,
                permission=AppResourceDatabaseDatabasePermission.CAN_CONNECT_AND_CREATE,
            )
            app = App(
                name=name,
                description="Casper's Kitchens refund manager",
                resources=[AppResource(name="database", database=database)],
            )
            context.notify(f"creating app {name} (its compute starts)")
            self.client.apps.create(app).result(timeout=dt.timedelta(minutes=20))
            manifest.add_resource(Resource("app", name, created=True))
        context.notify(f"deploying app {name} from {source}")
        deployment = self.client.apps.deploy(
            name, AppDeployment(source_code_path=source, mode=AppDeploymentMode.SNAPSHOT)
        ).result(timeout=dt.timedelta(minutes=20))
        state = (
            deployment.status.state.value if deployment.status and deployment.status.state else None
        )
        if state != "SUCCEEDED":
            message = deployment.status.message if deployment.status else None
            raise DatabricksError(f"deploying app {name} ended {state}: {message or 'no message'}")
        # the reverse ETL grants the app's identity its rights on the app store's tables (the
        # job's identity owns them): run it now that the app exists
        self._run_stage_job(context, JOBS["lakebase"])
        url = self.client.apps.get(name).url
        return f"app {name} serves the review app" + (f" at {url}" if url else "")

    def _upload_app_source(self, manifest: Manifest, notify: Callable[[str], None]) -> str:
        """The app's source folder: app.yaml (the review app's web entry), our wheel, and a
        requirements.txt installing it."""
        from databricks.sdk.errors import NotFound
        from databricks.sdk.service.workspace import ImportFormat

        from engines.databricks.app_yaml import app_yaml

        # one folder of ours per catalog (down deletes it whole); the workspace API names it
        # /Shared/..., an app deployment by its /Workspace/... path
        root = f"/Shared/caspers-{self.names.catalog}"
        folder = f"{root}/{self.names.app_name}"
        wheel = _wheel(notify)
        try:
            self.client.workspace.get_status(root)
            created = False
        except NotFound:
            created = True
        self.client.workspace.mkdirs(folder)
        manifest.add_resource(Resource("workspace_source", root, created=created))
        settings = self.engine.settings
        # the app opens this engine with the same names (its Lakebase instance, its catalog)
        environment = {
            "CASPER_ENGINE": self.engine.name,
            "CASPER_CATALOG": settings.catalog,
            "CASPER_EVENTS_VOLUME": settings.events_volume,
            "CASPER_SIMULATOR_SCHEMA": settings.simulator_schema,
        }
        files = {
            "app.yaml": app_yaml(env=environment).encode(),
            "requirements.txt": f"./{wheel.name}\n".encode(),
            wheel.name: wheel.read_bytes(),
        }
        for file_name, content in files.items():
            self.client.workspace.upload(
                f"{folder}/{file_name}", content, format=ImportFormat.AUTO, overwrite=True
            )
        return f"/Workspace{folder}"

    # -- resources -----------------------------------------------------------------------------

    def _ensure(
        self, manifest: Manifest, kind: str, name: str, get: Callable[[], object],
        create: Callable[[], object],
    ) -> None:  # fmt: skip
        """Use the resource if it exists (recorded as not ours), else create and record it."""
        from databricks.sdk.errors import NotFound, ResourceAlreadyExists

        try:
            get()
            created = False
        except NotFound:
            try:
                create()
                created = True
            except ResourceAlreadyExists:  # made meanwhile by someone else
                created = False
        manifest.add_resource(Resource(kind, name, created))

    def _ensure_catalog(self, manifest: Manifest) -> None:
        name = self.names.catalog
        self._ensure(
            manifest, "catalog", name,
            get=lambda: self.client.catalogs.get(name),
            create=lambda: self.client.catalogs.create(name=name, comment="Casper's Kitchens"),
        )  # fmt: skip

    def _ensure_schema(self, manifest: Manifest, schema: str) -> None:
        catalog = self.names.catalog
        self._ensure(
            manifest, "schema", f"{catalog}.{schema}",
            get=lambda: self.client.schemas.get(f"{catalog}.{schema}"),
            create=lambda: self.client.schemas.create(name=schema, catalog_name=catalog),
        )  # fmt: skip

    def _ensure_volume(self, manifest: Manifest, schema: str, volume: str) -> None:
        from databricks.sdk.service.catalog import VolumeType

        catalog = self.names.catalog
        self._ensure(
            manifest, "volume", f"{catalog}.{schema}.{volume}",
            get=lambda: self.client.volumes.read(f"{catalog}.{schema}.{volume}"),
            create=lambda: self.client.volumes.create(
                catalog_name=catalog, schema_name=schema, name=volume,
                volume_type=VolumeType.MANAGED,
            ),
        )  # fmt: skip

    def _ensure_sql_warehouse(self, manifest: Manifest, notify: Callable[[str], None]) -> None:
        """The SQL warehouse `casper status` reads counts through: the one the settings name, else
        a serverless 2X-Small one we create (and `down` deletes)."""

        given = self.engine.settings.databricks_warehouse_id
        if given:
            manifest.add_resource(Resource("warehouse", f"warehouse {given}", False, id=given))
            return
        name = f"{JOB_PREFIX}-{self.names.catalog}"
        if self._still_there(manifest, "warehouse", name, self.client.warehouses.get):
            return
        notify(f"creating the SQL warehouse {name} (serverless, 2X-Small)")
        created = self.client.warehouses.create_and_wait(
            name=name,
            cluster_size="2X-Small",
            enable_serverless_compute=True,
            auto_stop_mins=10,
            timeout=dt.timedelta(minutes=20),
        )
        manifest.add_resource(Resource("warehouse", name, created=True, id=str(created.id)))

    def _still_there(
        self, manifest: Manifest, kind: str, name: str, get: Callable[[str], object]
    ) -> str | None:
        """The id of the resource an earlier `up` recorded, if it still exists; one deleted by
        hand meanwhile is forgotten (and made again by the caller)."""
        from databricks.sdk.errors import NotFound

        recorded = manifest.resource(kind, name)
        if recorded is None or not recorded.id:
            return None
        try:
            get(recorded.id)
        except NotFound:
            manifest.forget_resource(recorded)
            return None
        return recorded.id

    def _upload_generator_state(self, manifest: Manifest, folder: Path) -> None:
        """The simulation's state (its anchor, the live checkpoints) in the artifacts volume,
        where the live job continues it (engines/databricks/runtime.py)."""
        if not folder.is_dir():
            return
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            target = f"{self.names.artifacts_path}/{GENERATOR_FOLDER}/{path.relative_to(folder).as_posix()}"
            with path.open("rb") as handle:
                self.client.files.upload(target, handle, overwrite=True)
            manifest.add_resource(Resource("file", target, created=True))

    def _upload_wheel(self, manifest: Manifest, notify: Callable[[str], None]) -> str:
        """The project's wheel in the artifacts volume (replaced: it is our code as it is now)."""
        wheel = _wheel(notify)
        target = wheel_path(self.names, wheel.name)
        with wheel.open("rb") as handle:
            self.client.files.upload(target, handle, overwrite=True)
        manifest.add_resource(Resource("file", target, created=True))
        return target

    def job_settings(self, job: JobSpec, wheel: str, names: WorkspaceNames | None = None) -> dict:
        """The keyword arguments of jobs.create (and of jobs.JobSettings) for one job; `names`
        (default: the settings') name the catalog, schema and volume it works with."""
        from databricks.sdk.service import compute, jobs

        names = names or self.names
        stage = job.stage
        schedule = None
        if job.every_minutes is not None:
            schedule = jobs.CronSchedule(
                quartz_cron_expression=f"0 {job.offset_minutes}/{job.every_minutes} * * * ?",
                timezone_id="UTC",
                pause_status=jobs.PauseStatus.UNPAUSED,
            )
        return {
            "name": names.job_name(stage),
            "tasks": [
                jobs.Task(
                    task_key=stage,
                    python_wheel_task=jobs.PythonWheelTask(
                        package_name=PACKAGE,
                        entry_point="casper",
                        parameters=self.engine.task_arguments(list(job.command), names),
                    ),
                    environment_key="casper",
                )
            ],
            "environments": [
                jobs.JobEnvironment(
                    environment_key="casper",
                    spec=compute.Environment(
                        environment_version=ENVIRONMENT_VERSION, dependencies=[wheel]
                    ),
                )
            ],
            "schedule": schedule,
            "max_concurrent_runs": 1,
            "tags": {"casper": names.catalog},
        }

    def _ensure_job(self, manifest: Manifest, job: JobSpec, wheel: str) -> int:
        from databricks.sdk.service import jobs

        settings = self.job_settings(job, wheel)
        recorded = self._still_there(
            manifest, "job", settings["name"], lambda job_id: self.client.jobs.get(int(job_id))
        )
        if recorded is not None:
            # the same job, brought up to date with this deploy's settings
            self.client.jobs.reset(int(recorded), jobs.JobSettings(**settings))
            return int(recorded)
        job_id = int(self.client.jobs.create(**settings).job_id)
        manifest.add_resource(Resource("job", settings["name"], created=True, id=str(job_id)))
        return job_id

    def _run_stage_job(self, context: StageContext, job: JobSpec) -> str:
        wheel = self._recorded_wheel(context.manifest) or self._upload_wheel(
            context.manifest, context.notify
        )
        job_id = self._ensure_job(context.manifest, job, wheel)
        name = self.names.job_name(job.stage)

        def progress(run) -> None:
            state = (
                run.state.life_cycle_state.value
                if run.state and run.state.life_cycle_state
                else "?"
            )
            context.notify(f"{name}: run {run.run_id} {state}")

        waiter = self.client.jobs.run_now(job_id)
        run = waiter.result(timeout=dt.timedelta(minutes=RUN_TIMEOUT_MINUTES), callback=progress)
        result = run.state.result_state.value if run.state and run.state.result_state else None
        if result != "SUCCESS":
            raise DatabricksError(
                f"job {name} run {run.run_id} ended {result or 'without a result'}: "
                f"{self._run_error(run)}"
            )
        cadence = f", then every {job.every_minutes} minutes" if job.every_minutes else ""
        return f"job {name} ran ({run.run_page_url or f'run {run.run_id}'}){cadence}"

    def _run_error(self, run) -> str:
        """The failed task's error message (runs/get-output of its task run)."""
        for task in run.tasks or []:
            state = (
                task.state.result_state.value if task.state and task.state.result_state else None
            )
            if state and state != "SUCCESS":
                output = self.client.jobs.get_run_output(task.run_id)
                return one_line(Exception(output.error or task.state.state_message or state))
        message = run.state.state_message if run.state else None
        return message or "no error message"

    @staticmethod
    def _recorded_wheel(manifest: Manifest) -> str | None:
        wheels = [
            r.name for r in manifest.resources if r.kind == "file" and r.name.endswith(".whl")
        ]
        return wheels[-1] if wheels else None

    # -- as files another tool deploys ----------------------------------------------------------

    def export(self, folder: Path) -> list[Path]:
        """A Databricks Asset Bundle of the jobs, schemas and volumes (engines/databricks/bundle.py);
        no workspace call."""
        from engines.databricks.bundle import write_bundle

        return write_bundle(self, folder)

    # -- down ----------------------------------------------------------------------------------

    def teardown(self, manifest: Manifest, say: Callable[[str], None]) -> None:
        with workspace_errors("down", self.client.config.host):
            self._teardown(manifest, say)

    def _teardown(self, manifest: Manifest, say: Callable[[str], None]) -> None:
        from databricks.sdk.errors import NotFound

        ours = [r for r in manifest.resources if r.created]
        ours += self._made_by_our_jobs(manifest)
        rank = {kind: position for position, kind in enumerate(TEARDOWN_ORDER)}
        doomed_volumes = {r.name for r in ours if r.kind == "volume"}
        for resource in sorted(ours, key=lambda r: rank.get(r.kind, -1)):
            try:
                removed = self._delete(resource, doomed_volumes)
            except NotFound:
                removed = None  # already gone
            manifest.forget_resource(resource)
            if removed:
                say(removed)
        manifest.resources = []  # what is left was the user's: used, never ours to delete
        manifest.save()

    def _made_by_our_jobs(self, manifest: Manifest) -> list[Resource]:
        """What our jobs make on their compute and the manifest cannot record: the refund model's
        experiment, if the manifest records the refund_agent job (whose runs make it). Not in the
        manifest, so deleting it forgets nothing; a `down` that stops before it keeps the job
        recorded, and the next one looks again."""
        job = manifest.resource("job", self.names.job_name("refund_agent"))
        if job is None or not job.created:
            return []
        return [Resource("experiment", self.names.experiment_path, created=True)]

    def _delete(self, resource: Resource, doomed_volumes: set[str]) -> str | None:
        kind, name = resource.kind, resource.name
        if kind == "experiment":
            # by its exact name (NotFound when there is none); a delete is soft and get-by-name
            # still answers with a deleted experiment: that one is gone already
            found = self.client.experiments.get_by_name(name).experiment
            if found is None or found.lifecycle_stage == "deleted":
                return None
            self.client.experiments.delete_experiment(str(found.experiment_id))
            return f"experiment {name}"
        if kind == "warehouse":
            self.client.warehouses.delete(str(resource.id))
            return f"SQL warehouse {name} ({resource.id})"
        if kind == "app":
            self.client.apps.delete(name)
            return f"app {name}"
        if kind == "workspace_source":
            self.client.workspace.delete(name, recursive=True)
            return f"workspace folder {name}"
        if kind in ("synced_table", "database_catalog", "database_instance"):
            lakebase = Lakebase(self.client, self.names)
            delete = {
                "synced_table": lakebase.delete_synced_table,
                "database_catalog": lakebase.delete_database_catalog,
                "database_instance": lakebase.delete_instance,
            }[kind]
            delete(name)
            return f"{kind.replace('_', ' ')} {name}"
        if kind == "job":
            from databricks.sdk.errors import InvalidParameterValue

            try:
                self.client.jobs.delete(int(resource.id or 0))
            except InvalidParameterValue as exc:
                if "does not exist" in str(exc):
                    return None  # deleted already: jobs answer a 400, not a 404
                raise
            return f"job {name} ({resource.id})"
        if kind == "file":
            self.client.files.delete(name)
            return f"file {name}"
        if kind == "landed_files":
            if self.names.events_volume_full_name in doomed_volumes:
                return None  # the volume goes, and its files with it
            return self._delete_landed_files(name)
        if kind == "volume":
            self.client.volumes.delete(name)
            return f"volume {name}"
        if kind == "schema":
            self.client.schemas.delete(name, force=True)
            return f"schema {name}"
        if kind == "catalog":
            self.client.catalogs.delete(name, force=True)
            return f"catalog {name}"
        raise DatabricksError(
            f"the manifest records a {kind} {name} that this engine cannot delete"
        )

    def _delete_landed_files(self, folder: str) -> str | None:
        lander = self.engine.lander()
        names = [f.name for f in lander.list() if f.name.startswith(LANDED_PREFIXES)]
        for landed in names:
            self.client.files.delete(f"{folder}/{landed}")
        return f"{len(names)} landing files in {folder}" if names else None


def wheel_path(names: WorkspaceNames, wheel_name: str) -> str:
    """Where the project's wheel goes in the artifacts volume (and what the jobs install)."""
    return f"{names.artifacts_path}/wheels/{wheel_name}"


_built: dict[str, Path] = {}


def _wheel(notify: Callable[[str], None]) -> Path:
    """$CASPER_WHEEL, else the project's wheel built from its source tree (once per process)."""
    import os

    given = os.environ.get(WHEEL_ENV)
    if given:
        path = Path(given)
        if not path.is_file() or path.suffix != ".whl":
            raise DatabricksError(f"${WHEEL_ENV} is not a wheel file: {given}")
        return path
    project = models_dir().parent
    if not (project / "pyproject.toml").is_file():
        raise DatabricksError(
            f"cannot build the project's wheel: no source tree at {project} (set ${WHEEL_ENV})"
        )
    if "project" in _built:
        return _built["project"]
    notify("building the project's wheel for the jobs")
    folder = Path(tempfile.mkdtemp(prefix="casper-wheel-"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(folder), str(project)],
        capture_output=True, text=True,
    )  # fmt: skip
    wheels = sorted(folder.glob("*.whl"))
    if built.returncode != 0 or not wheels:
        problem = (built.stderr.strip().splitlines() or ["no wheel"])[-1]
        raise DatabricksError(f"building the project's wheel failed: {problem}")
    _built["project"] = wheels[0]
    return wheels[0]
