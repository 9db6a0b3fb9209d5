"""What the app store answers with: plain, immutable values that any UI can render."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from casper.appstore.suggestion import Suggestion

STATUSES = ("pending", "applied")


@dataclass(frozen=True)
class ListFilters:
    """Which recommendations the list shows; None means any."""

    status: str | None = None
    refund_class: str | None = None  # the suggested class, `error` included
    location: str | None = None
    search: str = ""  # part of an order id


@dataclass(frozen=True)
class PageCursor:
    """Where a page ends in the newest-first order; the next page starts after it."""

    ts: datetime
    order_id: str


@dataclass(frozen=True)
class Decision:
    id: int
    order_id: str
    decided_ts: datetime
    amount_usd: Decimal
    refund_class: str
    reason: str
    decided_by: str | None
    source_suggestion: dict[str, Any] | None


@dataclass(frozen=True)
class RecommendationRow:
    order_id: str
    scored_ts: datetime
    location: str | None
    model_version: str | None
    suggestion: Suggestion
    order_total: Decimal | None
    latest_decision: Decision | None

    @property
    def status(self) -> str:
        return "applied" if self.latest_decision is not None else "pending"


@dataclass(frozen=True)
class ListPage:
    rows: tuple[RecommendationRow, ...]
    total: int  # recommendations matching the filters, on every page
    next_cursor: PageCursor | None  # None on the last page


@dataclass(frozen=True)
class Summary:
    """Decision figures count each order once, by its latest decision."""

    recommendations: int
    suggested_by_class: dict[str, int]
    suggested_usd: Decimal
    decisions: int
    decided_by_class: dict[str, int]
    decided_usd: Decimal
    pending: int


@dataclass(frozen=True)
class TimelineEvent:
    sequence: int
    event_type: str
    ts: datetime


@dataclass(frozen=True)
class BasketItem:
    name: str
    brand: str
    price: Decimal
    qty: int

    @property
    def line_total(self) -> Decimal:
        return self.price * self.qty


@dataclass(frozen=True)
class OrderDetail:
    recommendation: RecommendationRow
    agent_response: str | None
    location_title: str | None = None
    created_ts: datetime | None = None
    delivery_minutes: float | None = None
    p50: float | None = None
    p75: float | None = None
    p99: float | None = None
    events: tuple[TimelineEvent, ...] = ()
    items: tuple[BasketItem, ...] = ()
    route: tuple[tuple[float, float], ...] = ()
    decisions: tuple[Decision, ...] = ()  # newest first


@dataclass(frozen=True)
class BulkAcceptPreview:
    """What bulk-accepting the filtered pending suggestions would do."""

    accepted: int
    accepted_usd: Decimal
    skipped: int  # error suggestions, amounts above the order total, or no reason
