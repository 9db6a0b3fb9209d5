"""The main screen: summary, filters, and the recommendations newest first, a page at a time."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header, Input, Select, Static
from textual.worker import get_current_worker

from casper.appstore import (
    InvalidDecision,
    ListFilters,
    ListPage,
    PageCursor,
    RecommendationRow,
    StoreError,
    export_decisions_csv,
)
from casper.appstore.records import STATUSES
from casper.appstore.suggestion import SUGGESTION_CLASSES
from tui.deciding import DecidingScreen
from tui.detail_screen import DetailScreen
from tui.dialogs import ConfirmDialog
from tui.formatting import money
from tui.keymap import LIST_BINDINGS
from tui.messages import (
    BulkAccepted,
    BulkPreviewReady,
    ExportWritten,
    LocationsLoaded,
    PageLoaded,
    StoreChanged,
    StoreFailed,
    SummaryLoaded,
)
from tui.widgets import RecommendationTable, SearchInput, SummaryBar


class ReviewScreen(DecidingScreen):
    BINDINGS = LIST_BINDINGS
    AUTO_FOCUS = "#recommendations"
    DEFAULT_CSS = """
    ReviewScreen #filters { height: 3; padding: 0 1; }
    ReviewScreen #filters Select { width: 22; margin-right: 1; }
    ReviewScreen #search { width: 1fr; }
    ReviewScreen #recommendations { height: 1fr; }
    ReviewScreen #pager { height: 1; padding: 0 1; background: $boost; color: $text-muted; }
    """

    def __init__(self, page_size: int) -> None:
        super().__init__()
        self.page_size = page_size
        self.filters = ListFilters()
        # Where each page visited so far starts; the last one is the page on screen.
        self.page_starts: list[PageCursor | None] = [None]
        self.page: ListPage | None = None  # the page on screen
        self.page_loading = False  # paging keys wait for the page asked for
        self.locations: list[str] = []
        self.seen_revision: object = None
        self.store_unreachable = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield SummaryBar(id="summary")
        with Horizontal(id="filters"):
            yield Select(
                [(status, status) for status in STATUSES], prompt="Any status", id="status"
            )
            yield Select(
                [(name, name) for name in SUGGESTION_CLASSES], prompt="Any class", id="class"
            )
            yield Select([], prompt="Any location", id="location")
            yield SearchInput(placeholder="Search order id  ( / )", id="search")
        yield RecommendationTable(id="recommendations")
        yield Static("Loading…", id="pager")
        yield Footer()

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.reload())
        self.reload()
        self.set_interval(self.review_app.refresh_seconds, self.poll_store)

    def on_screen_resume(self) -> None:
        # Back from an order's detail, where a decision may have been made.
        if self.page is not None:
            self.reload()

    # --- loading ----------------------------------------------------------------------------

    def reload(self, focus_order_id: str | None = None) -> None:
        """Summary, locations and the page on screen, again, keeping the highlighted order."""
        self.load_summary()
        self.load_locations()
        self.load_page(focus_order_id or self.highlighted_order_id())

    def restart_from_first_page(self) -> None:
        self.page_starts = [None]
        self.load_page(None)

    def load_page(self, focus_order_id: str | None) -> None:
        self.page_loading = True
        self.fetch_page(self.filters, self.page_starts[-1], len(self.page_starts), focus_order_id)

    @work(thread=True, exclusive=True, group="page")
    def fetch_page(
        self,
        filters: ListFilters,
        start: PageCursor | None,
        page_number: int,
        focus_order_id: str | None,
    ) -> None:
        try:
            page = self.review_app.store.page(filters, start, self.page_size)
        except StoreError as failed:
            self.post_message(StoreFailed(str(failed)))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(PageLoaded(page, page_number, focus_order_id))

    @work(thread=True, exclusive=True, group="summary")
    def load_summary(self) -> None:
        store = self.review_app.store
        try:
            self.seen_revision = store.revision()
            summary = store.summary()
        except StoreError as failed:
            self.post_message(StoreFailed(str(failed)))
            return
        self.post_message(SummaryLoaded(summary))

    @work(thread=True, exclusive=True, group="locations")
    def load_locations(self) -> None:
        try:
            self.post_message(LocationsLoaded(self.review_app.store.locations()))
        except StoreError as failed:
            self.post_message(StoreFailed(str(failed)))

    @work(thread=True, exclusive=True, group="poll")
    def poll_store(self) -> None:
        """Notice syncs (and other reviewers) within one refresh interval."""
        try:
            revision = self.review_app.store.revision()
        except StoreError as failed:
            if not self.store_unreachable:
                self.store_unreachable = True
                self.post_message(StoreFailed(f"{failed}; retrying"))
            return
        recovered, self.store_unreachable = self.store_unreachable, False
        if recovered or revision != self.seen_revision:
            self.seen_revision = revision
            self.post_message(StoreChanged())

    def on_page_loaded(self, loaded: PageLoaded) -> None:
        page = self.page = loaded.page
        self.page_loading = False
        if not page.rows and len(self.page_starts) > 1:
            # Everything on this page was decided away (say, under the pending filter).
            self.action_previous_page()
            return
        self.query_one(RecommendationTable).show(page.rows, loaded.focus_order_id)
        first = (loaded.page_number - 1) * self.page_size
        pages = -(-page.total // self.page_size)
        self.query_one("#pager", Static).update(
            f"Rows {first + 1:,}–{first + len(page.rows):,} of {page.total:,} · "
            f"page {loaded.page_number:,} of {pages:,}"
            if page.rows
            else "No recommendation matches."
        )

    def on_summary_loaded(self, loaded: SummaryLoaded) -> None:
        self.query_one(SummaryBar).show(loaded.summary)

    def on_locations_loaded(self, loaded: LocationsLoaded) -> None:
        if loaded.locations == self.locations:
            return
        self.locations = loaded.locations
        select = self.query_one("#location", Select)
        chosen = select.value
        with select.prevent(Select.Changed):
            select.set_options([(location, location) for location in loaded.locations])
            if chosen in loaded.locations:
                select.value = chosen

    def on_store_changed(self, _changed: StoreChanged) -> None:
        self.reload()

    def on_store_failed(self, failed: StoreFailed) -> None:
        self.page_loading = False
        self.notify(failed.text, severity=failed.severity, markup=False)
        if failed.severity == "warning":
            self.reload()  # e.g. a suggestion changed under the reviewer: show the new one

    # --- the highlighted order --------------------------------------------------------------

    def highlighted_row(self) -> RecommendationRow | None:
        """The row under the cursor as shown, even while a newer page is on its way."""
        table = self.query_one(RecommendationTable)
        if not table.rows_shown:
            return None
        return table.rows_shown[min(table.cursor_row, len(table.rows_shown) - 1)]

    def highlighted_order_id(self) -> str | None:
        row = self.highlighted_row()
        return row.order_id if row else None

    def decision_target(self) -> tuple[RecommendationRow | None, str | None]:
        row = self.highlighted_row()
        if row is None:
            return None, None
        rows = self.query_one(RecommendationTable).rows_shown
        index = rows.index(row)
        neighbour = rows[index + 1] if index + 1 < len(rows) else rows[index - 1] if index else None
        return row, neighbour.order_id if neighbour else None

    def decision_started(self, next_order_id: str | None) -> None:
        """Move on at once, so a second key press decides the next order, not this one again."""
        table = self.query_one(RecommendationTable)
        order_ids = [row.order_id for row in table.rows_shown]
        if next_order_id in order_ids:
            table.move_cursor(row=order_ids.index(next_order_id), animate=False)

    def decision_stored(self, next_order_id: str | None) -> None:
        self.reload(next_order_id)

    @on(DataTable.RowSelected, "#recommendations")
    def open_order(self, selected: DataTable.RowSelected) -> None:
        self.app.push_screen(DetailScreen(str(selected.row_key.value)))

    # --- filters and paging -----------------------------------------------------------------

    def apply_filters(self, filters: ListFilters) -> None:
        if filters != self.filters:
            self.filters = filters
            self.restart_from_first_page()

    @on(Select.Changed)
    def filter_changed(self, changed: Select.Changed) -> None:
        value = None if changed.value == Select.NULL else str(changed.value)
        field = {"status": "status", "class": "refund_class", "location": "location"}[
            changed.select.id or ""
        ]
        self.apply_filters(replace(self.filters, **{field: value}))

    @on(Input.Changed, "#search")
    def search_changed(self, changed: Input.Changed) -> None:
        refused = changed.validation_result
        if refused is not None and not refused.is_valid:
            # Text neither backend can search for (a NUL, a lone surrogate from pasted bytes): the
            # box is marked and says why; the list keeps the last search that could run.
            self.notify(
                " ".join(refused.failure_descriptions),
                title="Search",
                severity="warning",
                markup=False,
            )
            return
        self.apply_filters(replace(self.filters, search=changed.value))

    @on(Input.Submitted, "#search")
    def search_submitted(self) -> None:
        self.query_one(RecommendationTable).focus()

    def cycle(self, select_id: str, options: list[str]) -> None:
        select = self.query_one(f"#{select_id}", Select)
        values = [Select.NULL, *options]
        position = values.index(select.value) if select.value in values else 0
        select.value = values[(position + 1) % len(values)]

    def action_cycle_status(self) -> None:
        self.cycle("status", list(STATUSES))

    def action_cycle_class(self) -> None:
        self.cycle("class", list(SUGGESTION_CLASSES))

    def action_cycle_location(self) -> None:
        self.cycle("location", self.locations)

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_next_page(self) -> None:
        if not self.page_loading and self.page is not None and self.page.next_cursor is not None:
            self.page_starts.append(self.page.next_cursor)
            self.load_page(None)

    def action_previous_page(self) -> None:
        if not self.page_loading and len(self.page_starts) > 1:
            self.page_starts.pop()
            self.load_page(None)

    # --- bulk accept and export -------------------------------------------------------------

    def action_bulk_accept(self) -> None:
        self.preview_bulk_accept(self.filters)

    @work(thread=True, group="bulk")
    def preview_bulk_accept(self, filters: ListFilters) -> None:
        try:
            preview = self.review_app.store.bulk_accept_preview(filters)
        except StoreError as failed:
            self.post_message(StoreFailed(str(failed)))
            return
        self.post_message(BulkPreviewReady(preview, filters))

    def on_bulk_preview_ready(self, ready: BulkPreviewReady) -> None:
        preview = ready.preview
        if preview.accepted == 0:
            self.notify("No pending suggestion in this selection can be accepted as it is.")
            return
        skipped = (
            f" {preview.skipped:,} pending here will be left for review (error, no reason, "
            "or above the order total)."
            if preview.skipped
            else ""
        )
        question = (
            f"Accept {preview.accepted:,} pending suggestion(s) matching the current filters, "
            f"USD {money(preview.accepted_usd)} in refunds, as {self.review_app.user}?{skipped}"
        )

        def accept_if_confirmed(confirmed: bool | None) -> None:
            if confirmed:
                self.run_bulk_accept(ready.filters)

        self.app.push_screen(ConfirmDialog("Bulk accept", question), accept_if_confirmed)

    @work(thread=True, group="bulk")
    def run_bulk_accept(self, filters: ListFilters) -> None:
        try:
            accepted = self.review_app.store.bulk_accept(filters, self.review_app.user)
        except (StoreError, InvalidDecision) as failed:
            self.post_message(StoreFailed(str(failed)))
            return
        self.post_message(BulkAccepted(accepted))

    def on_bulk_accepted(self, done: BulkAccepted) -> None:
        self.notify(f"Accepted {done.accepted:,} suggestion(s).", title="Bulk accept")
        self.reload()

    def action_export(self) -> None:
        self.export_decisions()

    @work(thread=True, group="export")
    def export_decisions(self) -> None:
        path = self.review_app.export_dir / f"refund-decisions-{datetime.now():%Y%m%d-%H%M%S}.csv"
        try:
            count = export_decisions_csv(self.review_app.store, path)
        except (StoreError, OSError) as failed:
            self.post_message(StoreFailed(str(failed)))
            return
        self.post_message(ExportWritten(str(path), count))

    def on_export_written(self, written: ExportWritten) -> None:
        self.notify(
            f"{written.count:,} decision(s) written to {written.path}", title="Export", markup=False
        )
