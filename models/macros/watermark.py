"""The batch watermark: what a model has not taken in yet from the landing batches upstream."""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro
from sqlmesh.core.macros import MacroEvaluator, RuntimeStage

from casper.pipeline import replaces_table


@macro()
def new_batches(evaluator: MacroEvaluator, this: exp.Expr) -> exp.Expr:
    """`batch_no > <the newest batch_no already in this model>`: the landing batches not seen yet.

    `this` names the model itself. When the model is evaluated, the watermark is read first and
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
        adapter = evaluator.engine_adapter
        physical = exp.to_table(evaluator.this_model, dialect=evaluator.dialect)
        value = 0
        # a table about to be replaced must receive everything (see casper.pipeline.replaces_table)
        if not replaces_table(evaluator) and adapter.table_exists(physical):
            row = adapter.fetchone(
                exp.select(exp.func("MAX", exp.column("batch_no"))).from_(physical)
            )
            value = int(row[0]) if row and row[0] is not None else 0
        watermark = exp.Literal.number(value)
    return exp.GT(this=exp.column("batch_no"), expression=watermark)
