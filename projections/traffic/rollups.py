"""Rollup rows: the combination keys, and the single-dimension sums made from them.

A daily or hourly combination row is keyed by a digest of its six dimensions
(`combo_key`); a single-dimension row by md5 of its value and source (`dim_key`),
computed in Python by a live batch (`dim_rows`) and in SQL by a rebuild
(`derive_dims`), which must agree (docs/decisions/0007).
"""

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, String, cast, func, literal, null, select, union_all

from domain.bounded_cache import memoized
from projections.base import Tables
from projections.traffic.replay import Bucket, Rollup
from projections.traffic.schema import (
    DIM_COLUMNS,
    DIMENSIONS,
    HITS_AT,
    UNIQUES_AT,
)


def combo_key(values: Sequence[str | None]) -> str:
    joined = "\x1f".join([v or "" for v in values])  # None and "" alike
    return hashlib.blake2b(joined.encode("utf-8"), digest_size=16).hexdigest()


def cube_rows(rows: list[tuple[Bucket, Rollup]]) -> list[tuple[Any, ...]]:
    """Daily rollup rows as `cube_columns("day")` lists them."""
    return [(s, d, k, *v) for (s, d, k), v in rows]


# The single-dimension rows per dimension: referrer and source rows keep the source
# too, so the referrer table can leave out internal navigation (and the source table
# hidden sources) without the combinations.
KEEPS_SOURCE = frozenset({"referrer", "source"})
_SOURCE_AT = DIMENSIONS.index("source")
_DIM_SLOTS = tuple(
    (dim, DIMENSIONS.index(dim), _SOURCE_AT if dim in KEEPS_SOURCE else None) for dim in DIMENSIONS
)
# A single-dimension row's key: md5 of its value and source, NULL written as _NULL.
# Computed in Python by a live batch and in SQL by a rebuild, which must agree.
_NULL, _SEP = "\x1e", "\x1f"


@memoized("traffic dimension keys", 0.75)
def dim_key(value: str | None, source: str | None) -> str:
    text = f"{_NULL if value is None else value}{_SEP}{_NULL if source is None else source}"
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def dim_rows(rows: Iterable[tuple[Bucket, Rollup]]) -> list[tuple[Any, ...]]:
    """Single-dimension daily rows (`DIM_COLUMNS`) summed from daily combination rows,
    for a live batch; `derive_dims` does the same in SQL for a rebuild."""
    sums: dict[tuple[str, str, str, str | None, str | None], list[int]] = {}
    for (site, day, _key), entry in rows:
        hits, uniques = entry[HITS_AT], entry[UNIQUES_AT]
        for dim, at, source_at in _DIM_SLOTS:
            found = (site, day, dim, entry[at], None if source_at is None else entry[source_at])
            total = sums.get(found)
            if total is None:
                sums[found] = [hits, uniques]
            else:
                total[0] += hits
                total[1] += uniques
    return [
        (site, dim, day, dim_key(value, source), value, source, hits, uniques)
        for (site, day, dim, value, source), (hits, uniques) in sums.items()
    ]


def derive_dims(conn: Connection, t: Tables, wanted: tuple[str, ...] = DIMENSIONS) -> None:
    """Fill the single-dimension rows of these dimensions from the daily combination
    rows, at the end of a replay: the database sums them in one statement, where
    summing in Python batch by batch cost a rebuild several microseconds a hit (its
    combinations are about as many as its hits). `dim_rows` does the same for live
    batches; the keys agree."""
    daily, dims = t["daily"], t["dims"]
    pg = conn.dialect.name == "postgresql"
    parts = []
    for dim, _at, source_at in _DIM_SLOTS:
        if dim not in wanted:
            continue
        value = daily.c[dim]
        source = daily.c.source if source_at is not None else None
        kept: Any = source if source is not None else cast(null(), String)
        text = func.coalesce(value, _NULL) + _SEP + func.coalesce(kept, _NULL)
        parts.append(
            select(
                daily.c.site_uuid,
                literal(dim, String).label("dim"),
                daily.c.day,
                func.md5(func.convert_to(text, "UTF8") if pg else text).label("key"),
                value.label("value"),
                kept.label("source"),
                func.sum(daily.c.hits).label("hits"),
                func.sum(daily.c.uniques).label("uniques"),
            ).group_by(
                daily.c.site_uuid, daily.c.day, value, *([source] if source is not None else [])
            )
        )
    summed: Any = parts[0] if len(parts) == 1 else union_all(*parts)
    if pg:
        # Enough memory to sum by hashing (sorting paths spilled to disk at 4 MB), and
        # rows in the order a range read wants them: a 30-day read of one dimension
        # then finds them on neighbouring pages (SQLite stores them so without asking).
        conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
        rows = summed.subquery()
        summed = select(*rows.c).order_by(rows.c.site_uuid, rows.c.dim, rows.c.day)
    conn.execute(dims.insert().from_select(DIM_COLUMNS, summed))


def path_rows(paths: dict[tuple[str, str], list[int]]) -> list[tuple[Any, ...]]:
    return [(s, combo_key([p]), p, h, u) for (s, p), (h, u) in paths.items()]


def country_rows(countries: dict[tuple[str, str], int]) -> list[tuple[Any, ...]]:
    return [(s, c, n) for (s, c), n in countries.items()]
