"""The `casper` command as a user runs it: help, generate, status, replay, errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import NOW, casper, casper_env, landed_events, landed_lines

COMMANDS = [
    [],
    ["generate"],
    ["live"],
    ["replay"],
    ["roads"],
    ["roads", "fetch"],
    ["status"],
    ["bundle"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "casper")
def test_every_command_has_help(tmp_path, command):
    result = casper(tmp_path, *command, "--help")
    assert "Usage:" in result.stdout and "--help" in result.stdout


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    home = tmp_path_factory.mktemp("generated")
    casper(home, "generate", "--now", NOW, "--days", "2", "--locations", "sanfrancisco,bellevue")
    return home


def test_generate_is_byte_identical_whatever_the_workers_and_reruns_are_no_ops(generated, tmp_path):
    other = tmp_path / "other"
    casper(
        other,
        "generate",
        "--now",
        NOW,
        "--days",
        "2",
        "--locations",
        "sanfrancisco,bellevue",
        "--workers",
        "2",
    )
    names = sorted(p.name for p in (generated / "landing").glob("*.ndjson"))
    assert names == sorted(p.name for p in (other / "landing").glob("*.ndjson"))
    for name in names:
        assert (generated / "landing" / name).read_bytes() == (
            other / "landing" / name
        ).read_bytes()
    again = casper(
        other, "generate", "--now", NOW, "--days", "2", "--locations", "sanfrancisco,bellevue"
    )
    assert "0 new files" in again.stdout


def test_history_ends_before_now_and_starts_at_the_window(generated):
    events = landed_events(generated)
    stamps = sorted(e["ts"] for e in events)
    assert stamps[-1] < "2026-11-26 12:00:00"
    created = [e["ts"] for e in events if e["event_type"] == "order_created"]
    assert min(created) >= "2026-11-24 12:00:00"
    assert {e["location"] for e in events} == {"sanfrancisco", "bellevue"}


def test_a_different_seed_gives_different_ids_and_a_different_now_is_refused(generated, tmp_path):
    seeded = tmp_path / "seeded"
    casper(
        seeded,
        "generate",
        "--now",
        NOW,
        "--days",
        "1",
        "--locations",
        "sanfrancisco",
        "--seed",
        "5",
    )
    ids = {e["order_id"] for e in landed_events(seeded)}
    assert ids and ids.isdisjoint({e["order_id"] for e in landed_events(generated)})
    refused = casper(seeded, "generate", "--now", "2026-11-27T00:00:00", check=False)
    assert refused.returncode == 2
    assert "already generated with --now 2026-11-26T12:00:00" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_status_json_counts_what_landed(generated):
    report = json.loads(casper(generated, "status", "--json").stdout)
    lines = landed_lines(generated)
    assert report["landed_events"] == len(lines)
    assert report["newest_event_ts"] == max(json.loads(line)["ts"] for line in lines)
    plain = casper(generated, "status").stdout
    assert f"{len(lines):,}" in plain


def test_status_of_an_empty_home(tmp_path):
    report = json.loads(casper(tmp_path / "empty", "status", "--json").stdout)
    assert report["landed_events"] == 0 and report["newest_event_ts"] is None


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["generate", "--locations", "atlantis"], "unknown location 'atlantis'"),
        (["generate", "--now", "yesterday"], "--now 'yesterday' is not an ISO date-time"),
        (["replay", "/no/such/dataset"], "no such dataset"),
        (["live", "--until", "yesterday"], "--until 'yesterday' is not an ISO date-time"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, fragment):
    result = casper(tmp_path, *args, check=False)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_a_home_that_is_a_file_or_cannot_be_written_is_one_line(tmp_path):
    file_home = tmp_path / "hostname"
    file_home.write_text("not a folder")
    status = casper(file_home, "status", check=False)
    assert status.returncode == 2
    assert status.stderr.strip() == f"error: setting home: {file_home} is a file, not a folder"
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "landing").write_text("a file where the landing folder goes")
    result = casper(blocked, "generate", "--days", "1", "--locations", "sanfrancisco", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: File exists: ")


def test_live_until_before_the_simulation_is_one_line(generated, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(generated, home)
    before = sorted(p.name for p in (home / "landing").iterdir())
    result = casper(home, "live", "--until", "2020-01-01T00:00:00", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "is not after where the simulation stands" in result.stderr
    assert sorted(p.name for p in (home / "landing").iterdir()) == before


def test_a_refused_history_leaves_the_home_as_it_was(tmp_path):
    home = tmp_path / "home"
    result = casper(home, "generate", "--days", "100000000", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "would start before 1970; --days can be at most" in result.stderr
    assert not home.exists() or not any(home.rglob("*.json"))  # no saved plan
    again = casper(home, "generate", "--days", "1", "--locations", "sanfrancisco", check=False)
    assert again.returncode == 0, again.stderr  # the home is still usable


def test_replay_shifts_to_the_present_and_loops_with_suffixed_ids(generated, tmp_path):
    dataset = tmp_path / "dataset"
    shutil.copytree(generated / "landing", dataset)
    source = landed_events(generated)
    first_ts = min(e["ts"] for e in source)
    home = tmp_path / "replayed"
    # the whole dataset spans ~2 days: at 10^7x it replays in well under a second of wall time
    both = casper(
        home,
        "replay",
        str(dataset),
        "--until",
        "2100-01-01T00:00:00",
        "--sim-minutes",
        "1",
        check=False,
    )
    assert both.returncode == 2 and "not both" in both.stderr
    run = casper(
        home,
        "replay",
        str(dataset),
        "--speed",
        "10000000",
        "--batch-rows",
        "5000",
        "--loop",
        "--sim-minutes",
        str(1.5 * 2 * 24 * 60),
    )
    assert "events landed" in run.stdout
    replayed = landed_events(home)
    originals = {e["event_id"]: e for e in source}
    first_loop = [e for e in replayed if e["event_id"] in originals]
    assert len(first_loop) == len(source)
    assert all(e["ts"] > first_ts for e in first_loop)  # moved to the present
    assert all(e["body"] == originals[e["event_id"]]["body"] for e in first_loop)
    second = [e for e in replayed if e["event_id"].endswith("-1")]
    assert second and all(e["order_id"].endswith("-1") for e in second)
    assert min(e["ts"] for e in second) > max(e["ts"] for e in first_loop)
    assert len({e["event_id"] for e in replayed}) == len(replayed)


def test_replay_resumes_where_it_stopped(generated, tmp_path):
    dataset = generated / "landing"
    whole, halves = tmp_path / "whole", tmp_path / "halves"
    fast = ["--speed", "10000000", "--batch-rows", "700"]
    casper(whole, "replay", str(dataset), *fast)
    casper(halves, "replay", str(dataset), *fast, "--sim-minutes", "1000")
    first_half = len(landed_lines(halves))
    casper(halves, "replay", str(dataset), *fast)
    assert 0 < first_half < len(landed_lines(halves))
    expected = sorted(
        (json.loads(line)["event_id"], json.loads(line)["body"]) for line in landed_lines(whole)
    )
    resumed = sorted(
        (json.loads(line)["event_id"], json.loads(line)["body"]) for line in landed_lines(halves)
    )
    assert resumed == expected


def test_live_for_a_location_without_history_is_refused(generated, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(generated, home)
    result = casper(home, "live", "--locations", "chicago", "--sim-minutes", "1", check=False)
    assert result.returncode == 2
    assert "no history for chicago" in result.stderr and "Traceback" not in result.stderr


def test_the_command_freezes_the_garbage_collector_as_it_exits_after_its_output(tmp_path):
    """The interpreter's last collections at exit are skipped (casper.cli.main): the freeze is
    taken when the command has finished, not before, and the exit status is kept."""
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
        "print('frozen before:', gc.get_freeze_count() > 0)\n"
        f"sys.argv = ['casper', '--home', {str(tmp_path)!r}, 'status', '--json']\n"
        "from casper.cli import main\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=casper_env()
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "frozen before: False"
    assert lines[-1] == "frozen at exit: True"
    assert json.loads("\n".join(lines[1:-1]))["landed_events"] == 0


def test_a_generator_helper_of_the_installed_command_does_not_import_the_cli():
    """`casper generate` run as users run it, through the script pip installs: a helper is a
    spawned interpreter, and spawning first runs the parent's main script again under the name
    `__mp_main__` (multiprocessing's "safe importing of the main module"). Done here the same
    way, the script imports neither the CLI nor Typer, and starts nothing."""
    script = Path(sys.executable).with_name("casper")
    assert script.is_file(), "the package is installed with its `casper` script"
    probe = (
        "import runpy, sys\n"
        f"runpy.run_path({str(script)!r}, run_name='__mp_main__')\n"
        "print(sorted(name for name in ('casper.cli', 'typer', 'rich') if name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=casper_env()
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(("given", "expected"), [(None, "1"), ("2", "2")])
def test_the_command_runs_numpy_blas_on_one_thread_unless_the_user_chose(given, expected):
    """The command sets OPENBLAS_NUM_THREADS (casper/__init__.py: in its environment, which the
    processes it starts inherit) before anything imports numpy, whose OpenBLAS then runs one
    thread; a value the user set is kept."""
    probe = (
        "import os, sys\n"
        "sys.argv = ['casper', '--help']\n"
        "from casper.__main__ import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "import numpy, threadpoolctl\n"
        "blas = [p['num_threads'] for p in threadpoolctl.threadpool_info()\n"
        "        if p['internal_api'] == 'openblas']\n"
        "print(os.environ.get('OPENBLAS_NUM_THREADS'), blas[:1])\n"
    )
    env = casper_env()
    env.pop("OPENBLAS_NUM_THREADS", None)
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    setting, threads = result.stdout.splitlines()[-1].split(" ", 1)
    assert setting == expected
    if given is None:  # numpy's wheels bundle OpenBLAS: it took the setting
        assert threads == "[1]"


def test_a_generator_helper_imports_the_generator_as_it_starts_and_freezes_as_it_exits():
    """What `casper generate`'s helper processes run first (their pool's initializer)."""
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
        "from casper.generator.workers import _helper_start\n"
        "print('imported before:', 'casper.generator.history' in sys.modules)\n"
        "_helper_start()\n"
        "print('imported after:', 'casper.generator.history' in sys.modules)\n"
        "print('frozen after:', gc.get_freeze_count() > 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=casper_env()
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "imported before: False",
        "imported after: True",
        "frozen after: False",
        "frozen at exit: True",
    ]
