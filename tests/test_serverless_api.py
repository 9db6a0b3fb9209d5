"""What the deployed jobs run must work on serverless compute, where Spark is Spark Connect only.

The end-to-end test (tests/test_databricks_jobs.py) runs this code on a local Spark Connect session;
this reads it for the classic-only API a path that test does not take could still call.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
#: the code a Databricks job runs on its Spark session
RUNTIME_CODE = sorted(
    [
        *(ROOT / "engines" / "spark_common").glob("*.py"),
        ROOT / "engines" / "databricks" / "runtime.py",
        ROOT / "engines" / "databricks" / "connect_gateway.py",
        ROOT / "engines" / "databricks" / "__init__.py",
        ROOT / "models" / "macros" / "landing.py",
    ]
)
#: attributes Spark Connect does not have (or serverless refuses): the SparkContext, RDDs, JVM
#: handles, checkpoints
CLASSIC_ONLY = {
    "sparkContext",
    "rdd",
    "parallelize",
    "localCheckpoint",
    "checkpoint",
    "_jvm",
    "_jsc",
    "_jdf",
    "_jsparkSession",
    "setLogLevel",
    "addPyFile",
}


def classic_only_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in CLASSIC_ONLY
    ]


@pytest.mark.parametrize("path", RUNTIME_CODE, ids=lambda p: str(p.relative_to(ROOT)))
def test_job_code_uses_no_classic_only_spark_api(path):
    assert path.is_file()
    assert classic_only_uses(path) == []


def test_the_check_finds_a_classic_only_call(tmp_path):
    sample = ROOT / "engines" / "spark" / "sqlmesh.py"  # laptop-only: it reads the SparkContext
    assert classic_only_uses(sample)
