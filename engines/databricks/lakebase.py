"""Lakebase behind one small interface: the instance, the logical database (a database catalog in
Unity Catalog), the synced table the review app reads, and fresh credentials.

Today this is `w.database`; its create calls already recommend the newer `w.postgres` API, so
nothing outside this module knows which one is used.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engines.databricks.client import DatabricksError
from engines.databricks.names import WorkspaceNames

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

#: the smallest capacity: the app store is small
CAPACITY = "CU_1"
#: the reference's synced table, in the database the app reads (schema recommender)
SYNCED_SCHEMA = "recommender"
SYNCED_TABLE = "pg_recommendations"
INSTANCE_WAIT = dt.timedelta(minutes=20)


@dataclass(frozen=True)
class LakebaseNames:
    instance: str
    #: the Postgres database, and the Unity Catalog catalog that mirrors it
    database: str
    database_catalog: str
    synced_table: str
    source_table: str

    @classmethod
    def of(cls, names: WorkspaceNames) -> LakebaseNames:
        # instance names take lowercase letters, digits and hyphens
        instance = f"{names.catalog.replace('_', '-').lower()}-lakebase"
        database_catalog = f"{names.catalog}_lakebase"
        return cls(
            instance=instance,
            database=names.catalog,
            database_catalog=database_catalog,
            synced_table=f"{database_catalog}.{SYNCED_SCHEMA}.{SYNCED_TABLE}",
            source_table=f"{names.catalog}.recommender.refund_recommendations",
        )


class Lakebase:
    def __init__(self, client: WorkspaceClient, names: WorkspaceNames) -> None:
        self.client = client
        self.names = LakebaseNames.of(names)

    def instance_exists(self) -> bool:
        from databricks.sdk.errors import NotFound

        try:
            self.client.database.get_database_instance(self.names.instance)
        except NotFound:
            return False
        return True

    def create_instance(self, progress: Callable[[str], None]) -> str:
        """Create the instance and wait until it is AVAILABLE; returns its read-write host."""
        from databricks.sdk.service.database import DatabaseInstance

        waiter = self.client.database.create_database_instance(
            DatabaseInstance(name=self.names.instance, capacity=CAPACITY)
        )
        instance = waiter.result(
            timeout=INSTANCE_WAIT,
            callback=lambda i: progress(f"Lakebase instance {i.name}: {_state(i)}"),
        )
        return instance.read_write_dns or ""

    def wait_available(self, progress: Callable[[str], None]) -> str:
        instance = self.client.database.wait_get_database_instance_database_available(
            self.names.instance,
            timeout=INSTANCE_WAIT,
            callback=lambda i: progress(f"Lakebase instance {i.name}: {_state(i)}"),
        )
        return instance.read_write_dns or ""

    def database_catalog_exists(self) -> bool:
        from databricks.sdk.errors import NotFound

        try:
            self.client.database.get_database_catalog(self.names.database_catalog)
        except NotFound:
            return False
        return True

    def create_database_catalog(self) -> None:
        from databricks.sdk.service.database import DatabaseCatalog

        self.client.database.create_database_catalog(
            DatabaseCatalog(
                name=self.names.database_catalog,
                database_instance_name=self.names.instance,
                database_name=self.names.database,
                create_database_if_not_exists=True,
            )
        )

    def synced_table_exists(self) -> bool:
        from databricks.sdk.errors import NotFound

        try:
            self.client.database.get_synced_database_table(self.names.synced_table)
        except NotFound:
            return False
        return True

    def create_synced_table(self, pipeline_catalog: str, pipeline_schema: str) -> None:
        """recommender.pg_recommendations from the recommendations table, one row per order: the
        primary key is order_id and, of an order's rows (one per model version), the newest `ts`
        wins. Its columns are the source's, so it has the reference's order_id, ts, order_ts and
        agent_response. TRIGGERED syncs read the source's change data feed (the runtime turns it
        on)."""
        from databricks.sdk.service.database import (
            NewPipelineSpec,
            SyncedDatabaseTable,
            SyncedTableSchedulingPolicy,
            SyncedTableSpec,
        )

        self.client.database.create_synced_database_table(
            SyncedDatabaseTable(
                name=self.names.synced_table,
                database_instance_name=self.names.instance,
                logical_database_name=self.names.database,
                spec=SyncedTableSpec(
                    source_table_full_name=self.names.source_table,
                    primary_key_columns=["order_id"],
                    timeseries_key="ts",
                    scheduling_policy=SyncedTableSchedulingPolicy.TRIGGERED,
                    create_database_objects_if_missing=True,
                    new_pipeline_spec=NewPipelineSpec(
                        storage_catalog=pipeline_catalog, storage_schema=pipeline_schema
                    ),
                ),
            )
        )

    def dsn(self, environ: Mapping[str, str] = os.environ) -> str:
        """`conninfo` with a fresh password (valid for an hour)."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(self.conninfo(environ), password=self.password())

    def conninfo(self, environ: Mapping[str, str] = os.environ) -> str:
        """Where and as whom to connect, without a password. Inside the Databricks App the
        database resource sets
        PGHOST, PGPORT, PGDATABASE, PGUSER (its service principal) and PGSSLMODE; elsewhere the
        instance's host and the caller's own identity are used."""
        from psycopg.conninfo import make_conninfo

        if environ.get("PGHOST"):
            missing = [name for name in ("PGDATABASE", "PGUSER") if not environ.get(name)]
            if missing:
                raise DatabricksError(
                    f"no {', '.join(missing)} in the environment: give the app a database resource"
                )
            fields = {
                "host": environ["PGHOST"],
                "port": environ.get("PGPORT") or "5432",
                "dbname": environ["PGDATABASE"],
                "user": environ["PGUSER"],
                "sslmode": environ.get("PGSSLMODE") or "require",
            }
        else:
            # a job's task or the laptop: the instance's host, as the caller's own identity;
            # libpq's PGPORT and PGSSLMODE still apply (the tests' local server plays the instance)
            instance = self.client.database.get_database_instance(self.names.instance)
            fields = {
                "host": instance.read_write_dns or "",
                "port": environ.get("PGPORT") or "5432",
                "dbname": self.names.database,
                "user": self.client.current_user.me().user_name or "",
                "sslmode": environ.get("PGSSLMODE") or "require",
            }
        return make_conninfo(**fields)

    def password(self) -> str:
        """A fresh OAuth token to log in to Postgres with (valid one hour): ask for one per
        connection rather than keeping one."""
        credential = self.client.database.generate_database_credential(
            instance_names=[self.names.instance], request_id=str(uuid.uuid4())
        )
        return credential.token or ""

    # -- down ----------------------------------------------------------------------------------

    def delete_synced_table(self, name: str) -> None:
        self.client.database.delete_synced_database_table(name, purge_data=True)

    def delete_database_catalog(self, name: str) -> None:
        self.client.database.delete_database_catalog(name)

    def delete_instance(self, name: str) -> None:
        self.client.database.delete_database_instance(name, purge=True)


def _state(instance) -> str:
    return instance.state.value if instance.state else "?"
