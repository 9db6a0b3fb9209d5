"""`casper status`: what exists under the home, as stable keys (documented in the README)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from casper.appstore.store import store_counts
from casper.engine import Engine
from casper.errors import CasperError
from casper.landing import ignored_note, summarize_landing
from casper.manifest import Manifest
from casper.stages import stage_status


def collect_status(engine: Engine, notes: list[str] | None = None) -> dict[str, Any]:
    """Every figure through the engine: its lander, its warehouse, its model registry. `notes`
    receives the lines to tell a person besides (what in the landing place is not read)."""
    home = engine.home
    landing = summarize_landing(engine.lander(), home.generator)
    report: dict[str, Any] = {
        "home": str(home.root),
        "landed_events": landing.events,
        "newest_event_ts": landing.newest_event_ts,
        "landed_files": landing.files,
        "ignored_files": len(landing.ignored),
    }
    if notes is not None and (note := ignored_note(landing.ignored)):
        notes.append(note)
    counts = engine.warehouse().counts()
    recommendations = counts.pop("recommendations")
    report |= counts
    report["recommendations"] = recommendations
    report["champion_model_version"] = _champion(engine)
    report |= _store_counts(engine)
    report["stages"] = stage_status(home)
    return report


def _store_counts(engine: Engine) -> dict[str, int | None]:
    home = engine.home
    if engine.deployment() is None:  # on the laptop: do not create a store by asking
        return store_counts(home, engine.app_store_dsn() or Manifest.load(home.root).app_store_dsn)
    try:
        with engine.open_app_store() as store:
            return store.counts()
    except CasperError:
        return {"decisions": None, "pending": None}  # not reachable from here (yet)


def _champion(engine: Engine) -> str | None:
    target = engine.registry_target()
    local_store = target.tracking_uri.removeprefix("sqlite:///")
    if local_store != target.tracking_uri:
        if not Path(local_store).exists():
            return None  # nothing registered yet; do not create an empty registry by asking
        with contextlib.suppress(sqlite3.Error):
            return _local_champion(Path(local_store), target.model_name)
    from casper.refunds.registry import champion_version

    return champion_version(target)


def _local_champion(store: Path, model_name: str) -> str | None:
    """The version the champion alias points at, read from the local MLflow registry's sqlite file
    (its `registered_model_aliases` table) without MLflow: importing MLflow and opening its store
    takes seconds, the query a millisecond. sqlite3.Error when the file is not such a registry."""
    from casper.refunds import CHAMPION

    with contextlib.closing(sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True)) as connection:
        columns = {
            row[1] for row in connection.execute("PRAGMA table_info(registered_model_aliases)")
        }
        if not {"name", "alias", "version"} <= columns:
            raise sqlite3.DatabaseError(f"{store} holds no MLflow model registry")
        query = "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?"
        parameters: tuple[str, ...] = (model_name, CHAMPION)
        if "workspace" in columns:  # MLflow 3.x: one registry per workspace, ours is the default
            query += " AND workspace = ?"
            parameters += ("default",)
        row = connection.execute(query, parameters).fetchone()
    return None if row is None else str(row[0])


LABELS = {
    "home": "home",
    "landed_events": "events landed",
    "newest_event_ts": "newest event",
    "landed_files": "landing files",
    "ignored_files": "other entries, not read",
    "bronze_events": "bronze events (lakeflow.all_events)",
    "quarantined": "quarantined (lakeflow.quarantine)",
    "quarantined_invalid_json": "quarantined as not JSON (invalid_json)",
    "duplicate_events": "bronze duplicates (re-landed events)",
    "late_events": "late events (apart from their order)",
    "orders": "orders",
    "delivered_orders": "delivered orders",
    "recommendations": "orders with a refund recommendation",
    "champion_model_version": "champion refund model version",
    "decisions": "refund decisions",
    "pending": "recommendations pending review",
    "stages": "stages done",
}


def render_status(report: dict[str, Any], console: Console, notes: Sequence[str] = ()) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in report.items():
        if key == "stages":
            shown = " ".join(
                f"[green]{name}[/]" if done else f"[dim]{name}[/]" for name, done in value.items()
            )
        elif isinstance(value, int) and not isinstance(value, bool):
            shown = f"{value:,}"
        else:
            shown = "-" if value is None else str(value)
        table.add_row(LABELS.get(key, key.replace("_", " ")), shown)
    console.print(table)
    for note in notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)
