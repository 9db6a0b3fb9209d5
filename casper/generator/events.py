"""Turning simulated orders into reference-shaped events (SPEC.md section 1): bodies, ids, DQ nulls,
and the landing file's NDJSON lines.

A body is JSON text inside the event's JSON, so the landing file holds it escaped. Bodies are built in
one of two `Spelling`s from the same parts: `RAW` (the text itself, what `Kitchen.simulate_day`'s
frames hold) or `ESCAPED` (already as it stands between the quotes of the NDJSON field). The escaped
parts are escaped once per kitchen by polars' own NDJSON writer, the one `to_ndjson` uses, so lines
joined from them are byte for byte what `to_ndjson` writes for the raw frame, without scanning every
body again (tests/test_generator_ndjson.py checks the two agree).
"""

from __future__ import annotations

import enum
import functools

import numpy as np
import polars as pl
import pyarrow as pa

from casper.landing import EVENT_FIELDS

EVENT_COLUMNS = EVENT_FIELDS
TS_FORMAT = "%Y-%m-%d %H:%M:%S%.6f"


class Spelling(enum.Enum):
    RAW = "raw"  # the body's own text
    ESCAPED = "escaped"  # the body as the content of a JSON string, as polars writes it

    def text(self, raw: str) -> str:
        return raw if self is Spelling.RAW else escaped_text(raw)

    def series(self, raw: pl.Series) -> pl.Series:
        return raw if self is Spelling.RAW else json_escaped(raw)


def json_escaped(values: pl.Series) -> pl.Series:
    """Each string as polars' NDJSON writer spells it between a JSON string's quotes."""
    if values.is_empty():
        return values.cast(pl.String)
    lines = pl.DataFrame({"v": values.cast(pl.String)}).write_ndjson().split("\n")[:-1]
    written = pl.Series(lines, dtype=pl.String)
    # each line is {"v":"<escaped>"}
    return written.str.slice(6, written.str.len_chars() - 8)


@functools.lru_cache(maxsize=1024)
def escaped_text(raw: str) -> str:
    return json_escaped(pl.Series([raw])).item()


class _ArrowCArray:
    """A pyarrow array seen only through the Arrow C data interface."""

    def __init__(self, array: pa.Array) -> None:
        self._array = array

    def __arrow_c_array__(self, requested_schema: object | None = None) -> object:
        return self._array.__arrow_c_array__(requested_schema)


def from_arrow(array: pa.Array) -> pl.Series:
    """A pyarrow array as a Series, through the C data interface: pl.Series(array) would first
    "coerce" it with pyarrow.compute (an import of ~0.1 s, and work per call)."""
    return pl.Series(_ArrowCArray(array))


def hex_chars(data: bytes, nbytes: int) -> np.ndarray:
    """Consecutive `nbytes`-byte ids of `data` as lowercase hex: one row of ASCII per id."""
    return np.frombuffer(data.hex().encode("ascii"), dtype=np.uint8).reshape(-1, 2 * nbytes)


def hex_text(data: bytes, nbytes: int) -> pl.Series:
    """Consecutive `nbytes`-byte ids of `data`, each as lowercase hex, without a Python loop."""
    return fixed_width_text(hex_chars(data, nbytes))


def fixed_width_text(chars: np.ndarray) -> pl.Series:
    """Rows of a 2-d uint8 array of ASCII as strings."""
    count, width = chars.shape
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int64)
    data = np.ascontiguousarray(chars).tobytes()
    array = pa.LargeStringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(data))
    return from_arrow(array)


US_PER_DAY = 86_400_000_000
TS_WIDTH = 26  # YYYY-MM-DD HH:MM:SS.ffffff


@functools.cache
def _clock_faces() -> tuple[np.ndarray, np.ndarray]:
    """'HH:MM:SS' for every second of a day (8 bytes, read as one uint64 each) and '000' to
    '999' (3 bytes, padded to a uint32 each): a time of day is three lookups."""
    pairs = np.array([list(f"{i:02d}".encode()) for i in range(100)], dtype=np.uint8)
    second = np.arange(86_400)
    faces = np.empty((86_400, 8), dtype=np.uint8)
    faces[:, 0:2] = pairs[second // 3600]
    faces[:, 2] = ord(":")
    faces[:, 3:5] = pairs[second // 60 % 60]
    faces[:, 5] = ord(":")
    faces[:, 6:8] = pairs[second % 60]
    thousand = np.zeros((1000, 4), dtype=np.uint8)
    thousand[:, :3] = np.array([list(f"{i:03d}".encode()) for i in range(1000)], dtype=np.uint8)
    return faces.view(np.uint64).ravel(), thousand.view(np.uint32).ravel()


def timestamp_chars(ts_us: np.ndarray) -> np.ndarray | None:
    """Microseconds since the epoch as TS_FORMAT text, one row of ASCII per time, as polars'
    strftime writes it: the dates (few) by strftime itself, the times of day from tables.
    None for years outside 1000-9999 (not ten characters)."""
    ts_us = np.asarray(ts_us, dtype=np.int64)
    day, time_us = np.divmod(ts_us, US_PER_DAY)
    days, which = np.unique(day, return_inverse=True)
    dates = pl.Series(days * US_PER_DAY).cast(pl.Datetime("us")).dt.strftime("%Y-%m-%d")
    if (dates.str.len_bytes() != 10).any():
        return None
    count = ts_us.size
    seconds, micros = np.divmod(time_us, 1_000_000)
    faces, thousand = _clock_faces()
    chars = np.empty((count, TS_WIDTH), dtype=np.uint8)
    date_chars = np.frombuffer("".join(dates.to_list()).encode("ascii"), dtype=np.uint8)
    chars[:, :10] = date_chars.reshape(-1, 10)[which.ravel()]
    chars[:, 10] = ord(" ")
    chars[:, 11:19] = faces[seconds].view(np.uint8).reshape(count, 8)
    chars[:, 19] = ord(".")
    chars[:, 20:23] = thousand[micros // 1000].view(np.uint8).reshape(count, 4)[:, :3]
    chars[:, 23:26] = thousand[micros % 1000].view(np.uint8).reshape(count, 4)[:, :3]
    return chars


def timestamps(ts_us: np.ndarray) -> pl.Series:
    """Microseconds since the epoch as TS_FORMAT text, what polars' strftime writes."""
    chars = timestamp_chars(ts_us)
    if chars is None:
        return pl.from_epoch(
            pl.Series(np.asarray(ts_us, dtype=np.int64)), time_unit="us"
        ).dt.strftime(TS_FORMAT)
    return fixed_width_text(chars)


def number(values: np.ndarray, decimals: int) -> pl.Series:
    """JSON numbers, rounded."""
    return pl.Series(np.round(values, decimals)).cast(pl.String)


def json_string_content(values: pl.Series) -> pl.Series:
    """Text as the inside of a JSON string literal in a body: backslashes and quotes escaped."""
    return values.str.replace_all("\\", "\\\\", literal=True).str.replace_all(
        '"', '\\"', literal=True
    )


def runs_joined(parts: pl.Series, bounds: np.ndarray, empty: str) -> pl.Series:
    """Run i's text is parts[bounds[i]] + ... + parts[bounds[i + 1] - 1] (`empty` for no parts):
    runs of consecutive parts are consecutive bytes in polars' buffer, so this cuts the buffer at
    the runs' bounds instead of joining strings."""
    array = _large_strings(parts)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset :]
    cut = np.ascontiguousarray(offsets[np.asarray(bounds, dtype=np.int64)])
    runs = from_arrow(
        pa.LargeStringArray.from_buffers(cut.size - 1, pa.py_buffer(cut), array.buffers()[2])
    )
    no_parts = np.diff(bounds) == 0
    if not no_parts.any():
        return runs
    return pl.select(
        pl.when(pl.lit(pl.Series(no_parts))).then(pl.lit(empty)).otherwise(pl.lit(runs))
    ).to_series()


def _large_strings(values: pl.Series) -> pa.LargeStringArray:
    array = values.to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = pa.concat_arrays(array.chunks)
    # polars exports large strings; casting (which imports pyarrow.compute) only otherwise
    return array if array.type == pa.large_string() else array.cast(pa.large_string())


def json_object(
    fields: dict[str, pl.Series | pl.Expr],
    nulls: dict[str, np.ndarray] | None,
    spelling: Spelling,
) -> pl.Expr:
    """'{"a": <a>, "b": <b>}' where each value is already JSON text in `spelling` (numbers are the
    same in both); DQ masks turn values to null."""
    parts: list[pl.Expr] = []
    for position, (name, value) in enumerate(fields.items()):
        expression = pl.lit(value) if isinstance(value, pl.Series) else value
        if nulls and name in nulls:
            expression = (
                pl.when(pl.lit(pl.Series(nulls[name]))).then(pl.lit("null")).otherwise(expression)
            )
        separator = "{" if position == 0 else ", "
        parts += [pl.lit(spelling.text(f'{separator}"{name}": ')), expression]
    parts.append(pl.lit(spelling.text("}")))
    return pl.concat_str(parts)


def dq_masks(
    rng: np.random.Generator, dq: dict[str, float] | None, fields: tuple[str, ...], size: int
) -> dict[str, np.ndarray]:
    """For each configured body field, which rows to write as null (SPEC.md: dq injection).

    Every field of the type draws, configured or not, so adding one DQ rule does not shift the others.
    """
    draws = {name: rng.random(size) for name in fields}
    return {name: draws[name] < p for name, p in (dq or {}).items() if p > 0}


def empty_events() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "event_id": pl.String,
            "event_type": pl.String,
            "ts": pl.String,
            "gk_id": pl.String,
            "location": pl.String,
            "order_id": pl.String,
            "sequence": pl.Int64,
            "body": pl.String,
            "ts_us": pl.Int64,
        }
    )


def to_ndjson(events: pl.DataFrame) -> bytes:
    """The landing file's bytes: one event per line, the reference's field order."""
    if events.is_empty():
        return b""
    return events.select(EVENT_COLUMNS).write_ndjson().encode("utf-8")


def ndjson_lines(
    columns: dict[str, pl.Series], gk_id: str, location: str, bounds: np.ndarray
) -> list[bytes]:
    """What `to_ndjson` writes for the events bounds[i]:bounds[i + 1], for each i, joined from
    parts instead: `columns` are event_id, event_type, ts, order_id, sequence and an ESCAPED
    body; ids, types and timestamps need no escaping (hex, fixed names, digits), the kitchen's
    names are escaped here."""
    if not len(columns["ts"]):
        return [b"" for _ in range(len(bounds) - 1)]
    lines = pl.select(
        pl.concat_str(
            [
                pl.lit('{"event_id":"'),
                pl.lit(columns["event_id"]),
                pl.lit('","event_type":"'),
                pl.lit(columns["event_type"]),
                pl.lit('","ts":"'),
                pl.lit(columns["ts"]),
                pl.lit(
                    f'","gk_id":"{escaped_text(gk_id)}","location":"{escaped_text(location)}"'
                    ',"order_id":"'
                ),
                pl.lit(columns["order_id"]),
                pl.lit('","sequence":'),
                pl.lit(columns["sequence"]).cast(pl.String),
                pl.lit(',"body":"'),
                pl.lit(columns["body"]),
                pl.lit('"}\n'),
            ]
        )
    ).to_series()
    return cut_bytes(lines, bounds)


def cut_bytes(lines: pl.Series, bounds: np.ndarray) -> list[bytes]:
    """lines[bounds[i]:bounds[i + 1]] joined, for each i, as UTF-8 bytes: one copy each, straight
    from polars' buffers. Strings polars built one after another lie one after another in its
    buffers, so each part is a few buffer slices; wherever they do not, the slices are shorter."""
    bounds = np.asarray(bounds, dtype=np.int64)
    array = lines.rechunk().to_arrow(compat_level=pl.CompatLevel.newest())
    if not pa.types.is_string_view(array.type) or array.null_count:
        return _cut_large_strings(array, bounds)
    # a view: length (u32), 4 prefix bytes, then buffer index and offset (u32 each)
    views = np.frombuffer(array.buffers()[1], dtype=np.uint32).reshape(-1, 4)
    views = views[array.offset : array.offset + len(array)]
    length = views[:, 0].astype(np.int64)
    if (length <= 12).any():  # short strings are kept inside their views
        return _cut_large_strings(array, bounds)
    buffer, start = views[:, 2], views[:, 3].astype(np.int64)
    end = start + length
    # runs of strings that continue one another in one buffer, never across a bound
    breaks = np.zeros(len(array) + 1, dtype=bool)
    breaks[1:-1] = (buffer[1:] != buffer[:-1]) | (start[1:] != end[:-1])
    breaks[bounds] = True
    run_start = np.flatnonzero(breaks)
    run_last = run_start[1:] - 1
    run_start = run_start[:-1]
    data = array.buffers()[2:]
    slices = [
        memoryview(data[b])[s:e]
        for b, s, e in zip(
            buffer[run_start].tolist(),
            start[run_start].tolist(),
            end[run_last].tolist(),
            strict=True,
        )
    ]
    first_run = np.searchsorted(run_start, bounds).tolist()
    return [b"".join(slices[i:j]) for i, j in zip(first_run, first_run[1:], strict=False)]


def _cut_large_strings(array: pa.Array, bounds: np.ndarray) -> list[bytes]:
    if array.type != pa.large_string():
        array = array.cast(pa.large_string())
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset :]
    data = array.buffers()[2]
    cuts = offsets[bounds].tolist()
    return [data[start:end].to_pybytes() for start, end in zip(cuts, cuts[1:], strict=False)]
