"""The main screens as pictures at a fixed terminal size, from fixed data: any change in layout or
content shows up as a diff. Update deliberately with `pytest --snapshot-update`."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from casper.appstore import DecisionDraft, deny_draft, sync_frames
from tests.appstore_fixtures import FULL, NONE, ORDERS, open_test_store, realistic_frames
from tui.app import RefundReviewApp

SIZE = (120, 36)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[RefundReviewApp]:
    """Eight orders, two of them decided, with decision times from a fixed clock."""
    with open_test_store("sqlite", tmp_path / "home") as store:
        sync_frames(store, *realistic_frames())
        store.apply_decision(
            DecisionDraft(ORDERS[FULL].order_id, Decimal("20.00"), "partial", "Most of it.", "bob")
        )
        store.apply_decision(deny_draft(ORDERS[NONE].order_id, "bob"))
        yield RefundReviewApp(store, user="ann", refresh_seconds=3600)


async def settled(pilot: Pilot, *keys: str) -> None:
    for key in ("", *keys):
        if key:
            await pilot.press(key)
        for _ in range(3):
            await pilot.pause()
            await pilot.app.workers.wait_for_complete()
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False  # a blinking cursor would make the picture random
    await pilot.pause()


def test_list(snap_compare, app: RefundReviewApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=settled)


def test_order_detail(snap_compare, app: RefundReviewApp) -> None:
    async def open_first_order(pilot: Pilot) -> None:
        await settled(pilot, "enter")

    assert snap_compare(app, terminal_size=SIZE, run_before=open_first_order)


def test_decision_form_with_an_error(snap_compare, app: RefundReviewApp) -> None:
    async def type_a_bad_amount(pilot: Pilot) -> None:
        await settled(pilot, "e", "ctrl+u", "1", "2", ".", "3", "4", "5", "ctrl+s")

    assert snap_compare(app, terminal_size=SIZE, run_before=type_a_bad_amount)


def test_help(snap_compare, app: RefundReviewApp) -> None:
    async def open_help(pilot: Pilot) -> None:
        await settled(pilot, "question_mark")

    assert snap_compare(app, terminal_size=SIZE, run_before=open_help)


def test_bulk_accept_confirmation(snap_compare, app: RefundReviewApp) -> None:
    async def ask(pilot: Pilot) -> None:
        await settled(pilot, "A")

    assert snap_compare(app, terminal_size=SIZE, run_before=ask)


def test_list_in_the_light_theme(snap_compare, app: RefundReviewApp) -> None:
    async def lighten(pilot: Pilot) -> None:
        await settled(pilot, "ctrl+t")

    assert snap_compare(app, terminal_size=SIZE, run_before=lighten)
