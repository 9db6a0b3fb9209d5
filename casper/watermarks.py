"""Batch watermarks: how far into the landing batches a model's table has taken in.

Every incremental model of the project reads only the landing batches its table has not seen
(`@new_batches`, models/macros/watermark.py): those above the newest batch_no its table holds. Its
audits then check the rows above that same watermark, the rows its evaluation added
(`@added_rows`). The macros and a tick's templates (casper.tick_templates) read both values
through the functions here, so the two can never disagree.
"""

from __future__ import annotations

from typing import Any

#: the batch watermark each model's latest evaluation in this process used, by its table
_watermarks: dict[str, int] = {}


def replaces_table(snapshot: Any) -> bool:
    """Whether SQLMesh replaces the table of the model being evaluated (its `snapshot`) with the
    result, instead of adding the result to it: the model has no recorded interval yet. That is its
    first build, or a first build that wrote its table and then failed (an audit, a crash) before
    SQLMesh recorded it. The incremental macros read everything then, not what is newer than the
    table's rows."""
    return snapshot is not None and not snapshot.intervals


def _table_key(table: str, dialect: str) -> str:
    from sqlglot import exp

    return exp.to_table(table, dialect=dialect).sql(dialect=dialect, identify=True)


def record_watermark(table: str, batch_no: int, dialect: str = "duckdb") -> None:
    _watermarks[_table_key(table, dialect)] = batch_no


def recorded_watermark(table: str, dialect: str = "duckdb") -> int | None:
    return _watermarks.get(_table_key(table, dialect))


def batch_watermark(adapter: Any, table: str, dialect: str, snapshot: Any) -> int:
    """The newest batch_no in `table` (0 when it is empty, missing, or about to be replaced: it
    must receive everything), recorded for the audits of the evaluation about to use it."""
    from sqlglot import exp

    physical = exp.to_table(table, dialect=dialect)
    value = 0
    if not replaces_table(snapshot) and adapter.table_exists(physical):
        row = adapter.fetchone(exp.select(exp.func("MAX", exp.column("batch_no"))).from_(physical))
        value = int(row[0]) if row and row[0] is not None else 0
    record_watermark(table, value, dialect)
    return value


def added_watermark(adapter: Any, table: str, dialect: str, snapshot: Any) -> int | None:
    """The watermark the latest evaluation of `table` in this process used (its audits check the
    rows above it), or None when none recorded one: every row counts as added."""
    return recorded_watermark(table, dialect)
