"""The batch watermark: what a model has not taken in yet from the landing batches upstream."""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro
from sqlmesh.core.macros import MacroEvaluator, RuntimeStage

from casper.tick_templates import tick_value


@macro()
def new_batches(evaluator: MacroEvaluator, this: exp.Expr, of: exp.Expr | None = None) -> exp.Expr:
    """`batch_no > <the newest batch_no already in this model>`: the landing batches not seen yet.

    `this` names the model itself; `of`, optional, the relation whose batch_no is compared (a join's
    alias). When the model is evaluated, the watermark is read first and
    inlined as a literal, so the engine skips old data by its min/max statistics instead of
    comparing every row with a subquery (0 when SQLMesh is about to replace the table); in every
    other stage (loading, unit tests) it stays the equivalent self-referencing subquery, which is
    also what declares the self-dependency.
    """
    table = exp.to_table(this.sql(dialect=evaluator.dialect), dialect=evaluator.dialect)
    seen = exp.column("batch_no", table="seen")
    watermark: exp.Expr = (
        exp.select(exp.func("COALESCE", exp.func("MAX", seen), exp.Literal.number(0)))
        .from_(exp.alias_(table, "seen", table=True))
        .subquery()
    )
    if evaluator.runtime_stage == RuntimeStage.EVALUATING.value:
        # read and recorded by casper.watermarks.batch_watermark (0 for a table about to be
        # replaced: it must receive everything); a tick's template holds its marker instead
        watermark = tick_value(evaluator, "batch_watermark")
    column = exp.column("batch_no", table=of.name if of is not None else None)
    return exp.GT(this=column, expression=watermark)


def _audited_watermark(evaluator: MacroEvaluator) -> exp.Expr | None:
    """The watermark the model's evaluation used (casper.watermarks.added_watermark), as a
    literal, or None."""
    if "this_model" not in evaluator.locals:
        return None
    return tick_value(evaluator, "added_watermark")


@macro()
def added_rows(evaluator: MacroEvaluator) -> exp.Expr:
    """In an audit: `batch_no > <the watermark the model's evaluation just used>`, the rows that
    evaluation added, so an audit's cost grows with what landed, not with the table (the rows
    below were checked when they were added). TRUE, every row, when no evaluation in this process
    recorded a watermark for the table: a model without @new_batches, `sqlmesh audit`, loading.
    A first build records 0: every row."""
    watermark = _audited_watermark(evaluator)
    if watermark is None:
        return exp.true()
    return exp.GT(this=exp.column("batch_no"), expression=watermark)


@macro()
def added_grain(evaluator: MacroEvaluator, grain: exp.Expr) -> exp.Expr:
    """In an audit, of a row of @this_model aliased `checked`: whether a row of `added` (the CTE of
    @added_rows) has its `grain` value (NULLs compare equal, as GROUP BY groups them). TRUE when
    every row counts as added."""
    if _audited_watermark(evaluator) is None:
        return exp.true()
    if isinstance(grain, exp.Paren):
        grain = grain.this
    columns = grain.expressions if isinstance(grain, exp.Tuple | exp.Array) else [grain]
    same = [
        exp.NullSafeEQ(
            this=exp.column(column.name, table="added"),
            expression=exp.column(column.name, table="checked"),
        )
        for column in columns
    ]
    return exp.Exists(this=exp.select("1").from_("added").where(exp.and_(*same)))
