"""Reverse ETL: copy the warehouse's recommendations (and their orders' context) into the app store.

Idempotent and incremental: rows are upserted by order_id and only the ones that differ from what the
store holds are written, so syncing the same frames twice reports 0 upserted the second time, and a
re-scored order (new model_version or different content) replaces its old recommendation.

The suggestion is parsed from `agent_response`, the column the reference's app reads; the scorer's
separate refund_class / refund_usd / reason columns, if present, are not used, so a corrupt response
shows as an `error` suggestion instead of hiding behind well-formed columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

from casper.appstore.schema import CONTEXT_COLUMNS
from casper.appstore.store import AppStore
from casper.appstore.suggestion import parse_agent_response, to_cents
from casper.errors import CasperError

RECOMMENDATION_FRAME_COLUMNS = ("order_id", "ts", "agent_response", "model_version", "location")
# the frame carries exactly what the store keeps of an order
CONTEXT_FRAME_COLUMNS = CONTEXT_COLUMNS


class SyncInputError(CasperError):
    """A frame handed to the sync lacks columns it needs."""


@dataclass(frozen=True)
class SyncReport:
    upserted: int  # recommendations inserted or replaced
    unchanged: int  # recommendations already held exactly so


def _require(frame: pl.DataFrame, columns: tuple[str, ...], name: str) -> pl.DataFrame:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise SyncInputError(f"{name} frame lacks columns: {', '.join(missing)}")
    return frame.select(columns)


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _latest_per_order(frame: pl.DataFrame, ts_column: str | None) -> pl.DataFrame:
    # One row per order_id: an upsert cannot touch the same key twice in one statement.
    if ts_column is not None:
        frame = frame.sort(ts_column, nulls_last=False)
    return frame.unique(subset="order_id", keep="last", maintain_order=True)


def recommendation_rows(recommendations: pl.DataFrame) -> list[tuple]:
    frame = _latest_per_order(
        _require(recommendations, RECOMMENDATION_FRAME_COLUMNS, "recommendations"), "ts"
    )
    rows = []
    for order_id, ts, agent_response, model_version, location in frame.iter_rows():
        suggestion = parse_agent_response(agent_response)
        rows.append(
            (
                order_id,
                _naive_utc(ts),
                agent_response,
                model_version,
                location,
                suggestion.refund_class,
                suggestion.refund_usd,
                suggestion.reason,
                suggestion.error,
            )
        )
    return rows


def context_rows(context: pl.DataFrame) -> list[tuple]:
    frame = _latest_per_order(_require(context, CONTEXT_FRAME_COLUMNS, "context"), None)
    rows = []
    for (
        order_id,
        title,
        total,
        minutes,
        p50,
        p75,
        p99,
        created,
        events,
        items,
        route,
    ) in frame.iter_rows():
        rows.append(
            (
                order_id,
                title,
                None if total is None else to_cents(total),
                minutes,
                p50,
                p75,
                p99,
                _naive_utc(created),
                events or "[]",
                items or "[]",
                route or "[]",
            )
        )
    return rows


def sync_frames(
    store: AppStore, recommendations: pl.DataFrame, context: pl.DataFrame
) -> SyncReport:
    """Upsert recommendations and their orders' context in one transaction."""
    upserted, unchanged = store.upsert_synced(
        recommendation_rows(recommendations), context_rows(context)
    )
    return SyncReport(upserted=upserted, unchanged=unchanged)
