"""`casper review`: the refund manager's app, on the app store.

The app never touches the database from the UI thread: every store call runs in a thread worker that
posts a typed message back (tui.messages), so the screen stays responsive while a sync writes.
"""

from __future__ import annotations

import gc
import getpass
import time
from pathlib import Path

from textual import events
from textual.app import App
from textual.screen import Screen

from casper.appstore import AppStore
from casper.appstore.store import PAGE_SIZE
from casper.collector import defer_full_collections, resume_full_collections
from casper.home import CasperHome
from tui.help_screen import HelpScreen
from tui.keymap import APP_BINDINGS, keymap_path, load_keymap
from tui.review_screen import ReviewScreen

DEFAULT_REFRESH_SECONDS = 2.0
#: the app's full garbage collections wait for this long without a key press or a click
QUIET_FOR_COLLECTION_S = 1.0
#: full collections are deferred while the app runs (see RefundReviewApp.on_mount), unless keys
#: keep coming: after this many younger collections (10 times the usual count)
#: the next quiet check collects anyway, so the garbage of a long burst of keys stays bounded
FULL_COLLECTION_AT_THE_LATEST = 100


class RefundReviewApp(App[None]):
    TITLE = "Casper's Kitchens · Refund review"
    BINDINGS = APP_BINDINGS

    def __init__(
        self,
        store: AppStore,
        *,
        user: str,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
        keymap: dict[str, str] | None = None,
        export_dir: Path | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        """`refresh_seconds`: how often the store is polled for synced rows and others' decisions.
        `keymap`: binding id -> keys overrides (see tui.keymap). `export_dir`: where CSVs go."""
        super().__init__()
        self.store = store
        self.user = user
        self.refresh_seconds = refresh_seconds
        self.keymap_overrides = dict(keymap or {})
        self.export_dir = export_dir or Path.cwd()
        self.page_size = page_size
        self.sub_title = f"{user} · {store.backend.name}"
        # the last key or click (see on_mount), and whether the app deferred full collections
        self._last_input = time.monotonic()
        self._deferring = False
        self.set_keymap(self.keymap_overrides)

    def get_default_screen(self) -> Screen:
        return ReviewScreen(self.page_size)

    def on_mount(self) -> None:
        self.watch(self, "app_focus", self._auto_focus_when_focused, init=False)
        # Everything alive now (modules, Textual, the screen) lives as long as the app: moved out
        # of the collector's reach, a full collection no longer walks it. Those walks, at random
        # moments, made a key press take 150-250 ms instead of 50 (benchmarks/bench_appstore.py)
        gc.freeze()
        # What the app makes later (pages, rows, messages) still fills the oldest generation,
        # and a full collection of it (30-60 ms) inside a key press took it over 100 ms: full
        # collections wait for a quiet second instead; the younger ones run as usual.
        defer_full_collections()
        self._deferring = True
        self.set_interval(QUIET_FOR_COLLECTION_S, self._collect_when_quiet)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseDown):
            self._last_input = time.monotonic()
        await super().on_event(event)

    def _collect_when_quiet(self) -> None:
        """A full collection, when younger ones have moved anything to the oldest generation
        since the last one and no key or click came for QUIET_FOR_COLLECTION_S (or they have
        moved things FULL_COLLECTION_AT_THE_LATEST times)."""
        moved = gc.get_count()[2]
        quiet = time.monotonic() - self._last_input >= QUIET_FOR_COLLECTION_S
        if (moved and quiet) or moved >= FULL_COLLECTION_AT_THE_LATEST:
            gc.collect()

    def on_unmount(self) -> None:
        # the process may go on (tests, a served session): collect as before
        if self._deferring:
            self._deferring = False
            resume_full_collections()
        gc.unfreeze()

    def _auto_focus_when_focused(self, focused: bool) -> None:
        """Textual gives a screen its AUTO_FOCUS only while the app has focus. Served to a browser
        (textual-serve) the app starts without it, so the list would ignore the arrow keys until
        clicked: once the app gets focus, give the screen the focus it would have had."""
        screen = self.screen
        if not focused or screen.focused is not None or not screen.AUTO_FOCUS:
            return
        for widget in screen.query(screen.AUTO_FOCUS):
            if widget.focusable:
                widget.focus()
                return

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.keymap_overrides))

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"


def default_user() -> str:
    try:
        return getpass.getuser()
    except OSError:  # no login name, e.g. a container started with an arbitrary uid
        return "reviewer"


def run_review(
    store: AppStore,
    user: str | None = None,
    *,
    home: CasperHome | None = None,
    refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
) -> None:
    """Run the app in this terminal until the reviewer quits. With `home`, keys are remapped from
    `home.root / "review-keys.toml"` and CSV exports go to `home.root / "exports"`. Raises
    tui.keymap.KeymapError (a CasperError) for a keymap file that cannot be used."""
    keymap = load_keymap(keymap_path(home.root)) if home else {}
    RefundReviewApp(
        store,
        user=user or default_user(),
        refresh_seconds=refresh_seconds,
        keymap=keymap,
        export_dir=home.root / "exports" if home else None,
    ).run()
