"""What has landed: event counts and the newest event time, over every landing file.

Landed files never change, so each is read once and remembered in a small index under the home.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

INDEX_FILE = "landing-index.json"
_TS = re.compile(rb'"ts"\s*:\s*"([0-9][^"]*)"')


@dataclass(frozen=True)
class LandingSummary:
    files: int
    events: int
    newest_event_ts: str | None


def landing_files(landing: Path) -> list[Path]:
    if not landing.is_dir():
        return []
    return sorted(
        p
        for p in landing.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix in {".ndjson", ".json"}
    )


def _measure(path: Path) -> tuple[int, str | None]:
    payload = path.read_bytes()
    if path.suffix == ".json":
        try:
            document = json.loads(payload)
        except ValueError:
            document = None
        if isinstance(document, list):
            stamps = [str(e["ts"]) for e in document if isinstance(e, dict) and e.get("ts")]
            return len(document), max(stamps, default=None)
    events = sum(1 for line in payload.splitlines() if line.strip())
    stamps = _TS.findall(payload)
    return events, (max(stamps).decode() if stamps else None)


def summarize_landing(landing: Path, index_dir: Path) -> LandingSummary:
    index_path = index_dir / INDEX_FILE
    try:
        index: dict[str, list] = json.loads(index_path.read_text())
    except (OSError, ValueError):
        index = {}
    files = landing_files(landing)
    fresh: dict[str, list] = {}
    for path in files:
        stat = path.stat()
        key = f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"
        fresh[key] = index.get(key) or list(_measure(path))
    if fresh.keys() != index.keys():
        index_dir.mkdir(parents=True, exist_ok=True)
        temporary = index_dir / f".{INDEX_FILE}.{os.getpid()}.tmp"
        temporary.write_text(json.dumps(fresh))
        os.replace(temporary, index_path)
    stamps = [ts for _, ts in fresh.values() if ts]
    return LandingSummary(
        files=len(files),
        events=sum(count for count, _ in fresh.values()),
        newest_event_ts=max(stamps, default=None),
    )
