"""`casper status`: what exists under the home, as stable keys (documented in the README)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from casper.appstore.store import store_counts
from casper.home import CasperHome
from casper.landing import summarize_landing
from casper.manifest import Manifest
from casper.pipeline import warehouse_counts
from casper.stages import stage_status


def collect_status(home: CasperHome, app_store_dsn: str | None = None) -> dict[str, Any]:
    landing = summarize_landing(home.landing, home.generator)
    report: dict[str, Any] = {
        "home": str(home.root),
        "landed_events": landing.events,
        "newest_event_ts": landing.newest_event_ts,
        "landed_files": landing.files,
    }
    report |= warehouse_counts(home)
    report["recommendations"] = _recommendations(home)
    report["champion_model_version"] = _champion(home)
    report |= store_counts(home, app_store_dsn or Manifest.load(home.root).app_store_dsn)
    report["stages"] = stage_status(home)
    return report


def _recommendations(home: CasperHome) -> int | None:
    from engines.duckdb.warehouse import DuckDBWarehouse, WarehouseBusyError

    try:
        return DuckDBWarehouse(home.warehouse).recommendation_count(wait_seconds=1.0)
    except WarehouseBusyError:
        return None


def _champion(home: CasperHome) -> str | None:
    if not (home.mlflow / "mlflow.db").exists():
        return None
    from casper.refunds.registry import RegistryTarget, champion_version
    from engines import get_engine

    return champion_version(RegistryTarget.of(get_engine("duckdb", home)))


LABELS = {
    "home": "home",
    "landed_events": "events landed",
    "newest_event_ts": "newest event",
    "landed_files": "landing files",
    "bronze_events": "bronze events (lakeflow.all_events)",
    "quarantined": "quarantined (lakeflow.quarantine)",
    "orders": "orders",
    "delivered_orders": "delivered orders",
    "recommendations": "orders with a refund recommendation",
    "champion_model_version": "champion refund model version",
    "decisions": "refund decisions",
    "pending": "recommendations pending review",
    "stages": "stages done",
}


def render_status(report: dict[str, Any], console: Console) -> None:
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
