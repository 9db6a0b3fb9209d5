"""The workspace tree (REST 2.0 `workspace/*`): folders, files and notebooks, where app sources live.

`/Workspace/Users/x` and `/Users/x` name the same object, as on Databricks. Importing with format
SOURCE and a language (what `w.workspace.upload` does for a `.py` path unless told `format=AUTO`)
makes a NOTEBOOK, not a file: the fake keeps that distinction so a test can catch it.
"""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from databricks.sdk.service.workspace import (
    ExportResponse,
    Language,
    ListResponse,
    ObjectInfo,
    ObjectType,
)

from .routing import ApiError, Request, Response, invalid, not_found

if TYPE_CHECKING:
    from .workspace import FakeWorkspace

WS = "/api/2.0/workspace"
NOTEBOOK_HEADERS = (b"# Databricks notebook source", b"-- Databricks notebook source")


def normalise(path: str) -> str:
    if not path or not path.startswith("/"):
        raise invalid(f"Path ({path}) must be absolute.")
    path = "/" + path.strip("/")
    if path == "/Workspace" or path.startswith("/Workspace/"):
        path = path[len("/Workspace") :] or "/"
    return path


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


@dataclass
class WorkspaceObject:
    object_type: ObjectType
    object_id: int
    created_at: int
    modified_at: int
    content: bytes = b""
    language: Language | None = None

    def info(self, path: str) -> ObjectInfo:
        return ObjectInfo(
            path=path,
            object_type=self.object_type,
            object_id=self.object_id,
            resource_id=str(self.object_id),
            created_at=self.created_at,
            modified_at=self.modified_at,
            language=self.language,
            size=len(self.content) if self.object_type != ObjectType.DIRECTORY else None,
        )


class WorkspaceFiles:
    def __init__(self, ws: FakeWorkspace):
        self.ws = ws
        self._ids = itertools.count(1_000_000)
        self.objects: dict[str, WorkspaceObject] = {}
        for folder in ("/", "/Users", f"/Users/{ws.user_name}", "/Shared"):
            self._put(folder, ObjectType.DIRECTORY)
        self.builtin = set(self.objects)

    def routes(self):
        return [
            ("POST", f"{WS}/mkdirs", self.mkdirs),
            ("POST", f"{WS}/import", self.import_),
            ("POST", f"{WS}/delete", self.delete),
            ("GET", f"{WS}/get-status", self.get_status),
            ("GET", f"{WS}/list", self.list),
            ("GET", f"{WS}/export", self.export),
        ]

    def _put(self, path: str, object_type: ObjectType, content=b"", language=None) -> None:
        now = self.ws.now_ms()
        existing = self.objects.get(path)
        self.objects[path] = WorkspaceObject(
            object_type=object_type,
            object_id=existing.object_id if existing else next(self._ids),
            created_at=existing.created_at if existing else now,
            modified_at=now,
            content=content,
            language=language,
        )

    def exists(self, path: str) -> bool:
        return normalise(path) in self.objects

    def _object(self, path: str) -> WorkspaceObject:
        if path not in self.objects:
            raise not_found(f"Path ({path}) doesn't exist.", error_code="RESOURCE_DOES_NOT_EXIST")
        return self.objects[path]

    def make_dirs(self, path: str) -> None:
        path = normalise(path)
        chain = []
        while path not in self.objects:
            chain.append(path)
            path = _parent(path)
        if self.objects[path].object_type != ObjectType.DIRECTORY:
            raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"Path ({path}) is not a directory.")
        for folder in reversed(chain):
            self._put(folder, ObjectType.DIRECTORY)

    def children(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        return sorted(
            p for p in self.objects if p.startswith(prefix) and "/" not in p[len(prefix) :]
        )

    # -- handlers ----------------------------------------------------------------------------------

    def mkdirs(self, request: Request):
        self.make_dirs(request.json()["path"])
        return {}

    def import_(self, request: Request):
        if request.is_multipart():
            form = request.form()
            fields = {k: v.decode() for k, v in form.items() if k != "content"}
            content = form.get("content", b"")
            overwrite = fields.get("overwrite", "false").lower() == "true"
        else:
            fields = request.json()
            content = base64.b64decode(fields.get("content", ""))
            overwrite = bool(fields.get("overwrite", False))
        path = normalise(fields["path"])
        import_format = fields.get("format", "SOURCE")
        language = Language(fields["language"]) if fields.get("language") else None
        object_type = ObjectType.FILE
        if import_format == "SOURCE":
            if language is None:
                raise invalid(
                    "The provided language is not supported for import with format SOURCE."
                )
            object_type = ObjectType.NOTEBOOK
        elif import_format == "AUTO" and content.startswith(NOTEBOOK_HEADERS):
            object_type = ObjectType.NOTEBOOK
            path = path.rsplit(".", 1)[0] if "." in path.rsplit("/", 1)[-1] else path
        elif import_format not in ("AUTO", "RAW"):
            raise invalid(f"Import format {import_format} is not supported by this fake.")
        parent = _parent(path)
        if parent not in self.objects:
            raise not_found(
                f"The parent folder ({parent}) does not exist.",
                error_code="RESOURCE_DOES_NOT_EXIST",
            )
        if path in self.objects and not overwrite:
            raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"Path ({path}) already exists.")
        self._put(
            path, object_type, content, language if object_type == ObjectType.NOTEBOOK else None
        )
        return {}

    def delete(self, request: Request):
        body = request.json()
        path = normalise(body["path"])
        self._object(path)
        below = [p for p in self.objects if p.startswith(path.rstrip("/") + "/")]
        if below and not body.get("recursive"):
            raise ApiError(400, "DIRECTORY_NOT_EMPTY", f"Folder ({path}) is not empty.")
        for name in [path, *below]:
            del self.objects[name]
        return {}

    def get_status(self, request: Request):
        path = normalise(request.query.get("path", ""))
        return self._object(path).info(path).as_dict()

    def list(self, request: Request):
        path = normalise(request.query.get("path", ""))
        folder = self._object(path)
        if folder.object_type != ObjectType.DIRECTORY:
            return ListResponse(objects=[folder.info(path)]).as_dict()
        return ListResponse(
            objects=[self.objects[c].info(c) for c in self.children(path)]
        ).as_dict()

    def export(self, request: Request):
        path = normalise(request.query.get("path", ""))
        found = self._object(path)
        if found.object_type == ObjectType.DIRECTORY:
            raise invalid(f"Exporting folder ({path}) needs format DBC, which this fake lacks.")
        if request.flag("direct_download"):
            return Response(raw_body=found.content)
        encoded = base64.b64encode(found.content).decode()
        return ExportResponse(content=encoded).as_dict()
