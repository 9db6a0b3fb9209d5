"""Decisions as CSV, for whoever settles the refunds outside this app.

Text is written as the reviewer typed it, except that a free-text cell a spreadsheet would run as a
formula (OWASP's CSV injection list: starting with =, +, -, @, tab or carriage return) gets a
leading single quote, so opening the file in Excel or LibreOffice shows the text and runs nothing.
Numbers and timestamps are ours, never free text, and are written as they are.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from casper.appstore.store import AppStore

CSV_COLUMNS = (
    "id",
    "order_id",
    "decided_ts",
    "amount_usd",
    "refund_class",
    "reason",
    "decided_by",
    "source_suggestion",
)

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """`text`, with a leading quote if a spreadsheet would otherwise read it as a formula."""
    return f"'{text}" if text.startswith(FORMULA_TRIGGERS) else text


def export_decisions_csv(store: AppStore, path: Path) -> int:
    """Write every decision, oldest first; returns how many were written."""
    decisions = store.decisions()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    with temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for decision in decisions:
            writer.writerow(
                (
                    decision.id,
                    spreadsheet_safe(decision.order_id),
                    decision.decided_ts.isoformat(sep=" "),
                    f"{decision.amount_usd:.2f}",
                    spreadsheet_safe(decision.refund_class),
                    spreadsheet_safe(decision.reason),
                    spreadsheet_safe(decision.decided_by or ""),
                    spreadsheet_safe(json.dumps(decision.source_suggestion, sort_keys=True)),
                )
            )
    # Renamed into place so a reader never sees half a file.
    temporary.replace(path)
    return len(decisions)
