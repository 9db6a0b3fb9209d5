"""The reference's own location configs, as its users bring them: `--config FILE` on every command
that takes it, with the same rules (casper.config.resolve_selection).

The files (tests/data/reference_configs) have the reference's keys only: no kitchen coordinates.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli_helpers import NOW, casper, landed_events
from tests.test_config import REFERENCE_CHICAGO, REFERENCE_SANFRANCISCO, REFERENCE_SF

BOTH = ("--config", str(REFERENCE_SF), "--config", str(REFERENCE_CHICAGO))


def _notes(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("note: ") and ".json" in line]


def _plan_locations(home: Path) -> list[str]:
    return list(json.loads((home / "generator" / "simulation.json").read_text())["locations"])


def _landing(home: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((home / "landing").glob("*.ndjson"))}


@pytest.fixture(scope="module")
def from_reference(tmp_path_factory) -> tuple[Path, str]:
    """`casper generate` with the reference's two files and nothing else: (home, its stderr)."""
    home = tmp_path_factory.mktemp("reference")
    result = casper(home, "generate", "--now", NOW, "--days", "1", *BOTH)
    return home, result.stderr


def test_generate_runs_the_reference_files_unchanged_and_says_what_they_replace(from_reference):
    home, stderr = from_reference
    assert _plan_locations(home) == ["sanfrancisco", "chicago"]  # only the given files
    events = landed_events(home)
    assert {e["location"] for e in events} == {"sanfrancisco", "chicago"}
    assert sum(e["event_type"] == "delivered" for e in events) > 20
    notes = _notes(stderr)
    assert len(notes) == 2, stderr  # one line per file
    for name in ("sanfrancisco", "chicago"):
        (note,) = [n for n in notes if f"reference_configs/{name}.json replaces" in n]
        assert f"configs/{name}.json, with its kitchen_lat/kitchen_lon" in note
        assert note.endswith("(the file has none)")


def test_the_reference_files_make_the_same_world_as_the_bundled_configs(from_reference, tmp_path):
    """Bundled sanfrancisco and chicago are the reference's keys plus the kitchens' coordinates:
    with those coordinates the reference's files give byte-identical landing files."""
    home, _ = from_reference
    bundled = tmp_path / "bundled"
    casper(bundled, "generate", "--now", NOW, "--days", "1", "--locations", "sanfrancisco,chicago")
    assert _landing(home) == _landing(bundled) and _landing(home)


def test_locations_may_name_a_config_files_location_and_add_bundled_ones(tmp_path):
    home = tmp_path / "home"
    args = ("generate", "--now", NOW, "--days", "1", "--config", str(REFERENCE_SF))
    casper(home, *args, "--locations", "bellevue,sanfrancisco")
    assert _plan_locations(home) == ["bellevue", "sanfrancisco"]
    assert {e["location"] for e in landed_events(home)} == {"bellevue", "sanfrancisco"}
    again = casper(home, *args, "--locations", "sanfrancisco")  # the same world: nothing new
    assert "0 new files" in again.stdout


def test_live_and_up_take_the_same_config_rules(from_reference, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(from_reference[0], home)
    live = casper(
        home, "live", "--config", str(REFERENCE_CHICAGO), "--sim-minutes", "30", "--speed", "1e6"
    )
    assert {e["location"] for e in landed_events(home, "live-")} == {"chicago"}
    assert "live from" in live.stdout and "for chicago;" in live.stdout

    up_home = tmp_path / "up"
    up = casper(
        up_home, "up", "--stages", "raw_data", "--now", NOW, "--days", "1",
        "--config", str(REFERENCE_CHICAGO),
    )  # fmt: skip
    assert "done raw_data" in up.stdout
    assert _plan_locations(up_home) == ["chicago"]
    assert {e["location"] for e in landed_events(up_home)} == {"chicago"}


def test_a_config_file_that_differs_from_what_was_generated_is_refused(from_reference, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(from_reference[0], home)
    changed = tmp_path / "sanfrancisco.json"
    changed.write_text(json.dumps({**REFERENCE_SANFRANCISCO, "orders_day_1": 70}))
    for args in (["generate"], ["live", "--sim-minutes", "1"]):
        result = casper(home, *args, "--config", str(changed), check=False)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines()[-1] == (
            "error: location sanfrancisco was generated with other settings (seed, days or "
            "config changed); `casper down` to start over"
        )


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        (
            {k: v for k, v in REFERENCE_SANFRANCISCO.items() if k != "svc"},
            "{path}: field svc: is required",
        ),
        (
            {**REFERENCE_SANFRANCISCO, "driver_mph": "fast"},
            "{path}: field driver_mph: Input should be a valid number",
        ),
        (
            {**REFERENCE_SANFRANCISCO, "location_name": "springfield", "gk_location": "1 Main St"},
            "{path}: no kitchen_lat/kitchen_lon, and gk_location '1 Main St' is no bundled "
            "location's kitchen (addresses are not geocoded): add kitchen_lat and kitchen_lon",
        ),
    ],
    ids=["missing-key", "bad-value", "no-kitchen"],
)
def test_a_bad_config_file_is_one_line_naming_the_file_and_the_key(tmp_path, document, fragment):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(document))
    for command in ("generate", "up"):
        result = casper(tmp_path / "home", command, "--config", str(path), check=False)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("error: " + fragment.format(path=path)), line
