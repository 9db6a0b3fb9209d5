"""Location configs: the reference's JSON format (SPEC.md section 2), validated.

Every reference key is required, so a reference config file loads unchanged; the keys we add (kitchen
coordinates, growth curve, late-night bump, brand launches and exits, a road network file,
data-quality scenarios) are optional. A top-level key neither knows is kept but warned about, once
per file, so a typo (`orders_day1`) is noticed without refusing a config from a newer reference;
inside the nested objects, which are ours to define, an unknown key is an error.
"""

from __future__ import annotations

import difflib
import functools
import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from casper.errors import CasperError
from casper.resources import configs_dir

EVENT_BODY_FIELDS: dict[str, tuple[str, ...]] = {
    "order_created": ("customer_lat", "customer_lon", "customer_addr", "items"),
    "gk_started": (),
    "gk_finished": (),
    "gk_ready": (),
    "driver_arrived": (),
    "driver_picked_up": ("route_points", "eta_mins"),
    "driver_ping": ("progress_pct", "loc_lat", "loc_lon"),
    "delivered": ("delivered_lat", "delivered_lon"),
}
EVENT_TYPES = tuple(EVENT_BODY_FIELDS)

log = logging.getLogger(__name__)

NonNegative = Annotated[float, Field(ge=0)]
Probability = Annotated[float, Field(ge=0, le=1)]


class ConfigError(CasperError, ValueError):
    """A location config that cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceTimes(_Strict):
    """Minutes between lifecycle steps, each [mean, standard deviation]."""

    cs: tuple[NonNegative, NonNegative]
    sf: tuple[NonNegative, NonNegative]
    fr: tuple[NonNegative, NonNegative]
    rp: tuple[NonNegative, NonNegative]


class DriverArrival(_Strict):
    alpha: Annotated[float, Field(gt=0)]
    beta: Annotated[float, Field(gt=0)]
    after_ready_pct: Probability


class BrandMomentum(_Strict):
    improving: Probability
    flat: Probability
    declining: Probability

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> BrandMomentum:
        total = self.improving + self.flat + self.declining
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"improving + flat + declining must sum to 1, not {total:g}")
        return self


class MomentumRates(_Strict):
    growth: NonNegative
    # a decline of 1 would wipe a brand out after day 0, leaving orders with nothing in them
    decline: Annotated[float, Field(ge=0, lt=1)]


class LateNightBump(_Strict):
    """Extra demand 21:00-01:00 (the canonical dataset has one location with it)."""

    peak: Annotated[float, Field(ge=1)] = 2.0


class BrandLifecycle(_Strict):
    """A brand that launches or exits at a given day of the simulation, at this location."""

    brand_id: Annotated[int, Field(ge=1)]
    launch_day: Annotated[int, Field(ge=0)] | None = None
    exit_day: Annotated[int, Field(ge=0)] | None = None


class DQScenarios(_Strict):
    """Ours: data-quality scenarios beyond the reference's nulls, each a share in [0, 1]
    (casper/generator/scenarios.py lands them; README.md, "Data-quality scenarios")."""

    #: lines of a location-day's file written truncated (not JSON: quarantined invalid_json)
    malformed_lines: Probability = 0.0
    #: location-days whose file lands a second time under another name (a re-landed duplicate)
    relanded_files: Probability = 0.0
    #: orders whose events from driver_picked_up on land in a later file of their own
    late_events: Probability = 0.0
    #: location-days whose later events land, in a file of their own, before the day's file
    out_of_order_files: Probability = 0.0

    @property
    def any(self) -> bool:
        return any(share > 0 for share in self.model_dump().values())


class LocationConfig(BaseModel):
    # Unknown keys are kept rather than rejected (the reference added keys over time), and
    # warned about (warn_unknown_keys).
    model_config = ConfigDict(extra="allow", frozen=True)

    # --- the reference's keys (all required) ---
    start_days_ago: Annotated[int, Field(ge=0)]
    end_days_ahead: Annotated[int, Field(ge=0)]
    speed_up: Annotated[float, Field(gt=0)]
    orders_day_1: NonNegative
    orders_last: NonNegative
    noise_pct: Annotated[float, Field(ge=0, le=100)]
    svc: ServiceTimes
    driver_arrival: DriverArrival
    brand_momentum: BrandMomentum
    momentum_rates: MomentumRates
    dq: dict[str, dict[str, Probability]]
    gk_location: str
    location_name: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    radius_mi: Annotated[float, Field(gt=0, le=30)]
    driver_mph: Annotated[float, Field(gt=0)]
    batch_rows: Annotated[int, Field(ge=1)]
    batch_seconds: Annotated[float, Field(gt=0)]
    ping_sec: Annotated[float, Field(gt=0)]
    random_seed: int

    # --- ours (optional) ---
    kitchen_lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    kitchen_lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    display_name: str | None = None
    demand_curve: Literal["linear", "exponential"] = "linear"
    late_night_bump: LateNightBump | None = None
    brand_lifecycle: tuple[BrandLifecycle, ...] = ()
    road_network: Path | None = None
    dq_scenarios: DQScenarios | None = None

    @field_validator("dq")
    @classmethod
    def _known_dq_fields(cls, dq: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for event_type, fields in dq.items():
            if event_type not in EVENT_BODY_FIELDS:
                raise ValueError(
                    f"unknown event type {event_type!r} (one of {', '.join(EVENT_TYPES)})"
                )
            for name in fields:
                if name not in EVENT_BODY_FIELDS[event_type]:
                    allowed = ", ".join(EVENT_BODY_FIELDS[event_type]) or "none"
                    raise ValueError(
                        f"{event_type} has no body field {name!r} (its fields: {allowed})"
                    )
        return dq

    @model_validator(mode="after")
    def _coherent(self) -> LocationConfig:
        if (self.kitchen_lat is None) != (self.kitchen_lon is None):
            raise ValueError("kitchen_lat and kitchen_lon go together: give both or neither")
        return self

    @property
    def kitchen(self) -> tuple[float, float] | None:
        """Kitchen (lat, lon): explicit, else a bundled location's (bundled_kitchen), else None.

        resolve_locations writes the bundled coordinates into a config that lacks them; the
        fallback here keeps a simulation saved before that (simulation.json) routable."""
        if self.kitchen_lat is not None and self.kitchen_lon is not None:
            return (self.kitchen_lat, self.kitchen_lon)
        found = bundled_kitchen(self)
        return None if found is None else found[1]

    @property
    def city(self) -> str:
        """The city part of gk_location ("160 Spear St, San Francisco, CA 94105" -> "San Francisco")."""
        parts = [p.strip() for p in self.gk_location.split(",")]
        return parts[-2] if len(parts) >= 3 else (self.display_name or self.location_name)

    @property
    def region(self) -> str:
        """The "CA 94105" tail of gk_location, for customer addresses."""
        parts = [p.strip() for p in self.gk_location.split(",")]
        return parts[-1] if len(parts) >= 3 else ""

    @property
    def title(self) -> str:
        """How people name the location ("San Francisco")."""
        return self.display_name or self.city

    @property
    def total_days(self) -> int:
        """T of the demand model: the length of the simulation window in days."""
        return max(1, self.start_days_ago + self.end_days_ahead)


def _describe(error: ValidationError, path: Path) -> str:
    first = error.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "(top level)"
    if first["type"] == "missing":
        message = "is required"
    else:
        message = first["msg"]
        if not isinstance(first.get("input"), dict | list | type(None)):
            message = f"{message} (got {first['input']!r})"
    more = len(error.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{path}: field {field}: {message}{suffix}"


# (file, key) pairs already warned about: configs are reloaded on every pipeline tick of the demo
_warned_keys: set[tuple[str, str]] = set()


def warn_unknown_keys(config: LocationConfig, path: Path) -> None:
    """One warning line per key that neither the reference (SPEC.md section 2) nor we define."""
    known = list(LocationConfig.model_fields)
    for key in sorted(config.model_extra or {}):
        if (str(path), key) in _warned_keys:
            continue
        _warned_keys.add((str(path), key))
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.85)  # typos, not cousins
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        # The CLI sets up no logging, so Python's last-resort handler prints the bare message on
        # stderr: the message says itself that it is a warning. %r keeps a key's newlines escaped.
        log.warning("warning: %s: unknown key %r is ignored%s", path, key, hint)


def load_config(path: Path) -> LocationConfig:
    """Read and validate one location config; every problem is a one-line ConfigError."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a location config is a JSON object, not {type(raw).__name__}")
    if isinstance(raw.get("road_network"), str) and not Path(raw["road_network"]).is_absolute():
        raw["road_network"] = str((path.parent / raw["road_network"]).resolve())
    try:
        config = LocationConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None
    warn_unknown_keys(config, path)
    return config


def available_locations(directory: Path | None = None) -> list[str]:
    folder = directory or configs_dir()
    return sorted(p.stem for p in folder.glob("*.json"))


@functools.cache
def _bundled(folder: Path) -> tuple[tuple[Path, LocationConfig], ...]:
    return tuple((path, load_config(path)) for path in sorted(folder.glob("*.json")))


def bundled_kitchen(config: LocationConfig) -> tuple[Path, tuple[float, float], str] | None:
    """The bundled config (configs/) whose kitchen `config` shares: its path, its (lat, lon) and
    the key they share, gk_location (looked for first) or location_name; None when none does."""
    bundled = [(path, c) for path, c in _bundled(configs_dir()) if c.kitchen_lat is not None]
    for key in ("gk_location", "location_name"):
        for path, candidate in bundled:
            if getattr(candidate, key) == getattr(config, key):
                assert candidate.kitchen_lat is not None and candidate.kitchen_lon is not None
                return path, (candidate.kitchen_lat, candidate.kitchen_lon), key
    return None


@dataclass(frozen=True)
class Selection:
    """What resolve_selection chose: the configs to run, in order, and which came from files."""

    configs: tuple[LocationConfig, ...]
    #: location names whose config is an explicit --config file
    from_files: frozenset[str]


# notes already given (a command may resolve its locations more than once; the demo reloads them)
_noted: set[str] = set()


def _note(message: str) -> None:
    if message not in _noted:
        _noted.add(message)
        log.warning("note: %s", message)  # printed like the unknown-key warnings: one line


def _with_kitchen(config: LocationConfig, path: Path, replaced: Path | None) -> LocationConfig:
    """A --config file's config with kitchen coordinates: its own, else a bundled location's
    (the reference's files name an address only, and nothing is geocoded offline)."""
    replacing = None if replaced is None else f"{path} replaces the bundled {replaced}"
    if config.kitchen_lat is not None:
        if replacing:
            _note(replacing)
        return config
    found = bundled_kitchen(config)
    if found is None:
        raise ConfigError(
            f"{path}: no kitchen_lat/kitchen_lon, and gk_location {config.gk_location!r} is no "
            "bundled location's kitchen (addresses are not geocoded): add kitchen_lat and "
            "kitchen_lon to the file"
        )
    source, (lat, lon), key = found
    if replacing and source == replaced:
        _note(f"{replacing}, with its kitchen_lat/kitchen_lon {lat}, {lon} (the file has none)")
    else:
        _note(
            f"{replacing or path}: kitchen_lat/kitchen_lon {lat}, {lon} from the bundled "
            f"{source} (the same {key}; the file has none)"
        )
    return config.model_copy(update={"kitchen_lat": lat, "kitchen_lon": lon})


def resolve_selection(
    selection: str | Iterable[str] | None = None,
    config_files: Iterable[Path] = (),
    directory: Path | None = None,
) -> Selection:
    """The locations a command runs, from its --locations (`selection`) and --config files; every
    command that takes them resolves them here.

    - A --config file always runs. It replaces the bundled config of the same location_name, which
      a one-line note says; a file without kitchen coordinates (the reference's have none) takes
      those of the bundled location of the same location_name, else of the same gk_location (the
      note says so too), else it is refused.
    - `selection` (None when --locations is not given): "all" is every bundled location (as
      replaced); a comma-separated list names bundled config files (`sanfrancisco`, like the
      reference) or --config locations by location_name; None is "all" without --config files and
      only the files with them.
    - Two configs may not share a location_name; every problem is a one-line ConfigError.
    """
    folder = directory or configs_dir()
    if selection is None:
        names = [] if config_files else ["all"]
    elif isinstance(selection, str):
        names = [s.strip() for s in selection.split(",") if s.strip()]
    else:
        names = list(selection)
    if "all" in names and names != ["all"]:
        raise ConfigError("locations: use 'all' alone, not inside a list")

    files: dict[str, tuple[Path, LocationConfig]] = {}
    seen_paths: set[Path] = set()
    for path in (Path(p) for p in config_files):
        if path.resolve() in seen_paths:
            continue  # the same file twice is one location
        seen_paths.add(path.resolve())
        config = load_config(path)
        if config.location_name in files:
            raise ConfigError(
                f"{path}: location_name {config.location_name!r} is also used by "
                f"{files[config.location_name][0]}"
            )
        files[config.location_name] = (path, config)

    # in the order named (a --config location by its location_name), then the files not named
    order: list[Path | str] = []
    if names == ["all"]:
        order = [folder / f"{name}.json" for name in available_locations(folder)]
    for name in names if names != ["all"] else []:
        name = name.removesuffix(".json")
        path = folder / f"{name}.json"
        if name in files:
            order.append(name)
        elif path.exists():
            order.append(path)
        else:
            known = ", ".join(available_locations(folder)) or "none"
            given = f" or --config location_name ({', '.join(files)})" if files else ""
            raise ConfigError(
                f"unknown location {name!r}: no {path.name} in {folder}{given} (known: {known})"
            )
    order += [name for name in files if name not in order]

    chosen: dict[str, tuple[Path, LocationConfig]] = {}
    replaced: dict[str, Path] = {}
    for slot in dict.fromkeys(order):
        if isinstance(slot, str):
            path, config = files[slot]
        else:
            path, config = slot, load_config(slot)
            if config.location_name in files:  # the file's config takes this place
                replaced[config.location_name] = path
                path, config = files[config.location_name]
        if config.location_name in chosen:
            if chosen[config.location_name][0] == path:
                continue  # a file named by --locations, or met again as the one replacing
            raise ConfigError(
                f"{path}: location_name {config.location_name!r} is also used by "
                f"{chosen[config.location_name][0]}"
            )
        chosen[config.location_name] = (path, config)
    for path in sorted(folder.glob("*.json")):
        # a bundled location not chosen is replaced all the same: it is what the file's
        # location_name would mean without it
        name = path.stem
        if name in files and name not in replaced and load_config(path).location_name == name:
            replaced[name] = path
    for name in files:
        path, config = chosen[name]
        chosen[name] = (path, _with_kitchen(config, path, replaced.get(name)))
    if not chosen:
        raise ConfigError("no locations chosen")
    return Selection(
        configs=tuple(config for _, config in chosen.values()), from_files=frozenset(files)
    )


def resolve_locations(
    selection: str | Iterable[str] | None = "all",
    config_files: Iterable[Path] = (),
    directory: Path | None = None,
) -> list[LocationConfig]:
    """resolve_selection's configs."""
    return list(resolve_selection(selection, config_files, directory).configs)
