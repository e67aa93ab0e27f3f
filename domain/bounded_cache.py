"""Memoisation bounded by the bytes it holds, for the caches of strings on hot paths.

functools.lru_cache counts entries, and an entry of a cache of paths or URLs can be
a few bytes or a few kilobytes: 200,000 entries were 180 MB of a projection process
after 250k distinct paths. These caches count the bytes of what they keep (keys and
values, measured with sys.getsizeof, plus the dict's share per entry) and never hold
more than their bound.

Two generations keep it fast: a lookup is a dict look-up in the young generation
(then the old one, which moves the entry back to the young). When the young one is
full (half the bound), it becomes the old one and the old one is dropped. Entries
used in the last half-bound of insertions survive, an approximate LRU at the price
of a plain dict on the hit path. Lookups take no lock; insertions take one.

The bound of every cache is a share of one budget per process (TINYLYTICS_CACHE_MB,
see docs/deploy.md): `set_budget` sizes them all. This module lives in the domain
so that every layer may use it; it knows nothing of the project.
"""

import sys
import threading
from collections.abc import Callable
from functools import update_wrapper
from typing import Any, TypeVar

R = TypeVar("R")

# A dict's own memory per entry (its slot in the index and entry arrays, with the
# spare room of a growing table), and a tuple key's: measured on CPython 3.11.
ENTRY_OVERHEAD = 104
DEFAULT_BUDGET = 32 * 1024 * 1024
_MISSING: Any = object()
_getsizeof = sys.getsizeof


def size_of(value: Any) -> int:
    """The bytes an object of a cache keeps alive, at most: a string, or a tuple and the
    strings in it, counted in full (a string shared with the caller is counted too: the
    bound errs on the side of memory). CPython's sizes, without sys.getsizeof's cost
    (a few times a string's length): an ASCII string is 49 bytes and one per character,
    any other at most 76 and four per character; a tuple 40 and 8 per item."""
    kind = type(value)
    if kind is str:
        return 49 + len(value) if value.isascii() else 76 + 4 * len(value)
    if kind is tuple:
        total = 40 + 8 * len(value)
        for item in value:
            if type(item) is str:
                total += 49 + len(item) if item.isascii() else 76 + 4 * len(item)
            elif item is not None:
                total += size_of(item)
        return total
    if value is None:
        return 0
    return _getsizeof(value)


def _entry_size(key: Any, value: Any) -> int:
    return ENTRY_OVERHEAD + size_of(key) + size_of(value)


class ByteBoundedCache:
    """A mapping that holds at most `max_bytes` (by `size_of` its keys and values)."""

    def __init__(self, name: str, share: float) -> None:
        self.name = name
        self.share = share  # of the process's budget
        self.max_bytes = int(DEFAULT_BUDGET * share)
        self._young: dict[Any, Any] = {}
        self._old: dict[Any, Any] = {}
        self._young_bytes = 0
        self._old_bytes = 0
        self._lock = threading.Lock()
        _CACHES.append(self)

    @property
    def nbytes(self) -> int:
        """The bytes counted for what the cache holds now (at most `max_bytes`)."""
        return self._young_bytes + self._old_bytes

    def __len__(self) -> int:
        return len(self._young) + len(self._old)

    def get(self, key: Any, default: Any = None) -> Any:
        found = self._young.get(key, _MISSING)
        if found is _MISSING:
            found = self._old.get(key, _MISSING)
            if found is _MISSING:
                return default
            self.put(key, found)  # used again: kept through the next turn
        return found

    def put(self, key: Any, value: Any) -> None:
        size = _entry_size(key, value)
        half = self.max_bytes // 2
        if size > half:
            return  # larger than a generation: not kept
        with self._lock:
            if key in self._young:
                return
            if self._young_bytes + size > half:
                # The young generation is full: it becomes the old one, whose entries
                # (unused for a whole generation) go. Copying keeps the dicts the same
                # objects, which the memoised functions hold on to.
                self._old.clear()
                self._old.update(self._young)
                self._old_bytes = self._young_bytes
                self._young.clear()
                self._young_bytes = 0
            self._young[key] = value
            self._young_bytes += size

    def clear(self) -> None:
        with self._lock:
            self._young.clear()
            self._old.clear()
            self._young_bytes = self._old_bytes = 0

    def resize(self, max_bytes: int) -> None:
        with self._lock:
            self.max_bytes = max_bytes
        if self.nbytes > max_bytes:
            self.clear()

    def memoize(self, function: Callable[..., R]) -> Callable[..., R]:
        """`function` with its results kept here, keyed by its positional arguments
        (the argument itself when there is one, their tuple otherwise)."""
        young_get = self._young.get
        old_get = self._old.get
        put = self.put
        arity = function.__code__.co_argcount

        def one(arg: Any) -> R:
            found = young_get(arg, _MISSING)
            if found is _MISSING:
                found = old_get(arg, _MISSING)
                if found is _MISSING:
                    found = function(arg)
                put(arg, found)
            result: R = found
            return result

        def many(*args: Any) -> R:
            found = young_get(args, _MISSING)
            if found is _MISSING:
                found = old_get(args, _MISSING)
                if found is _MISSING:
                    found = function(*args)
                put(args, found)
            result: R = found
            return result

        wrapper: Any = one if arity == 1 else many
        update_wrapper(wrapper, function)
        wrapper.cache = self
        return wrapper


_CACHES: list[ByteBoundedCache] = []


def memoized(name: str, share: float) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Decorate a function of hashable arguments with a `ByteBoundedCache` of its own,
    holding `share` of the process's budget."""
    return ByteBoundedCache(name, share).memoize


def set_budget(total_bytes: int) -> None:
    """Size every cache of the process: each holds its share of `total_bytes`."""
    for cache in _CACHES:
        cache.resize(int(total_bytes * cache.share))


def caches() -> list[ByteBoundedCache]:
    return list(_CACHES)
