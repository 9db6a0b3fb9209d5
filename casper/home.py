"""Where every piece of local state lives: one home directory, `$CASPER_HOME` (default `./.casper`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CasperHome:
    root: Path

    @classmethod
    def resolve(cls, explicit: str | Path | None = None) -> CasperHome:
        """`--home` wins, then `$CASPER_HOME`, then `./.casper` (casper.settings.Settings)."""
        from casper.settings import Settings

        return cls(Settings.load(home=explicit).home)

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
