"""Reading landing files on DuckDB: the engine-specific half of lakeflow.landing_records.

`records_query` returns one DuckDB SELECT over an explicit list of files that yields the *landing record
contract* shared by every engine (documented in models/macros/landing.py). The files are read by
`read_blob` (rather than read_text, so that a file that is not UTF-8 becomes one quarantined record
instead of failing the whole batch), split into a few groups read by one `read_blob` call each under
UNION ALL: DuckDB runs the splitting and parsing after one scan in a single thread (the scan yields a
row per file, a few hundred rows), but each branch of a UNION ALL in its own, so the groups keep
every core busy. But when the query's sink is the table insert (the model's INSERT or CREATE TABLE
AS), DuckDB runs the branches of a UNION ALL one after another, to keep the insertion order. So the
split lines are a MATERIALIZED CTE, which ends the branches' pipeline before the insert and lets
them run in parallel again (the canonical first build's landing_records: 3.3 s -> 1.8 s), while the
batch's files hold at most MATERIALIZE_UP_TO_BYTES: the CTE holds every line, and a year's first
build (2.2 GB of files) runs out of the connection's memory limit (1 GB) with it. A larger batch
streams its groups to the insert one after another. Each JSON line is parsed once (`TRY` turns a
malformed line into NULL instead of an error).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from casper.landing import RECORD_FIELDS as FIELDS

#: how many read_blob groups per core (more groups than cores even out files of unequal sizes)
GROUPS_PER_CORE = 2
#: below this many bytes in all, one group: a tick's few small files gain nothing from threads
GROUPS_FROM_BYTES = 16 * 2**20
#: up to this many bytes in all, the split lines are materialized (see the module docstring): the
#: canonical 90 days (355 MiB) are, with a peak of about 1 GiB for the process
MATERIALIZE_UP_TO_BYTES = 512 * 2**20


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def records_query(
    paths: Sequence[str], names: Sequence[str], *, batch_no: int, ingested_at: str
) -> str:
    """The landing records of the files at `paths` (absolute), whose file names are `names`."""
    markers = ", ".join(f"({quote(n)})" for n in names)
    json_paths = "[" + ", ".join(quote(f"$.{f}") for f in FIELDS) + "]"
    fields = ", ".join(f'v[{i + 1}] AS "{f}"' for i, f in enumerate(FIELDS))
    stamp = f"CAST({quote(ingested_at)} AS TIMESTAMP)"
    blank = "chr(32) || chr(9) || chr(10) || chr(13)"
    # a marker row's raw, read_error, is_object, fields and body_is_object
    nulls = ", ".join(["NULL"] * (len(FIELDS) + 4))
    sizes = {path: _size(path) for path in paths}
    split = "MATERIALIZED " if sum(sizes.values()) <= MATERIALIZE_UP_TO_BYTES else ""
    return f"""
WITH read_files AS (
  {read_groups(sizes)}
), read_shaped AS (
  SELECT
    *,
    CASE
      WHEN text IS NULL THEN 'binary'
      WHEN starts_with(ltrim(text, {blank}), '[') THEN 'array'
      ELSE 'lines'
    END AS fmt
  FROM read_files
), read_validated AS (
  SELECT *, fmt = 'array' AND json_valid(text) AS array_ok FROM read_shaped
), read_split AS {split}(
  SELECT
    source_file,
    CASE
      WHEN fmt = 'binary' THEN 'invalid_utf8'
      WHEN fmt = 'array' AND NOT array_ok THEN 'invalid_json_array'
    END AS read_error,
    CASE
      WHEN fmt = 'binary' THEN [CAST(content AS VARCHAR)]
      WHEN fmt = 'lines' THEN string_split(text, chr(10))
      WHEN array_ok THEN CAST(json_extract(text, '$[*]') AS VARCHAR[])
      ELSE [text]
    END AS items
  FROM read_validated
), read_records AS (
  SELECT source_file, read_error, UNNEST(items) AS raw, generate_subscripts(items, 1) AS record_no
  FROM read_split
), read_extracted AS (
  SELECT
    source_file,
    CAST(record_no AS BIGINT) AS record_no,
    raw,
    read_error,
    CASE
      WHEN read_error IS NULL AND starts_with(ltrim(raw), '{{') THEN TRY(json_extract_string(raw, {json_paths}))
    END AS v
  FROM read_records
  WHERE raw <> '' AND (starts_with(raw, '{{') OR NOT regexp_full_match(raw, '[ \\t\\r]*'))
), read_parsed AS (
  SELECT source_file, record_no, raw, read_error, v IS NOT NULL AS is_object, {fields} FROM read_extracted
)
SELECT
  source_file,
  record_no,
  raw,
  read_error,
  is_object,
  {", ".join(f'"{f}"' for f in FIELDS)},
  starts_with(ltrim(body), '{{') AND json_valid(body) AS body_is_object,
  CAST({int(batch_no)} AS BIGINT) AS batch_no,
  {stamp} AS ingested_at
FROM read_parsed
UNION ALL
SELECT
  source_file,
  CAST(0 AS BIGINT),
  {nulls},
  CAST({int(batch_no)} AS BIGINT),
  {stamp}
FROM (VALUES {markers}) AS markers(source_file)
"""


def read_groups(sizes: dict[str, int]) -> str:
    """The blobs and text of the files at the keys of `sizes` (their sizes in bytes), read by a
    few read_blob calls under UNION ALL (see the module docstring): round-robin over the files by
    size, so the groups weigh about the same."""
    paths = list(sizes)
    count = (
        GROUPS_PER_CORE * (os.cpu_count() or 1) if sum(sizes.values()) >= GROUPS_FROM_BYTES else 1
    )
    count = max(1, min(len(paths), count))
    by_size = sorted(paths, key=sizes.__getitem__, reverse=True)
    groups = [sorted(by_size[i::count]) for i in range(count)]
    return "\n  UNION ALL\n  ".join(
        "SELECT parse_filename(filename) AS source_file, content, "
        "ltrim(TRY(decode(content)), chr(65279)) AS text "
        f"FROM read_blob([{', '.join(quote(p) for p in group)}])"
        for group in groups
    )


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


class DuckDBLandingReader:
    """casper.engine.LandingReader for files in a local folder."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def records(self, adapter, names: Sequence[str], *, batch_no: int, ingested_at: str):
        from sqlglot import parse_one

        paths = [os.path.join(self.folder, name) for name in names]
        sql = records_query(paths, names, batch_no=batch_no, ingested_at=ingested_at)
        return parse_one(sql, dialect="duckdb")
