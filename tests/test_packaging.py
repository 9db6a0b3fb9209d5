"""The wheel carries the SQLMesh project and the location configs, and finds them when installed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from casper.resources import models_dir


@pytest.mark.slow
def test_an_installed_wheel_finds_its_models_and_configs(tmp_path):
    project = models_dir().parent
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path / "dist"), str(project)],
        check=True,
    )  # fmt: skip
    wheel = next((tmp_path / "dist").glob("*.whl"))
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
    probe = (
        "from casper.resources import models_dir, configs_dir, seeds_dir;"
        "from casper.config import resolve_locations;"
        "from casper.catalog import load_catalog;"
        "print(models_dir()); print(len(resolve_locations('all'))); print(load_catalog().items.height)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env={"PYTHONPATH": str(target)},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    where, locations, items = result.stdout.split()
    assert where.startswith(str(target)) and where.endswith("_bundled/models")
    assert int(locations) >= 4 and int(items) >= 150
