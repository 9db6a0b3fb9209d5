"""Reverse ETL: new and changed recommendations (and their orders' context) from the warehouse into
the app store, where the review app reads them. Incremental and idempotent."""

from __future__ import annotations

import polars as pl

from casper.appstore import AppStore
from casper.appstore.sync import BATCH_ORDERS, SyncReport, sync_frames
from casper.engine import Engine
from casper.refunds.service import location_titles


def sync_to_store(engine: Engine, store: AppStore) -> SyncReport:
    """Everything scored after the newest recommendation the store holds, a batch at a time from
    the warehouse into the store (oldest first, each batch its own transaction), so a year's first
    sync holds one batch in memory, and a sync stopped midway resumes from the store's newest."""
    upserted = unchanged = 0
    titles = location_titles()
    batches = engine.warehouse().sync_batches(store.newest_scored_ts(), BATCH_ORDERS)
    for recommendations, context in batches:
        context = context.with_columns(
            location_title=pl.col("location").replace_strict(titles, default=pl.col("location"))
        )
        report = sync_frames(store, recommendations, context)
        upserted, unchanged = upserted + report.upserted, unchanged + report.unchanged
    return SyncReport(upserted=upserted, unchanged=unchanged)
