"""Decisions as CSV, for whoever settles the refunds outside this app."""

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


def export_decisions_csv(store: AppStore, path: Path) -> int:
    """Write every decision, oldest first, text verbatim; returns how many were written."""
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
                    decision.order_id,
                    decision.decided_ts.isoformat(sep=" "),
                    f"{decision.amount_usd:.2f}",
                    decision.refund_class,
                    decision.reason,
                    decision.decided_by or "",
                    json.dumps(decision.source_suggestion, sort_keys=True),
                )
            )
    # Renamed into place so a reader never sees half a file.
    temporary.replace(path)
    return len(decisions)
