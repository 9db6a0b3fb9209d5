"""Where every piece of local state lives: one home directory, `$CASPER_HOME` (default `./.casper`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = Path(".casper")


@dataclass(frozen=True)
class CasperHome:
    root: Path

    @classmethod
    def resolve(cls, explicit: str | os.PathLike[str] | None = None) -> CasperHome:
        """`--home` wins, then `$CASPER_HOME`, then `./.casper`."""
        chosen = explicit or os.environ.get("CASPER_HOME") or DEFAULT_HOME
        return cls(Path(chosen).expanduser().absolute())

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def roads(self) -> Path:
        return self.root / "roads"

    @property
    def generator(self) -> Path:
        """Generator state: the simulation anchor and the live/replay checkpoints."""
        return self.root / "generator"

    @property
    def mlflow(self) -> Path:
        return self.root / "mlflow"

    def ensure(self) -> CasperHome:
        self.landing.mkdir(parents=True, exist_ok=True)
        return self
