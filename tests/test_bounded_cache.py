"""The caches of strings on the hot paths hold at most their share of the budget, in
bytes, whatever the traffic: 300k distinct long paths through each of them here (the
entry-bounded caches they replace held 180 MB after 250k)."""

import threading
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from application import collection
from domain import bounded_cache, sources
from domain.bounded_cache import DEFAULT_BUDGET, ByteBoundedCache, set_budget, size_of
from infrastructure.bootstrap import bootstrap
from infrastructure.settings import Settings, SettingsError
from projections.traffic import rollups as traffic

PAD = "/blog/2026/a-rather-long-article-title-as-real-blogs-have-them/" + "x" * 200
SITE = "https://blog.example.com"


def _long_paths(count: int) -> Iterator[str]:
    for n in range(count):
        yield f"{PAD}/{n:08d}"


# name, a call through the cache, the memoised function, distinct paths to feed: the
# collector's functions are slower, and 50k turn their generations over 20 times.
CACHED: list[tuple[str, Callable[[str], Any], Any, int]] = [
    ("traffic dimension keys", lambda p: traffic.dim_key(p, "news"), traffic.dim_key, 300_000),
    (
        "collector clean URLs",
        lambda p: collection._clean_url(SITE + p),
        collection._clean_url,
        50_000,
    ),
    (
        "collector referrer sources",
        lambda p: sources._from_referrer("https://ref.example" + p, SITE),
        sources._from_referrer,
        50_000,
    ),
]


def _scratch(max_bytes: int) -> ByteBoundedCache:
    """A cache of the test's own, left out of the process's budget."""
    cache = ByteBoundedCache("scratch", 1.0)
    bounded_cache._CACHES.remove(cache)
    cache.resize(max_bytes)
    return cache


@pytest.fixture(autouse=True)
def default_budget() -> Iterator[None]:
    """Each test starts and ends with the default budget and empty caches (they are
    per process: other tests use them too)."""
    set_budget(DEFAULT_BUDGET)
    for cache in bounded_cache.caches():
        cache.clear()
    yield
    set_budget(DEFAULT_BUDGET)
    for cache in bounded_cache.caches():
        cache.clear()


@pytest.mark.parametrize(("name", "call", "function", "count"), CACHED, ids=[c[0] for c in CACHED])
def test_300k_distinct_long_paths_stay_within_the_bound(
    name: str, call: Callable[[str], Any], function: Any, count: int
) -> None:
    cache: ByteBoundedCache = function.cache
    assert cache.name == name
    assert cache.max_bytes == int(DEFAULT_BUDGET * cache.share)
    hot = f"{PAD}/hot"
    first = call(hot)
    most = 0
    for n, path in enumerate(_long_paths(count)):
        call(path)
        if n % 1000 == 0:
            assert call(hot) == first  # a value in use is kept (or made again alike)
            most = max(most, cache.nbytes)
            assert cache.nbytes <= cache.max_bytes
    assert cache.nbytes <= cache.max_bytes
    assert most > cache.max_bytes // 2  # it did fill up: the bound was what held it
    assert 1000 < len(cache) < count
    assert any(hot in str(key) for key in [*cache._young, *cache._old])  # still there


def test_the_count_is_at_least_what_the_cache_really_holds() -> None:
    """tracemalloc sees what the cache keeps alive (values made inside the traced
    region, as decoded events are): never more than the bytes it counts."""
    cache = _scratch(4 * 1024 * 1024)
    cached = cache.memoize(lambda path: path.upper()[-40:])
    tracemalloc.start()
    try:
        for path in _long_paths(30_000):
            cached(path + "é" if len(path) % 3 == 0 else path)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 0 < held <= cache.nbytes <= cache.max_bytes
    assert cache.nbytes < 2 * held  # and not wildly more


def test_hits_need_no_recomputation_and_none_is_a_value() -> None:
    calls: list[Any] = []
    cache = _scratch(1024 * 1024)

    @cache.memoize
    def lookup(a: str, b: str | None) -> str | None:
        calls.append((a, b))
        return None if b is None else a + b

    for _ in range(3):
        assert lookup("x", None) is None
        assert lookup("x", "y") == "xy"
    assert calls == [("x", None), ("x", "y")]
    assert len(cache) == 2 and cache.nbytes == sum(
        bounded_cache.ENTRY_OVERHEAD + size_of(k) + size_of(v)
        for k, v in [(("x", None), None), (("x", "y"), "xy")]
    )


def test_an_entry_larger_than_a_generation_is_not_kept() -> None:
    cache = _scratch(10_000)
    cache.put("small", "v")
    cache.put("x" * 6000, "v")
    assert cache.get("x" * 6000) is None and cache.get("small") == "v"
    assert cache.nbytes <= 10_000


def test_threads_keep_the_bound() -> None:
    cache = _scratch(200_000)
    cached = cache.memoize(lambda path: path[::-1])

    def work(offset: int) -> None:
        for n in range(20_000):
            cached(f"/t/{offset}/{n % 5000}/" + "y" * 50)
            assert cache.nbytes <= cache.max_bytes

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.nbytes <= cache.max_bytes
    # The count matches what is there (no update lost between threads).
    young = sum(bounded_cache._entry_size(k, v) for k, v in cache._young.items())
    old = sum(bounded_cache._entry_size(k, v) for k, v in cache._old.items())
    assert cache.nbytes == young + old


def test_the_budget_is_a_setting_and_shared_by_the_caches(tmp_path: Any) -> None:
    assert Settings.from_env({}).cache_bytes == DEFAULT_BUDGET == 32 * 1024 * 1024
    settings = Settings.from_env({"TINYLYTICS_DATA_DIR": str(tmp_path), "TINYLYTICS_CACHE_MB": "8"})
    assert settings.cache_bytes == 8 * 1024 * 1024
    for bad in ("0", "-1", "lots", "1.5"):
        with pytest.raises(SettingsError, match="TINYLYTICS_CACHE_MB"):
            Settings.from_env({"TINYLYTICS_CACHE_MB": bad})
    for _, call, _function, _count in CACHED:
        call("/warm")
    container = bootstrap(settings, fast_passwords=True)
    try:
        shares = {c.name: c.max_bytes for c in bounded_cache.caches()}
        assert shares == {
            "traffic dimension keys": 6 * 1024 * 1024,
            "collector clean URLs": 1024 * 1024,
            "collector referrer sources": 1024 * 1024,
        }
        assert sum(shares.values()) == settings.cache_bytes
    finally:
        container.close()
    for _, call, function, _count in CACHED:
        for path in _long_paths(5_000):
            call(path)
        assert function.cache.nbytes <= function.cache.max_bytes


def test_a_smaller_budget_empties_a_cache_over_it() -> None:
    for path in _long_paths(5000):
        traffic.dim_key(path, "news")
    cache = traffic.dim_key.cache  # type: ignore[attr-defined]
    assert cache.nbytes > 300_000
    set_budget(400_000)  # three quarters of it for these keys
    assert cache.nbytes <= cache.max_bytes == 300_000
