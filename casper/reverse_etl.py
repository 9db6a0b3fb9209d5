"""Reverse ETL: new and changed recommendations (and their orders' context) from the warehouse into
the app store, where the review app reads them. Incremental and idempotent."""

from __future__ import annotations

import polars as pl

from casper.appstore import AppStore
from casper.appstore.sync import BATCH_ORDERS, SyncReport, sync_frames
from casper.engine import Engine
from casper.refunds.service import location_titles


def sync_to_store(engine: Engine, store: AppStore) -> SyncReport:
    """Everything scored after the newest recommendation the store holds, BATCH_ORDERS orders at a
    time, oldest first: each batch's context is read from the warehouse and the batch written in
    one store transaction, so a year's first sync holds one batch's context in memory, and a sync
    stopped midway resumes from the store's newest."""
    warehouse = engine.warehouse()
    recommendations = warehouse.fresh_recommendations(store.newest_scored_ts())
    titles = location_titles()
    upserted = unchanged = 0
    for first in range(0, recommendations.height, BATCH_ORDERS):
        batch = recommendations.slice(first, BATCH_ORDERS)
        context = warehouse.order_context(batch["order_id"]).with_columns(
            location_title=pl.col("location").replace_strict(titles, default=pl.col("location"))
        )
        report = sync_frames(store, batch, context)
        upserted, unchanged = upserted + report.upserted, unchanged + report.unchanged
    return SyncReport(upserted=upserted, unchanged=unchanged)
