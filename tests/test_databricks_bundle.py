"""`casper bundle`: the databricks deployment as a Databricks Asset Bundle, written without a
workspace and checked offline by databricks-bundles' own loader (`python -m
databricks.bundles.build --phase load_resources`, what the Databricks CLI runs at deploy)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("databricks.sdk") is None, reason="needs the databricks extra"
)
needs_bundles = pytest.mark.skipif(
    importlib.util.find_spec("databricks.bundles") is None, reason="needs the bundles extra"
)

STAGES = ("live", "lakeflow", "refund_agent", "refund_stream", "lakebase")


def bundle_env(tmp_path: Path) -> dict[str, str]:
    """No DATABRICKS_* variables and a HOME without ~/.databrickscfg: a workspace client built on
    the way would fail to authenticate and the command would exit with an error."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABRICKS_", "CASPER_"))
    }
    home = tmp_path / "user-home"
    home.mkdir(exist_ok=True)
    env["HOME"] = str(home)
    env["COLUMNS"] = "200"
    return env


def casper_bundle(tmp_path: Path, *args: str, python: list[str] | None = None):
    command = python or [sys.executable, "-m", "casper"]
    return subprocess.run(
        [*command, "--home", str(tmp_path / "casper-home"), "bundle", *args],
        capture_output=True,
        text=True,
        env=bundle_env(tmp_path),
        cwd=tmp_path,
        timeout=300,
    )


def load_resources(folder: Path, tmp_path: Path) -> dict:
    """databricks-bundles' load_resources phase on the bundle, given the input the Databricks CLI
    gives it (databricks.yml as JSON, the target chosen, each variable's value: its default)."""
    config = yaml.safe_load((folder / "databricks.yml").read_text())
    config["bundle"]["target"] = "dev"
    for variable in config["variables"].values():
        variable["value"] = variable["default"]
    given, output, diagnostics = (tmp_path / n for n in ("in.json", "out.json", "diag.jsonl"))
    given.write_text(json.dumps(config))
    result = subprocess.run(
        [sys.executable, "-m", "databricks.bundles.build", "--phase", "load_resources",
         "--input", str(given), "--output", str(output), "--diagnostics", str(diagnostics)],
        capture_output=True, text=True, cwd=folder, env=bundle_env(tmp_path), timeout=120,
    )  # fmt: skip
    problems = diagnostics.read_text() if diagnostics.exists() else ""
    assert result.returncode == 0, f"{result.stderr}\n{problems}"
    assert problems == ""
    return json.loads(output.read_text())


def interpolate(value, variables: dict):
    """${var.name} filled in from the variables' values, as the Databricks CLI does after loading."""
    if isinstance(value, dict):
        return {key: interpolate(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, variables) for item in value]
    if isinstance(value, str):
        return re.sub(r"\$\{var\.(\w+)\}", lambda m: str(variables[m.group(1)]["value"]), value)
    return value


def expected_jobs(catalog: str) -> dict[str, dict]:
    """What `casper up --engine databricks` gives jobs.create for each job, for this catalog."""
    from databricks.sdk.service.jobs import JobSettings

    from casper.settings import Settings
    from engines.databricks import DatabricksEngine
    from engines.databricks.bundle import _wheel_name
    from engines.databricks.deploy import JOBS, PACKAGE, WorkspaceDeployment, wheel_path

    deployment = WorkspaceDeployment(DatabricksEngine(Settings(catalog=catalog)))
    wheel = wheel_path(deployment.names, _wheel_name(PACKAGE))
    return {
        stage: JobSettings(**deployment.job_settings(job, wheel)).as_dict()
        for stage, job in JOBS.items()
    }


@pytest.fixture(scope="module")
def default_bundle(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    tmp_path = tmp_path_factory.mktemp("bundle")
    result = casper_bundle(tmp_path, "--out", "out")
    return tmp_path, result


@needs_bundles
def test_bundle_is_written_without_a_workspace_and_loads_the_jobs_up_creates(default_bundle):
    tmp_path, result = default_bundle
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "out"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "databricks.yml", "resources/__init__.py", "resources/caspers.json",
    ]  # fmt: skip
    lines = result.stdout.strip().splitlines()
    assert lines[-1].startswith(
        "bundles cannot upload events, register model versions or run the first jobs"
    )
    assert "casper up" in lines[-1]

    loaded = load_resources(folder, tmp_path)
    variables = loaded["variables"]
    assert {name: v["default"] for name, v in variables.items()} == {
        "catalog": "caspers", "events_volume": "events", "simulator_schema": "simulator",
    }  # fmt: skip
    jobs = interpolate(loaded["resources"]["jobs"], variables)
    assert sorted(job["name"] for job in jobs.values()) == sorted(
        f"caspers-caspers-{stage}" for stage in STAGES
    )
    for job in jobs.values():
        (task,) = job["tasks"]
        wheel_task = task["python_wheel_task"]
        assert (wheel_task["package_name"], wheel_task["entry_point"]) == (
            "caspers-kitchens",
            "casper",
        )
        assert wheel_task["parameters"][-2:] == ["--engine", "databricks"]
        (environment,) = job["environments"]
        (wheel,) = environment["spec"]["dependencies"]
        assert re.fullmatch(
            r"/Volumes/caspers/simulator/artifacts/wheels/caspers_kitchens-.+\.whl", wheel
        )
    schedules = {
        stage: job["schedule"]["quartz_cron_expression"]
        for stage, job in jobs.items()
        if "schedule" in job
    }
    # the reverse ETL follows each scorer run, half its period later
    assert schedules == {
        "live": "0 0/10 * * * ?",
        "refund_stream": "0 0/10 * * * ?",
        "lakebase": "0 5/10 * * * ?",
    }
    # the very settings `up` gives jobs.create, not a second definition of them
    assert jobs == expected_jobs("caspers")

    resources = interpolate(loaded["resources"], variables)
    assert sorted(s["name"] for s in resources["schemas"].values()) == [
        "ai", "lakeflow", "recommender", "simulator",
    ]  # fmt: skip
    assert sorted(v["name"] for v in resources["volumes"].values()) == ["artifacts", "events"]
    assert {v["schema_name"] for v in resources["volumes"].values()} == {
        "${resources.schemas.simulator.name}"
    }


@needs_bundles
def test_another_catalog_names_the_variables_and_the_jobs(tmp_path):
    result = casper_bundle(tmp_path, "--out", "lab", "--catalog", "lab_two")
    assert result.returncode == 0, result.stderr
    loaded = load_resources(tmp_path / "lab", tmp_path)
    assert loaded["bundle"]["name"] == "caspers-lab_two"
    assert loaded["variables"]["catalog"]["default"] == "lab_two"
    jobs = interpolate(loaded["resources"]["jobs"], loaded["variables"])
    assert sorted(job["name"] for job in jobs.values()) == sorted(
        f"caspers-lab_two-{stage}" for stage in STAGES
    )
    assert jobs == expected_jobs("lab_two")


@needs_bundles
def test_databricks_bundles_rejects_a_tampered_resource(default_bundle, tmp_path):
    """The offline check has teeth: an unknown field fails the load."""
    source, _ = default_bundle
    folder = tmp_path / "tampered"
    (folder / "resources").mkdir(parents=True)
    for name in ("databricks.yml", "resources/__init__.py", "resources/caspers.json"):
        (folder / name).write_text((source / "out" / name).read_text())
    definitions = json.loads((folder / "resources" / "caspers.json").read_text())
    definitions["jobs"]["live"]["tasks"][0]["python_wheel_task"]["entrypoint"] = "casper"
    (folder / "resources" / "caspers.json").write_text(json.dumps(definitions))
    with pytest.raises(AssertionError, match="Unexpected field 'entrypoint'"):
        load_resources(folder, tmp_path)


def test_without_the_bundles_extra_the_error_is_one_line_naming_it(tmp_path):
    """databricks-bundles made unimportable (as when the extra is not installed)."""
    wrapper = textwrap.dedent(
        """
        import sys

        class NoBundles:
            def find_spec(self, name, path=None, target=None):
                if name == "databricks.bundles" or name.startswith("databricks.bundles."):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None

        sys.meta_path.insert(0, NoBundles())
        from casper.cli import main

        sys.argv = ["casper", *sys.argv[1:]]
        main()
        """
    )
    result = casper_bundle(tmp_path, "--out", "out", python=[sys.executable, "-c", wrapper])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "pip install 'caspers-kitchens[bundles]'" in lines[0]
    assert not (tmp_path / "out").exists()


def test_an_engine_without_a_deployment_gets_one_line(tmp_path):
    result = casper_bundle(tmp_path, "--engine", "duckdb")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no deployment" in lines[0], result.stderr
    assert not (tmp_path / "caspers-bundle").exists()
