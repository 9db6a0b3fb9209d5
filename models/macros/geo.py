"""Portable geometry: plain arithmetic that every engine's SQL dialect can run."""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro
from sqlmesh.core.macros import MacroEvaluator

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)


@macro()
def haversine_km(
    evaluator: MacroEvaluator, lat1: exp.Expr, lon1: exp.Expr, lat2: exp.Expr, lon2: exp.Expr
) -> exp.Expr:
    """Great-circle distance in km between two points given in degrees (NULL if any is NULL).

    No clamping of the haversine term with LEAST: LEAST skips NULLs in DuckDB and Spark, which would
    turn a missing point into half the Earth's circumference.
    """
    a, b, c, d = (f"({e.sql(dialect=evaluator.dialect)})" for e in (lat1, lon1, lat2, lon2))
    inner = (
        f"POWER(SIN(RADIANS({c} - {a}) / 2), 2)"
        f" + COS(RADIANS({a})) * COS(RADIANS({c})) * POWER(SIN(RADIANS({d} - {b}) / 2), 2)"
    )
    return exp.maybe_parse(
        f"2 * {EARTH_RADIUS_KM} * ASIN(SQRT({inner}))", dialect=evaluator.dialect
    )
