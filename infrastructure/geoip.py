"""IP → country adapters: a local MMDB file, and IPinfo Lite as the remote fallback.

Neither keeps an address: the local file is read in place, and the fallback's cache
is keyed by a salted hash whose salt lives only in this process.
"""

import hashlib
import http.client
import ipaddress
import json
import logging
import os
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import maxminddb

from application.enrichment import known_country

log = logging.getLogger(__name__)

Clock = Callable[[], float]


def country_of_record(record: Any) -> str | None:
    """The country code in one MMDB record, whichever of the common layouts it uses.

    MaxMind GeoIP2/GeoLite2 and DB-IP files nest it (`country.iso_code`, with
    `registered_country` for ranges that have no located country); ip-location-db
    and IPinfo files keep it flat (`country_code`).
    """
    if not isinstance(record, dict):
        return None
    for value in (
        _nested(record, "country", "iso_code"),
        record.get("country_code"),
        _nested(record, "registered_country", "iso_code"),
    ):
        found = known_country(value if isinstance(value, str) else None)
        if found:
            return found
    return None


def _nested(record: dict[str, Any], outer: str, inner: str) -> Any:
    value = record.get(outer)
    return value.get(inner) if isinstance(value, dict) else None


class MmdbCountryLookup:
    """`GeoLookup` over a MaxMind DB format file (MaxMind, DB-IP, ip-location-db, IPinfo).

    A missing or unreadable file is a logged warning and `None` answers, never a
    crash: the server then records `XX`. The file is looked at again every
    `recheck_seconds`, so a database fetched or refreshed by `scripts/geo-db` is
    picked up without a restart.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        recheck_seconds: float = 300.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self._recheck = recheck_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._db: Any = None
        self._stamp: tuple[int, int, int] | None = None
        self._next_check = float("-inf")
        self._problem: str | None = None
        self._reader()

    @property
    def loaded(self) -> bool:
        return self._reader() is not None

    def country(self, ip: str) -> str | None:
        db = self._reader()
        if db is None:
            return None
        try:
            record = db.get(ip)
        except ValueError:
            # Not an address, or an IPv6 address asked of an IPv4-only file.
            return None
        except maxminddb.InvalidDatabaseError:
            self._report("is corrupt")
            return None
        return country_of_record(record)

    def _reader(self) -> Any:
        if self._clock() < self._next_check:
            return self._db
        with self._lock:
            now = self._clock()
            if now < self._next_check:
                return self._db
            self._next_check = now + self._recheck
            stamp = _stamp(self.path)
            if stamp is not None and stamp == self._stamp:
                return self._db
            self._stamp = stamp
            # A replaced file gets a new reader; the old one closes when its last
            # in-flight lookup lets go of it, so no lookup reads a closed map.
            self._db = self._open() if stamp is not None else None
            if stamp is None:
                self._report("is missing (run scripts/geo-db to fetch one)")
            return self._db

    def _open(self) -> Any:
        try:
            db = maxminddb.open_database(str(self.path))
        except (OSError, ValueError, maxminddb.InvalidDatabaseError):
            self._report("is not a readable MaxMind DB file")
            return None
        meta = db.metadata()
        log.info(
            "country database %s loaded (%s, built %s)",
            self.path,
            meta.database_type,
            time.strftime("%Y-%m-%d", time.gmtime(meta.build_epoch)),
        )
        self._problem = None
        return db

    def _report(self, problem: str) -> None:
        # Once per problem, not once per hit: a missing file would otherwise flood the log.
        if problem != self._problem:
            self._problem = problem
            log.warning("country database %s %s; countries resolve to XX", self.path, problem)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_mtime_ns, status.st_size, status.st_ino)


class IpinfoLiteFallback:
    """`CountryFallback` on the IPinfo Lite API (`GET {base_url}/lite/{ip}?token=…`).

    Answers are cached in memory for `cache_ttl` seconds. After `failure_limit`
    failures in a row (timeout, HTTP error, garbage) it stops calling for
    `cooldown` seconds, so an outage costs one timeout per minute rather than one
    per hit. It never raises, and neither the token nor an address is logged.
    """

    def __init__(
        self,
        token: str,
        base_url: str = "https://api.ipinfo.io",
        timeout: float = 2.0,
        *,
        cache_ttl: float = 24 * 3600.0,
        cache_size: int = 10_000,
        failure_limit: int = 3,
        cooldown: float = 60.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._token = token.strip()
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._cache_ttl = cache_ttl
        # An address IPinfo knows no country for is asked again sooner.
        self._miss_ttl = min(cache_ttl, 3600.0)
        self._cache_size = cache_size
        self._failure_limit = failure_limit
        self._cooldown = cooldown
        self._clock = clock
        self._salt = secrets.token_bytes(16)
        self._cache: OrderedDict[bytes, tuple[float, str | None]] = OrderedDict()
        self._failures = 0
        self._paused_until = float("-inf")
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"IpinfoLiteFallback(base_url={self._base_url!r}, token=***)"

    def country(self, ip: str) -> str | None:
        if not self._token:
            return None
        try:
            address = str(ipaddress.ip_address(ip.strip()))
        except ValueError:
            return None
        key = hashlib.blake2b(address.encode(), key=self._salt, digest_size=16).digest()
        with self._lock:
            now = self._clock()
            cached = self._cache.get(key)
            if cached is not None and cached[0] > now:
                self._cache.move_to_end(key)
                return cached[1]
            if now < self._paused_until:
                return None
            if self._failures >= self._failure_limit:
                # The pause is over: one trial call goes out, the others wait for its outcome.
                self._paused_until = now + self._timeout + 1.0
        answer, failure = self._fetch(address)
        with self._lock:
            now = self._clock()
            if failure is None:
                self._failures = 0
                self._paused_until = float("-inf")
                ttl = self._cache_ttl if answer else self._miss_ttl
                self._cache[key] = (now + ttl, answer)
                self._cache.move_to_end(key)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            else:
                self._failures += 1
                if self._failures >= self._failure_limit:
                    self._paused_until = now + self._cooldown
                    log.warning(
                        "IPinfo Lite fallback failed %d times in a row (last: %s); "
                        "pausing it for %.0f s",
                        self._failures,
                        failure,
                        self._cooldown,
                    )
        return answer

    def _fetch(self, address: str) -> tuple[str | None, str | None]:
        """(country, None) on an answer, (None, why) on a failure; the why holds no secrets."""
        url = f"{self._base_url}/lite/{quote(address, safe='')}?{urlencode({'token': self._token})}"
        request = urllib.request.Request(
            url, headers={"Accept": "application/json", "User-Agent": "Tinylytics"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                body = response.read(64 * 1024)
        except urllib.error.HTTPError as error:
            error.close()
            hint = {401: " (check the token)", 403: " (check the token)", 429: " (quota)"}
            return None, f"HTTP {error.code}{hint.get(error.code, '')}"
        except (OSError, ValueError, http.client.HTTPException) as error:
            # URLError, timeouts, refused connections, broken responses; only the type is
            # reported, since an error's text can hold the URL and so the token.
            return None, type(error).__name__
        try:
            data = json.loads(body)
        except ValueError:
            return None, "an answer that is not JSON"
        if not isinstance(data, dict):
            return None, "an answer that is not a JSON object"
        value = data.get("country_code")
        return known_country(value if isinstance(value, str) else None), None
