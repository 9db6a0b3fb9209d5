"""The one engine-aware piece of the project: reading landing files (lakeflow.landing_records).

`@landing_records()` expands to a subquery yielding the *landing record contract*, the same columns on
every engine:

    source_file VARCHAR     file name (no folder)
    record_no   BIGINT      0 = the file's marker row (one per file, even an empty one);
                            1.. = line number (NDJSON) or position in the JSON array
    raw         VARCHAR     the record's text (a line, an array element), or the whole file when the file
                            cannot be split into records (see read_error)
    read_error  VARCHAR     a file-level problem or NULL: invalid_json_array, invalid_utf8,
                            unsupported_file_name (glob characters in the name; raw = the name)
    is_object   BOOLEAN     raw parsed as a JSON object
    event_id, event_type, ts, gk_id, location, order_id, sequence, body
                VARCHAR     the 8 top-level fields as text; NULL when absent or JSON null
    location_id VARCHAR     a reference event's integer location id, as text (it has no location)
    replay_unmapped VARCHAR the column of a reference dataset's row `casper replay` could not map
    body_is_object BOOLEAN  body holds a JSON object (string-encoded or not)
    batch_no    BIGINT      strictly increasing, one per INSERT (downstream append-only models use it
                            as a watermark: a run processes the batches it has not seen)
    ingested_at TIMESTAMP   one instant for the whole batch

Exactly once: only while the model is being *evaluated* does the macro look at the landing files. It
lists them with the engine's lander (casper.landing.is_landing_file says which files are landing
files: names starting with "." are temporaries, *.ndjson, *.jsonl and *.json files are read), asks the model's own table which files already have a marker row, and reads only the
others. The marker rows are inserted by the same INSERT as the file's records, so a file is either
fully ingested (records + marker) or not at all, and is never read twice. In every other stage
(loading, creating tables, rendering) it expands to an empty relation of the same shape; in unit tests
(stage `testing`) to the rows of the test's `landing_fixture` variable.

SQLMesh replaces (CREATE OR REPLACE) instead of appending while the model has no recorded interval
(the first build). Should a first build write the table and then fail before SQLMesh records its
interval (a crash, a failing audit), the next run is a "first build" again: the ledger then counts no
file as ingested, so the replacement reads every landing file again (they are immutable and kept).
Nothing is lost or counted twice; batch numbers keep increasing across such a replacement (see
`_next_batch`), and the append-only models downstream take everything in the same way
(`@new_batches`).

Engines differ only in how files are listed and read, which the engine port answers (the engine is
named by the SQLMesh variables `casper_engine` and `casper_home`; casper.engine.LandingReader):
DuckDB (engines/duckdb/landing.py) with one read_blob over the explicit file list; Spark
(engines/spark_common/landing.py) with spark.read.text(wholetext) and the DataFrame API into a temporary
view that the macro selects from.
"""

from __future__ import annotations

import datetime as dt
import time

from sqlglot import exp, parse_one
from sqlmesh import macro
from sqlmesh.core.macros import MacroEvaluator, RuntimeStage

from casper.landing import RECORD_CONTRACT, is_readable_name
from casper.pipeline import engine_of
from casper.tick_templates import not_templatable
from casper.watermarks import replaces_table


def _empty_relation() -> exp.Expr:
    columns = ", ".join(f'CAST(NULL AS {kind}) AS "{name}"' for name, kind in RECORD_CONTRACT)
    return parse_one(f"SELECT {columns} WHERE 1 = 0", dialect="duckdb")


def _fixture_relation(rows: list[dict]) -> exp.Query:
    """Literal contract rows: a unit test's `landing_fixture` variable, or files that cannot be read."""
    selects = []
    for row in rows:
        values = []
        for name, kind in RECORD_CONTRACT:
            value = row.get(name)
            literal = exp.convert(value).sql(dialect="duckdb") if value is not None else "NULL"
            values.append(f'CAST({literal} AS {kind}) AS "{name}"')
        selects.append("SELECT " + ", ".join(values))
    return parse_one(" UNION ALL ".join(selects), dialect="duckdb")


def _ledger(evaluator: MacroEvaluator) -> tuple[set[str], int]:
    """The files already ingested (those with a marker row) and the last batch number. When
    SQLMesh is about to replace the table, no file counts as ingested: the replacement reads them
    all again (see the module docstring)."""
    adapter = evaluator.engine_adapter
    table = exp.to_table(evaluator.this_model, dialect=evaluator.dialect)
    if not adapter.table_exists(table):
        return set(), 0
    query = (
        exp.select("source_file", "batch_no")
        .from_(table)
        .where(exp.column("record_kind").eq(exp.Literal.string("file")))
    )
    rows = adapter.fetchall(query)
    last_batch = max((int(row[1] or 0) for row in rows), default=0)
    if replaces_table(evaluator.locals.get("snapshot")):
        return set(), last_batch
    return {row[0] for row in rows}, last_batch


def _next_batch(last_batch: int) -> int:
    """Strictly increasing batch numbers, even if the table was emptied: microseconds since the
    epoch, or the last one + 1 should the clock go backwards."""
    return max(last_batch + 1, time.time_ns() // 1000)


@macro()
def landing_records(evaluator: MacroEvaluator) -> exp.Expr:
    """A subquery with the landing records of every file not ingested yet (see the module docstring)."""
    stage = evaluator.runtime_stage
    if stage == RuntimeStage.TESTING.value and evaluator.var("landing_fixture"):
        return exp.paren(_fixture_relation(evaluator.var("landing_fixture")))
    if stage != RuntimeStage.EVALUATING.value:
        return exp.paren(_empty_relation())

    not_templatable()  # the files it lists change from tick to tick
    engine = engine_of(evaluator.var("casper_engine"), evaluator.var("casper_home"))
    done, last_batch = _ledger(evaluator)
    new = [landed.name for landed in engine.lander().list() if landed.name not in done]
    if not new:
        return exp.paren(_empty_relation())

    batch_no = _next_batch(last_batch)
    ingested_at = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
    # file readers expand glob characters: such a name is never read, its file is quarantined whole
    readable = [name for name in new if is_readable_name(name)]
    unreadable = [
        row
        for name in new
        if not is_readable_name(name)
        for row in (
            {"source_file": name, "record_no": 0, "batch_no": batch_no, "ingested_at": ingested_at},
            {
                "source_file": name,
                "record_no": 1,
                "raw": name,
                "read_error": "unsupported_file_name",
                "is_object": False,
                "batch_no": batch_no,
                "ingested_at": ingested_at,
            },
        )
    ]
    relations = [_fixture_relation(unreadable)] if unreadable else []
    if readable:
        reader = engine.landing_reader()
        relations.append(
            reader.records(
                evaluator.engine_adapter, readable, batch_no=batch_no, ingested_at=ingested_at
            )
        )
    if len(relations) == 1:
        return exp.paren(relations[0])
    # each member as a subquery: a reader's WITH clause must stay attached to its own SELECT
    columns = [name for name, _ in RECORD_CONTRACT]
    members = [exp.select(*columns).from_(r.subquery(f"part{i}")) for i, r in enumerate(relations)]
    union = members[0]
    for member in members[1:]:
        union = exp.union(union, member, distinct=False)
    return exp.paren(union)
