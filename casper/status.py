"""`casper status`: what exists under the home, as stable keys (documented in the README)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from casper.home import CasperHome
from casper.landing import summarize_landing


def collect_status(home: CasperHome) -> dict[str, Any]:
    landing = summarize_landing(home.landing, home.generator)
    report: dict[str, Any] = {
        "home": str(home.root),
        "landed_events": landing.events,
        "newest_event_ts": landing.newest_event_ts,
        "landed_files": landing.files,
    }
    return report


LABELS = {
    "home": "home",
    "landed_events": "events landed",
    "newest_event_ts": "newest event",
    "landed_files": "landing files",
}


def render_status(report: dict[str, Any], console: Console) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in report.items():
        shown = (
            f"{value:,}"
            if isinstance(value, int) and not isinstance(value, bool)
            else str(value if value is not None else "-")
        )
        table.add_row(LABELS.get(key, key.replace("_", " ")), shown)
    console.print(table)
