"""The Files API (2.0) over Unity Catalog volumes (`/Volumes/...`) and model versions (`/Models/...`).

Files live on disk under the fake's `root`: `/Volumes/c/s/v/a.json` is `<root>/Volumes/c/s/v/a.json`,
so a job's subprocess reads and writes the same files through that folder as Databricks compute does
through the volume's FUSE path, and what it writes there is listed and downloadable through the API.
Uploads are staged in `<root>/.uploads` and renamed into place, so a reader on disk never sees half a
file nor a temporary name. Directories are real folders; a volume's root is one whenever the volume
exists in Unity Catalog. Presigned URLs are not offered: `create-download-url` answers 501, which
makes the SDK fall back to a plain GET, as it does on a workspace without them.
"""

from __future__ import annotations

import email.utils
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from databricks.sdk.service.files import DirectoryEntry, ListDirectoryResponse

from .routing import ApiError, Request, Response, already_exists, invalid, not_found

if TYPE_CHECKING:
    from .workspace import FakeWorkspace

FS = "/api/2.0/fs"
TOP_FOLDERS = ("Volumes", "Models")
"""The folders under `root` that hold Files API paths (`root` also holds `.uploads`, and whatever
job runs keep there)."""


def _normalise(path: str) -> str:
    path = "/" + path.strip("/")
    return re.sub(r"/+", "/", path)


def _mtime_ms(stat: os.stat_result) -> int:
    return stat.st_mtime_ns // 1_000_000


class FilesApi:
    def __init__(self, ws: FakeWorkspace):
        self.ws = ws

    def routes(self):
        return [
            ("PUT", f"{FS}/files{{path*}}", self.upload),
            ("GET", f"{FS}/files{{path*}}", self.download),
            ("HEAD", f"{FS}/files{{path*}}", self.metadata),
            ("DELETE", f"{FS}/files{{path*}}", self.delete),
            ("GET", f"{FS}/directories{{path*}}", self.list_directory),
            ("PUT", f"{FS}/directories{{path*}}", self.create_directory),
            ("HEAD", f"{FS}/directories{{path*}}", self.directory_metadata),
            ("DELETE", f"{FS}/directories{{path*}}", self.delete_directory),
            ("POST", f"{FS}/create-download-url", self.create_download_url),
        ]

    # -- where a path lives ------------------------------------------------------------------------

    def local_path(self, path: str) -> Path:
        """Where the API path `path` is on disk."""
        return self.ws.root / _normalise(path).lstrip("/")

    def _root_of(self, path: str) -> str:
        """The volume or model-version root a path is under; 404 when that resource does not exist."""
        parts = path.strip("/").split("/")
        if {".", ".."} & set(parts):
            raise invalid(f"Path '{path}' must not have '.' or '..' components.")
        if parts[0] == "Volumes" and len(parts) >= 4:
            self.ws.uc.volume(".".join(parts[1:4]))
            return "/" + "/".join(parts[:4])
        if parts[0] == "Models" and len(parts) >= 5:
            self.ws.models.version(".".join(parts[1:4]), parts[4])
            return "/" + "/".join(parts[:5])
        raise invalid(
            f"Path '{path}' is not supported: Files API paths are /Volumes/<catalog>/<schema>/<volume>/... "
            "or /Models/<catalog>/<schema>/<model>/<version>/..."
        )

    def is_directory(self, path: str) -> bool:
        path = _normalise(path)
        try:
            root = self._root_of(path)
        except ApiError:
            return False
        return path == root or self.local_path(path).is_dir()

    def is_file(self, path: str) -> bool:
        """A file at `path` under an existing volume or model version."""
        path = _normalise(path)
        try:
            root = self._root_of(path)
        except ApiError:
            return False
        return path != root and self.local_path(path).is_file()

    def read(self, path: str) -> bytes:
        """The bytes of the file at `path` (404 as the API would, when there is none)."""
        return self._file(_normalise(path)).read_bytes()

    def paths(self) -> list[str]:
        """The API paths of every file on disk under `/Volumes` and `/Models`, sorted."""
        found = []
        for top in TOP_FOLDERS:
            base = self.ws.root / top
            for folder, _, names in os.walk(base):
                relative = Path(folder).relative_to(self.ws.root).as_posix()
                found.extend(f"/{relative}/{name}" for name in names)
        return sorted(found)

    def make_directory(self, path: str) -> None:
        """The folder of `path` on disk, with its parents (a volume's root when it is created)."""
        self.local_path(path).mkdir(parents=True, exist_ok=True)

    def remove_tree(self, prefix: str) -> None:
        """Drops everything under a volume or model version that is being deleted, and the parent
        folders that leaves empty."""
        local = self.local_path(prefix)
        shutil.rmtree(local, ignore_errors=True)
        parent = local.parent
        while parent.parent != self.ws.root and parent != self.ws.root:
            try:
                parent.rmdir()
            except OSError:  # not empty, or gone already
                break
            parent = parent.parent

    def _file(self, path: str) -> Path:
        root = self._root_of(path)
        local = self.local_path(path)
        if path == root or not local.is_file():
            raise not_found(f"The file being accessed is not found: {path}")
        return local

    def _file_in_the_way(self, path: str, root: str) -> str | None:
        """The first folder on the way from `root` down to `path` (excluded) that is a file."""
        below = path[len(root) :].strip("/").split("/")[:-1]
        current = root
        for part in below:
            current = f"{current}/{part}"
            if self.local_path(current).is_file():
                return current
        return None

    @staticmethod
    def _headers(stat: os.stat_result) -> dict[str, str]:
        return {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(stat.st_size),
            "Last-Modified": email.utils.formatdate(stat.st_mtime, usegmt=True),
        }

    # -- handlers ----------------------------------------------------------------------------------

    def upload(self, request: Request):
        path = _normalise(request.params["path"])
        root = self._root_of(path)
        if path == root or self.is_directory(path):
            raise already_exists(f"A directory exists at {path}", error_code="ALREADY_EXISTS")
        in_the_way = self._file_in_the_way(path, root)
        if in_the_way:
            raise already_exists(f"A file exists at {in_the_way}", error_code="ALREADY_EXISTS")
        target = self.local_path(path)
        if target.exists() and not request.flag("overwrite"):
            raise already_exists(
                "The file being created already exists.", error_code="ALREADY_EXISTS"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = self.ws.root / ".uploads"
        staging.mkdir(exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=staging)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(request.body)
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return Response(status=204)

    def download(self, request: Request):
        local = self._file(_normalise(request.params["path"]))
        content = local.read_bytes()
        headers = self._headers(local.stat())
        headers["Content-Length"] = str(len(content))
        byte_range = request.header("Range")
        if byte_range:
            start_text, _, end_text = byte_range.removeprefix("bytes=").partition("-")
            if start_text:
                start = int(start_text)
                end = int(end_text) if end_text else len(content) - 1
            else:  # bytes=-N: the last N bytes
                start, end = max(0, len(content) - int(end_text)), len(content) - 1
            part = content[start : end + 1]
            headers["Content-Length"] = str(len(part))
            headers["Content-Range"] = f"bytes {start}-{start + len(part) - 1}/{len(content)}"
            return Response(status=206, raw_body=part, headers=headers)
        return Response(raw_body=content, headers=headers)

    def metadata(self, request: Request):
        local = self._file(_normalise(request.params["path"]))
        return Response(raw_body=b"", headers=self._headers(local.stat()))

    def delete(self, request: Request):
        local = self._file(_normalise(request.params["path"]))
        local.unlink(missing_ok=True)
        return Response(status=204)

    def list_directory(self, request: Request):
        path = _normalise(request.params["path"])
        if not self.is_directory(path):
            raise not_found(f"The directory being accessed is not found: {path}")
        entries: list[DirectoryEntry] = []
        try:
            children = list(os.scandir(self.local_path(path)))
        except FileNotFoundError:  # a volume's root before anything was written to it
            children = []
        for child in children:
            child_path = f"{path}/{child.name}"
            try:
                if child.is_dir():
                    entries.append(
                        DirectoryEntry(path=child_path + "/", name=child.name, is_directory=True)
                    )
                elif child.is_file():
                    stat = child.stat()
                    entries.append(
                        DirectoryEntry(
                            path=child_path,
                            name=child.name,
                            is_directory=False,
                            file_size=stat.st_size,
                            last_modified=_mtime_ms(stat),
                        )
                    )
            except FileNotFoundError:  # removed by another process since the scan
                continue
        entries.sort(key=lambda entry: entry.name)
        return ListDirectoryResponse(contents=entries).as_dict()

    def create_directory(self, request: Request):
        path = _normalise(request.params["path"])
        root = self._root_of(path)
        if path != root and self.local_path(path).is_file():
            raise already_exists(f"A file exists at {path}", error_code="ALREADY_EXISTS")
        in_the_way = self._file_in_the_way(path, root)
        if in_the_way:
            raise already_exists(f"A file exists at {in_the_way}", error_code="ALREADY_EXISTS")
        # Parents are created too, like `mkdir -p`.
        self.make_directory(path)
        return Response(status=204)

    def directory_metadata(self, request: Request):
        path = _normalise(request.params["path"])
        if not self.is_directory(path):
            raise not_found(f"The directory being accessed is not found: {path}")
        return Response(raw_body=b"")

    def delete_directory(self, request: Request):
        path = _normalise(request.params["path"])
        if not self.is_directory(path):
            raise not_found(f"The directory being accessed is not found: {path}")
        local = self.local_path(path)
        if local.is_dir() and any(local.iterdir()):
            raise ApiError(409, "DIRECTORY_NOT_EMPTY", f"The directory is not empty: {path}")
        if local.is_dir() and path != self._root_of(path):
            local.rmdir()  # a volume's root stays: the volume, and its folder, still exist
        return Response(status=204)

    def create_download_url(self, request: Request):
        raise ApiError(501, "NOT_IMPLEMENTED", "Presigned URLs are not enabled in this workspace.")
