"""What `casper up` created under the home, so `casper down` removes exactly that.

Entries are paths relative to the home: a file, a folder the project owns whole, or a glob of files
inside a folder (so a user's own file beside ours survives). Folders emptied by `down` go too.
Resources are what an engine deploying elsewhere made (a workspace's catalog, jobs, ...), in the
order made, each with whether `up` created it (a resource the user already had is never deleted).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Kind = Literal["file", "folder", "glob"]


@dataclass(frozen=True)
class Resource:
    #: what it is, e.g. "catalog", "job"
    kind: str
    #: its name (or path) in the place it lives
    name: str
    #: False for a resource that existed before `up` (used, never deleted)
    created: bool
    #: the identifier the place gives it, when not the name (a job id)
    id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "created": self.created, "id": self.id}


@dataclass
class Manifest:
    home: Path
    entries: dict[str, Kind] = field(default_factory=dict)
    stages: dict[str, bool] = field(default_factory=dict)
    #: the app store's PostgreSQL DSN without its password (never stored: libpq finds it in
    #: PGPASSWORD, ~/.pgpass or a service file, or `casper down --app-store DSN` gives it)
    app_store_dsn: str | None = None
    resources: list[Resource] = field(default_factory=list)
    #: the settings a deployment was made with (catalog, volume, schema), so later commands on
    #: this home (status, down) address the same resources without repeating the options
    settings: dict[str, str] = field(default_factory=dict)

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
            manifest.resources = [Resource(**r) for r in raw.get("resources", [])]
            manifest.settings = dict(raw.get("settings", {}))
        return manifest

    def resource(self, kind: str, name: str) -> Resource | None:
        return next((r for r in self.resources if (r.kind, r.name) == (kind, name)), None)

    def add_resource(self, resource: Resource) -> None:
        """Record a resource once (the first record says whether we created it) and save."""
        if self.resource(resource.kind, resource.name) is None:
            self.resources.append(resource)
            self.save()

    def forget_resource(self, resource: Resource) -> None:
        self.resources = [r for r in self.resources if r != resource]
        self.save()

    def record(self, relative: str, kind: Kind) -> None:
        self.entries[relative] = kind

    def save(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(".manifest.json.tmp")
        document = {
            "entries": self.entries,
            "stages": self.stages,
            "app_store_dsn": self.app_store_dsn,
            "resources": [r.as_dict() for r in self.resources],
            "settings": self.settings,
        }
        # owner-only: the manifest names the app store's server and the workspace's resources
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(json.dumps(document, indent=2, sort_keys=True))
        os.chmod(temporary, 0o600)  # a temporary left by an older version may be wider
        os.replace(temporary, self.path)

    def remove_all(self) -> list[str]:
        """Delete every recorded file and folder that still exists; returns what was removed.

        What lives elsewhere and is still recorded (resources, the app store's DSN: a `down` that
        could not remove them) keeps the manifest, with nothing else in it, so the next `down`
        finishes the job; otherwise the manifest goes too."""
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
        # the landing folder is made by every command that lands (CasperHome.ensure)
        touched_folders.add(self.home / "landing")
        for folder in sorted(touched_folders, key=lambda p: len(p.parts), reverse=True):
            _remove_if_empty(folder, self.home)
        self.entries, self.stages = {}, {}
        if self.resources or self.app_store_dsn:
            self.save()
            return removed
        if self.path.exists():
            self.path.unlink()
            removed.append(self.path.name)
        _remove_if_empty(self.home, self.home.parent)
        return removed


def _remove_if_empty(folder: Path, stop: Path) -> None:
    while folder != stop and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
