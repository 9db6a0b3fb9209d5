"""Opt-in: the deploy flow against a REAL Databricks workspace. Never runs in CI or by default.

Run it with DATABRICKS_HOST (and DATABRICKS_TOKEN or a profile) set and CASPER_TEST_DATABRICKS_LIVE=1:
it deploys the raw_data stage into a fresh catalog, checks status, and removes everything again.
It is no coverage of anything when skipped, and the skip line says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from tests.cli_helpers import casper_env

pytestmark = [
    pytest.mark.databricks,
    pytest.mark.skipif(
        not (
            os.environ.get("CASPER_TEST_DATABRICKS_LIVE") == "1"
            and os.environ.get("DATABRICKS_HOST")
        ),
        reason="NOT RUN (no coverage): the live Databricks suite needs CASPER_TEST_DATABRICKS_LIVE=1 "
        "and DATABRICKS_HOST",
    ),
]


def casper(home, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "casper", "--home", str(home), *args],
        capture_output=True, text=True, env=casper_env(), timeout=3600,
    )  # fmt: skip


def test_raw_data_deploys_reports_and_is_removed(tmp_path):
    catalog = f"caspers_live_{uuid.uuid4().hex[:8]}"
    home = tmp_path / "home"
    up = casper(home, "up", "--engine", "databricks", "--catalog", catalog, "--stages", "raw_data",
                "--days", "1", "--locations", "sanfrancisco")  # fmt: skip
    try:
        assert up.returncode == 0, up.stderr
        status = json.loads(casper(home, "status", "--engine", "databricks", "--json").stdout)
        assert status["landed_events"] > 0 and status["stages"]["raw_data"]
    finally:
        down = casper(home, "down", "--engine", "databricks")
    assert down.returncode == 0, down.stderr
    assert f"catalog {catalog}" in down.stdout
