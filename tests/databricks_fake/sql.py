"""SQL warehouses and the Statement Execution API.

A test answers SQL by installing `fake.sql_handler`, a callable taking the statement text and returning
`(columns, rows)`: columns as names or `(name, type_name)` pairs, rows as sequences of values. It may
raise `SqlError` to fail the statement. Without a handler every statement fails, so nothing passes by
accident.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from databricks.sdk.service.sql import (
    BaseChunkInfo,
    ColumnInfo,
    ColumnInfoTypeName,
    CreateWarehouseResponse,
    EndpointInfo,
    Format,
    GetWarehouseResponse,
    ListWarehousesResponse,
    OdbcParams,
    ResultData,
    ResultManifest,
    ResultSchema,
    ServiceError,
    ServiceErrorCode,
    State,
    StatementResponse,
    StatementState,
    StatementStatus,
)

from .lifecycle import Countdown
from .routing import Request, invalid, not_found

if TYPE_CHECKING:
    from .workspace import FakeWorkspace

SqlHandler = Callable[[str], tuple[Sequence[Any], Sequence[Sequence[Any]]]]


class SqlError(Exception):
    """Raised by a SQL handler: the statement ends FAILED with this message."""

    def __init__(self, message: str, sql_state: str = "42000"):
        super().__init__(message)
        self.message = message
        self.sql_state = sql_state


@dataclass
class Warehouse:
    info: GetWarehouseResponse
    countdown: Countdown


def _cell(value: Any) -> str | None:
    # JSON_ARRAY results carry every value as a string (or null), whatever its SQL type.
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _column(position: int, column: Any) -> ColumnInfo:
    name, type_name = (column, "STRING") if isinstance(column, str) else column
    return ColumnInfo(
        name=name,
        position=position,
        type_name=ColumnInfoTypeName(type_name),
        type_text=type_name,
    )


class SqlWarehouses:
    def __init__(self, ws: FakeWorkspace):
        self.ws = ws
        self._ids = itertools.count(1)
        self.warehouses: dict[str, Warehouse] = {}
        self.statements: dict[str, StatementResponse] = {}
        self.handler: SqlHandler | None = None

    def routes(self):
        base = "/api/2.0/sql"
        return [
            ("POST", f"{base}/warehouses", self.create),
            ("GET", f"{base}/warehouses", self.list),
            ("GET", f"{base}/warehouses/{{id}}", self.get),
            ("DELETE", f"{base}/warehouses/{{id}}", self.delete),
            ("POST", f"{base}/statements", self.execute),
            ("GET", f"{base}/statements/{{statement_id}}", self.get_statement),
            (
                "GET",
                f"{base}/statements/{{statement_id}}/result/chunks/{{chunk_index}}",
                self.get_chunk,
            ),
        ]

    def _warehouse(self, warehouse_id: str) -> Warehouse:
        if warehouse_id not in self.warehouses:
            raise not_found(
                f"SQL warehouse {warehouse_id} does not exist.",
                error_code="RESOURCE_DOES_NOT_EXIST",
            )
        return self.warehouses[warehouse_id]

    def create(self, request: Request):
        body = request.json()
        if not body.get("name"):
            raise invalid("name is required")
        warehouse_id = f"{next(self._ids):016x}"
        path = f"/sql/1.0/warehouses/{warehouse_id}"
        info = GetWarehouseResponse.from_dict(body)
        info.id = warehouse_id
        info.state = State.STARTING
        info.creator_name = self.ws.user_name
        info.num_clusters = 0
        info.odbc_params = OdbcParams(
            hostname=self.ws.hostname, path=path, port=443, protocol="https"
        )
        info.jdbc_url = f"jdbc:databricks://{self.ws.hostname}:443/default;httpPath={path}"
        self.warehouses[warehouse_id] = Warehouse(
            info, Countdown(self.ws.pending_polls["warehouse"])
        )
        return CreateWarehouseResponse(id=warehouse_id).as_dict()

    def get(self, request: Request):
        warehouse = self._warehouse(request.params["id"])
        if warehouse.countdown.poll() and warehouse.info.state == State.STARTING:
            warehouse.info.state = State.RUNNING
            warehouse.info.num_clusters = 1
        return warehouse.info.as_dict()

    def list(self, request: Request):
        endpoints = [EndpointInfo.from_dict(w.info.as_dict()) for w in self.warehouses.values()]
        return ListWarehousesResponse(warehouses=endpoints).as_dict()

    def delete(self, request: Request):
        self._warehouse(request.params["id"])
        del self.warehouses[request.params["id"]]
        return {}

    # -- statements --------------------------------------------------------------------------------

    def execute(self, request: Request):
        body = request.json()
        self._warehouse(body.get("warehouse_id", ""))
        statement_id = str(uuid.uuid4())
        try:
            if self.handler is None:
                raise SqlError("The fake workspace has no sql_handler installed.")
            columns, rows = self.handler(body["statement"])
        except SqlError as error:
            response = StatementResponse(
                statement_id=statement_id,
                status=StatementStatus(
                    state=StatementState.FAILED,
                    sql_state=error.sql_state,
                    error=ServiceError(
                        error_code=ServiceErrorCode.BAD_REQUEST, message=error.message
                    ),
                ),
            )
        else:
            data = [[_cell(v) for v in row] for row in rows]
            schema = ResultSchema(
                column_count=len(columns), columns=[_column(i, c) for i, c in enumerate(columns)]
            )
            chunk = BaseChunkInfo(chunk_index=0, row_offset=0, row_count=len(data))
            response = StatementResponse(
                statement_id=statement_id,
                status=StatementStatus(state=StatementState.SUCCEEDED),
                manifest=ResultManifest(
                    format=Format.JSON_ARRAY,
                    schema=schema,
                    total_row_count=len(data),
                    total_chunk_count=1,
                    chunks=[chunk],
                    truncated=False,
                ),
                result=ResultData(
                    chunk_index=0, row_offset=0, row_count=len(data), data_array=data
                ),
            )
        self.statements[statement_id] = response
        return response.as_dict()

    def _statement(self, statement_id: str) -> StatementResponse:
        if statement_id not in self.statements:
            raise not_found(f"Statement {statement_id} does not exist.")
        return self.statements[statement_id]

    def get_statement(self, request: Request):
        return self._statement(request.params["statement_id"]).as_dict()

    def get_chunk(self, request: Request):
        statement = self._statement(request.params["statement_id"])
        if int(request.params["chunk_index"]) != 0 or statement.result is None:
            raise invalid(f"Chunk {request.params['chunk_index']} does not exist.")
        return statement.result.as_dict()
