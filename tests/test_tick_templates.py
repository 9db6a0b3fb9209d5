"""casper.tick_templates' rules, on stand-ins for a model and SQLMesh's render (the real project's
queries are checked against SQLMesh in tests/test_pipeline.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from sqlglot import exp
from sqlmesh.core.dialect import parse_one

from casper.tick_templates import TickTemplates, not_templatable, tick_value
from casper.watermarks import _watermarks, record_watermark

TABLE = '"warehouse"."lakeflow"."t"'


@pytest.fixture(autouse=True)
def _no_recorded_watermarks():
    saved = dict(_watermarks)
    _watermarks.clear()
    yield
    _watermarks.clear()
    _watermarks.update(saved)


@dataclass
class Rendering:
    """SQLMesh's render of a model whose macro filters on the rows its evaluation added (as
    @added_rows does): `batch_no > <watermark>`, or TRUE when none was recorded."""

    query_sql: str = "SELECT * FROM t"
    templatable: bool = True
    calls: int = 0
    model: SimpleNamespace = field(init=False)

    def __post_init__(self) -> None:
        self.model = SimpleNamespace(
            fqn=TABLE, name="lakeflow.t", dialect="duckdb", time_column=None,
            query=parse_one(self.query_sql, dialect="duckdb"),
        )  # fmt: skip

    def __call__(self, **kwargs) -> exp.Query:
        self.calls += 1
        if not self.templatable:
            not_templatable()
        evaluator = SimpleNamespace(this_model=TABLE, dialect="duckdb", locals={},
                                    engine_adapter=kwargs["engine_adapter"])  # fmt: skip
        value = tick_value(evaluator, "added_watermark")
        condition = exp.true() if value is None else exp.column("batch_no") > value
        return exp.select("*").from_("t").where(condition)


def _render(templates: TickTemplates, rendering: Rendering, **kwargs) -> str:
    with templates.serving():
        query = templates.render(
            rendering, rendering.model, None, {"engine_adapter": object(), **kwargs}
        )
    return query.sql(dialect="duckdb")


def test_a_template_is_rendered_once_and_filled_with_the_value_of_each_call():
    templates, rendering = TickTemplates(), Rendering()
    record_watermark(TABLE, 10)
    assert _render(templates, rendering) == "SELECT * FROM t WHERE batch_no > 10"
    record_watermark(TABLE, 25)
    assert _render(templates, rendering) == "SELECT * FROM t WHERE batch_no > 25"
    assert rendering.calls == 1 and templates.reused == 1


def test_a_template_made_while_a_value_was_missing_holds_only_while_it_is():
    templates, rendering = TickTemplates(), Rendering()
    assert _render(templates, rendering) == "SELECT * FROM t WHERE TRUE"
    assert _render(templates, rendering) == "SELECT * FROM t WHERE TRUE"
    assert rendering.calls == 1
    record_watermark(TABLE, 7)  # the macro's shape changes: rendered again
    assert _render(templates, rendering) == "SELECT * FROM t WHERE batch_no > 7"
    assert rendering.calls == 2
    _watermarks.clear()  # and back
    assert _render(templates, rendering) == "SELECT * FROM t WHERE TRUE"
    assert rendering.calls == 3


def test_a_query_whose_macro_is_not_templatable_is_rendered_every_time():
    templates, rendering = TickTemplates(), Rendering(templatable=False)
    record_watermark(TABLE, 3)
    assert _render(templates, rendering) == "SELECT * FROM t WHERE batch_no > 3"
    assert _render(templates, rendering) == "SELECT * FROM t WHERE batch_no > 3"
    assert rendering.calls == 2 and templates.reused == 0


def test_a_query_naming_a_time_variable_is_never_templated():
    templates = TickTemplates()
    rendering = Rendering("SELECT * FROM t WHERE ts <= @end_ts")
    _render(templates, rendering)
    _render(templates, rendering)
    assert rendering.calls == 2 and templates.reused == 0


def test_other_render_arguments_get_their_own_template():
    templates, rendering = TickTemplates(), Rendering()
    _render(templates, rendering, runtime_stage="evaluating", batch_index=0)
    _render(templates, rendering, runtime_stage="evaluating", batch_index=1)
    _render(templates, rendering, runtime_stage="evaluating", batch_index=0)
    assert rendering.calls == 2 and templates.reused == 1
    # an argument it cannot tell apart from another: no template
    _render(templates, rendering, unknown=object())
    _render(templates, rendering, unknown=object())
    assert rendering.calls == 4


def test_outside_a_tick_the_macro_value_is_a_literal():
    record_watermark(TABLE, 42)
    evaluator = SimpleNamespace(this_model=TABLE, dialect="duckdb", locals={}, engine_adapter=None)
    assert tick_value(evaluator, "added_watermark") == exp.Literal.number(42)
