"""What a landing file is, and what has landed: event counts and the newest event time.

One definition, used by every lander (what `list` shows), the pipeline (what the landing macro
reads), the Spark stream and `casper status`: a landing file is a file whose name does not start
with "." (a writer's temporary) and ends in .ndjson, .jsonl or .json. Its records are its lines
that hold more than spaces, tabs and carriage returns (after a leading byte-order mark), except for
a file holding a JSON array, whose records are the array's elements. Whatever else is there (a
file named otherwise, `i.NDJSON` too: suffixes are exact; a folder) is never read, and `casper
status` and `casper pipeline` name it (ignored_entry, ignored_note).

The newest event time `casper status` shows is the newest `ts` of a record the pipeline takes into
bronze (`event_time`: the rule of models/models/lakeflow/landing_records.sql, checked in Python),
never that of a record it quarantines, nor of a file it quarantines whole. Status stays cheap: it
does not parse every line, only those holding the newest-looking `"ts"`, newest first, until one is
an event. A `ts` spelled with JSON escapes (`"\\u0032025-..."`) is not seen, and neither are
DuckDB's few extra spellings of an instant (hour 24, year 0); the generator writes neither. A JSON
array nested deeper than Python's json module parses is counted by its commas at depth 1 (taken as
valid, as DuckDB finds such a file) and gives no event time; Spark's reader refuses an array nested
deeper than 1000 levels (engines/spark_common/landing.py), so there the counts differ.

Landed files never change, so each is read once and remembered in a small index under the home.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from casper.config import EVENT_TYPES
from casper.engine import Lander

#: the names the pipeline reads; a file named otherwise is not a landing file
LANDING_SUFFIXES = (".ndjson", ".jsonl", ".json")
#: an event's top-level fields, in the order the generator writes them (SPEC's event schema)
EVENT_FIELDS = ("event_id", "event_type", "ts", "gk_id", "location", "order_id", "sequence", "body")
#: the columns every engine's LandingReader yields (documented in models/macros/landing.py)
#: the record's top-level fields, read as text (VARCHAR), in the contract's order
RECORD_FIELDS = (
    *EVENT_FIELDS,
    # a reference event's integer location id (it has no location, no gk_id), as text
    "location_id",
    # set by `casper replay` on a reference dataset's row it could not map: the column (quarantined)
    "replay_unmapped",
)
RECORD_CONTRACT = (
    ("source_file", "VARCHAR"),
    ("record_no", "BIGINT"),
    ("raw", "VARCHAR"),
    ("read_error", "VARCHAR"),
    ("is_object", "BOOLEAN"),
    *((field, "VARCHAR") for field in RECORD_FIELDS),
    ("body_is_object", "BOOLEAN"),
    ("batch_no", "BIGINT"),
    ("ingested_at", "TIMESTAMP"),
)
INDEX_FILE = "landing-index.json"
#: the index's format: entries of another version (an older definition) are measured again
INDEX_VERSION = 2
#: what may be a record's ts (see _newest_event)
_TS = re.compile(rb'"ts"\s*:\s*"([^"\\]*)"')
_TS_FORMAT = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?"
)
_SEQUENCE = re.compile(r"[0-9]{1,9}")
#: the top-level fields an event must have (as non-blank text), besides a body
_REQUIRED = ("event_id", "event_type", "ts", "gk_id", "location", "order_id", "sequence")
#: the fields of a reference event and of a reference row `casper replay` could not map
_REFERENCE = ("location_id", "replay_unmapped")


#: file readers expand these: a landing file named with one is never read, but quarantined whole
GLOB_CHARACTERS = frozenset("*?[]{}")


def is_landing_file(name: str) -> bool:
    return not name.startswith(".") and name.endswith(LANDING_SUFFIXES)


def ignored_entry(name: str, *, is_folder: bool) -> str | None:
    """How an entry of the landing place that no reader reads is named to the user, None for a
    landing file or a writer's temporary (a name starting with "."). The suffixes are exact (the
    Spark stream's file glob is case-sensitive), so `i.NDJSON` is one; a folder is another, named
    with a trailing "/", whatever its name (readers do not descend into folders)."""
    if name.startswith("."):
        return None
    if is_folder:
        return f"{name}/"
    return None if is_landing_file(name) else name


#: how many ignored entries a note names
NOTE_NAMES = 3


def ignored_note(ignored: Sequence[str]) -> str | None:
    """The one line `casper status` and `casper pipeline` print about ignored entries, or None."""
    if not ignored:
        return None
    shown = ", ".join(ignored[:NOTE_NAMES])
    if len(ignored) > NOTE_NAMES:
        shown += f" and {len(ignored) - NOTE_NAMES} more"
    verb = "is not a landing file" if len(ignored) == 1 else "are not landing files"
    *others, last = LANDING_SUFFIXES
    why = f"names end in {', '.join(others)} or {last} (exact case)"
    if any(name.endswith("/") for name in ignored):
        why += "; folders are not read"
    return f"{shown} {verb}: {why}"


def is_readable_name(name: str) -> bool:
    return not GLOB_CHARACTERS & set(name)


@dataclass(frozen=True)
class LandingSummary:
    files: int
    events: int
    newest_event_ts: str | None
    #: entries of the landing place no reader reads (see ignored_entry)
    ignored: tuple[str, ...] = ()


def measure(name: str, payload: bytes) -> tuple[int, str | None]:
    """(records, newest event time) of one landing file, counted as the pipeline counts them: a
    file that is not UTF-8 is one (quarantined) record, so is a JSON array that does not parse and a
    file whose name cannot be read; the newest time is that of a record that becomes a bronze event
    (see the module docstring), None if none does."""
    if not is_readable_name(name):
        return 1, None
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return 1, None
    text = text.lstrip("\ufeff")
    if text.lstrip(" \t\r\n").startswith("["):
        try:
            document = json.loads(text, object_pairs_hook=_first_key_wins)
        except ValueError:
            return 1, None
        except RecursionError:  # nested deeper than Python parses (the engines parse it)
            return _top_level_elements(text), None
        if isinstance(document, list):
            return len(document), max(filter(None, map(_event_time, document)), default=None)
    records = sum(1 for line in text.split("\n") if line.strip(" \t\r"))
    return records, _newest_event(payload)


#: a JSON string, or a character that opens, closes or separates a JSON value
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},]')


def _top_level_elements(text: str) -> int:
    """How many elements the JSON array `text` (valid, not empty) has: its commas at depth 1, + 1."""
    depth, commas = 0, 0
    for token in _JSON_TOKEN.finditer(text):
        mark = token.group()
        if mark in ("[", "{"):
            depth += 1
        elif mark in ("]", "}"):
            depth -= 1
        elif mark == "," and depth == 1:
            commas += 1
    return commas + 1


def event_time(raw: str) -> str | None:
    """The `ts` of a record (a line's text, an array element's JSON) as YYYY-MM-DD HH:MM:SS.ffffff if
    the pipeline takes the record into bronze; None if it quarantines it (models/README.md)."""
    if not raw.lstrip(" ").startswith("{"):
        return None
    try:
        record = json.loads(raw, object_pairs_hook=_first_key_wins)
    except (ValueError, RecursionError):
        return None
    return _event_time(record)


def _first_key_wins(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A JSON object whose repeated keys keep their first value, as the engines read them."""
    return dict(reversed(pairs))


def _as_text(value: object) -> str | None:
    """A top-level field as the landing readers give it: JSON null is NULL, a string its text, a
    boolean true/false, anything else its JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _event_time(record: object) -> str | None:
    """The check of landing_records.sql (one reason or none) on a parsed record."""
    if not isinstance(record, dict):
        return None  # invalid_json
    fields = {name: _as_text(record.get(name)) for name in (*_REQUIRED, *_REFERENCE, "body")}
    if _given(fields["replay_unmapped"]):
        return None  # unmapped:<column>
    # a reference event (an integer location_id, no location, no gk_id): both come from the id
    derived = ("gk_id", "location") if _given(fields["location_id"]) else ()
    missing = [name for name in _REQUIRED if name not in derived and not _given(fields[name])]
    if missing or fields["body"] is None:
        return None  # missing_field
    moment = _instant(fields["ts"])
    if moment is None or not _SEQUENCE.fullmatch(fields["sequence"]):
        return None  # bad_type:ts, bad_type:sequence
    body = fields["body"]
    if not body.lstrip(" ").startswith("{") or not _is_json(body):
        return None  # bad_type:body
    if fields["event_type"] not in EVENT_TYPES:
        return None  # unknown_event_type
    return moment


def _given(text: str | None) -> bool:
    """A top-level field the pipeline takes as present: not NULL, not blank (spaces only)."""
    return bool((text or "").strip(" "))


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _instant(text: str) -> str | None:
    """`ts` as the pipeline types it (YYYY-MM-DD[ T]HH:MM:SS[.ffffff], a real instant), written
    YYYY-MM-DD HH:MM:SS.ffffff; None if the pipeline quarantines it (bad_type:ts)."""
    parts = _TS_FORMAT.fullmatch(text)
    if parts is None:
        return None
    *fields, fraction = parts.groups()
    try:
        moment = dt.datetime(*map(int, fields), int((fraction or "0").ljust(6, "0")))
    except ValueError:
        return None
    return moment.isoformat(sep=" ", timespec="microseconds")


def _newest_event(payload: bytes) -> str | None:
    """The newest event time among the lines of `payload` (UTF-8), parsing as few lines as it takes.

    Every `"ts": "..."` is a candidate. With "T" written " " (the candidates are found in a copy of
    the file so spelled, of the same length), well-formed times have a fixed width up to the
    seconds, so the order of their text is the order of the instants. The lines holding the
    newest candidate are checked first, and the search stops at a candidate no newer than the
    newest event found: every event's own ts is a candidate."""
    spelled = payload.replace(b"T", b" ")
    newest: str | None = None
    for candidate in _newest_first(_TS.findall(spelled)):
        if newest is not None and candidate <= newest.encode():
            break  # no newer (also when it is the same instant written otherwise)
        for line in _lines_holding(payload, spelled, candidate):
            found = event_time(line)
            if found is not None and (newest is None or found > newest):
                newest = found
    return newest


def _newest_first(candidates: list[bytes]) -> Iterator[bytes]:
    """The distinct candidates, newest first: the first few one by one (the newest is usually an
    event's), then, should many records newer than any event be quarantined, the rest sorted."""
    for _ in range(8):
        if not candidates:
            return
        newest = max(candidates)
        yield newest
        candidates = [candidate for candidate in candidates if candidate < newest]
    yield from sorted(set(candidates), reverse=True)


def _lines_holding(payload: bytes, spelled: bytes, candidate: bytes) -> Iterator[str]:
    """The lines of `payload` whose ts is `candidate` in `spelled` (the same bytes, "T" as " ")."""
    end = -1
    for match in re.finditer(rb'"ts"\s*:\s*"' + re.escape(candidate) + b'"', spelled):
        if match.start() < end:
            continue  # another candidate on a line already given
        start = payload.rfind(b"\n", 0, match.start()) + 1
        end = payload.find(b"\n", match.start())
        end = len(payload) if end < 0 else end
        line = payload[start:end].decode("utf-8")
        yield line.lstrip("\ufeff") if start == 0 else line


def summarize_landing(lander: Lander, index_dir: Path) -> LandingSummary:
    index_path = index_dir / INDEX_FILE
    try:
        stored = json.loads(index_path.read_text())
    except (OSError, ValueError):
        stored = None
    current = isinstance(stored, dict) and stored.get("version") == INDEX_VERSION
    index: dict[str, list] = stored["files"] if current else {}
    survey = lander.survey()  # one listing
    files = survey.files
    fresh: dict[str, list] = {}
    for landed in files:
        key = f"{landed.name}:{landed.size}:{landed.modified_ns}"
        fresh[key] = index.get(key) or list(measure(landed.name, lander.read(landed.name)))
    if not current or fresh.keys() != index.keys():
        try:
            index_dir.mkdir(parents=True, exist_ok=True)
            temporary = index_dir / f".{INDEX_FILE}.{os.getpid()}.tmp"
            temporary.write_text(json.dumps({"version": INDEX_VERSION, "files": fresh}))
            os.replace(temporary, index_path)
        except OSError:
            pass  # only a cache: a read-only home is measured again next time
    stamps = [ts for _, ts in fresh.values() if ts]
    return LandingSummary(
        files=len(files),
        events=sum(count for count, _ in fresh.values()),
        newest_event_ts=max(stamps, default=None),
        ignored=survey.ignored,
    )
