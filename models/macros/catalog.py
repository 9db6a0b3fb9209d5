"""The simulator tables' rows, and the reference's location ids, from the home's catalog.

`@catalog_rows('brands')` expands to the rows of simulator.brands as literal VALUES, typed, the
same SQL on every engine (casper.catalog.home says where they come from: the home's seeded
`catalog/`, else the shipped seeds). The model names the catalog's digest (the SQLMesh variable
`casper_catalog`), so a seeding changes its fingerprint and the next `casper pipeline` rebuilds it,
as SQLMesh rebuilds a changed seed. In unit tests (stage `testing`) the rows are those of the
`catalog_fixture` variable; in every other stage, none.

`@location_code(location_id)` expands to the home's mapping of the reference's integer location ids
to location codes (`CASE ... END`, NULL for an id it does not know, or when the home has none),
read when the landing model is evaluated: the landing log resolves a reference event's location
when it ingests it. It does not name the digest, so seeding never rebuilds the landing log.
"""

from __future__ import annotations

from pathlib import Path

from sqlglot import exp, parse_one
from sqlmesh import macro
from sqlmesh.core.macros import MacroEvaluator, RuntimeStage

from casper.catalog import home as catalog
from casper.tick_templates import not_templatable


def _relation(name: str, rows: list) -> exp.Expr:
    columns = catalog.TABLES[name]
    if not rows:
        casts = ", ".join(f'CAST(NULL AS {kind}) AS "{column}"' for column, _, kind in columns)
        return parse_one(f"SELECT {casts} WHERE 1 = 0", dialect="duckdb").subquery()
    values = exp.values(
        [tuple(exp.convert(value) for value in row) for row in rows],
        alias="v",
        columns=[column for column, _, _ in columns],
    )
    casts = [
        exp.cast(exp.column(column, table="v"), kind, dialect="duckdb").as_(column)
        for column, _, kind in columns
    ]
    return exp.select(*casts).from_(values).subquery()


@macro()
def catalog_rows(evaluator: MacroEvaluator, table: exp.Expr) -> exp.Expr:
    """A subquery with the rows of simulator.<table> (see the module docstring)."""
    name = table.name
    stage = evaluator.runtime_stage
    if stage == RuntimeStage.TESTING.value:
        rows = [tuple(row) for row in (evaluator.var("catalog_fixture") or {}).get(name, [])]
    elif stage == RuntimeStage.EVALUATING.value:
        not_templatable()  # read from the home's catalog as it is now
        evaluator.var("casper_catalog")  # the digest: part of the model's fingerprint
        rows = catalog.read_table(Path(evaluator.var("casper_home")), name).rows()
    else:
        rows = []
    return _relation(name, rows)


@macro()
def location_code(evaluator: MacroEvaluator, location_id: exp.Expr) -> exp.Expr:
    """The location code of a reference location id (text), or NULL (see the module docstring)."""
    stage = evaluator.runtime_stage
    if stage == RuntimeStage.TESTING.value:
        codes = {int(k): v for k, v in (evaluator.var("locations_fixture") or {}).items()}
    elif stage == RuntimeStage.EVALUATING.value:
        not_templatable()  # read from the home's catalog as it is now
        codes = catalog.location_codes(Path(evaluator.var("casper_home")))
    else:
        codes = {}
    if not codes:
        return exp.cast(exp.null(), "VARCHAR")
    case = exp.Case(this=exp.func("TRIM", location_id))
    for location_id_value, code in sorted(codes.items()):
        case = case.when(exp.Literal.string(str(location_id_value)), exp.Literal.string(code))
    return case
