"""Lakebase through `w.database` (REST 2.0 `database/*`): instances, database catalogs, synced tables and
Postgres credentials. Nothing here runs PostgreSQL: an instance is a name, a state and a DNS name.

Instance names follow Databricks' rule (lowercase letters, digits and hyphens), and deleting an
instance does not delete its synced tables or database catalogs, so a teardown that forgets them
leaves them visible in `fake.state()`.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from databricks.sdk.service.catalog import CatalogType
from databricks.sdk.service.database import (
    DatabaseCatalog,
    DatabaseCredential,
    DatabaseInstance,
    DatabaseInstanceState,
    ProvisioningInfoState,
    SyncedDatabaseTable,
    SyncedTableState,
    SyncedTableStatus,
)

from .lifecycle import Countdown
from .routing import Request, already_exists, invalid, not_found

if TYPE_CHECKING:
    from .workspace import FakeWorkspace

DB = "/api/2.0/database"
INSTANCE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
DEFAULT_DATABASE = "databricks_postgres"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Instance:
    info: DatabaseInstance
    countdown: Countdown
    databases: set[str]


@dataclass
class SyncedTable:
    info: SyncedDatabaseTable
    countdown: Countdown


class Lakebase:
    def __init__(self, ws: FakeWorkspace):
        self.ws = ws
        self.instances: dict[str, Instance] = {}
        self.database_catalogs: dict[str, DatabaseCatalog] = {}
        self.synced_tables: dict[str, SyncedTable] = {}
        self.credentials_issued = 0

    def routes(self):
        return [
            ("POST", f"{DB}/instances", self.create_instance),
            ("GET", f"{DB}/instances/{{name}}", self.get_instance),
            ("DELETE", f"{DB}/instances/{{name}}", self.delete_instance),
            ("POST", f"{DB}/catalogs", self.create_catalog),
            ("GET", f"{DB}/catalogs/{{name}}", self.get_catalog),
            ("DELETE", f"{DB}/catalogs/{{name}}", self.delete_catalog),
            ("POST", f"{DB}/synced_tables", self.create_synced_table),
            ("GET", f"{DB}/synced_tables/{{name}}", self.get_synced_table),
            ("DELETE", f"{DB}/synced_tables/{{name}}", self.delete_synced_table),
            ("POST", f"{DB}/credentials", self.generate_credential),
        ]

    def instance(self, name: str) -> Instance:
        if name not in self.instances:
            raise not_found(
                f"Database instance '{name}' does not exist.", error_code="RESOURCE_DOES_NOT_EXIST"
            )
        return self.instances[name]

    # -- instances ---------------------------------------------------------------------------------

    def create_instance(self, request: Request):
        info = DatabaseInstance.from_dict(request.json())
        if not info.name or not INSTANCE_NAME.match(info.name):
            raise invalid(
                f"Instance name '{info.name}' is invalid: use 1-63 lowercase letters, digits or hyphens."
            )
        if info.name in self.instances:
            raise already_exists(f"Database instance '{info.name}' already exists.")
        info.uid = str(uuid.uuid4())
        info.state = DatabaseInstanceState.STARTING
        info.creator = self.ws.user_name
        info.creation_time = _iso(datetime.now(UTC))
        info.pg_version = info.pg_version or "PG_VERSION_16"
        info.effective_capacity = info.capacity or "CU_1"
        info.effective_node_count = info.node_count or 1
        info.effective_stopped = False
        countdown = Countdown(self.ws.pending_polls["database_instance"])
        self.instances[info.name] = Instance(info, countdown, {DEFAULT_DATABASE})
        return info.as_dict()

    def get_instance(self, request: Request):
        instance = self.instance(request.params["name"])
        info = instance.info
        if instance.countdown.poll() and info.state == DatabaseInstanceState.STARTING:
            info.state = DatabaseInstanceState.AVAILABLE
            info.read_write_dns = (
                self.ws.database_host or f"instance-{info.uid}.database.cloud.databricks.com"
            )
            info.read_only_dns = f"instance-ro-{info.uid}.database.cloud.databricks.com"
        return info.as_dict()

    def delete_instance(self, request: Request):
        name = request.params["name"]
        self.instance(name)
        if not request.flag("purge", default=True):
            raise invalid("purge=false is not supported: instances are always hard deleted.")
        del self.instances[name]
        return {}

    # -- database catalogs (a UC catalog over one Postgres database) -------------------------------

    def create_catalog(self, request: Request):
        catalog = DatabaseCatalog.from_dict(request.json())
        instance = self.instance(catalog.database_instance_name)
        if catalog.database_name not in instance.databases:
            if not catalog.create_database_if_not_exists:
                raise not_found(
                    f"Database '{catalog.database_name}' does not exist in instance "
                    f"'{catalog.database_instance_name}'.",
                    error_code="RESOURCE_DOES_NOT_EXIST",
                )
            instance.databases.add(catalog.database_name)
        self.ws.uc.add_catalog(catalog.name, catalog_type=CatalogType.MANAGED_ONLINE_CATALOG)
        catalog.uid = str(uuid.uuid4())
        self.database_catalogs[catalog.name] = catalog
        return catalog.as_dict()

    def _catalog(self, name: str) -> DatabaseCatalog:
        if name not in self.database_catalogs:
            raise not_found(
                f"Database catalog '{name}' does not exist.", error_code="RESOURCE_DOES_NOT_EXIST"
            )
        return self.database_catalogs[name]

    def get_catalog(self, request: Request):
        return self._catalog(request.params["name"]).as_dict()

    def delete_catalog(self, request: Request):
        name = request.params["name"]
        self._catalog(name)
        self.ws.uc.remove_catalog(name, force=True)
        del self.database_catalogs[name]
        return {}

    # -- synced tables -----------------------------------------------------------------------------

    def create_synced_table(self, request: Request):
        table = SyncedDatabaseTable.from_dict(request.json())
        if not table.name or table.name.count(".") != 2:
            raise invalid(f"Synced table name '{table.name}' must be <catalog>.<schema>.<table>.")
        if table.name in self.synced_tables:
            raise already_exists(f"Synced table '{table.name}' already exists.")
        spec = table.spec
        if spec is None or not spec.source_table_full_name:
            raise invalid("spec.source_table_full_name is required.")
        if not spec.primary_key_columns:
            raise invalid(
                "spec.primary_key_columns is required: a synced table needs a primary key."
            )
        if spec.scheduling_policy is None:
            raise invalid("spec.scheduling_policy is required.")
        catalog_name = table.name.split(".")[0]
        database_catalog = self.database_catalogs.get(catalog_name)
        instance_name = table.database_instance_name or (
            database_catalog.database_instance_name if database_catalog else None
        )
        database_name = table.logical_database_name or (
            database_catalog.database_name if database_catalog else None
        )
        if not instance_name or not database_name:
            raise invalid(
                "database_instance_name and logical_database_name are required outside a database catalog."
            )
        self.instance(instance_name)
        table.effective_database_instance_name = instance_name
        table.effective_logical_database_name = database_name
        table.unity_catalog_provisioning_state = ProvisioningInfoState.PROVISIONING
        table.data_synchronization_status = SyncedTableStatus(
            detailed_state=SyncedTableState.SYNCED_TABLE_PROVISIONING,
            message="Provisioning the synced table.",
            pipeline_id=str(uuid.uuid4()),
        )
        countdown = Countdown(self.ws.pending_polls["synced_table"])
        self.synced_tables[table.name] = SyncedTable(table, countdown)
        return table.as_dict()

    def _synced_table(self, name: str) -> SyncedTable:
        if name not in self.synced_tables:
            raise not_found(
                f"Synced table '{name}' does not exist.", error_code="RESOURCE_DOES_NOT_EXIST"
            )
        return self.synced_tables[name]

    def get_synced_table(self, request: Request):
        synced = self._synced_table(request.params["name"])
        info = synced.info
        if (
            synced.countdown.poll()
            and info.unity_catalog_provisioning_state != ProvisioningInfoState.ACTIVE
        ):
            info.unity_catalog_provisioning_state = ProvisioningInfoState.ACTIVE
            status = info.data_synchronization_status
            status.detailed_state = SyncedTableState.SYNCED_TABLE_ONLINE_NO_PENDING_UPDATE
            status.message = "The synced table is online."
        return info.as_dict()

    def delete_synced_table(self, request: Request):
        name = request.params["name"]
        self._synced_table(name)
        del self.synced_tables[name]
        return {}

    # -- credentials -------------------------------------------------------------------------------

    def generate_credential(self, request: Request):
        body = request.json()
        names = body.get("instance_names") or []
        if not names:
            raise invalid("instance_names is required.")
        for name in names:
            self.instance(name)
        self.credentials_issued += 1
        expires = datetime.now(UTC) + timedelta(hours=1)
        token = "fake-pg-token-" + secrets.token_hex(8)
        return DatabaseCredential(token=token, expiration_time=_iso(expires)).as_dict()
