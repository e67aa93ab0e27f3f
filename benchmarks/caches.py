"""Micro-benchmark of the string caches on the hot paths (docs/deploy.md, "Memory").

    .venv/bin/python benchmarks/caches.py [--lookups 1000000] [--distinct 300000]

For each cache: the cost of a lookup when traffic repeats a few thousand values
(the common case: hits), when every value is new (long distinct paths: misses), the
best of three runs each, and
the memory the cache holds after the distinct values went through it (traced by
tracemalloc: what the cache keeps alive, not the process's RSS).
"""

import argparse
import gc
import random
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from application import collection  # noqa: E402
from domain import sources  # noqa: E402
from projections.traffic import rollups as traffic  # noqa: E402

HOT_VALUES = 5000
PAD = "/category/subcategory/a-long-article-title-that-makes-the-path-realistic"


def _paths(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"{PAD}/{rng.getrandbits(64):016x}/{n}" for n in range(count)]


def _cases(lookups: int, distinct: int) -> list[tuple[str, Callable[[str], Any], Any, Any]]:
    hot = _paths(HOT_VALUES, 1)
    rng = random.Random(2)
    hot_seq = [hot[min(int(rng.paretovariate(1.2)) - 1, HOT_VALUES - 1)] for _ in range(lookups)]
    cold_seq = _paths(distinct, 3)
    site = "https://blog.example.com"

    def dim(path: str) -> Any:
        return traffic.dim_key(path, "news")

    def url(path: str) -> Any:
        return collection._clean_url(site + path)

    def referrer(path: str) -> Any:
        return sources._from_referrer("https://ref.example" + path, site)

    return [
        ("dim key (projection)", dim, hot_seq, cold_seq),
        ("clean url (collector)", url, hot_seq, cold_seq),
        ("referrer source (collector)", referrer, hot_seq, cold_seq),
    ]


def _clear() -> None:
    """Empty every cache measured, in the code as it is or as it was (lru_cache, _keys)."""
    if hasattr(traffic, "_keys"):
        traffic._keys.clear()
    for fn in (
        getattr(traffic, "cached_combo_key", None),  # a process-wide cache until issue 13
        traffic.dim_key,
        collection._clean_url,
        sources._from_referrer,
    ):
        for clear in (
            getattr(fn, "cache_clear", None),
            getattr(getattr(fn, "cache", None), "clear", None),
        ):
            if clear is not None:
                clear()


def _per_call(fn: Callable[[str], Any], values: list[str]) -> float:
    start = time.perf_counter()
    for value in values:
        fn(value)
    return (time.perf_counter() - start) / len(values) * 1e9


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lookups", type=int, default=1_000_000)
    parser.add_argument("--distinct", type=int, default=300_000)
    args = parser.parse_args()
    print(f"{'cache':30} {'hit ns':>8} {'miss ns':>8} {'held MB':>8}")
    for name, fn, hot_seq, cold_seq in _cases(args.lookups, args.distinct):
        _clear()
        for value in hot_seq[: HOT_VALUES * 4]:
            fn(value)  # warm
        hit = min(_per_call(fn, hot_seq) for _ in range(3))
        misses = []
        for _ in range(3):
            _clear()
            misses.append(_per_call(fn, cold_seq))
        miss = min(misses)
        _clear()
        gc.collect()
        # The values are made inside the traced region, as decoded events are: what
        # stays traced afterwards is what the cache keeps alive.
        tracemalloc.start()
        for n in range(args.distinct):
            fn(f"{PAD}/{n:016x}/{n}")
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] / 1e6
        tracemalloc.stop()
        _clear()
        print(f"{name:30} {hit:8.0f} {miss:8.0f} {held:8.1f}")


if __name__ == "__main__":
    main()
