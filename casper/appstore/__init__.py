"""The app store: the reference's Lakebase stage, local-first.

`open_store(home, dsn)` gives an `AppStore` on the embedded SQLite store (no server) or on PostgreSQL
by DSN; `sync_frames` is the reverse ETL into it; the store's methods are everything the review app
reads and writes. Nothing here imports a UI toolkit.
"""

from casper.appstore.decisions import (
    DecisionDraft,
    InvalidDecision,
    accept_draft,
    deny_draft,
    validate_decision,
)
from casper.appstore.export import export_decisions_csv
from casper.appstore.records import (
    BulkAcceptPreview,
    Decision,
    ListFilters,
    ListPage,
    OrderDetail,
    PageCursor,
    RecommendationRow,
    Summary,
)
from casper.appstore.store import (
    AppStore,
    InvalidFilter,
    StaleSuggestion,
    StoreError,
    check_search,
    open_store,
    store_counts,
)
from casper.appstore.suggestion import Suggestion, parse_agent_response
from casper.appstore.sync import SyncInputError, SyncReport, sync_frames

__all__ = [
    "AppStore",
    "BulkAcceptPreview",
    "Decision",
    "DecisionDraft",
    "InvalidDecision",
    "InvalidFilter",
    "ListFilters",
    "ListPage",
    "OrderDetail",
    "PageCursor",
    "RecommendationRow",
    "StaleSuggestion",
    "StoreError",
    "Suggestion",
    "Summary",
    "SyncInputError",
    "SyncReport",
    "accept_draft",
    "check_search",
    "deny_draft",
    "export_decisions_csv",
    "open_store",
    "parse_agent_response",
    "store_counts",
    "sync_frames",
    "validate_decision",
]
