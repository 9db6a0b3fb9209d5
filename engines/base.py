"""The engine seam: the questions every engine answers."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Protocol

from casper.home import CasperHome


class UnknownEngineError(ValueError):
    pass


class Lander(Protocol):
    """Where raw event files land. A reader must never see half a file."""

    def land(self, name: str, payload: bytes) -> None: ...

    def exists(self, name: str) -> bool: ...

    def names(self) -> list[str]: ...

    def read(self, name: str) -> bytes: ...


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

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir() if not p.name.startswith("."))

    def read(self, name: str) -> bytes:
        return (self.folder / name).read_bytes()

    def sweep_temporaries(self) -> int:
        """Delete temporaries a killed writer left behind; they were never landed."""
        if not self.folder.is_dir():
            return 0
        stale = [
            p for p in self.folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")
        ]
        for path in stale:
            path.unlink(missing_ok=True)
        return len(stale)


class Engine(ABC):
    """One engine bound to a Casper home."""

    name: str
    #: the SQLMesh gateway (models/config.py) that runs the medallion models
    gateway: str

    def __init__(self, home: CasperHome) -> None:
        self.home = home

    @abstractmethod
    def lander(self) -> Lander:
        """Where raw events land."""

    @abstractmethod
    def tracking_uri(self) -> str:
        """Where MLflow records training runs."""

    @abstractmethod
    def registry_uri(self) -> str:
        """The MLflow model registry that holds the refund model."""

    @abstractmethod
    def artifact_location(self) -> str | None:
        """Where run artifacts go (None: the tracking server decides)."""

    @abstractmethod
    def warehouse(self):
        """The refund side of the warehouse: delivered orders in, recommendations out."""

    @abstractmethod
    def score_deliveries(self, model, version: str) -> tuple[int, int]:
        """Score every delivered order `version` has not scored yet, each once, with
        casper.refunds.scoring.score_batch; returns (orders scored, orders left unscorable)."""

    @abstractmethod
    def model_name(self) -> str:
        """The registered name of the refund model (Unity Catalog wants catalog.schema.name)."""
