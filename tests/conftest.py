"""Suite-wide pytest hooks."""

from __future__ import annotations

import pytest

from tests.pipeline_fixtures import shared_sqlmesh_cache


def _module_weight(items: list[pytest.Item]) -> tuple[int, int]:
    """Spark modules are the longest, then those with the most slow tests, then the rest."""
    marks = [{mark.name for mark in item.iter_markers()} for item in items]
    slow = sum("slow" in names for names in marks)
    return (0 if any("spark" in names for names in marks) else 1 if slow else 2), -slow


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the longest modules first, each module's tests in their own order.

    `make test` spreads modules over workers (pytest-xdist, --dist loadfile), handing the next
    module to whichever worker is free: long modules started last would leave one worker busy long
    after the other is done."""
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    ordered = sorted(
        modules.values(), key=_module_weight
    )  # stable: a module's tests keep their order
    items[:] = [item for module in ordered for item in module]


@pytest.fixture(scope="session", autouse=True)
def _sqlmesh_cache_of_the_session(tmp_path_factory):
    """SQLMesh's parse cache defaults to the user's cache folder (casper.settings): the suite and
    the commands it starts keep theirs in its temporary folder instead, shared by its homes."""
    with shared_sqlmesh_cache(tmp_path_factory.getbasetemp() / "sqlmesh-cache"):
        yield
