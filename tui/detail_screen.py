"""One order in full: its suggestion, delivery against the location's percentiles, event timeline,
basket, route and decisions so far; decided from here with the same keys as on the list."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Header, Static

from casper.appstore import OrderDetail, RecommendationRow, StoreError
from tui.deciding import DecidingScreen
from tui.formatting import DASH, class_styles, money, refund_class, when
from tui.keymap import DETAIL_BINDINGS
from tui.messages import DetailLoaded, StoreFailed
from tui.widgets import DeliveryGauge, RouteMap


def timeline_table(detail: OrderDetail) -> Table:
    table = Table(box=None, expand=True, padding=(0, 1), show_edge=False)
    table.add_column("#", justify="right")
    table.add_column("Event")
    table.add_column("At")
    table.add_column("+min", justify="right")
    start = detail.events[0].ts if detail.events else None
    for event in detail.events:
        since = (event.ts - start).total_seconds() / 60 if start else 0.0
        table.add_row(
            str(event.sequence), event.event_type, event.ts.strftime("%H:%M:%S"), f"{since:.1f}"
        )
    return table


def basket_table(detail: OrderDetail) -> Table:
    table = Table(box=None, expand=True, padding=(0, 1), show_edge=False, show_footer=True)
    table.add_column("Item", footer="Order total", no_wrap=True, overflow="ellipsis", ratio=3)
    table.add_column("Brand", no_wrap=True, overflow="ellipsis", ratio=2)
    table.add_column("Qty", justify="right")
    table.add_column("Price", justify="right")
    table.add_column("USD", justify="right", footer=money(detail.recommendation.order_total))
    for item in detail.items:
        table.add_row(
            Text(item.name),
            Text(item.brand),
            str(item.qty),
            money(item.price),
            money(item.line_total),
        )
    return table


def history_table(detail: OrderDetail, styles: dict[str, str]) -> Table | Text:
    if not detail.decisions:
        return Text("No decision yet: pending.", style="dim")
    table = Table(box=None, expand=True, padding=(0, 1), show_edge=False)
    for column in ("Decided", "Class", "USD", "By", "Reason"):
        table.add_column(column, justify="right" if column == "USD" else "left")
    for decision in detail.decisions:
        table.add_row(
            when(decision.decided_ts),
            refund_class(decision.refund_class, styles),
            money(decision.amount_usd),
            Text(decision.decided_by or DASH),
            Text(decision.reason),
        )
    return table


def suggestion_text(detail: OrderDetail, styles: dict[str, str]) -> Text:
    row = detail.recommendation
    suggestion = row.suggestion
    scored = f"model {row.model_version or DASH} · scored {when(row.scored_ts)}"
    if suggestion.is_error:
        return Text.assemble(
            refund_class("error", styles),
            f"  {suggestion.error}\n",
            ("agent_response: ", "bold"),
            Text(detail.agent_response if detail.agent_response is not None else "null"),
            "\n",
            (scored, "dim"),
        )
    return Text.assemble(
        refund_class(suggestion.refund_class, styles),
        (f"  USD {money(suggestion.refund_usd)}\n", "bold"),
        Text(suggestion.reason),
        "\n",
        (scored, "dim"),
    )


class DetailScreen(DecidingScreen):
    BINDINGS = DETAIL_BINDINGS
    DEFAULT_CSS = """
    DetailScreen #headline { height: auto; padding: 0 1; background: $boost; }
    DetailScreen .box { border: round $primary; padding: 0 1; height: auto; }
    DetailScreen #top { height: auto; }
    DetailScreen #suggestion { width: 1fr; min-height: 6; }
    DetailScreen #delivery { width: 1fr; height: 6; }
    DetailScreen #middle { height: auto; }
    DetailScreen #timeline { width: 44; }
    DetailScreen #basket { width: 1fr; }
    DetailScreen #route { width: 28; height: 12; }
    """

    def __init__(self, order_id: str) -> None:
        super().__init__()
        self.order_id = order_id
        self.detail: OrderDetail | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static(Text(f"Order {self.order_id}"), id="headline")
            with Horizontal(id="top"):
                yield Static(id="suggestion", classes="box")
                yield DeliveryGauge(id="delivery", classes="box")
            with Horizontal(id="middle"):
                yield Static(id="timeline", classes="box")
                yield Static(id="basket", classes="box")
                yield RouteMap(id="route", classes="box")
            yield Static(id="history", classes="box")
        yield Footer()

    def on_mount(self) -> None:
        for box, title in (
            ("#suggestion", "Suggestion"),
            ("#delivery", "Delivery minutes"),
            ("#timeline", "Events"),
            ("#basket", "Basket"),
            ("#route", "Route"),
            ("#history", "Decisions"),
        ):
            self.query_one(box).border_title = title
        self.load_detail()

    @work(thread=True, exclusive=True, group="detail")
    def load_detail(self) -> None:
        try:
            detail = self.review_app.store.order_detail(self.order_id)
        except StoreError as failed:
            self.post_message(StoreFailed(str(failed)))
            return
        self.post_message(DetailLoaded(detail, self.order_id))

    def on_detail_loaded(self, loaded: DetailLoaded) -> None:
        if loaded.detail is None:
            self.notify(
                f"Order {loaded.order_id} is not in the app store.", severity="error", markup=False
            )
            self.dismiss()
            return
        detail = self.detail = loaded.detail
        row = detail.recommendation
        styles = class_styles(self.app.theme_variables)
        place = " · ".join(filter(None, [detail.location_title, row.location]))
        self.query_one("#headline", Static).update(
            Text.assemble(
                ("Order ", "bold"),
                (row.order_id, "bold"),
                f"   {place}   created {when(detail.created_ts)}   "
                f"order total USD {money(row.order_total)}   ",
                (row.status, "bold" if row.status == "pending" else "dim"),
            )
        )
        self.query_one("#suggestion", Static).update(suggestion_text(detail, styles))
        self.query_one(DeliveryGauge).show(
            detail.delivery_minutes, detail.p50, detail.p75, detail.p99
        )
        self.query_one("#timeline", Static).update(timeline_table(detail))
        self.query_one("#basket", Static).update(basket_table(detail))
        self.query_one(RouteMap).show(detail.route)
        self.query_one("#history", Static).update(history_table(detail, styles))

    def decision_target(self) -> tuple[RecommendationRow | None, str | None]:
        return (self.detail.recommendation if self.detail else None), None

    def decision_stored(self, next_order_id: str | None) -> None:
        self.load_detail()

    def on_store_failed(self, failed: StoreFailed) -> None:
        self.notify(failed.text, severity=failed.severity, markup=False)
        if failed.severity == "warning":
            self.load_detail()

    def action_back(self) -> None:
        self.dismiss()
