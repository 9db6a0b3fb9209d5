"""`casper bundle`: the databricks engine's deployment written as a Databricks Asset Bundle, for
users who deploy with `databricks bundle deploy` instead of `casper up`.

The folder holds databricks.yml (the bundle, a `dev` target, the variables catalog, events_volume
and simulator_schema with the settings' values as defaults) and a `resources` Python module that
builds databricks-bundles resources: the jobs `up` creates, converted from the very settings
`WorkspaceDeployment.job_settings` gives jobs.create (deploy.JOBS, with names that are variable
references), and the schemas and volumes of the raw_data stage. The catalog is not a bundle resource:
it may be the user's, and `bundle destroy` would drop it.

What a bundle cannot do stays `casper up`'s: land the events, upload the wheel the jobs install,
register model versions, run the first jobs (see BUNDLE_LIMITS). Nothing here builds a workspace
client: writing a bundle needs no workspace and no credentials.
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from engines.databricks.client import DatabricksError
from engines.databricks.names import ARTIFACTS_VOLUME, JOB_PREFIX, PIPELINE_SCHEMAS, WorkspaceNames

if TYPE_CHECKING:
    from engines.databricks.deploy import WorkspaceDeployment

#: the bundle's variables: the settings each one stands for (their values are the defaults)
VARIABLES = {
    "catalog": "CATALOG of the reference job: the Unity Catalog catalog (it must exist)",
    "events_volume": "EVENTS_VOLUME of the reference job: where raw events land",
    "simulator_schema": "SIMULATOR_SCHEMA of the reference job: the schema of both volumes",
}
#: names that the Databricks CLI fills in from the variables when it deploys
VARIABLE_NAMES = WorkspaceNames(
    catalog="${var.catalog}",
    simulator_schema="${var.simulator_schema}",
    events_volume="${var.events_volume}",
)
#: what a bundle cannot do, said in one line
BUNDLE_LIMITS = (
    "a bundle cannot upload events, register model versions or run the first jobs: "
    "those stay `casper up --engine databricks`'s"
)
TARGET = "dev"
#: the resources as data (databricks-bundles' dict form), beside the module that loads them
RESOURCES_FILE = "caspers.json"
RESOURCES_MODULE = f'''\
"""Casper's Kitchens' bundle resources, written by `casper bundle` from the definitions
`casper up --engine databricks` deploys (engines/databricks/deploy.py). {RESOURCES_FILE} holds them
in databricks-bundles' dict form; ${{var.*}} in it are the bundle's variables (databricks.yml).
Write the bundle again rather than editing either file."""

import json
from pathlib import Path

from databricks.bundles.core import Resources
from databricks.bundles.jobs import Job
from databricks.bundles.schemas import Schema
from databricks.bundles.volumes import Volume

DEFINITIONS = Path(__file__).with_name("{RESOURCES_FILE}")


def load_resources() -> Resources:
    definitions = json.loads(DEFINITIONS.read_text())
    resources = Resources()
    for key, job in definitions["jobs"].items():
        resources.add_job(key, Job.from_dict(job))
    for key, schema in definitions["schemas"].items():
        resources.add_schema(key, Schema.from_dict(schema))
    for key, volume in definitions["volumes"].items():
        resources.add_volume(key, Volume.from_dict(volume))
    return resources
'''


def write_bundle(deployment: WorkspaceDeployment, folder: Path) -> list[Path]:
    """databricks.yml, resources/caspers.json and resources/__init__.py under `folder` (written
    over); returns them."""
    resources = bundle_resources(deployment)
    settings = deployment.engine.settings
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "resources").mkdir(exist_ok=True)
    written = {
        folder / "databricks.yml": _databricks_yml(
            f"{JOB_PREFIX}-{settings.catalog}",
            {
                "catalog": settings.catalog,
                "events_volume": settings.events_volume,
                "simulator_schema": settings.simulator_schema,
            },
        ),
        folder / "resources" / RESOURCES_FILE: json.dumps(resources, indent=2) + "\n",
        folder / "resources" / "__init__.py": RESOURCES_MODULE,
    }
    for path, text in written.items():
        path.write_text(text)
    return list(written)


def bundle_resources(deployment: WorkspaceDeployment) -> dict[str, dict[str, dict]]:
    """{jobs|schemas|volumes: {resource key: its dict}}, each checked by databricks-bundles."""
    _require_packages()
    from databricks.bundles.jobs import Job
    from databricks.bundles.schemas import Schema
    from databricks.bundles.volumes import Volume
    from databricks.sdk.service.jobs import JobSettings

    from engines.databricks.deploy import JOBS, PACKAGE, wheel_path

    names = VARIABLE_NAMES
    wheel = wheel_path(names, _wheel_name(PACKAGE))
    jobs = {
        stage: JobSettings(**deployment.job_settings(job, wheel, names)).as_dict()
        for stage, job in JOBS.items()
    }
    schemas = {
        key: {"catalog_name": names.catalog, "name": name, "comment": "Casper's Kitchens"}
        for key, name in zip(("simulator", *PIPELINE_SCHEMAS), names.schemas, strict=True)
    }
    volumes = {
        key: {
            "catalog_name": names.catalog,
            # a reference, so the CLI creates the schema first
            "schema_name": "${resources.schemas.simulator.name}",
            "name": name,
            "volume_type": "MANAGED",
            "comment": "Casper's Kitchens",
        }
        for key, name in (("events", names.events_volume), ("artifacts", ARTIFACTS_VOLUME))
    }
    checked: dict[str, dict[str, dict]] = {}
    for plural, kind, items in (
        ("jobs", Job, jobs),
        ("schemas", Schema, schemas),
        ("volumes", Volume, volumes),
    ):
        try:
            checked[plural] = {key: kind.from_dict(item).as_dict() for key, item in items.items()}
        except (ValueError, TypeError) as exc:  # unknown fields, bad enums
            raise DatabricksError(f"databricks-bundles refuses the {plural}: {exc}") from None
    return checked


def _require_packages() -> None:
    try:
        import databricks.sdk  # noqa: F401 - the job settings are the SDK's dataclasses
    except ImportError:
        raise DatabricksError(
            "the databricks engine needs databricks-sdk: pip install 'caspers-kitchens[databricks]'"
        ) from None
    try:
        import databricks.bundles.jobs  # noqa: F401
    except ImportError:
        raise DatabricksError(
            "writing a bundle needs databricks-bundles: pip install 'caspers-kitchens[bundles]'"
        ) from None


def _wheel_name(package: str) -> str:
    """The file name of this version's wheel, as `casper up` uploads it (pure Python)."""
    try:
        number = version(package)
    except PackageNotFoundError:
        raise DatabricksError(
            f"cannot name the wheel the jobs install: {package} is not installed"
        ) from None
    return f"{package.replace('-', '_')}-{number}-py3-none-any.whl"


def _databricks_yml(bundle_name: str, defaults: dict[str, str]) -> str:
    variables = "".join(
        # JSON strings are YAML strings: a name like `on` or `123` stays a string
        f"  {name}:\n    description: {json.dumps(description)}\n"
        f"    default: {json.dumps(defaults[name])}\n"
        for name, description in VARIABLES.items()
    )
    return f"""\
# Casper's Kitchens as a Databricks Asset Bundle, written by `casper bundle`.
# The jobs, schemas and volumes `casper up --engine databricks` creates, from the same definitions.
# Deploy: a Python venv at .venv with databricks-bundles, then `databricks bundle deploy -t {TARGET}`
# (`--var catalog=...` to change a name). The catalog must exist.
# Note: {BUNDLE_LIMITS}.
bundle:
  name: {json.dumps(bundle_name)}

variables:
{variables}
python:
  venv_path: .venv
  resources:
    - "resources:load_resources"

targets:
  {TARGET}:
    default: true
"""
