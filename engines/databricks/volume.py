"""Landing files in a Unity Catalog volume through the Files API (casper.engine.Lander).

An upload is one PUT: the object appears whole or not at all, so a reader never sees half a file
and there is no temporary to clean up. `overwrite=False` makes landing a name twice an error the
lander turns into "already landed" (landed files never change: the generator lists what landed
first and a re-run of history skips days already there).
"""

from __future__ import annotations

import contextlib
import io
from typing import TYPE_CHECKING

from casper.engine import LandedFile, LandingSurvey
from casper.landing import ignored_entry, is_landing_file

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient


class VolumeLander:
    def __init__(self, client: WorkspaceClient, folder: str) -> None:
        #: a /Volumes/catalog/schema/volume path
        self.folder = folder.rstrip("/")
        self._client = client

    def __getstate__(self) -> dict:
        # generator worker processes get the folder and build their own client (it holds sessions)
        return {"folder": self.folder, "config": self._client.config}

    def __setstate__(self, state: dict) -> None:
        from databricks.sdk import WorkspaceClient

        self.folder = state["folder"]
        self._client = WorkspaceClient(config=state["config"])

    def _path(self, name: str) -> str:
        return f"{self.folder}/{name}"

    def land(self, name: str, payload: bytes) -> None:
        from databricks.sdk.errors import AlreadyExists, ResourceAlreadyExists

        # landed before (a retried upload whose answer was lost): never replaced
        with contextlib.suppress(AlreadyExists, ResourceAlreadyExists):
            self._client.files.upload(self._path(name), io.BytesIO(payload), overwrite=False)

    def exists(self, name: str) -> bool:
        from databricks.sdk.errors import NotFound

        try:
            self._client.files.get_metadata(self._path(name))
        except NotFound:
            return False
        return True

    def list(self) -> list[LandedFile]:
        return list(self.survey().files)

    def survey(self) -> LandingSurvey:
        """One Files API listing of the volume folder."""
        from databricks.sdk.errors import NotFound

        try:
            entries = list(self._client.files.list_directory_contents(self.folder))
        except NotFound:
            return LandingSurvey((), ())
        files, ignored = [], []
        for entry in entries:
            if not entry.name:
                continue
            if not entry.is_directory and is_landing_file(entry.name):
                # last_modified is in milliseconds since the epoch
                modified_ns = int(entry.last_modified or 0) * 10**6
                files.append(LandedFile(entry.name, int(entry.file_size or 0), modified_ns))
                continue
            shown = ignored_entry(entry.name, is_folder=bool(entry.is_directory))
            if shown is not None:
                ignored.append(shown)
        return LandingSurvey(tuple(sorted(files, key=lambda f: f.name)), tuple(sorted(ignored)))

    def read(self, name: str) -> bytes:
        response = self._client.files.download(self._path(name))
        with response.contents as stream:
            return stream.read()

    def sweep(self) -> int:
        return 0  # an upload leaves no temporary behind
