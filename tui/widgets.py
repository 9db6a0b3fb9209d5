"""The review app's own widgets: the summary bar, the list, the search box, the delivery gauge, the route."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text
from textual.validation import ValidationResult, Validator
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static

from casper.appstore import InvalidFilter, RecommendationRow, Summary, check_search
from tui.braille import plot_route
from tui.formatting import (
    class_styles,
    decision_label,
    delivery_gauge,
    delivery_verdict,
    money,
    refund_class,
    suggestion_amount,
)
from tui.keymap import SEARCH_BINDINGS, TABLE_BINDINGS


class SummaryBar(Static):
    DEFAULT_CSS = """
    SummaryBar { height: 2; padding: 0 1; background: $boost; }
    """

    def show(self, summary: Summary) -> None:
        styles = class_styles(self.app.theme_variables)

        def tally(counts: dict[str, int]) -> list[Text | str]:
            parts: list[Text | str] = []
            for name, count in counts.items():
                parts += [refund_class(name, styles), f" {count:,}  "]
            return parts

        self.update(
            Text.assemble(
                ("Recommendations ", "bold"),
                f"{summary.recommendations:,}   ",
                *tally(summary.suggested_by_class),
                ("suggested USD ", "bold"),
                money(summary.suggested_usd),
                "\n",
                ("Decisions ", "bold"),
                f"{summary.decisions:,}   ",
                *tally(summary.decided_by_class),
                ("decided USD ", "bold"),
                f"{money(summary.decided_usd)}   ",
                ("Pending ", "bold"),
                f"{summary.pending:,}",
            )
        )


class UnmeasuredCell:
    """A table cell's Text, rendered as it is but offering no measure. DataTable measures every
    cell of every row added, to size its auto-width columns: at a hundred rows of eight cells a
    page, the largest part of showing one. RecommendationTable sizes every column itself."""

    __slots__ = ("text",)

    def __init__(self, text: Text) -> None:
        self.text = text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        return self.text.__rich_console__(console, options)


class RecommendationTable(DataTable):
    """One page of recommendations; cells are Text so order ids and reasons show verbatim. The
    columns have fixed widths, the reason's as wide as the widest reason shown so far (what an
    auto-width column would be), so no cell needs measuring."""

    BINDINGS = TABLE_BINDINGS
    FIXED_COLUMNS = (
        ("Scored", 11),
        ("Order", 16),
        ("Location", 13),
        ("Suggested", 9),
        ("USD", 7),
        ("Status", 7),
        ("Decision", 14),
    )
    # The reason takes what the fixed columns leave, so a row reads without scrolling sideways.
    MIN_REASON_WIDTH = 16

    REASON_LABEL = "Reason"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.rows_shown: tuple[RecommendationRow, ...] = ()
        self.reason_column_width = len(self.REASON_LABEL)

    def on_mount(self) -> None:
        self.add_columns_sized()

    def add_columns_sized(self) -> None:
        for label, width in self.FIXED_COLUMNS:
            self.add_column(label, width=width)
        self.add_column(self.REASON_LABEL, width=self.reason_column_width)

    def reason_width(self) -> int:
        padding = 2 * self.cell_padding * (len(self.FIXED_COLUMNS) + 1)
        fixed = sum(width for _, width in self.FIXED_COLUMNS) + padding
        scrollbar = 2  # the vertical scrollbar, when a page is taller than the screen
        return max(self.MIN_REASON_WIDTH, self.size.width - fixed - scrollbar)

    def on_resize(self) -> None:
        if self.rows_shown:
            self.show(self.rows_shown, None)

    def show(self, rows: Sequence[RecommendationRow], focus_order_id: str | None) -> None:
        styles = class_styles(self.app.theme_variables)
        previous_row = self.cursor_row
        reason_width = self.reason_width()
        self.rows_shown = tuple(rows)
        cells = []
        for row in rows:
            suggestion = row.suggestion
            reason = Text(suggestion.error or suggestion.reason, no_wrap=True)
            reason.truncate(reason_width, overflow="ellipsis")
            self.reason_column_width = max(self.reason_column_width, reason.cell_len)
            cells.append(
                (
                    Text(row.scored_ts.strftime("%m-%d %H:%M")),
                    Text(row.order_id),
                    Text(row.location or ""),
                    refund_class(suggestion.refund_class, styles),
                    suggestion_amount(suggestion),
                    Text(row.status, style="bold" if row.status == "pending" else "dim"),
                    decision_label(row.latest_decision, styles),
                    reason,
                )
            )
        self.clear(columns=True)  # to give the reason column its width
        self.add_columns_sized()
        for row, texts in zip(rows, cells, strict=True):
            self.add_row(*(UnmeasuredCell(text) for text in texts), key=row.order_id)
        order_ids = [row.order_id for row in rows]
        if focus_order_id in order_ids:
            target = order_ids.index(focus_order_id)
        else:
            target = min(previous_row, len(rows) - 1)
        if rows:
            self.move_cursor(row=max(target, 0), animate=False)


class SearchText(Validator):
    """Only what the store can search for on either backend; the failure is the store's sentence."""

    def validate(self, value: str) -> ValidationResult:
        try:
            check_search(value)
        except InvalidFilter as refused:
            return self.failure(refused.message)
        return self.success()


class SearchInput(Input):
    BINDINGS = SEARCH_BINDINGS

    def __init__(self, *, placeholder: str = "", id: str | None = None) -> None:
        super().__init__(placeholder=placeholder, id=id, validators=[SearchText()])

    def action_leave_search(self) -> None:
        self.screen.query_one(RecommendationTable).focus()


class DeliveryGauge(Widget):
    """Delivery minutes as a bar against the location's P50 / P75 / P99."""

    DEFAULT_CSS = """
    DeliveryGauge { height: 4; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.minutes: float | None = None
        self.percentiles: dict[str, float] = {}

    def show(
        self, minutes: float | None, p50: float | None, p75: float | None, p99: float | None
    ) -> None:
        self.minutes = minutes
        self.percentiles = {
            name: value
            for name, value in (("P50", p50), ("P75", p75), ("P99", p99))
            if value is not None
        }
        self.refresh()

    def render(self) -> Text:
        if self.minutes is None:
            return Text("No delivery time for this order.")
        width = max(self.size.width, 10)
        bar, labels = delivery_gauge(self.minutes, self.percentiles, width)
        theme = self.app.theme_variables
        p75, p99 = self.percentiles.get("P75"), self.percentiles.get("P99")
        if p75 is None or p99 is None:
            colour, verdict = theme["foreground"], ""
        else:
            colour = theme[
                "success" if self.minutes <= p75 else "warning" if self.minutes <= p99 else "error"
            ]
            verdict = delivery_verdict(self.minutes, p75, p99)
        legend = "  ".join(f"{name} {value:.1f}" for name, value in self.percentiles.items())
        return Text.assemble(
            (f"{self.minutes:.1f} min", "bold"),
            f"  {verdict}\n",
            (bar, colour),
            f"\n{labels}\n",
            (legend, "dim"),
        )


class RouteMap(Widget):
    """The delivery route in braille dots; K marks the kitchen, C the customer."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.points: tuple[tuple[float, float], ...] = ()

    def show(self, points: tuple[tuple[float, float], ...]) -> None:
        self.points = points
        self.refresh()

    def render(self) -> Text:
        plot = plot_route(self.points, self.size.width, self.size.height)
        if plot is None:
            return Text("No route recorded.")
        theme = self.app.theme_variables
        text = Text()
        for row_index, row in enumerate(plot.rows):
            for column, character in enumerate(row):
                if (column, row_index) == plot.end:
                    text.append("C", style=f"bold {theme['accent']}")
                elif (column, row_index) == plot.start:
                    text.append("K", style=f"bold {theme['success']}")
                else:
                    text.append(character, style=theme["primary"])
            if row_index < len(plot.rows) - 1:
                text.append("\n")
        return text
