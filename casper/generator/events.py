"""Turning simulated orders into reference-shaped events (SPEC.md section 1): bodies, ids, DQ nulls."""

from __future__ import annotations

import numpy as np
import polars as pl

EVENT_COLUMNS = (
    "event_id",
    "event_type",
    "ts",
    "gk_id",
    "location",
    "order_id",
    "sequence",
    "body",
)
TS_FORMAT = "%Y-%m-%d %H:%M:%S%.6f"


def hex_ids(rng: np.random.Generator, count: int, nbytes: int) -> np.ndarray:
    """`count` random lowercase hex ids of 2 * nbytes characters, without a Python loop."""
    text = rng.bytes(count * nbytes).hex().encode("ascii")
    return np.frombuffer(text, dtype=f"S{2 * nbytes}").astype(f"U{2 * nbytes}")


def number(values: np.ndarray, decimals: int) -> pl.Expr:
    """A JSON number, rounded."""
    return pl.lit(pl.Series(np.round(values, decimals))).cast(pl.String)


def json_string(values) -> pl.Expr:
    """A JSON string literal: quoted, with backslashes and quotes escaped."""
    text = pl.lit(pl.Series(values, dtype=pl.String))
    escaped = text.str.replace_all("\\", "\\\\", literal=True).str.replace_all(
        '"', '\\"', literal=True
    )
    return pl.concat_str([pl.lit('"'), escaped, pl.lit('"')])


def json_object(fields: dict[str, pl.Expr], nulls: dict[str, np.ndarray] | None = None) -> pl.Expr:
    """'{"a": <a>, "b": <b>}' where each value is already JSON text; DQ masks turn values to null."""
    parts: list[pl.Expr] = []
    for position, (name, value) in enumerate(fields.items()):
        if nulls and name in nulls:
            value = pl.when(pl.lit(pl.Series(nulls[name]))).then(pl.lit("null")).otherwise(value)
        separator = "{" if position == 0 else ", "
        parts += [pl.lit(f'{separator}"{name}": '), value]
    parts.append(pl.lit("}"))
    return pl.concat_str(parts)


def dq_masks(
    rng: np.random.Generator, dq: dict[str, float] | None, fields: tuple[str, ...], size: int
) -> dict[str, np.ndarray]:
    """For each configured body field, which rows to write as null (SPEC.md: dq injection).

    Every field of the type draws, configured or not, so adding one DQ rule does not shift the others.
    """
    draws = {name: rng.random(size) for name in fields}
    return {name: draws[name] < p for name, p in (dq or {}).items() if p > 0}


def block(
    *,
    event_type: str,
    order_index: np.ndarray,
    sequence: np.ndarray,
    ts_us: np.ndarray,
    body: pl.Expr,
) -> pl.DataFrame:
    """The events of one type, before ids and order-level columns are attached."""
    return pl.select(
        order_index=pl.lit(pl.Series(order_index, dtype=pl.Int64)),
        event_type=pl.lit(event_type),
        sequence=pl.lit(pl.Series(sequence, dtype=pl.Int64)),
        ts_us=pl.lit(pl.Series(ts_us, dtype=pl.Int64)),
        body=body,
    )


def empty_events() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "event_id": pl.String,
            "event_type": pl.String,
            "ts": pl.String,
            "gk_id": pl.String,
            "location": pl.String,
            "order_id": pl.String,
            "sequence": pl.Int64,
            "body": pl.String,
            "ts_us": pl.Int64,
        }
    )


def to_ndjson(events: pl.DataFrame) -> bytes:
    """The landing file's bytes: one event per line, the reference's field order."""
    if events.is_empty():
        return b""
    return events.select(EVENT_COLUMNS).write_ndjson().encode("utf-8")
