"""Locate the files that ship with the project: models/ and configs/.

From a source checkout (or an editable install) they sit beside the `casper` package; from a wheel
they are bundled inside it under `casper/_bundled/` (see pyproject's force-include).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    bundled = _PACKAGE_DIR / "_bundled" / name
    if bundled.is_dir():
        return bundled
    return _PACKAGE_DIR.parent / name


def models_dir() -> Path:
    """The SQLMesh project."""
    return _shipped("models")


def configs_dir() -> Path:
    """The location configs, one JSON file per location."""
    return _shipped("configs")


def seeds_dir() -> Path:
    """The shipped menu catalog's CSV files (the rows of simulator.* unless a home has its own)."""
    return models_dir() / "seeds"
