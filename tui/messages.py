"""What the review app's workers report back to the screen, one typed message per result."""

from __future__ import annotations

from textual.message import Message

from casper.appstore import (
    BulkAcceptPreview,
    Decision,
    ListFilters,
    ListPage,
    OrderDetail,
    Summary,
)


class PageLoaded(Message):
    def __init__(self, page: ListPage, page_number: int, focus_order_id: str | None) -> None:
        super().__init__()
        self.page = page
        self.page_number = page_number
        self.focus_order_id = focus_order_id


class SummaryLoaded(Message):
    def __init__(self, summary: Summary) -> None:
        super().__init__()
        self.summary = summary


class LocationsLoaded(Message):
    def __init__(self, locations: list[str]) -> None:
        super().__init__()
        self.locations = locations


class StoreChanged(Message):
    """A sync or another reviewer changed the store since the screen last loaded."""


class DetailLoaded(Message):
    def __init__(self, detail: OrderDetail | None, order_id: str) -> None:
        super().__init__()
        self.detail = detail
        self.order_id = order_id


class DecisionSaved(Message):
    def __init__(self, decision: Decision, next_order_id: str | None) -> None:
        super().__init__()
        self.decision = decision
        self.next_order_id = next_order_id


class BulkPreviewReady(Message):
    def __init__(self, preview: BulkAcceptPreview, filters: ListFilters) -> None:
        super().__init__()
        self.preview = preview
        self.filters = filters


class BulkAccepted(Message):
    def __init__(self, accepted: int) -> None:
        super().__init__()
        self.accepted = accepted


class StoreFailed(Message):
    """A store call failed or a rule refused it; `severity` is Textual's notify severity."""

    def __init__(self, text: str, severity: str = "error") -> None:
        super().__init__()
        self.text = text
        self.severity = severity


class ExportWritten(Message):
    def __init__(self, path: str, count: int) -> None:
        super().__init__()
        self.path = path
        self.count = count
