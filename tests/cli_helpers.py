"""Running the real `casper` command in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

NOW = "2026-11-26T12:00:00"


def casper_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CASPER_HOME", None)
    env["COLUMNS"] = "200"
    return env


def casper(
    home: Path, *args: str, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "casper", "--home", str(home), *args],
        capture_output=True,
        text=True,
        env=casper_env(),
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"casper {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
        )
    return result


def casper_popen(home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "casper", "--home", str(home), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=casper_env(),
    )


def landed_lines(home: Path, prefix: str = "") -> list[str]:
    lines: list[str] = []
    for path in sorted((home / "landing").glob(f"{prefix}*.ndjson")):
        lines += [line for line in path.read_text().splitlines() if line]
    return lines


def landed_events(home: Path, prefix: str = "") -> list[dict]:
    return [json.loads(line) for line in landed_lines(home, prefix)]


def casper_in_process(home: Path, *args: str, monkeypatch) -> subprocess.CompletedProcess:
    """`casper` run in this process through Typer's runner: the same command, without the second
    or so a subprocess spends importing, for tests that run it more than once."""
    from typer.testing import CliRunner

    from casper.cli import app

    # none of the developer's settings, but the suite's own parse cache (tests/conftest.py)
    for name in [name for name in os.environ if name.startswith("CASPER_")]:
        if name != "CASPER_SQLMESH_CACHE":
            monkeypatch.delenv(name)
    result = CliRunner().invoke(app, ["--home", str(home), *args], prog_name="casper")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)
