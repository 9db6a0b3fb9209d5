"""Reading landing files on Spark: the engine-specific half of lakeflow.landing_records.

The new files are read with `spark.read.text(paths, wholetext=True)` (one row per file) and split into
landing records with the DataFrame API, registered as a temporary view unique to the batch; the macro
then selects the contract's columns from it (documented in models/macros/landing.py). Building the
records with the DataFrame API rather than returning Spark SQL keeps the query out of SQLMesh's
duckdb-dialect round trip.

Records are split as on DuckDB (casper.landing): after every leading byte-order mark, a line is blank
only with spaces, tabs and carriage returns. A file that is not UTF-8 is one record with read_error
invalid_utf8, as on DuckDB (and as `casper status` counts it), not one record per line with the bad
bytes replaced. Spark's text reader keeps a file's
bytes as they are; turning them into characters replaces what is not UTF-8 with U+FFFD, so a file is
UTF-8 exactly when encoding its text gives back its bytes (a test that works on Spark 3.5 too, unlike
`is_valid_utf8`). Differences from DuckDB, on malformed input only: the raw text of such a file has
U+FFFD for its bad bytes (DuckDB: `\\xHH` escapes), a line's trailing carriage return is dropped, and
the raw text of an element of a JSON array is Spark's compact re-serialisation of it. One difference
in counts: a JSON array nested deeper than 1000 levels (Jackson's limit) is one invalid_json_array
record here, while DuckDB (and `casper status`) count its elements.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence

from casper.landing import RECORD_FIELDS as FIELDS

_views: list[str] = []


def records_view(
    spark, paths: Sequence[str], names: Sequence[str], *, batch_no: int, ingested_at: str
) -> str:
    """Register the landing records of `paths` as a temporary view; return the view's name."""
    import datetime as dt

    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    value, is_utf8 = F.col("value"), F.col("is_utf8")
    utf8 = F.encode(value, "UTF-8")  # the file's bytes, those that are not UTF-8 replaced by U+FFFD
    files = (
        spark.read.text(list(paths), wholetext=True)
        .select(
            F.col("_metadata.file_name").alias("source_file"),
            "value",
            (utf8 == value.cast("binary")).alias("is_utf8"),
        )
        .select(
            "source_file",
            "is_utf8",
            F.when(is_utf8, F.regexp_replace(value, "^\ufeff+", ""))  # every leading BOM
            .otherwise(F.decode(utf8, "UTF-8"))
            .alias("text"),
        )
    )
    is_array = F.ltrim(F.col("text")).startswith("[")
    elements = F.from_json(F.col("text"), T.ArrayType(T.StringType()))
    split = files.select(
        "source_file",
        F.when(~is_utf8, F.lit("invalid_utf8"))
        .when(is_array & elements.isNull(), F.lit("invalid_json_array"))
        .alias("read_error"),
        F.when(~is_utf8, F.array(F.col("text")))
        .when(~is_array, F.split(F.col("text"), "\n"))
        .when(elements.isNotNull(), elements)
        .otherwise(F.array(F.col("text")))
        .alias("items"),
    )
    # \z, not $: a Java regex's $ also matches before a final U+2028 or U+0085, which DuckDB keeps
    records = split.select(
        "source_file", "read_error", F.posexplode("items").alias("position", "raw")
    ).where(F.col("raw").isNotNull() & ~F.col("raw").rlike("^[ \t\r]*\\z"))

    as_map = T.MapType(T.StringType(), T.StringType())
    raw = F.regexp_replace(F.col("raw"), "\r$", "")
    is_object = (
        F.col("read_error").isNull()
        & F.ltrim(raw).startswith("{")
        & F.from_json(raw, as_map).isNotNull()
    )
    checked = records.select(
        "source_file",
        (F.col("position") + 1).cast("bigint").alias("record_no"),
        raw.alias("raw"),
        "read_error",
        is_object.alias("is_object"),
    )
    parsed = checked.select(
        "*",
        *[
            F.when(F.col("is_object"), F.get_json_object("raw", f"$.{field}")).alias(field)
            for field in FIELDS
        ],
    )
    body_is_object = (
        F.ltrim(F.col("body")).startswith("{") & F.from_json(F.col("body"), as_map).isNotNull()
    )
    stamp = F.lit(dt.datetime.fromisoformat(ingested_at)).cast("timestamp_ntz")
    events = parsed.select(
        "source_file",
        "record_no",
        "raw",
        "read_error",
        "is_object",
        *FIELDS,
        body_is_object.alias("body_is_object"),
        F.lit(int(batch_no)).cast("bigint").alias("batch_no"),
        stamp.alias("ingested_at"),
    )
    markers = spark.createDataFrame([(name,) for name in names], "source_file string").select(
        "source_file",
        F.lit(0).cast("bigint").alias("record_no"),
        *[F.lit(None).cast("string").alias(c) for c in ("raw", "read_error")],
        F.lit(None).cast("boolean").alias("is_object"),
        *[F.lit(None).cast("string").alias(field) for field in FIELDS],
        F.lit(None).cast("boolean").alias("body_is_object"),
        F.lit(int(batch_no)).cast("bigint").alias("batch_no"),
        stamp.alias("ingested_at"),
    )
    view = f"casper_landing_{uuid.uuid4().hex}"
    events.unionByName(markers).createOrReplaceTempView(view)
    # keep the views of the last few renders only (SQLMesh may render a query more than once)
    _views.append(view)
    while len(_views) > 4:
        spark.catalog.dropTempView(_views.pop(0))
    return view


class SparkLandingReader:
    """casper.engine.LandingReader on the SQLMesh adapter's Spark session, for files in a folder
    Spark reads as a file system path (a local folder; on Databricks, a /Volumes FUSE path)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def records(self, adapter, names: Sequence[str], *, batch_no: int, ingested_at: str):
        from sqlglot import exp

        from casper.landing import RECORD_CONTRACT

        paths = [os.path.join(self.folder, name) for name in names]
        view = records_view(adapter.spark, paths, names, batch_no=batch_no, ingested_at=ingested_at)
        return exp.select(*(name for name, _ in RECORD_CONTRACT)).from_(view)
