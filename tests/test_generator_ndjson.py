"""History files are joined from pre-escaped parts (casper/generator/events.py): they must be byte for
byte what polars' NDJSON writer makes of the simulated frames, whatever the text in the configs,
streets and menu, the DQ rules, the days batched together and where `now` cuts the last day."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casper.generator import events as ev
from casper.generator.events import to_ndjson
from casper.generator.simulation import Kitchen
from tests.generator_fixtures import US_PER_DAY, Base, base, window_days
from tests.test_generator_properties import kitchens

# Text that needs escaping in JSON (quotes, backslashes, control characters), and text that does
# not but is not ASCII.
AWKWARD = ['"', "\\", "\n", "\t", "\x01", "\x1f", "\x7f", "é", "\u2028", "😀", "/", "'", "{}"]
awkward_text = st.lists(
    st.one_of(st.sampled_from(AWKWARD), st.text(max_size=3)), min_size=1, max_size=4
).map("".join)


@pytest.fixture(scope="session")
def sf(tmp_path_factory) -> Base:
    return base(tmp_path_factory.getbasetemp() / "generator-roads")


def awkward_kitchen(kitchen: Kitchen, data) -> Kitchen:
    """The kitchen with awkward text wherever text comes from outside: the location's address (city
    and region go into customer addresses), street names, menu items."""
    city, region = data.draw(awkward_text), data.draw(awkward_text)
    config = kitchen.config.model_validate(
        {**kitchen.config.model_dump(), "gk_location": f"1 Main St, {city}, {region}"}
    )
    routes = kitchen.routes
    streets = np.array(
        data.draw(st.lists(awkward_text, min_size=routes.nodes.size, max_size=routes.nodes.size)),
        dtype=object,
    ).astype(str)
    menu = kitchen.menu
    prefixes = [
        p[:-9] + data.draw(awkward_text).replace('"', '\\"') + p[-9:] for p in menu.item_json_prefix
    ]
    return Kitchen(
        config=config,
        seed=kitchen.seed,
        sim_start_us=kitchen.sim_start_us,
        menu=dataclasses.replace(menu, item_json_prefix=np.array(prefixes, dtype=object)),
        routes=dataclasses.replace(routes, street=streets),
    )


def expected_files(kitchen: Kitchen, days: list[dt.date], before_us: int | None) -> list[bytes]:
    files = []
    for day in days:
        events = kitchen.simulate_day(day)
        if before_us is not None:
            events = events.filter(pl.col("ts_us") < before_us)
        files.append(to_ndjson(events))
    return files


def test_history_files_are_the_frames_written_by_polars(sf: Base) -> None:
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.data())
    def run(data) -> None:
        kitchen, day = data.draw(kitchens(sf))
        if data.draw(st.booleans()):
            kitchen = awkward_kitchen(kitchen, data)
        window = window_days(kitchen)
        # a few consecutive days, sometimes reaching past the window
        first = data.draw(st.integers(-1, len(window) - 1))
        days = [
            window[0] + dt.timedelta(days=first + i) for i in range(data.draw(st.integers(1, 3)))
        ]
        times = pl.concat([kitchen.simulate_day(d)["ts_us"] for d in days]).to_list()
        before_us = data.draw(
            st.one_of(
                st.none(),
                st.integers(
                    kitchen.sim_start_us - US_PER_DAY, kitchen.sim_start_us + 4 * US_PER_DAY
                ),
                # exactly at an event: it is not before now
                st.sampled_from(times) if times else st.none(),
            )
        )
        files = kitchen.days_ndjson(days, before_us=before_us)
        expected = expected_files(kitchen, days, before_us)
        assert [f.day for f in files] == days
        for file, want in zip(files, expected, strict=True):
            assert file.data == want
            lines = [json.loads(line) for line in want.splitlines()]
            assert file.events == len(lines)
            assert file.orders == len({line["order_id"] for line in lines})

    run()


def test_batching_days_changes_no_file(sf: Base) -> None:
    kitchen = dataclasses.replace(sf.kitchen, seed=77)
    days = window_days(kitchen)[:5]
    together = kitchen.days_ndjson(days)
    assert sum(f.events for f in together) > 0
    assert together == [f for day in days for f in kitchen.days_ndjson([day])]


@given(st.text(), st.text())
def test_escaping_is_per_character_and_what_json_reads_back(a: str, b: str) -> None:
    assert ev.escaped_text(a + b) == ev.escaped_text(a) + ev.escaped_text(b)
    assert json.loads('"' + ev.escaped_text(a) + '"') == a
    written = pl.DataFrame({"v": [a]}).write_ndjson()
    assert written == '{"v":"' + ev.escaped_text(a) + '"}\n'


@given(st.lists(st.text(max_size=40), max_size=60), st.data())
def test_cut_bytes_joins_each_slice_of_lines(strings: list[str], data) -> None:
    # several chunks, short (inlined) and long strings
    cut = data.draw(st.integers(0, len(strings)))
    lines = pl.concat(
        [pl.Series(strings[:cut], dtype=pl.String), pl.Series(strings[cut:], dtype=pl.String)],
        rechunk=False,
    )
    bounds = sorted(data.draw(st.lists(st.integers(0, len(strings)), max_size=5)))
    bounds = [0, *bounds, len(strings)]
    got = ev.cut_bytes(lines, np.array(bounds))
    want = ["".join(strings[i:j]).encode() for i, j in zip(bounds, bounds[1:], strict=False)]
    assert got == want


def test_cut_bytes_of_concatenated_lines() -> None:
    """Lines as the history builds them: long, built by concat_str, so cut from buffer runs."""
    rng = np.random.default_rng(3)
    strings = ["x" * int(n) for n in rng.integers(13, 3000, 5000)]
    lines = pl.select(pl.concat_str([pl.lit("{"), pl.lit(pl.Series(strings)), pl.lit("}\n")]))
    lines = lines.to_series()
    bounds = np.array([0, 1, 1, 999, 4000, 5000])
    got = ev.cut_bytes(lines, bounds)
    want = [
        "".join("{" + s + "}\n" for s in strings[i:j]).encode()
        for i, j in zip(bounds, bounds[1:], strict=False)
    ]
    assert got == want


@given(
    st.lists(
        st.integers(-(2**62), 2**62) | st.integers(0, 4_102_444_800_000_000),
        min_size=1,
        max_size=50,
    )
)
def test_timestamps_are_what_strftime_writes(ts_us: list[int]) -> None:
    values = np.array(ts_us, dtype=np.int64)
    want = pl.from_epoch(pl.Series(values), time_unit="us").dt.strftime(ev.TS_FORMAT)
    assert ev.timestamps(values).to_list() == want.to_list()


@given(st.lists(st.lists(st.text(max_size=5), max_size=4), max_size=20))
def test_runs_joined(runs: list[list[str]]) -> None:
    parts = pl.Series([p for run in runs for p in run], dtype=pl.String)
    bounds = np.cumsum([0, *(len(run) for run in runs)])
    got = ev.runs_joined(parts, bounds, empty="[]").to_list()
    assert got == ["".join(run) if run else "[]" for run in runs]
