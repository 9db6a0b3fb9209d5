"""What a simulation is anchored on: its `now`, its locations' effective configs, its seed.

`casper generate` writes it; `casper live` reads it, so live continues the exact same world.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

from casper.config import LocationConfig
from casper.errors import CasperError
from casper.generator.simulation import to_us

PLAN_FILE = "simulation.json"


#: event times are microseconds since this instant
EPOCH = dt.datetime(1970, 1, 1)


class PlanConflictError(CasperError):
    pass


def parse_now(text: str | None, option: str = "--now") -> dt.datetime:
    """--now (or another time `option`) as naive UTC, to the second; default: the current time."""
    if text is None:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CasperError(
            f"{option} {text!r} is not an ISO date-time (e.g. 2026-11-26T12:00:00)"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def effective(config: LocationConfig, days: int | None, seed: int | None) -> LocationConfig:
    """A config with the command line's --days / --seed applied."""
    update: dict[str, int] = {}
    if days is not None:
        update["start_days_ago"] = days
    if seed is not None:
        update["random_seed"] = seed
    return config.model_copy(update=update) if update else config


@dataclass(frozen=True)
class SimulationPlan:
    now: dt.datetime
    configs: tuple[LocationConfig, ...]

    @property
    def now_us(self) -> int:
        return to_us(self.now)

    def sim_start(self, config: LocationConfig) -> dt.datetime:
        return self.now - dt.timedelta(days=config.start_days_ago)

    def validated(self) -> SimulationPlan:
        """This plan, or a one-line error when a location's history would start before the epoch
        (event times are microseconds since 1970): checked before anything is saved."""
        limit = (self.now - EPOCH).days
        for config in self.configs:
            if config.start_days_ago > limit:
                raise CasperError(
                    f"{config.location_name}: {config.start_days_ago:,} days of history before "
                    f"{self.now.isoformat(sep=' ')} would start before 1970; --days can be at most "
                    f"{limit:,}"
                )
        return self

    def to_json(self) -> str:
        return json.dumps(
            {
                "now": self.now.isoformat(),
                "locations": {c.location_name: c.model_dump(mode="json") for c in self.configs},
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> SimulationPlan:
        raw = json.loads(text)
        configs = tuple(LocationConfig.model_validate(c) for c in raw["locations"].values())
        return cls(now=dt.datetime.fromisoformat(raw["now"]), configs=configs)

    def merged_with(self, other: SimulationPlan) -> SimulationPlan:
        """This plan plus `other`'s new locations; the same location must not change."""
        if other.now != self.now:
            raise PlanConflictError(
                f"history was already generated with --now {self.now.isoformat()}; "
                f"continue it with `casper live`, or `casper down` to start over"
            )
        mine = {c.location_name: c for c in self.configs}
        for config in other.configs:
            known = mine.get(config.location_name)
            if known is not None and known != config:
                raise PlanConflictError(
                    f"location {config.location_name} was generated with other settings "
                    f"(seed, days or config changed); `casper down` to start over"
                )
            mine.setdefault(config.location_name, config)
        return SimulationPlan(now=self.now, configs=tuple(mine.values()))


def load_plan(folder: Path) -> SimulationPlan | None:
    path = folder / PLAN_FILE
    if not path.exists():
        return None
    try:
        return SimulationPlan.from_json(path.read_text())
    except (ValueError, KeyError) as exc:
        raise CasperError(
            f"{path}: unreadable simulation state ({exc}); `casper down` to reset"
        ) from None


def save_plan(folder: Path, plan: SimulationPlan) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{PLAN_FILE}.tmp"
    temporary.write_text(plan.to_json())
    os.replace(temporary, folder / PLAN_FILE)
