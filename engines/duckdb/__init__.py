"""The default engine: everything embedded on the laptop (DuckDB, local MLflow, local files).

The warehouse, landing reader and app store are imported when first asked for: `casper generate`
only lands files, and pandas, sqlglot and the app store's drivers take a second to import."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from casper.engine import Engine, RegistryTarget
from engines.local import LocalLander, local_registry

if TYPE_CHECKING:
    from sqlmesh.core.config import GatewayConfig

    from casper.appstore.store import AppStore
    from casper.manifest import Kind
    from engines.duckdb.landing import DuckDBLandingReader
    from engines.duckdb.warehouse import DuckDBWarehouse


class DuckDBEngine(Engine):
    name = "duckdb"

    def lander(self) -> LocalLander:
        return LocalLander(self.home.landing)

    def landing_reader(self) -> DuckDBLandingReader:
        from engines.duckdb.landing import DuckDBLandingReader

        return DuckDBLandingReader(str(self.home.landing))

    def gateway_config(self) -> GatewayConfig:
        from engines.duckdb.sqlmesh import gateway_config

        return gateway_config(self.home, wait_seconds=self.settings.warehouse_wait_seconds)

    def release_connections(self) -> None:
        from engines.duckdb.sqlmesh import close_connections

        close_connections(self.home)

    def shutdown(self) -> None:
        from engines.duckdb.sqlmesh import forget_adapter

        forget_adapter(self.home)

    def warehouse_state(self) -> list[tuple[str, Kind]]:
        name = self.home.warehouse.name
        # .tmp: where DuckDB spills past its memory limit; a killed build leaves it behind
        return [(name, "file"), (f"{name}.wal", "file"), (f"{name}.tmp", "folder")]

    def warehouse(self) -> DuckDBWarehouse:
        from engines.duckdb.warehouse import DuckDBWarehouse

        return DuckDBWarehouse(self.home.warehouse, self.settings.warehouse_wait_seconds)

    def score_deliveries(self, model: Any, version: str) -> tuple[int, int]:
        """The in-process incremental loop: unscored deliveries in, recommendations appended."""
        import datetime as dt

        from casper.refunds.scoring import scorable, score_batch

        warehouse = self.warehouse()
        pending = warehouse.unscored_orders(version)
        unscorable = int((~scorable(pending)).sum()) if len(pending) else 0
        scored_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        added = warehouse.append_recommendations(score_batch(model, pending, version, scored_at))
        return added, unscorable

    def registry_target(self) -> RegistryTarget:
        return local_registry(self.home)

    def open_app_store(self) -> AppStore:
        from casper.appstore.store import open_store

        return open_store(self.home, self.settings.app_store)

    def app_store_dsn(self) -> str | None:
        return self.settings.app_store
