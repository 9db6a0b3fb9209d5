"""The review app driven by keys (and the mouse) through Textual's Pilot; each test then asks the
store what it holds, as a reviewer's work only counts once it is written."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console, RenderableType
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Static
from textual.widgets._toast import Toast

from casper.appstore import AppStore, ListFilters, open_store, sync_frames
from casper.appstore.decisions import DENY_REASON
from casper.collector import NO_AUTOMATIC_FULL_COLLECTION
from tests.appstore_fixtures import (
    ABOVE_TOTAL,
    FULL,
    NEGATIVE,
    NONE,
    NOT_JSON,
    ORDERS,
    PARTIAL,
    SECOND_PARTIAL,
    UNKNOWN_CLASS,
    SteppingClock,
    copy_home,
    open_test_store,
    realistic_frames,
    store_on_each_backend,  # noqa: F401  (provides the `store` fixture)
    sync_in_subprocess,
    synthetic_sqlite_home,
)
from tui.app import RefundReviewApp
from tui.detail_screen import DetailScreen
from tui.dialogs import ConfirmDialog, DecisionForm
from tui.help_screen import HelpScreen
from tui.keymap import KeymapError, load_keymap
from tui.review_screen import ReviewScreen
from tui.widgets import DeliveryGauge, RecommendationTable, RouteMap

SIZE = (120, 36)
pytestmark = pytest.mark.anyio  # the async tests run on asyncio, Textual's loop


def order_id(index: int) -> str:
    return ORDERS[index].order_id


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[AppStore]:
    with open_test_store("sqlite", tmp_path / "home") as opened:
        yield opened


def review_app(store: AppStore, **options: object) -> RefundReviewApp:
    sync_frames(store, *realistic_frames())
    return RefundReviewApp(store, user="ann", **{"refresh_seconds": 3600, **options})


async def settle(pilot: Pilot) -> None:
    """Until every worker has reported and every report has been handled."""
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def press(pilot: Pilot, *keys: str) -> None:
    """Each key once what the previous one started has finished."""
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


async def type_into(pilot: Pilot, text: str) -> None:
    """Replace the focused input's text, typing it as a reviewer would."""
    await pilot.press("ctrl+u", *text)
    await settle(pilot)


def plain(renderable: RenderableType, width: int = 110) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def text_of(pilot: Pilot, selector: str) -> str:
    return plain(pilot.app.screen.query_one(selector, Static).content)


def table(pilot: Pilot) -> RecommendationTable:
    return pilot.app.screen.query_one(RecommendationTable)


def listed(pilot: Pilot) -> list[str]:
    return [str(key.value) for key in table(pilot).rows]


def decided(store: AppStore) -> list[tuple[str, Decimal, str, str, str | None]]:
    return [
        (d.order_id, d.amount_usd, d.refund_class, d.reason, d.decided_by)
        for d in store.decisions()
    ]


async def test_the_list_opens_focused_newest_first_with_a_summary(embedded: AppStore) -> None:
    app = review_app(embedded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.focused, RecommendationTable)
        assert listed(pilot) == [order.order_id for order in ORDERS]
        summary = text_of(pilot, "#summary")
        assert "Recommendations 8" in summary and "error 3" in summary and "Pending 8" in summary
        error_row = table(pilot).get_row(order_id(NOT_JSON))
        assert plain(error_row[3]).strip() == "error"
        assert plain(error_row[7]).startswith("agent_response is not")


async def test_the_list_takes_the_focus_when_the_app_gets_it_after_starting_blurred(
    embedded: AppStore,
) -> None:
    """Served to a browser (textual-serve), the app starts blurred, before the screen could take
    its auto focus; the arrow keys must still move the list once the reviewer clicks in."""
    app = review_app(embedded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.set_focus(None)
        app.app_focus = False  # blurred with nothing focused, as a browser session starts
        await pilot.pause()
        app.app_focus = True  # the reviewer clicks into the page
        await pilot.pause()
        assert isinstance(app.focused, RecommendationTable)
        await press(pilot, "down")
        assert table(pilot).cursor_row == 1


async def test_the_app_keeps_what_lives_as_long_as_it_out_of_the_collector_until_it_exits(
    embedded: AppStore,
) -> None:
    """Full collections walking Textual's objects made key presses slow at random moments; the
    app freezes what is alive at mount, and hands it back to the collector when it exits."""
    import gc

    assert gc.get_freeze_count() == 0
    app = review_app(embedded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert gc.get_freeze_count() > 1000
        await press(pilot, "right_square_bracket")  # the app works as before
    assert gc.get_freeze_count() == 0


async def test_full_collections_wait_for_a_quiet_moment_while_the_app_runs(
    embedded: AppStore, monkeypatch
) -> None:
    """A full collection inside a key press took it over 100 ms: while the app runs none starts
    by itself; the app runs one once no key has come for a while, and restores the collector's
    thresholds when it exits."""
    import gc

    import tui.app

    monkeypatch.setattr(tui.app, "QUIET_FOR_COLLECTION_S", 0.1)
    before = gc.get_threshold()
    full: list[float] = []

    def observe(phase: str, info: dict) -> None:
        if phase == "stop" and info["generation"] == 2:
            full.append(time.monotonic())

    app = review_app(embedded)
    gc.callbacks.append(observe)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert gc.get_threshold()[:2] == before[:2]
            assert gc.get_threshold()[2] == NO_AUTOMATIC_FULL_COLLECTION
            gc.collect()  # nothing in the oldest generation since: no reason to collect
            full.clear()
            pressed = time.monotonic()
            await press(pilot, "right_square_bracket")
            gc.collect(1)  # something reached the oldest generation since the last full collection
            deadline = pressed + 10
            while not full and time.monotonic() < deadline:
                await pilot.pause(0.05)
            assert full, "no full collection in a quiet moment"
            assert full[0] - pressed >= 0.1  # not before a quiet time after the key
    finally:
        gc.callbacks.remove(observe)
    assert gc.get_threshold() == before


async def test_accept_takes_one_key_and_moves_on(store: AppStore) -> None:
    app = review_app(store)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, "a", "a")
        assert "Decisions 2" in text_of(pilot, "#summary")
        assert table(pilot).cursor_row == 2
        await pilot.pause(0.3)
        # the confirmation toast renders (a rich Text message once crashed the app at render time)
        toasts = [str(toast.render()) for toast in app.screen.query(Toast)]
        assert any(f"for order {ORDERS[FULL].order_id}" in shown for shown in toasts), toasts
    partial, full = ORDERS[PARTIAL], ORDERS[FULL]
    assert decided(store) == [
        (partial.order_id, Decimal("8.50"), "partial", partial_reason(), "ann"),
        (
            full.order_id,
            Decimal("28.75"),
            "full",
            "Delivered in 71.0 minutes, beyond the P99 of 58.0.",
            "ann",
        ),
    ]
    assert store.decisions()[0].source_suggestion["refund_usd"] == 8.5


def partial_reason() -> str:
    return "Delivered in 52.3 minutes, 11.3 past the P75 of 41.0."


async def test_edit_records_what_was_typed(embedded: AppStore) -> None:
    reason = '"Cold"; 50%\'); DROP TABLE x;--'
    app = review_app(embedded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "down", "down", "down", "e")
        assert isinstance(app.screen, DecisionForm)
        await type_into(pilot, "3.10")
        await press(pilot, "tab", "enter", "down", "enter", "tab")  # class: partial -> full
        await type_into(pilot, reason)
        await press(pilot, "tab")
        await type_into(pilot, "Bob")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, ReviewScreen)
    assert decided(embedded) == [(order_id(SECOND_PARTIAL), Decimal("3.10"), "full", reason, "Bob")]


async def test_deny_is_no_refund(store: AppStore) -> None:
    app = review_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "down", "d")
    assert decided(store) == [(order_id(FULL), Decimal("0.00"), "none", DENY_REASON, "ann")]


async def test_a_bad_amount_is_shown_in_the_form_and_not_saved(embedded: AppStore) -> None:
    app = review_app(embedded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "e")
        for typed, message in (
            ("abc", "Amount must be a number."),
            ("12.345", "Amount has at most two decimals."),
            ("-1", "Amount cannot be negative."),
            ("27.26", "Amount cannot exceed the order total (USD 27.25)."),
        ):
            await type_into(pilot, typed)
            await press(pilot, "ctrl+s")
            assert isinstance(app.screen, DecisionForm)
            assert text_of(pilot, "#form-error").strip() == message
            assert app.screen.query_one("#amount_usd", Input).has_class("-invalid")
            assert embedded.decisions() == []
        await type_into(pilot, "27.25")
        await press(pilot, "enter")
        assert isinstance(app.screen, ReviewScreen)
    assert decided(embedded) == [
        (order_id(PARTIAL), Decimal("27.25"), "partial", partial_reason(), "ann")
    ]


async def test_a_reason_the_store_cannot_hold_is_shown_in_the_form(embedded: AppStore) -> None:
    app = review_app(embedded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "e")
        # a lone surrogate is what Python makes of pasted bytes that are not UTF-8
        app.screen.query_one("#reason", Input).value = "Cold \udcff"
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, DecisionForm)
        message = "Reason holds U+DCFF, a lone surrogate, which is not text."
        assert text_of(pilot, "#form-error").strip() == message
        assert app.screen.query_one("#reason", Input).has_class("-invalid")
    assert embedded.decisions() == []


async def test_an_error_suggestion_is_shown_and_can_be_denied_not_accepted(
    embedded: AppStore,
) -> None:
    app = review_app(embedded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, *["down"] * NOT_JSON, "a")
        assert embedded.decisions() == []
        await press(pilot, "d")
    assert decided(embedded) == [(order_id(NOT_JSON), Decimal("0.00"), "none", DENY_REASON, "ann")]


async def test_bulk_accept_asks_first_then_accepts_the_filtered_selection(store: AppStore) -> None:
    app = review_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "l")  # location: chicago
        assert all(o.location == "chicago" for o in ORDERS if o.order_id in listed(pilot))
        await press(pilot, "A")
        assert isinstance(app.screen, ConfirmDialog)
        assert "Accept 2 pending suggestion(s)" in app.screen.question
        assert "USD 33.35" in app.screen.question
        await press(pilot, "n")
        assert store.decisions() == []
        await press(pilot, "A", "y")
        assert isinstance(app.screen, ReviewScreen)
    assert {(d.order_id, d.refund_class) for d in store.decisions()} == {
        (order_id(FULL), "full"),
        (order_id(SECOND_PARTIAL), "partial"),
    }


async def test_filters_and_search_narrow_the_list(embedded: AppStore) -> None:
    app = review_app(embedded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "s")  # pending
        await press(pilot, "a")  # accepted rows leave the pending list
        assert order_id(PARTIAL) not in listed(pilot)
        assert listed(pilot)[table(pilot).cursor_row] == order_id(FULL)
        await press(pilot, "s")  # applied
        assert listed(pilot) == [order_id(PARTIAL)]
        await press(pilot, "s", "c")  # any status, class none
        assert listed(pilot) == [order_id(NONE)]
        await press(pilot, "c", "c", "c")  # class error
        assert len(listed(pilot)) == 3
        await press(pilot, "c", "slash")
        await type_into(pilot, "9A0B")
        assert listed(pilot) == ["9a0b7c6d5e4f3a21"]
        assert "Rows 1–1 of 1" in text_of(pilot, "#pager")
        await press(pilot, "escape")
        assert isinstance(app.focused, RecommendationTable)


@pytest.mark.parametrize(
    ("pasted", "message"),
    [
        # what Python makes of pasted bytes that are not UTF-8; SQLite cannot encode it either
        ("\udcff", "Search holds U+DCFF, a lone surrogate, which is not text."),
        # SQLite would search for it, PostgreSQL refuses it
        ("\x00", "Search cannot contain a NUL character."),
    ],
    ids=["surrogate", "nul"],
)
async def test_search_text_the_store_cannot_take_is_refused_with_a_message(
    store: AppStore, pasted: str, message: str
) -> None:
    app = review_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "slash")
        search = app.screen.query_one("#search", Input)

        async def paste(text: str) -> None:
            search.post_message(events.Paste(text))
            await settle(pilot)

        await paste("7BE3")
        assert listed(pilot) == [order_id(FULL)]
        await paste(pasted)
        assert search.value == f"7BE3{pasted}"
        assert app.is_running and isinstance(app.screen, ReviewScreen)
        assert [note.message for note in app._notifications] == [message]
        assert search.has_class("-invalid")
        assert listed(pilot) == [order_id(FULL)]  # the last search that could run stays
        await press(pilot, "backspace")
        assert not search.has_class("-invalid")
        assert listed(pilot) == [order_id(FULL)]


async def test_deciding_the_last_rows_of_a_page_goes_back_a_page(embedded: AppStore) -> None:
    app = review_app(embedded, page_size=3)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "s", "right_square_bracket", "right_square_bracket")
        assert listed(pilot) == [order_id(NEGATIVE), order_id(ABOVE_TOTAL)]
        assert text_of(pilot, "#pager").strip() == "Rows 7–8 of 8 · page 3 of 3"
        await press(pilot, "d", "d")
        assert listed(pilot) == [order_id(i) for i in (SECOND_PARTIAL, NOT_JSON, UNKNOWN_CLASS)]
        assert text_of(pilot, "#pager").strip() == "Rows 4–6 of 6 · page 2 of 2"
    assert {d.order_id for d in embedded.decisions()} == {order_id(NEGATIVE), order_id(ABOVE_TOTAL)}


async def test_paging_through_a_hundred_thousand_rows(tmp_path: Path) -> None:
    home = copy_home(synthetic_sqlite_home(100_000), tmp_path / "home")
    with open_store(home, clock=SteppingClock()) as store:
        app = RefundReviewApp(store, user="ann", refresh_seconds=3600)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert text_of(pilot, "#pager").strip() == "Rows 1–100 of 100,000 · page 1 of 1,000"
            for _ in range(3):
                await press(pilot, "right_square_bracket")
            assert text_of(pilot, "#pager").strip() == "Rows 301–400 of 100,000 · page 4 of 1,000"
            assert listed(pilot)[0] == f"s{300:015x}"
            await press(pilot, "left_square_bracket")
            assert listed(pilot)[0] == f"s{200:015x}"
            await press(pilot, "a")  # the decision lands on page 3's highlighted row
        assert store.decisions()[0].order_id == f"s{200:015x}"


async def test_an_orders_detail_and_deciding_from_it(embedded: AppStore) -> None:
    app = review_app(embedded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        assert isinstance(app.screen, DetailScreen)
        timeline = text_of(pilot, "#timeline")
        assert "order_created" in timeline and "delivered" in timeline
        assert "driver_ping" not in timeline
        basket = text_of(pilot, "#basket")
        assert "Classic Smash Burger" in basket and "27.25" in basket
        assert "late: 11.3 min past P75" in app.screen.query_one(DeliveryGauge).render().plain
        route = app.screen.query_one(RouteMap).render().plain
        assert "K" in route and "C" in route and any("⠁" <= ch <= "⣿" for ch in route)
        await press(pilot, "a")
        assert "partial" in text_of(pilot, "#history") and "ann" in text_of(pilot, "#history")
        await press(pilot, "escape")
        assert isinstance(app.screen, ReviewScreen)
        assert plain(table(pilot).get_row(order_id(PARTIAL))[5]).strip() == "applied"
    assert decided(embedded) == [
        (order_id(PARTIAL), Decimal("8.50"), "partial", partial_reason(), "ann")
    ]


async def test_the_mouse_opens_an_order_and_saves_the_form(embedded: AppStore) -> None:
    app = review_app(embedded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.click(RecommendationTable, offset=(5, 2))  # highlight the second row
        await settle(pilot)
        await pilot.click(RecommendationTable, offset=(5, 2))  # and open it
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen) and app.screen.order_id == order_id(FULL)
        await press(pilot, "e")
        await pilot.click("#save")
        await settle(pilot)
    assert decided(embedded) == [
        (
            order_id(FULL),
            Decimal("28.75"),
            "full",
            "Delivered in 71.0 minutes, beyond the P99 of 58.0.",
            "ann",
        )
    ]


async def test_rows_synced_while_the_app_is_open_appear_within_seconds(store: AppStore) -> None:
    app = review_app(store, refresh_seconds=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        syncing = sync_in_subprocess(store, batches=3, batch_size=40)
        await press(pilot, "a")  # deciding while the other process writes
        while syncing.poll() is None:
            await asyncio.sleep(0.05)
        assert syncing.returncode == 0, syncing.stderr.read()
        finished = time.monotonic()

        def refreshed() -> bool:  # the page and the summary are loaded by separate workers
            return "of 128" in text_of(pilot, "#pager") and "Recommendations 128" in text_of(
                pilot, "#summary"
            )

        while not refreshed() and time.monotonic() - finished < 5:
            await pilot.pause(0.1)
        assert "of 128" in text_of(pilot, "#pager")
        assert "Recommendations 128" in text_of(pilot, "#summary")
        assert listed(pilot)[0] == f"b2-{0:015x}"  # the newest batch on top
    assert store.counts() == {"decisions": 1, "pending": 127}


async def test_bindings_are_remapped_and_the_help_lists_them(embedded: AppStore) -> None:
    app = review_app(embedded, keymap={"accept": "y", "help": "f1"})
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "a")
        assert embedded.decisions() == []
        await press(pilot, "y")
        assert [d.order_id for d in embedded.decisions()] == [order_id(PARTIAL)]
        await press(pilot, "f1")
        assert isinstance(app.screen, HelpScreen)
        help_text = plain(app.screen.query_one("#help Static", Static).content, width=120)
        accept_lines = [
            line for line in help_text.splitlines() if line.rstrip().endswith(" accept")
        ]
        assert accept_lines and all(" y " in line for line in accept_lines)
        for binding_id in ("edit", "deny", "search", "bulk_accept", "next_page", "export", "quit"):
            assert binding_id in help_text
        await press(pilot, "escape")
        assert isinstance(app.screen, ReviewScreen)


def test_the_keymap_file(tmp_path: Path) -> None:
    path = tmp_path / "review-keys.toml"
    assert load_keymap(path) == {}
    path.write_text('accept = "enter"\ndeny = "x,delete"\n')
    assert load_keymap(path) == {"accept": "enter", "deny": "x,delete"}
    path.write_text('acept = "enter"\n')
    with pytest.raises(KeymapError, match="acept"):
        load_keymap(path)
    path.write_text("accept = 1\n")
    with pytest.raises(KeymapError, match="strings"):
        load_keymap(path)
    path.write_text("accept = \n")
    with pytest.raises(KeymapError, match="TOML"):
        load_keymap(path)


async def test_export_and_theme(embedded: AppStore, tmp_path: Path) -> None:
    app = review_app(embedded, export_dir=tmp_path / "exports")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "a", "d", "x")
        assert app.theme == "textual-dark"
        await press(pilot, "ctrl+t")
        assert app.theme == "textual-light"
    (exported,) = (tmp_path / "exports").glob("refund-decisions-*.csv")
    with exported.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["order_id"], row["refund_class"]) for row in rows] == [
        (order_id(PARTIAL), "partial"),
        (order_id(FULL), "none"),
    ]
    assert embedded.page(ListFilters(status="applied")).total == 2
