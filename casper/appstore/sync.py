"""Reverse ETL: copy the warehouse's recommendations (and their orders' context) into the app store.

Idempotent and incremental: rows are upserted by order_id and only the ones that differ from what the
store holds are written, so syncing the same frames twice reports 0 upserted the second time, and a
re-scored order (new model_version or different content) replaces its old recommendation.

The suggestion is parsed from `agent_response`, the column the reference's app reads; the scorer's
separate refund_class / refund_usd / reason columns, if present, are not used, so a corrupt response
shows as an `error` suggestion instead of hiding behind well-formed columns.

Text neither backend can store alike (a NUL: SQLite would keep it, PostgreSQL refuses it) is kept
with U+FFFD in its place, so the row syncs the same on both; in a recommendation's columns it also
makes the suggestion an error that names the column. The order's context is display text only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from casper.appstore.schema import CONTEXT_COLUMNS
from casper.appstore.store import AppStore
from casper.appstore.suggestion import Suggestion, parse_agent_response, text_error, to_cents
from casper.appstore.text import storable
from casper.errors import CasperError

if TYPE_CHECKING:  # frames come in from the warehouse; this module needs no polars of its own
    import polars as pl

RECOMMENDATION_FRAME_COLUMNS = (
    "order_id",
    "ts",
    "agent_response",
    "model_version",
    "location",
    "order_ts",
)
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


def _kept(value: str | None) -> str | None:
    return None if value is None else storable(value)


def _one_per_stored_id(rows: list[tuple]) -> list[tuple]:
    # Two ids can be one once stored ("o\x00" and "o\ufffd"); the later row (the newer one) wins.
    return list({row[0]: row for row in rows}.values())


def _suggestion(
    order_id: str, agent_response: str | None, model_version: str | None, location: str | None
) -> Suggestion:
    """The suggestion, or an error one naming the first column not both backends can store."""
    for name, value in (
        ("order_id", order_id),
        ("model_version", model_version),
        ("location", location),
    ):
        unstorable = text_error(value, name) if isinstance(value, str) else None
        if unstorable is not None:
            return unstorable
    return parse_agent_response(agent_response)


def _recommendation_rows(recommendations: pl.DataFrame) -> list[tuple]:
    """The store's rows of recommendations already checked and picked one per order."""
    rows = []
    for (
        order_id,
        ts,
        agent_response,
        model_version,
        location,
        order_ts,
    ) in recommendations.iter_rows():
        suggestion = _suggestion(order_id, agent_response, model_version, location)
        rows.append(
            (
                # kept with U+FFFD for what neither backend can store; the error says which
                _kept(order_id),
                _naive_utc(ts),
                _kept(agent_response),
                _kept(model_version),
                _kept(location),
                _naive_utc(order_ts),
                suggestion.refund_class,
                suggestion.refund_usd,
                suggestion.reason,
                suggestion.error,
            )
        )
    return _one_per_stored_id(rows)


def _context_rows(context: pl.DataFrame) -> list[tuple]:
    """The store's rows of order context already checked and picked one per order."""
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
    ) in context.iter_rows():
        rows.append(
            (
                # what the detail screen shows: U+FFFD for what neither backend can store
                _kept(order_id),
                _kept(title),
                None if total is None else to_cents(total),
                minutes,
                p50,
                p75,
                p99,
                _naive_utc(created),
                storable(events or "[]"),
                storable(items or "[]"),
                storable(route or "[]"),
            )
        )
    return _one_per_stored_id(rows)


#: orders per write transaction, and per batch of context casper.reverse_etl reads: what a
#: sync holds in memory at once (a year's first sync, 490K orders, peaks at about 1.6 GiB)
BATCH_ORDERS = 20_000


def sync_frames(
    store: AppStore, recommendations: pl.DataFrame, context: pl.DataFrame
) -> SyncReport:
    """Upsert recommendations and their orders' context, oldest first, each batch of orders (with its
    context) in one transaction. A sync stopped midway has written whole batches only, every one
    older than the rest, so the next sync (from the store's newest ts) takes up exactly the rest."""
    recommendations = _latest_per_order(
        _require(recommendations, RECOMMENDATION_FRAME_COLUMNS, "recommendations"), "ts"
    )
    context = _latest_per_order(_require(context, CONTEXT_FRAME_COLUMNS, "context"), None)
    upserted = unchanged = 0
    starts = range(0, recommendations.height, BATCH_ORDERS)
    for start in starts or [0]:
        batch = recommendations.slice(start, BATCH_ORDERS)
        if start + BATCH_ORDERS >= recommendations.height:  # the last: context of other orders too
            batch_context = context.join(
                recommendations.slice(0, start).select("order_id"), on="order_id", how="anti"
            )
        else:
            batch_context = context.join(batch.select("order_id"), on="order_id", how="semi")
        written, held = store.upsert_synced(
            _recommendation_rows(batch), _context_rows(batch_context)
        )
        upserted, unchanged = upserted + written, unchanged + held
    return SyncReport(upserted=upserted, unchanged=unchanged)
