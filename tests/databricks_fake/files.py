"""The Files API (2.0) over Unity Catalog volumes (`/Volumes/...`) and model versions (`/Models/...`).

Files live in memory. Directories exist when created, when a file is below them, or as a volume's root.
Presigned URLs are not offered: `create-download-url` answers 501, which makes the SDK fall back to a
plain GET, as it does on a workspace without them.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from databricks.sdk.service.files import DirectoryEntry, ListDirectoryResponse

from .routing import ApiError, Request, Response, already_exists, invalid, not_found

if TYPE_CHECKING:
    from .workspace import FakeWorkspace

FS = "/api/2.0/fs"


@dataclass
class StoredFile:
    content: bytes
    last_modified_ms: int

    def headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(len(self.content)),
            "Last-Modified": email.utils.formatdate(self.last_modified_ms / 1000, usegmt=True),
        }


def _normalise(path: str) -> str:
    path = "/" + path.strip("/")
    return re.sub(r"/+", "/", path)


class FilesApi:
    def __init__(self, ws: FakeWorkspace):
        self.ws = ws
        self.files: dict[str, StoredFile] = {}
        self.directories: set[str] = set()

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

    # -- where a path may live ---------------------------------------------------------------------

    def _root_of(self, path: str) -> str:
        """The volume or model-version root a path is under; 404 when that resource does not exist."""
        parts = path.strip("/").split("/")
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
        try:
            root = self._root_of(path)
        except ApiError:
            return False
        if path == root or path in self.directories:
            return True
        return any(name.startswith(path + "/") for name in self.files)

    def remove_tree(self, prefix: str) -> None:
        """Drops everything under a volume or model version that is being deleted."""
        for name in [n for n in self.files if n.startswith(prefix + "/")]:
            del self.files[name]
        self.directories = {
            d for d in self.directories if d != prefix and not d.startswith(prefix + "/")
        }

    def _file(self, path: str) -> StoredFile:
        self._root_of(path)
        if path not in self.files:
            raise not_found(f"The file being accessed is not found: {path}")
        return self.files[path]

    # -- handlers ----------------------------------------------------------------------------------

    def upload(self, request: Request):
        path = _normalise(request.params["path"])
        root = self._root_of(path)
        if path == root or self.is_directory(path):
            raise already_exists(f"A directory exists at {path}", error_code="ALREADY_EXISTS")
        if path in self.files and not request.flag("overwrite"):
            raise already_exists(
                "The file being created already exists.", error_code="ALREADY_EXISTS"
            )
        self.files[path] = StoredFile(request.body, self.ws.now_ms())
        return Response(status=204)

    def download(self, request: Request):
        stored = self._file(_normalise(request.params["path"]))
        content = stored.content
        headers = stored.headers()
        byte_range = request.header("Range")
        if byte_range:
            start_text, _, end_text = byte_range.removeprefix("bytes=").partition("-")
            start = int(start_text)
            end = int(end_text) if end_text else len(content) - 1
            part = content[start : end + 1]
            headers["Content-Length"] = str(len(part))
            headers["Content-Range"] = f"bytes {start}-{start + len(part) - 1}/{len(content)}"
            return Response(status=206, raw_body=part, headers=headers)
        return Response(raw_body=content, headers=headers)

    def metadata(self, request: Request):
        stored = self._file(_normalise(request.params["path"]))
        return Response(raw_body=b"", headers=stored.headers())

    def delete(self, request: Request):
        path = _normalise(request.params["path"])
        self._file(path)
        del self.files[path]
        return Response(status=204)

    def list_directory(self, request: Request):
        path = _normalise(request.params["path"])
        if not self.is_directory(path):
            raise not_found(f"The directory being accessed is not found: {path}")
        entries: dict[str, DirectoryEntry] = {}
        for name, stored in self.files.items():
            if not name.startswith(path + "/"):
                continue
            child, _, rest = name[len(path) + 1 :].partition("/")
            child_path = f"{path}/{child}"
            if rest:
                entries[child_path] = DirectoryEntry(
                    path=child_path + "/", name=child, is_directory=True
                )
            else:
                entries[child_path] = DirectoryEntry(
                    path=child_path,
                    name=child,
                    is_directory=False,
                    file_size=len(stored.content),
                    last_modified=stored.last_modified_ms,
                )
        for directory in self.directories:
            if directory.startswith(path + "/") and "/" not in directory[len(path) + 1 :]:
                name = directory[len(path) + 1 :]
                entries.setdefault(
                    directory, DirectoryEntry(path=directory + "/", name=name, is_directory=True)
                )
        ordered = [entries[key] for key in sorted(entries)]
        return ListDirectoryResponse(contents=ordered).as_dict()

    def create_directory(self, request: Request):
        path = _normalise(request.params["path"])
        root = self._root_of(path)
        if path in self.files:
            raise already_exists(f"A file exists at {path}", error_code="ALREADY_EXISTS")
        # Parents are created too, like `mkdir -p`.
        while path != root:
            self.directories.add(path)
            path = path.rsplit("/", 1)[0]
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
        if any(n.startswith(path + "/") for n in self.files) or any(
            d.startswith(path + "/") for d in self.directories
        ):
            raise ApiError(409, "DIRECTORY_NOT_EMPTY", f"The directory is not empty: {path}")
        self.directories.discard(path)
        return Response(status=204)

    def create_download_url(self, request: Request):
        raise ApiError(501, "NOT_IMPLEMENTED", "Presigned URLs are not enabled in this workspace.")
