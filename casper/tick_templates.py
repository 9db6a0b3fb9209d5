"""A Pipeline's rendered queries, kept across its ticks with only their changing values filled in.

Rendering is most of a tick's work: for each query SQLMesh expands the macros on a copy of its
syntax tree, prints and parses the result again, then qualifies and quotes every table, for the
tick's seven models and their audits, every tick. Between two ticks of one Pipeline a query changes
only by what the project's macros read as it is evaluated: the batch watermarks
(casper.watermarks). So a query (a model's, or an audit's for that model) is rendered once, with a
marker, CASPER_TICK_VALUE('<kind>', '<table>'), where each such value goes: its template. Every
render, the first included, is a copy of its template with the markers replaced by the values as
they are now, read by the same functions the macros call (`VALUES`).

What keeps a template exact:
- a macro whose output is no such value (the list of landing files, the home's catalog) says so
  (`not_templatable`): a query it takes part in is rendered afresh every time;
- a template serves the render arguments it was made with: the model, the audit and its
  arguments, the runtime stage, the snapshots the tables are resolved against, every other
  argument but the time range and the engine adapter;
- so the time range must not matter: a model whose kind has a time column, or a query naming a time
  macro variable (@start_ds, @execution_ts...), is never templated;
- where a macro returns another shape when a value is missing (an audit before any evaluation
  recorded a watermark: every row), the template holds only while the value is still missing.
Only a Pipeline's own ticks use templates, on the thread running them (`TickTemplates.serving`):
a plan, the `sqlmesh` CLI and the unit tests render as SQLMesh does.
"""

from __future__ import annotations

import contextlib
import enum
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from casper.watermarks import added_watermark, batch_watermark

MARKER = "CASPER_TICK_VALUE"

#: the values a template leaves open: kind -> reader(adapter, table, dialect, snapshot)
VALUES: dict[str, Callable[[Any, str, str, Any], int | None]] = {
    "batch_watermark": batch_watermark,
    "added_watermark": added_watermark,
}

#: the render arguments a template does not depend on (the time range: see the module docstring)
_UNKEYED = frozenset({"start", "end", "execution_time", "engine_adapter"})
#: SQLMesh's time macro variables start so (@start_ds, @end_ts, @execution_dt, @latest_ds...)
_TIME_VARIABLES = ("start_", "end_", "execution_", "latest_")

_thread = threading.local()


def tick_value(evaluator: Any, kind: str) -> Any:
    """For a macro: the value `kind` of the model being rendered, as a literal (None when the
    value is missing); while a template is rendered, the marker standing for it instead."""
    from sqlglot import exp

    table, dialect = evaluator.this_model, evaluator.dialect
    rendering: _Rendering | None = getattr(_thread, "rendering", None)
    if rendering is not None and rendering.engine_adapter is not None:
        value = VALUES[kind](
            rendering.engine_adapter, table, dialect, evaluator.locals.get("snapshot")
        )
        rendering.shape.append((kind, table, value is None))
        if value is None:
            return None
        return exp.Anonymous(
            this=MARKER, expressions=[exp.Literal.string(kind), exp.Literal.string(table)]
        )
    value = VALUES[kind](evaluator.engine_adapter, table, dialect, evaluator.locals.get("snapshot"))
    return None if value is None else exp.Literal.number(value)


def not_templatable() -> None:
    """For a macro whose output is not a `tick_value`: the query being rendered is not kept."""
    rendering: _Rendering | None = getattr(_thread, "rendering", None)
    if rendering is not None:
        rendering.templatable = False


@dataclass
class _Rendering:
    """What the macros of the query being rendered as a template said about it."""

    engine_adapter: Any
    templatable: bool = True
    #: (kind, table, whether it was missing) of every value the macros read: a macro may return
    #: another shape when a value is missing, so the template holds while each still is or is not
    shape: list[tuple[str, str, bool]] = field(default_factory=list)


@dataclass(frozen=True)
class _Template:
    #: the model it renders for, kept so that its id (part of the key) is not reused
    model: Any
    query: Any
    has_markers: bool
    shape: tuple[tuple[str, str, bool], ...]


class _Stale(Exception):
    """A template no longer fits: a value it left open is missing, or one it took as missing is not."""


class TickTemplates:
    """The templates of one Pipeline's queries (see the module docstring)."""

    def __init__(self) -> None:
        self._templates: dict[tuple, _Template | None] = {}
        #: by id of the model or audit, kept with it so that the id is not reused
        self._time_free: dict[int, tuple[Any, bool]] = {}
        self._lock = threading.Lock()
        #: renders served from a kept template / rendered by SQLMesh (for the benchmarks and tests)
        self.reused = 0
        self.rendered = 0

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """Renders on this thread use (and make) this object's templates while inside."""
        _install()
        previous = getattr(_thread, "templates", None)
        _thread.templates = self
        try:
            yield
        finally:
            _thread.templates = previous

    def render(self, render: Callable[..., Any], model: Any, audit: Any, kwargs: dict) -> Any:
        """`render(**kwargs)` (SQLMesh's render of `model`'s query, or of `audit` on `model`), from
        its template when one fits."""
        key = self._key(model, audit, kwargs)
        if key is None:
            return render(**kwargs)
        with self._lock:
            template = self._templates.get(key)
        if template is not None:
            try:
                query = _fill(template, model.dialect, kwargs)
            except _Stale:
                pass
            else:
                self.reused += 1
                return query
        elif key in self._templates:  # known not templatable
            return render(**kwargs)
        rendering = _Rendering(kwargs.get("engine_adapter"))
        outer, _thread.rendering = getattr(_thread, "rendering", None), rendering
        try:
            query = render(**kwargs)
        finally:
            _thread.rendering = outer
        self.rendered += 1
        if query is None:
            return None
        made = _Template(model, query, any(_markers(query)), tuple(rendering.shape))
        with self._lock:
            self._templates[key] = made if rendering.templatable else None
        return _fill(made, model.dialect, kwargs)

    def _key(self, model: Any, audit: Any, kwargs: dict) -> tuple | None:
        """What a rendered query depends on besides its open values, or None: not templatable."""
        if not self._is_time_free(model, audit):
            return None
        parts: list[Any] = [id(model), model.fqn, getattr(audit, "name", None)]
        for name in sorted(kwargs):
            if name in _UNKEYED:
                continue
            part = _key_part(kwargs[name])
            if part is _UNKNOWN:
                return None
            parts.append((name, part))
        return tuple(parts)

    def _is_time_free(self, model: Any, audit: Any) -> bool:
        query_of = audit if audit is not None else model
        known = self._time_free.get(id(query_of))
        if known is None:
            known = self._time_free[id(query_of)] = (query_of, _time_free(model, audit))
        return known[1]


_UNKNOWN = object()


def _key_part(value: Any) -> Any:
    from sqlglot import exp

    if value is None or isinstance(value, str | int | float | bool | enum.Enum):
        return value
    if isinstance(value, exp.Expr):
        return value.sql()
    if isinstance(value, dict):  # snapshots by name
        parts = [(name, _key_part(item)) for name, item in sorted(value.items())]
        return _UNKNOWN if any(part is _UNKNOWN for _, part in parts) else tuple(parts)
    if isinstance(value, tuple | list | set | frozenset):  # expand, selected_models: names
        items = [_key_part(item) for item in value]
        if any(item is _UNKNOWN for item in items):
            return _UNKNOWN
        return (
            type(value).__name__,
            tuple(sorted(items, key=repr)) if isinstance(value, set | frozenset) else tuple(items),
        )
    snapshot_id = getattr(value, "snapshot_id", None)
    if snapshot_id is not None:  # a snapshot
        return (snapshot_id.name, snapshot_id.identifier, bool(value.intervals))
    if hasattr(value, "model_dump_json"):  # pydantic: the deployability index, the environment
        return (type(value).__name__, value.model_dump_json())
    return _UNKNOWN


def _time_free(model: Any, audit: Any) -> bool:
    """Whether the query's SQL depends on no time range (see the module docstring)."""
    from sqlmesh.core.dialect import JinjaQuery, MacroVar

    if getattr(model, "time_column", None) is not None:
        return False
    query = audit.query if audit is not None else getattr(model, "query", None)
    if query is None or isinstance(query, JinjaQuery):
        return False
    return not any(
        variable.name.lower().startswith(_TIME_VARIABLES) for variable in query.find_all(MacroVar)
    )


def _markers(query: Any) -> Iterator[Any]:
    from sqlglot import exp

    for node in query.find_all(exp.Anonymous):
        if node.name.upper() == MARKER:
            yield node


def _fill(template: _Template, dialect: str, kwargs: dict) -> Any:
    """A copy of the template's query with its markers replaced by the values now."""
    from sqlglot import exp

    adapter, snapshot = kwargs.get("engine_adapter"), kwargs.get("snapshot")
    if adapter is None and (template.has_markers or template.shape):
        raise _Stale
    values: dict[tuple[str, str], int | None] = {}

    def now(kind: str, table: str) -> int | None:
        if (kind, table) not in values:
            values[kind, table] = VALUES[kind](adapter, table, dialect, snapshot)
        return values[kind, table]

    if any((now(kind, table) is None) != missing for kind, table, missing in template.shape):
        raise _Stale
    query = template.query.copy()
    for marker in list(_markers(query)) if template.has_markers else ():
        kind, table = (argument.name for argument in marker.expressions)
        marker.replace(exp.Literal.number(now(kind, table)))
    return query


_installed = threading.Lock()


def _install() -> None:
    """Route SQLMesh's renders of model and audit queries through the thread's templates, if any
    (once per process; with none serving, a render is SQLMesh's own)."""
    from sqlmesh.core.model.definition import SqlModel, _Model

    with _installed:
        if getattr(SqlModel.render_query, "casper_templated", False):
            return
        render_query = SqlModel.render_query
        render_audit_query = _Model.render_audit_query

        def templated_query(self, **kwargs):
            templates: TickTemplates | None = getattr(_thread, "templates", None)
            if templates is None:
                return render_query(self, **kwargs)
            return templates.render(lambda **given: render_query(self, **given), self, None, kwargs)

        def templated_audit_query(self, audit, **kwargs):
            templates: TickTemplates | None = getattr(_thread, "templates", None)
            if templates is None:
                return render_audit_query(self, audit, **kwargs)
            return templates.render(
                lambda **given: render_audit_query(self, audit, **given), self, audit, kwargs
            )

        templated_query.casper_templated = True  # type: ignore[attr-defined]
        SqlModel.render_query = templated_query  # type: ignore[method-assign]
        _Model.render_audit_query = templated_audit_query  # type: ignore[method-assign]
