"""Unity Catalog catalogs, schemas and volumes (REST 2.1), answered with the SDK's `catalog` dataclasses."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from databricks.sdk.service.catalog import (
    CatalogInfo,
    CatalogType,
    ListCatalogsResponse,
    ListSchemasResponse,
    ListVolumesResponseContent,
    SchemaInfo,
    VolumeInfo,
    VolumeType,
)

from .routing import ApiError, Request, already_exists, invalid, not_found

if TYPE_CHECKING:
    from .workspace import FakeWorkspace

UC = "/api/2.1/unity-catalog"

# Every new catalog gets these; information_schema is the system's and never blocks a delete.
SYSTEM_SCHEMA = "information_schema"
DEFAULT_SCHEMA = "default"


class UnityCatalog:
    def __init__(self, ws: FakeWorkspace):
        self.ws = ws
        self.catalogs: dict[str, CatalogInfo] = {}
        self.schemas: dict[str, SchemaInfo] = {}
        self.volumes: dict[str, VolumeInfo] = {}

    def routes(self):
        return [
            ("POST", f"{UC}/catalogs", self.create_catalog),
            ("GET", f"{UC}/catalogs", self.list_catalogs),
            ("GET", f"{UC}/catalogs/{{name}}", self.get_catalog),
            ("DELETE", f"{UC}/catalogs/{{name}}", self.delete_catalog),
            ("POST", f"{UC}/schemas", self.create_schema),
            ("GET", f"{UC}/schemas", self.list_schemas),
            ("GET", f"{UC}/schemas/{{full_name}}", self.get_schema),
            ("DELETE", f"{UC}/schemas/{{full_name}}", self.delete_schema),
            ("POST", f"{UC}/volumes", self.create_volume),
            ("GET", f"{UC}/volumes", self.list_volumes),
            ("GET", f"{UC}/volumes/{{full_name}}", self.read_volume),
            ("DELETE", f"{UC}/volumes/{{full_name}}", self.delete_volume),
        ]

    # -- state changes, shared by the handlers and by seeding -------------------------------------

    def add_catalog(
        self,
        name: str,
        *,
        comment: str | None = None,
        owner: str | None = None,
        catalog_type: CatalogType = CatalogType.MANAGED_CATALOG,
    ) -> CatalogInfo:
        if name.lower() in {existing.lower() for existing in self.catalogs}:
            raise already_exists(f"Catalog '{name}' already exists")
        owner = owner or self.ws.user_name
        info = CatalogInfo(
            name=name,
            full_name=name,
            comment=comment,
            owner=owner,
            catalog_type=catalog_type,
            metastore_id=self.ws.metastore_id,
            created_at=self.ws.now_ms(),
            created_by=owner,
            storage_root=f"s3://fake-metastore/{self.ws.metastore_id}/catalogs/{uuid.uuid4()}",
        )
        self.catalogs[name] = info
        for schema in (DEFAULT_SCHEMA, SYSTEM_SCHEMA):
            self.add_schema(name, schema, owner="System user" if schema == SYSTEM_SCHEMA else owner)
        return info

    def add_schema(
        self, catalog_name: str, name: str, *, comment: str | None = None, owner: str | None = None
    ) -> SchemaInfo:
        self.catalog(catalog_name)
        full_name = f"{catalog_name}.{name}"
        if full_name in self.schemas:
            raise already_exists(f"Schema '{full_name}' already exists")
        owner = owner or self.ws.user_name
        info = SchemaInfo(
            name=name,
            catalog_name=catalog_name,
            full_name=full_name,
            comment=comment,
            owner=owner,
            metastore_id=self.ws.metastore_id,
            schema_id=str(uuid.uuid4()),
            created_at=self.ws.now_ms(),
            created_by=owner,
        )
        self.schemas[full_name] = info
        return info

    def add_volume(
        self,
        catalog_name: str,
        schema_name: str,
        name: str,
        *,
        volume_type: VolumeType = VolumeType.MANAGED,
        comment: str | None = None,
        storage_location: str | None = None,
    ) -> VolumeInfo:
        self.schema(f"{catalog_name}.{schema_name}")
        full_name = f"{catalog_name}.{schema_name}.{name}"
        if full_name in self.volumes:
            raise already_exists(f"Volume '{full_name}' already exists")
        if volume_type == VolumeType.EXTERNAL and not storage_location:
            raise invalid("storage_location is required for an EXTERNAL volume")
        volume_id = str(uuid.uuid4())
        info = VolumeInfo(
            name=name,
            catalog_name=catalog_name,
            schema_name=schema_name,
            full_name=full_name,
            volume_type=volume_type,
            volume_id=volume_id,
            comment=comment,
            owner=self.ws.user_name,
            metastore_id=self.ws.metastore_id,
            storage_location=storage_location or f"s3://fake-metastore/volumes/{volume_id}",
            created_at=self.ws.now_ms(),
            created_by=self.ws.user_name,
        )
        self.volumes[full_name] = info
        # Its FUSE path exists from the start, as on the workspace's compute.
        self.ws.files.make_directory(f"/Volumes/{catalog_name}/{schema_name}/{name}")
        return info

    def catalog(self, name: str) -> CatalogInfo:
        if name not in self.catalogs:
            raise not_found(f"Catalog '{name}' does not exist.")
        return self.catalogs[name]

    def schema(self, full_name: str) -> SchemaInfo:
        if full_name not in self.schemas:
            raise not_found(f"Schema '{full_name}' does not exist.")
        return self.schemas[full_name]

    def volume(self, full_name: str) -> VolumeInfo:
        if full_name not in self.volumes:
            raise not_found(f"Volume '{full_name}' does not exist.")
        return self.volumes[full_name]

    def remove_catalog(self, name: str, *, force: bool) -> None:
        self.catalog(name)
        user_schemas = [
            s for s in self.schemas.values() if s.catalog_name == name and s.name != SYSTEM_SCHEMA
        ]
        if user_schemas and not force:
            raise ApiError(
                400,
                "INVALID_STATE",
                f"Catalog '{name}' is not empty. The catalog has {len(user_schemas)} schemas: "
                f"{', '.join(s.name for s in user_schemas)}. Use force=true to delete it.",
            )
        for schema in [s for s in self.schemas.values() if s.catalog_name == name]:
            self.remove_schema(schema.full_name, force=True)
        del self.catalogs[name]

    def remove_schema(self, full_name: str, *, force: bool) -> None:
        self.schema(full_name)
        volumes = [
            v for v in self.volumes.values() if f"{v.catalog_name}.{v.schema_name}" == full_name
        ]
        models = self.ws.models.models_in_schema(full_name)
        if (volumes or models) and not force:
            raise ApiError(
                400,
                "INVALID_STATE",
                f"Schema '{full_name}' is not empty. Use force=true to delete it.",
            )
        for volume in volumes:
            self.remove_volume(volume.full_name)
        for model in models:
            self.ws.models.remove_model(model)
        del self.schemas[full_name]

    def remove_volume(self, full_name: str) -> None:
        info = self.volume(full_name)
        self.ws.files.remove_tree(f"/Volumes/{info.catalog_name}/{info.schema_name}/{info.name}")
        del self.volumes[full_name]

    # -- handlers ----------------------------------------------------------------------------------

    def create_catalog(self, request: Request):
        body = request.json()
        return self.add_catalog(body["name"], comment=body.get("comment")).as_dict()

    def list_catalogs(self, request: Request):
        return ListCatalogsResponse(catalogs=list(self.catalogs.values())).as_dict()

    def get_catalog(self, request: Request):
        return self.catalog(request.params["name"]).as_dict()

    def delete_catalog(self, request: Request):
        self.remove_catalog(request.params["name"], force=request.flag("force"))
        return {}

    def create_schema(self, request: Request):
        body = request.json()
        return self.add_schema(
            body["catalog_name"], body["name"], comment=body.get("comment")
        ).as_dict()

    def list_schemas(self, request: Request):
        catalog_name = request.query.get("catalog_name")
        if not catalog_name:
            raise invalid("catalog_name is required")
        self.catalog(catalog_name)
        schemas = [s for s in self.schemas.values() if s.catalog_name == catalog_name]
        return ListSchemasResponse(schemas=schemas).as_dict()

    def get_schema(self, request: Request):
        return self.schema(request.params["full_name"]).as_dict()

    def delete_schema(self, request: Request):
        self.remove_schema(request.params["full_name"], force=request.flag("force"))
        return {}

    def create_volume(self, request: Request):
        body = request.json()
        info = self.add_volume(
            body["catalog_name"],
            body["schema_name"],
            body["name"],
            volume_type=VolumeType(body.get("volume_type", "MANAGED")),
            comment=body.get("comment"),
            storage_location=body.get("storage_location"),
        )
        return info.as_dict()

    def list_volumes(self, request: Request):
        catalog_name = request.query.get("catalog_name")
        schema_name = request.query.get("schema_name")
        self.schema(f"{catalog_name}.{schema_name}")
        volumes = [
            v
            for v in self.volumes.values()
            if v.catalog_name == catalog_name and v.schema_name == schema_name
        ]
        return ListVolumesResponseContent(volumes=volumes).as_dict()

    def read_volume(self, request: Request):
        return self.volume(request.params["full_name"]).as_dict()

    def delete_volume(self, request: Request):
        self.remove_volume(request.params["full_name"])
        return {}
