"""Location configs: the reference's files load unchanged; broken ones fail with one clear line."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from casper.config import ConfigError, load_config, resolve_locations, resolve_selection
from casper.resources import configs_dir

#: the reference's own files, key for key (SPEC.md section 2): no kitchen coordinates
REFERENCE_CONFIGS = Path(__file__).parent / "data" / "reference_configs"
REFERENCE_SF = REFERENCE_CONFIGS / "sanfrancisco.json"
REFERENCE_CHICAGO = REFERENCE_CONFIGS / "chicago.json"

REFERENCE_SANFRANCISCO = {
    "start_days_ago": 3, "end_days_ahead": 362, "speed_up": 1, "orders_day_1": 50, "orders_last": 1000,
    "noise_pct": 10, "svc": {"cs": [2, 1], "sf": [10, 3], "fr": [2, 1], "rp": [6, 2]},
    "driver_arrival": {"alpha": 3, "beta": 3, "after_ready_pct": 0.5},
    "brand_momentum": {"improving": 0.1, "flat": 0.2, "declining": 0.7},
    "momentum_rates": {"growth": 0.8, "decline": 0.2}, "dq": {},
    "gk_location": "160 Spear St, San Francisco, CA 94105", "location_name": "sanfrancisco",
    "radius_mi": 4, "driver_mph": 25, "batch_rows": 10, "batch_seconds": 1, "ping_sec": 60,
    "random_seed": 72,
}  # fmt: skip
REFERENCE_CHICAGO_KEYS = {
    **REFERENCE_SANFRANCISCO, "orders_day_1": 60, "orders_last": 950,
    "svc": {"cs": [2, 1], "sf": [11, 3], "fr": [2, 1], "rp": [5, 2]},
    "gk_location": "311 W Monroe St, Chicago, IL 60606", "location_name": "chicago",
    "radius_mi": 3.5, "driver_mph": 22, "random_seed": 42,
}  # fmt: skip


def write(tmp_path: Path, document, name: str = "loc.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


def test_the_reference_fixtures_are_the_reference_files_key_for_key():
    assert json.loads(REFERENCE_SF.read_text()) == REFERENCE_SANFRANCISCO
    assert json.loads(REFERENCE_CHICAGO.read_text()) == REFERENCE_CHICAGO_KEYS


def test_a_reference_config_loads_unchanged_and_finds_its_kitchen_offline(tmp_path):
    config = load_config(write(tmp_path, REFERENCE_SANFRANCISCO))
    assert config.kitchen == pytest.approx((37.79, -122.39), abs=0.01)
    assert config.city == "San Francisco"
    assert config.demand_curve == "linear" and config.late_night_bump is None


def _notes(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("note: ")]


def test_a_reference_file_replaces_the_bundled_one_and_takes_its_kitchen(caplog, monkeypatch):
    # notes are said once per process, and another test module in this worker may have said it
    monkeypatch.setattr("casper.config._noted", set())
    (sf,) = resolve_locations(None, [REFERENCE_SF])  # --config without --locations: the file only
    bundled = load_config(configs_dir() / "sanfrancisco.json")
    # the reference's keys plus the bundled kitchen are exactly the bundled config
    assert sf == bundled and (sf.kitchen_lat, sf.kitchen_lon) == (37.79166, -122.39379)
    assert _notes(caplog) == [
        f"note: {REFERENCE_SF} replaces the bundled {configs_dir() / 'sanfrancisco.json'}, with "
        "its kitchen_lat/kitchen_lon 37.79166, -122.39379 (the file has none)"
    ]
    caplog.clear()
    resolve_locations(None, [REFERENCE_SF])
    assert _notes(caplog) == []  # said once per process


def test_config_files_and_locations_choose_together(tmp_path):
    names = lambda selection, files=(): [  # noqa: E731
        c.location_name for c in resolve_locations(selection, files)
    ]
    both = [REFERENCE_SF, REFERENCE_CHICAGO]
    assert names(None, both) == ["sanfrancisco", "chicago"]  # only the files
    assert names(None) == sorted(p.stem for p in configs_dir().glob("*.json"))  # all bundled
    # --locations names a --config location; the files run whether named or not
    assert names("sanfrancisco", [REFERENCE_SF]) == ["sanfrancisco"]
    assert names("bellevue", [REFERENCE_SF]) == ["bellevue", "sanfrancisco"]
    assert names("chicago,sanfrancisco", both) == ["chicago", "sanfrancisco"]
    every = resolve_selection("all", [REFERENCE_CHICAGO])
    assert sorted(c.location_name for c in every.configs) == names(None)
    assert every.from_files == {"chicago"}
    chicago = next(c for c in every.configs if c.location_name == "chicago")
    assert chicago == load_config(configs_dir() / "chicago.json")
    # a location of its own, with coordinates, is added beside the bundled ones
    own = write(tmp_path, {**REFERENCE_SANFRANCISCO, "location_name": "oakland",
                           "gk_location": "1 Broadway, Oakland, CA 94607",
                           "kitchen_lat": 37.7955, "kitchen_lon": -122.2766}, "oakland.json")  # fmt: skip
    assert names("oakland,chicago", [own]) == ["oakland", "chicago"]  # in the order named
    assert names(None, [own, own]) == ["oakland"]  # the same file twice is one location


def test_a_file_without_coordinates_at_the_bundled_address_takes_that_kitchen(tmp_path, caplog):
    renamed = write(
        tmp_path, {**REFERENCE_SANFRANCISCO, "location_name": "sf_test"}, "sf_test.json"
    )
    (config,) = resolve_locations(None, [renamed])
    assert config.kitchen == (37.79166, -122.39379)
    assert _notes(caplog) == [
        f"note: {renamed}: kitchen_lat/kitchen_lon 37.79166, -122.39379 from the bundled "
        f"{configs_dir() / 'sanfrancisco.json'} (the same gk_location; the file has none)"
    ]


@pytest.mark.parametrize(
    ("selection", "files", "fragment"),
    [
        ("atlantis", ["sf"], "unknown location 'atlantis': no atlantis.json in .* or --config "
                             "location_name \\(sanfrancisco\\)"),
        (None, ["sf", "sf_copy"], "sf_copy.json: location_name 'sanfrancisco' is also used by"),
        ("all,chicago", [], "use 'all' alone"),
        (None, ["nowhere"], "nowhere.json: no kitchen_lat/kitchen_lon, and gk_location "
                            "'1 Main St, Springfield' is no bundled location's kitchen"),
        (None, ["missing"], "missing.json: no such config file"),
    ],
)  # fmt: skip
def test_a_selection_that_cannot_run_is_one_line(tmp_path, selection, files, fragment):
    documents = {
        "sf": REFERENCE_SANFRANCISCO,
        "sf_copy": REFERENCE_SANFRANCISCO,
        "nowhere": {**REFERENCE_SANFRANCISCO, "location_name": "springfield",
                    "gk_location": "1 Main St, Springfield"},
    }  # fmt: skip
    paths = [
        write(tmp_path, documents[f], f"{f}.json") if f in documents else tmp_path / f"{f}.json"
        for f in files
    ]
    with pytest.raises(ConfigError, match=fragment) as raised:
        resolve_locations(selection, paths)
    assert "\n" not in str(raised.value)


def test_shipped_reference_locations_keep_every_reference_value():
    shipped = json.loads((configs_dir() / "sanfrancisco.json").read_text())
    assert {k: shipped[k] for k in REFERENCE_SANFRANCISCO} == REFERENCE_SANFRANCISCO
    chicago = load_config(configs_dir() / "chicago.json")
    assert (chicago.radius_mi, chicago.driver_mph, chicago.orders_day_1, chicago.orders_last) == (
        3.5,
        22,
        60,
        950,
    )
    assert (chicago.svc.sf, chicago.svc.rp, chicago.random_seed) == ((11, 3), (5, 2), 42)


def test_all_resolves_every_shipped_location():
    names = {c.location_name for c in resolve_locations("all")}
    assert {"sanfrancisco", "chicago", "siliconvalley", "bellevue"} <= names


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda d: d.pop("svc"), "field svc: is required"),
        (lambda d: d.update(driver_mph="fast"), "field driver_mph"),
        (lambda d: d.update(noise_pct=-5), "field noise_pct"),
        (lambda d: d["momentum_rates"].update(growth=-0.1), "field momentum_rates.growth"),
        (lambda d: d["brand_momentum"].update(improving=0.5), "must sum to 1"),
        (lambda d: d["momentum_rates"].update(decline=1.0), "field momentum_rates.decline"),
        (lambda d: d["svc"].update(cs=[2]), "field svc.cs"),
        # nested objects are ours to define: an unknown key there is refused, not ignored
        (lambda d: d["svc"].update(rpp=[6, 2]), "field svc.rpp: Extra inputs are not permitted"),
        (
            lambda d: d.update(dq={"order_created": {"nope": 0.1}}),
            "order_created has no body field 'nope'",
        ),
        (lambda d: d.update(dq={"teleported": {"x": 0.1}}), "unknown event type 'teleported'"),
        (
            lambda d: d.update(dq={"delivered": {"delivered_lat": 1.5}}),
            "field dq.delivered.delivered_lat",
        ),
        (lambda d: d.update(kitchen_lat=37.0), "kitchen_lat and kitchen_lon go together"),
        # our data-quality scenarios: shares in [0, 1], no key but the four
        (
            lambda d: d.update(dq_scenarios={"late_events": 1.5}),
            "field dq_scenarios.late_events: Input should be less than or equal to 1 (got 1.5)",
        ),
        (
            lambda d: d.update(dq_scenarios={"malformed_lines": -0.1}),
            "field dq_scenarios.malformed_lines: Input should be greater than or equal to 0",
        ),
        (
            lambda d: d.update(dq_scenarios={"relanded_file": 0.1}),
            "field dq_scenarios.relanded_file: Extra inputs are not permitted",
        ),
        (lambda d: d.update(dq_scenarios=0.1), "field dq_scenarios"),
    ],
)
def test_a_broken_config_names_the_file_and_the_field(tmp_path, change, fragment):
    document = json.loads(json.dumps(REFERENCE_SANFRANCISCO))
    change(document)
    path = write(tmp_path, document)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert str(path) in message and fragment in message
    assert "\n" not in message


def test_an_unknown_key_is_a_one_line_warning_naming_the_file_and_the_key(tmp_path, caplog):
    document = {**REFERENCE_SANFRANCISCO, "orders_day1": 70, "kitchen_notes": "back door"}
    path = write(tmp_path, document)
    config = load_config(path)
    assert config.orders_day_1 == 50  # the typo changed nothing, and the config still loads
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"warning: {path}: unknown key 'kitchen_notes' is ignored",
        f"warning: {path}: unknown key 'orders_day1' is ignored (did you mean 'orders_day_1'?)",
    ]
    caplog.clear()
    load_config(path)  # the demo reloads configs on every tick: once is enough
    assert caplog.records == []


def test_the_reference_keys_and_ours_raise_no_warning(tmp_path, caplog):
    ours = {"kitchen_lat": 37.79, "kitchen_lon": -122.39, "display_name": "SF",
            "demand_curve": "exponential", "late_night_bump": {"peak": 2.5},
            "brand_lifecycle": [{"brand_id": 1, "launch_day": 2}],
            "dq_scenarios": {"malformed_lines": 0.001, "relanded_files": 0.05,
                             "late_events": 0.02, "out_of_order_files": 0.1}}  # fmt: skip
    load_config(write(tmp_path, {**REFERENCE_SANFRANCISCO, **ours}))
    resolve_locations("all")
    assert caplog.records == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("{not json", "not valid JSON"), ("[1, 2]", "a location config is a JSON object")],
)
def test_unreadable_files_are_reported(tmp_path, text, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_config(write(tmp_path, text))


def test_unknown_locations_are_refused():
    with pytest.raises(ConfigError, match="unknown location 'atlantis'.*known: .*chicago"):
        resolve_locations("atlantis")
