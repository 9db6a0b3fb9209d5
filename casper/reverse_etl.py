"""Reverse ETL: new and changed recommendations (and their orders' context) from the warehouse into
the app store, where the review app reads them. Incremental and idempotent."""

from __future__ import annotations

import polars as pl

from casper.appstore import AppStore
from casper.appstore.sync import SyncReport, sync_frames
from casper.engine import Engine
from casper.refunds.service import location_titles


def sync_to_store(engine: Engine, store: AppStore) -> SyncReport:
    """Everything scored after the newest recommendation the store holds."""
    recommendations, context = engine.warehouse().sync_frames(store.newest_scored_ts())
    if recommendations.is_empty():
        return SyncReport(upserted=0, unchanged=0)
    titles = location_titles()
    context = context.with_columns(
        location_title=pl.col("location").replace_strict(titles, default=pl.col("location"))
    )
    return sync_frames(store, recommendations, context)
