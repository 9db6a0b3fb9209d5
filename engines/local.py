"""What the laptop engines (duckdb, spark) share, as parts they compose: the landing folder under
the home and MLflow on a sqlite file with local artifacts (the app store is casper.appstore's
embedded-or-PostgreSQL store for both)."""

from __future__ import annotations

import os
from pathlib import Path

from casper.engine import LandedFile, LandingSurvey, RegistryTarget
from casper.home import CasperHome
from casper.landing import ignored_entry, is_landing_file


def release_duckdb_file(path: Path, *, forget: bool = False) -> None:
    """Close SQLMesh's shared DuckDB adapter of the data file `path`, if it has one, releasing the
    file's lock (SQLMesh keeps one adapter per data file across contexts, in a class-level cache;
    a closed adapter's pool reconnects on next use). `forget` also drops it from that cache, so
    the next context builds its own."""
    from sqlmesh.core.config.connection import BaseDuckDBConnectionConfig

    adapters = BaseDuckDBConnectionConfig._data_file_to_adapter
    adapter = adapters.pop(str(path), None) if forget else adapters.get(str(path))
    if adapter is not None:
        adapter.close()


#: the refund model's registered name in a local MLflow registry
LOCAL_MODEL_NAME = "caspers_refund_model"


class LocalLander:
    """Files in a local folder, each written under a hidden temporary name and then renamed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def land(self, name: str, payload: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / name
        temporary = self.folder / f".{name}.{os.getpid()}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(payload)
            handle.flush()
            # the rename is the commit point: the bytes must be on disk before it
            os.fsync(handle.fileno())
        os.replace(temporary, final)

    def exists(self, name: str) -> bool:
        return (self.folder / name).exists()

    def list(self) -> list[LandedFile]:
        return list(self.survey().files)

    def survey(self) -> LandingSurvey:
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            return LandingSurvey((), ())
        files, ignored = [], []
        for entry in entries:
            if is_landing_file(entry.name) and entry.is_file():
                stat = entry.stat()
                files.append(LandedFile(entry.name, stat.st_size, stat.st_mtime_ns))
            elif (shown := ignored_entry(entry.name, is_folder=entry.is_dir())) is not None:
                ignored.append(shown)
        return LandingSurvey(tuple(sorted(files, key=lambda f: f.name)), tuple(sorted(ignored)))

    def read(self, name: str) -> bytes:
        return (self.folder / name).read_bytes()

    def sweep(self) -> int:
        """Delete temporaries a killed writer left behind; they were never landed."""
        if not self.folder.is_dir():
            return 0
        stale = [
            p for p in self.folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")
        ]
        for path in stale:
            path.unlink(missing_ok=True)
        return len(stale)


def local_registry(home: CasperHome) -> RegistryTarget:
    """MLflow tracking and registry in one sqlite file, artifacts in a folder, under the home."""
    tracking = f"sqlite:///{home.mlflow / 'mlflow.db'}"
    return RegistryTarget(
        tracking_uri=tracking,
        registry_uri=tracking,
        artifact_location=(home.mlflow / "artifacts").as_uri(),
        model_name=LOCAL_MODEL_NAME,
    )
