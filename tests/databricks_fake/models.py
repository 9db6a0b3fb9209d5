"""Registered models in Unity Catalog, reachable two ways over one state:

- MLflow's UC registry client (`/api/2.0/mlflow/unity-catalog/...`), answered with MLflow's own protobuf
  messages, since no SDK dataclass describes those routes;
- the SDK's `w.registered_models` / `w.model_versions` (`/api/2.1/unity-catalog/models...`), answered
  with the SDK's `catalog` dataclasses.

Model files go through the Files API under `/Models/<catalog>/<schema>/<model>/<version>/`, so the
fake says yes to `is-databricks-sdk-models-artifact-repository-enabled` and never hands out cloud
storage credentials.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from databricks.sdk.service.catalog import (
    ListRegisteredModelsResponse,
    ModelVersionInfo,
    ModelVersionInfoStatus,
    RegisteredModelAlias,
    RegisteredModelInfo,
)

from .routing import ApiError, Request, Response, already_exists, invalid, not_found

if TYPE_CHECKING:
    from .workspace import FakeWorkspace

MLFLOW_UC = "/api/2.0/mlflow/unity-catalog"
UC_MODELS = "/api/2.1/unity-catalog/models"
MISSING = "RESOURCE_DOES_NOT_EXIST"


@dataclass
class VersionRecord:
    version: int
    source: str
    run_id: str | None
    created_ms: int
    updated_ms: int
    storage_location: str
    status: str = "PENDING_REGISTRATION"
    description: str | None = None
    model_id: str | None = None


@dataclass
class ModelRecord:
    full_name: str
    owner: str
    created_ms: int
    updated_ms: int
    storage_location: str
    description: str | None = None
    aliases: dict[str, int] = field(default_factory=dict)
    versions: dict[int, VersionRecord] = field(default_factory=dict)

    @property
    def parts(self) -> tuple[str, str, str]:
        catalog, schema, name = self.full_name.split(".")
        return catalog, schema, name


class _LazyMlflowMessages:
    """MLflow's UC registry protobuf module, imported on first use: importing MLflow takes seconds,
    and most users of the fake never call an MLflow route."""

    def __getattr__(self, name: str):
        from mlflow.protos import databricks_uc_registry_messages_pb2

        return getattr(databricks_uc_registry_messages_pb2, name)


uc = _LazyMlflowMessages()


def _proto_response(message) -> Response:
    from mlflow.utils.proto_json_utils import message_to_json

    body = message_to_json(message).encode()
    return Response(raw_body=body, headers={"Content-Type": "application/json"})


class ModelRegistry:
    def __init__(self, ws: FakeWorkspace):
        self.ws = ws
        self.models: dict[str, ModelRecord] = {}

    def routes(self):
        mlflow = [
            ("POST", "registered-models/create", self.mlflow_create_model),
            ("GET", "registered-models/get", self.mlflow_get_model),
            ("DELETE", "registered-models/delete", self.mlflow_delete_model),
            ("POST", "registered-models/alias", self.mlflow_set_alias),
            ("GET", "registered-models/alias", self.mlflow_get_by_alias),
            ("DELETE", "registered-models/alias", self.mlflow_delete_alias),
            (
                "GET",
                "registered-models:is-databricks-sdk-models-artifact-repository-enabled",
                self.mlflow_sdk_artifacts_enabled,
            ),
            ("POST", "model-versions/create", self.mlflow_create_version),
            ("GET", "model-versions/get", self.mlflow_get_version),
            ("POST", "model-versions/finalize", self.mlflow_finalize_version),
            ("GET", "model-versions/search", self.mlflow_search_versions),
            ("POST", "model-versions/emit-lineage", self.mlflow_emit_lineage),
        ]
        sdk = [
            ("GET", UC_MODELS, self.sdk_list_models),
            ("GET", f"{UC_MODELS}/{{full_name}}", self.sdk_get_model),
            ("DELETE", f"{UC_MODELS}/{{full_name}}", self.sdk_delete_model),
            ("PUT", f"{UC_MODELS}/{{full_name}}/aliases/{{alias}}", self.sdk_set_alias),
            ("GET", f"{UC_MODELS}/{{full_name}}/aliases/{{alias}}", self.sdk_get_by_alias),
            ("DELETE", f"{UC_MODELS}/{{full_name}}/aliases/{{alias}}", self.sdk_delete_alias),
            ("GET", f"{UC_MODELS}/{{full_name}}/versions/{{version}}", self.sdk_get_version),
        ]
        return [(m, f"{MLFLOW_UC}/{p}", h) for m, p, h in mlflow] + sdk

    # -- state -------------------------------------------------------------------------------------

    def model(self, full_name: str) -> ModelRecord:
        if full_name not in self.models:
            raise not_found(f"Registered model '{full_name}' does not exist.", error_code=MISSING)
        return self.models[full_name]

    def version(self, full_name: str, version) -> VersionRecord:
        record = self.model(full_name)
        try:
            return record.versions[int(version)]
        except (KeyError, ValueError):
            raise not_found(
                f"Model version {version} of '{full_name}' does not exist.", error_code=MISSING
            ) from None

    def models_in_schema(self, schema_full_name: str) -> list[str]:
        return [name for name in self.models if name.rsplit(".", 1)[0] == schema_full_name]

    def remove_model(self, full_name: str) -> None:
        record = self.model(full_name)
        for version in record.versions:
            self.ws.files.remove_tree(f"/Models/{full_name.replace('.', '/')}/{version}")
        del self.models[full_name]

    def add_model(self, full_name: str, description: str | None = None) -> ModelRecord:
        if full_name.count(".") != 2:
            raise invalid(f"Model name '{full_name}' must be <catalog>.<schema>.<model>.")
        try:
            self.ws.uc.schema(full_name.rsplit(".", 1)[0])
        except ApiError as error:
            raise not_found(error.message, error_code=MISSING) from None
        if full_name in self.models:
            raise already_exists(f"Registered model '{full_name}' already exists.")
        now = self.ws.now_ms()
        record = ModelRecord(
            full_name=full_name,
            owner=self.ws.user_name,
            created_ms=now,
            updated_ms=now,
            storage_location=f"s3://fake-metastore/models/{uuid.uuid4()}",
            description=description,
        )
        self.models[full_name] = record
        return record

    def set_alias(self, full_name: str, alias: str, version) -> None:
        record = self.model(full_name)
        self.version(full_name, version)
        record.aliases[alias] = int(version)

    def by_alias(self, full_name: str, alias: str) -> VersionRecord:
        record = self.model(full_name)
        if alias not in record.aliases:
            raise not_found(
                f"Alias '{alias}' of model '{full_name}' does not exist.", error_code=MISSING
            )
        return record.versions[record.aliases[alias]]

    def delete_alias(self, full_name: str, alias: str) -> None:
        record = self.model(full_name)
        if alias not in record.aliases:
            raise not_found(
                f"Alias '{alias}' of model '{full_name}' does not exist.", error_code=MISSING
            )
        del record.aliases[alias]

    # -- renderings --------------------------------------------------------------------------------

    def _mlflow_model(self, record: ModelRecord) -> uc.RegisteredModel:
        return uc.RegisteredModel(
            name=record.full_name,
            creation_timestamp=record.created_ms,
            last_updated_timestamp=record.updated_ms,
            user_id=record.owner,
            description=record.description or "",
            aliases=[
                uc.RegisteredModelAlias(alias=a, version=str(v)) for a, v in record.aliases.items()
            ],
        )

    def _mlflow_version(self, record: ModelRecord, version: VersionRecord) -> uc.ModelVersion:
        return uc.ModelVersion(
            name=record.full_name,
            version=str(version.version),
            creation_timestamp=version.created_ms,
            last_updated_timestamp=version.updated_ms,
            user_id=record.owner,
            description=version.description or "",
            source=version.source,
            run_id=version.run_id or "",
            status=uc.ModelVersionStatus.Value(version.status),
            storage_location=version.storage_location,
            model_id=version.model_id or "",
            aliases=[
                uc.RegisteredModelAlias(alias=a, version=str(v))
                for a, v in record.aliases.items()
                if v == version.version
            ],
        )

    def _sdk_aliases(self, record: ModelRecord, only_version: int | None = None):
        catalog, schema, name = record.parts
        return [
            RegisteredModelAlias(
                alias_name=a,
                version_num=v,
                catalog_name=catalog,
                schema_name=schema,
                model_name=name,
            )
            for a, v in record.aliases.items()
            if only_version is None or v == only_version
        ]

    def _sdk_model(self, record: ModelRecord) -> RegisteredModelInfo:
        catalog, schema, name = record.parts
        return RegisteredModelInfo(
            full_name=record.full_name,
            catalog_name=catalog,
            schema_name=schema,
            name=name,
            owner=record.owner,
            comment=record.description,
            created_at=record.created_ms,
            created_by=record.owner,
            updated_at=record.updated_ms,
            metastore_id=self.ws.metastore_id,
            storage_location=record.storage_location,
            aliases=self._sdk_aliases(record),
        )

    def _sdk_version(self, record: ModelRecord, version: VersionRecord) -> ModelVersionInfo:
        catalog, schema, name = record.parts
        status = (
            ModelVersionInfoStatus.READY
            if version.status == "READY"
            else ModelVersionInfoStatus.PENDING_REGISTRATION
        )
        return ModelVersionInfo(
            catalog_name=catalog,
            schema_name=schema,
            model_name=name,
            version=version.version,
            source=version.source,
            run_id=version.run_id,
            status=status,
            storage_location=version.storage_location,
            comment=version.description,
            created_at=version.created_ms,
            created_by=record.owner,
            updated_at=version.updated_ms,
            metastore_id=self.ws.metastore_id,
            aliases=self._sdk_aliases(record, version.version),
        )

    # -- MLflow UC registry routes -----------------------------------------------------------------

    @staticmethod
    def _args(request: Request) -> dict:
        """MLflow sends GET arguments as a query string and the others as JSON."""
        return {**request.query, **(request.json() if request.body else {})}

    def mlflow_create_model(self, request: Request):
        args = self._args(request)
        record = self.add_model(args["name"], args.get("description"))
        return _proto_response(
            uc.CreateRegisteredModelResponse(registered_model=self._mlflow_model(record))
        )

    def mlflow_get_model(self, request: Request):
        record = self.model(self._args(request)["name"])
        return _proto_response(
            uc.GetRegisteredModelResponse(registered_model=self._mlflow_model(record))
        )

    def mlflow_delete_model(self, request: Request):
        self.remove_model(self._args(request)["name"])
        return {}

    def mlflow_set_alias(self, request: Request):
        args = self._args(request)
        self.set_alias(args["name"], args["alias"], args["version"])
        return {}

    def mlflow_get_by_alias(self, request: Request):
        args = self._args(request)
        record = self.model(args["name"])
        version = self.by_alias(args["name"], args["alias"])
        message = uc.GetModelVersionByAliasResponse(
            model_version=self._mlflow_version(record, version)
        )
        return _proto_response(message)

    def mlflow_delete_alias(self, request: Request):
        args = self._args(request)
        self.delete_alias(args["name"], args["alias"])
        return {}

    def mlflow_sdk_artifacts_enabled(self, request: Request):
        return _proto_response(
            uc.IsDatabricksSdkModelsArtifactRepositoryEnabledResponse(
                is_databricks_sdk_models_artifact_repository_enabled=True
            )
        )

    def mlflow_create_version(self, request: Request):
        args = self._args(request)
        record = self.model(args["name"])
        number = max(record.versions, default=0) + 1
        now = self.ws.now_ms()
        version = VersionRecord(
            version=number,
            source=args.get("source", ""),
            run_id=args.get("run_id"),
            created_ms=now,
            updated_ms=now,
            storage_location=f"{record.storage_location}/versions/{uuid.uuid4()}",
            description=args.get("description"),
            model_id=args.get("model_id"),
        )
        record.versions[number] = version
        record.updated_ms = now
        message = uc.CreateModelVersionResponse(model_version=self._mlflow_version(record, version))
        return _proto_response(message)

    def mlflow_get_version(self, request: Request):
        args = self._args(request)
        record = self.model(args["name"])
        version = self.version(args["name"], args["version"])
        return _proto_response(
            uc.GetModelVersionResponse(model_version=self._mlflow_version(record, version))
        )

    def mlflow_finalize_version(self, request: Request):
        args = self._args(request)
        record = self.model(args["name"])
        version = self.version(args["name"], args["version"])
        version.status = "READY"
        version.updated_ms = self.ws.now_ms()
        message = uc.FinalizeModelVersionResponse(
            model_version=self._mlflow_version(record, version)
        )
        return _proto_response(message)

    def mlflow_search_versions(self, request: Request):
        # Only the filter MLflow's UC client sends: name='<catalog>.<schema>.<model>'.
        filter_text = self._args(request).get("filter", "")
        name = filter_text.partition("=")[2].strip().strip("'\"")
        record = self.model(name)
        versions = [self._mlflow_version(record, v) for v in record.versions.values()]
        return _proto_response(uc.SearchModelVersionsResponse(model_versions=versions))

    def mlflow_emit_lineage(self, request: Request):
        args = self._args(request)
        self.version(args["name"], args["version"])
        return {}

    # -- SDK routes (REST 2.1) ---------------------------------------------------------------------

    def sdk_list_models(self, request: Request):
        catalog, schema = request.query.get("catalog_name"), request.query.get("schema_name")
        records = [
            r
            for r in self.models.values()
            if (catalog is None or r.parts[0] == catalog)
            and (schema is None or r.parts[1] == schema)
        ]
        return ListRegisteredModelsResponse(
            registered_models=[self._sdk_model(r) for r in records]
        ).as_dict()

    def sdk_get_model(self, request: Request):
        return self._sdk_model(self.model(request.params["full_name"])).as_dict()

    def sdk_delete_model(self, request: Request):
        self.remove_model(request.params["full_name"])
        return {}

    def sdk_set_alias(self, request: Request):
        full_name, alias = request.params["full_name"], request.params["alias"]
        self.set_alias(full_name, alias, request.json()["version_num"])
        aliases = self._sdk_aliases(self.model(full_name))
        return next(a for a in aliases if a.alias_name == alias).as_dict()

    def sdk_get_by_alias(self, request: Request):
        full_name = request.params["full_name"]
        version = self.by_alias(full_name, request.params["alias"])
        return self._sdk_version(self.model(full_name), version).as_dict()

    def sdk_delete_alias(self, request: Request):
        self.delete_alias(request.params["full_name"], request.params["alias"])
        return {}

    def sdk_get_version(self, request: Request):
        full_name = request.params["full_name"]
        version = self.version(full_name, request.params["version"])
        return self._sdk_version(self.model(full_name), version).as_dict()
