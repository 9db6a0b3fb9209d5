"""Every binding of the app with the key it has now, and how to remap it."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.keymap import BINDING_GROUPS, HELP_BINDINGS, KEYMAP_FILE_NAME


def binding_table(keymap: Mapping[str, str], key_display: Callable[[Binding], str]) -> Table:
    table = Table(box=None, expand=True, padding=(0, 2), show_edge=False)
    table.add_column("Where", style="bold", no_wrap=True)
    table.add_column("Keys", no_wrap=True)
    table.add_column("Does", no_wrap=True)
    table.add_column("Binding id", style="dim", no_wrap=True)
    for group, bindings in BINDING_GROUPS.items():
        for index, binding in enumerate(bindings):
            keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
            shown = ", ".join(key_display(Binding(key.strip(), "")) for key in keys.split(","))
            table.add_row(group if index == 0 else "", shown, binding.description, binding.id)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = HELP_BINDINGS
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen #help {
        width: 96; height: 90%; padding: 0 1;
        border: thick $accent; background: $surface;
    }
    HelpScreen #remap { margin-top: 1; color: $text-muted; }
    """

    def __init__(self, keymap: Mapping[str, str]) -> None:
        super().__init__()
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        with Vertical(id="help"), VerticalScroll():
            yield Static(binding_table(self.keymap, self.app.get_key_display))
            yield Static(
                Text(
                    f"Remap any binding in $CASPER_HOME/{KEYMAP_FILE_NAME}, one line per id, "
                    'e.g.  accept = "enter"  or  deny = "x,delete". '
                    "Arrows, Page Up/Down, Tab and the mouse work as everywhere in Textual; "
                    "ctrl+p opens the command palette (themes included)."
                ),
                id="remap",
            )

    def on_mount(self) -> None:
        box = self.query_one("#help")
        box.border_title = "Keys"
        box.border_subtitle = "escape closes"

    def action_close(self) -> None:
        self.dismiss(None)
