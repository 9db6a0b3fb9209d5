"""What `casper up` created under the home, so `casper down` removes exactly that.

Entries are paths relative to the home: a file, a folder the project owns whole, or a glob of files
inside a folder (so a user's own file beside ours survives). Folders emptied by `down` go too.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Kind = Literal["file", "folder", "glob"]


@dataclass
class Manifest:
    home: Path
    entries: dict[str, Kind] = field(default_factory=dict)
    stages: dict[str, bool] = field(default_factory=dict)
    app_store_dsn: str | None = None

    @property
    def path(self) -> Path:
        return self.home / "manifest.json"

    @classmethod
    def load(cls, home: Path) -> Manifest:
        manifest = cls(home)
        if manifest.path.exists():
            raw = json.loads(manifest.path.read_text())
            manifest.entries = dict(raw.get("entries", {}))
            manifest.stages = dict(raw.get("stages", {}))
            manifest.app_store_dsn = raw.get("app_store_dsn")
        return manifest

    def record(self, relative: str, kind: Kind) -> None:
        self.entries[relative] = kind

    def save(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(".manifest.json.tmp")
        document = {
            "entries": self.entries,
            "stages": self.stages,
            "app_store_dsn": self.app_store_dsn,
        }
        temporary.write_text(json.dumps(document, indent=2, sort_keys=True))
        os.replace(temporary, self.path)

    def remove_all(self) -> list[str]:
        """Delete every recorded thing that still exists; returns what was removed."""
        removed: list[str] = []
        touched_folders: set[Path] = set()
        for relative, kind in sorted(self.entries.items()):
            target = self.home / relative
            if kind == "glob":
                matches = sorted(p for p in self.home.glob(relative) if p.is_file())
                for path in matches:
                    path.unlink()
                if matches:
                    removed.append(f"{relative} ({len(matches)} files)")
                touched_folders.add(target.parent)
            elif kind == "folder" and target.is_dir():
                shutil.rmtree(target)
                removed.append(f"{relative}/")
            elif kind == "file" and target.exists():
                target.unlink()
                removed.append(relative)
        for folder in sorted(touched_folders, key=lambda p: len(p.parts), reverse=True):
            _remove_if_empty(folder, self.home)
        if self.path.exists():
            self.path.unlink()
            removed.append(self.path.name)
        _remove_if_empty(self.home, self.home.parent)
        return removed


def _remove_if_empty(folder: Path, stop: Path) -> None:
    while folder != stop and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
