"""Every key binding of the review app, each with an id, and the file that remaps them.

Remapping: put a TOML file at `$CASPER_HOME/review-keys.toml` mapping binding ids to keys (Textual key
names, several separated by commas). Only the bindings named change; the rest keep their defaults:

    # review-keys.toml
    accept = "enter"
    deny = "x,delete"
    next_page = "ctrl+right"

The ids, their defaults and what they do are listed in the app's help screen (`?`) and in
`BINDING_GROUPS` below. Textual applies the map to every binding with that id, so `accept` is
the same key on the list and on an order's detail.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.binding import Binding

from casper.errors import CasperError

KEYMAP_FILE_NAME = "review-keys.toml"

APP_BINDINGS = [
    Binding("question_mark", "help", "Help", id="help"),
    Binding("q", "quit", "Quit", id="quit"),
    Binding("ctrl+t", "toggle_theme", "Light/dark", id="toggle_theme", show=False),
]
LIST_BINDINGS = [
    Binding("a", "accept", "Accept", id="accept"),
    Binding("e", "edit", "Edit", id="edit"),
    Binding("d", "deny", "Deny", id="deny"),
    Binding("slash", "search", "Search", id="search"),
    Binding("s", "cycle_status", "Status", id="filter_status", show=False),
    Binding("c", "cycle_class", "Class", id="filter_class", show=False),
    Binding("l", "cycle_location", "Location", id="filter_location", show=False),
    Binding("right_square_bracket", "next_page", "Next page", id="next_page"),
    Binding("left_square_bracket", "previous_page", "Prev page", id="previous_page", show=False),
    Binding("A", "bulk_accept", "Accept all", id="bulk_accept"),
    Binding("x", "export", "Export CSV", id="export"),
]
# On the list itself, so the table's own `enter` binding is the one remapped.
TABLE_BINDINGS = [Binding("enter", "select_cursor", "Open", id="open_order")]
SEARCH_BINDINGS = [Binding("escape", "leave_search", "Back to list", id="leave_search")]
DETAIL_BINDINGS = [
    Binding("a", "accept", "Accept", id="accept"),
    Binding("e", "edit", "Edit", id="edit"),
    Binding("d", "deny", "Deny", id="deny"),
    Binding("escape", "back", "Back", id="back"),
]
FORM_BINDINGS = [
    Binding("ctrl+s", "save", "Save", id="save", priority=True),
    Binding("escape", "cancel", "Cancel", id="cancel"),
]
CONFIRM_BINDINGS = [
    Binding("y", "confirm", "Yes", id="confirm"),
    Binding("n,escape", "cancel", "No", id="cancel"),
]
HELP_BINDINGS = [Binding("escape", "close", "Close", id="close_help")]

BINDING_GROUPS: dict[str, list[Binding]] = {
    "Everywhere": APP_BINDINGS,
    "Recommendation list": [*LIST_BINDINGS, *TABLE_BINDINGS],
    "Search box": SEARCH_BINDINGS,
    "Order detail": DETAIL_BINDINGS,
    "Decision form": FORM_BINDINGS,
    "Confirmation": CONFIRM_BINDINGS,
    "Help": HELP_BINDINGS,
}
BINDING_IDS = frozenset(
    binding.id for bindings in BINDING_GROUPS.values() for binding in bindings if binding.id
)


class KeymapError(CasperError):
    """The keymap file cannot be used as it is."""


def keymap_path(home_root: Path) -> Path:
    return home_root / KEYMAP_FILE_NAME


def load_keymap(path: Path) -> dict[str, str]:
    """The remapped keys in `path`, or none if the file does not exist."""
    if not path.exists():
        return {}
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise KeymapError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(document) - BINDING_IDS)
    if unknown:
        raise KeymapError(
            f"{path}: unknown binding id(s) {', '.join(unknown)}; "
            f"known ids: {', '.join(sorted(BINDING_IDS))}"
        )
    not_text = sorted(key for key, value in document.items() if not isinstance(value, str))
    if not_text:
        raise KeymapError(
            f'{path}: keys must be strings, e.g. accept = "enter" ({", ".join(not_text)})'
        )
    return dict(document)
