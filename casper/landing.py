"""What a landing file is, and what has landed: event counts and the newest event time.

One definition, used by every lander (what `list` shows), the pipeline (what the landing macro
reads), the Spark stream and `casper status`: a landing file is a file whose name does not start
with "." (a writer's temporary) and ends in .ndjson, .jsonl or .json. Its records are its lines
that hold more than spaces, tabs and carriage returns (after a leading byte-order mark), except for
a file holding a JSON array, whose records are the array's elements.

Landed files never change, so each is read once and remembered in a small index under the home.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from casper.engine import Lander

#: the names the pipeline reads; a file named otherwise is not a landing file
LANDING_SUFFIXES = (".ndjson", ".jsonl", ".json")
#: the columns every engine's LandingReader yields (documented in models/macros/landing.py)
RECORD_CONTRACT = (
    ("source_file", "VARCHAR"),
    ("record_no", "BIGINT"),
    ("raw", "VARCHAR"),
    ("read_error", "VARCHAR"),
    ("is_object", "BOOLEAN"),
    ("event_id", "VARCHAR"),
    ("event_type", "VARCHAR"),
    ("ts", "VARCHAR"),
    ("gk_id", "VARCHAR"),
    ("location", "VARCHAR"),
    ("order_id", "VARCHAR"),
    ("sequence", "VARCHAR"),
    ("body", "VARCHAR"),
    ("body_is_object", "BOOLEAN"),
    ("batch_no", "BIGINT"),
    ("ingested_at", "TIMESTAMP"),
)
INDEX_FILE = "landing-index.json"
_TS = re.compile(rb'"ts"\s*:\s*"([0-9][^"]*)"')


#: file readers expand these: a landing file named with one is never read, but quarantined whole
GLOB_CHARACTERS = frozenset("*?[]{}")


def is_landing_file(name: str) -> bool:
    return not name.startswith(".") and name.endswith(LANDING_SUFFIXES)


def is_readable_name(name: str) -> bool:
    return not GLOB_CHARACTERS & set(name)


@dataclass(frozen=True)
class LandingSummary:
    files: int
    events: int
    newest_event_ts: str | None


def measure(name: str, payload: bytes) -> tuple[int, str | None]:
    """(records, newest ts) of one landing file, counted as the pipeline counts them: a file that
    is not UTF-8 is one (quarantined) record, so is a JSON array that does not parse and a file
    whose name cannot be read."""
    if not is_readable_name(name):
        return 1, None
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return 1, None
    text = text.lstrip("\ufeff")
    if text.lstrip(" \t\r\n").startswith("["):
        try:
            document = json.loads(text)
        except ValueError:
            return 1, None
        if isinstance(document, list):
            stamps = [str(e["ts"]) for e in document if isinstance(e, dict) and e.get("ts")]
            return len(document), max(stamps, default=None)
    events = sum(1 for line in text.split("\n") if line.strip(" \t\r"))
    stamps = _TS.findall(payload)
    return events, (max(stamps).decode() if stamps else None)


def summarize_landing(lander: Lander, index_dir: Path) -> LandingSummary:
    index_path = index_dir / INDEX_FILE
    try:
        index: dict[str, list] = json.loads(index_path.read_text())
    except (OSError, ValueError):
        index = {}
    files = lander.list()
    fresh: dict[str, list] = {}
    for landed in files:
        key = f"{landed.name}:{landed.size}:{landed.modified_ns}"
        fresh[key] = index.get(key) or list(measure(landed.name, lander.read(landed.name)))
    if fresh.keys() != index.keys():
        try:
            index_dir.mkdir(parents=True, exist_ok=True)
            temporary = index_dir / f".{INDEX_FILE}.{os.getpid()}.tmp"
            temporary.write_text(json.dumps(fresh))
            os.replace(temporary, index_path)
        except OSError:
            pass  # only a cache: a read-only home is measured again next time
    stamps = [ts for _, ts in fresh.values() if ts]
    return LandingSummary(
        files=len(files),
        events=sum(count for count, _ in fresh.values()),
        newest_event_ts=max(stamps, default=None),
    )
