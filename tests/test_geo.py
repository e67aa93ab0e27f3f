"""Country resolution and its adapters, with no network: a MaxMind DB file written here,
and a fake IPinfo server on 127.0.0.1."""

import ipaddress
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import maxminddb
import pytest

from application.enrichment import CountryResolver, known_country, public_ip
from infrastructure.geoip import IpinfoLiteFallback, MmdbCountryLookup, country_of_record

# -- a small MaxMind DB writer (https://maxmind.github.io/MaxMind-DB/) -------------------


def _control(type_: int, size: int) -> bytes:
    first, extended = (type_ << 5, b"") if type_ <= 7 else (0, bytes([type_ - 7]))
    if size < 29:
        return bytes([first | size]) + extended
    if size < 285:
        return bytes([first | 29]) + extended + bytes([size - 29])
    if size < 65_821:
        return bytes([first | 30]) + extended + (size - 285).to_bytes(2, "big")
    return bytes([first | 31]) + extended + (size - 65_821).to_bytes(3, "big")


def _uint(type_: int, value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return _control(type_, len(raw)) + raw


def _encode(value: Any) -> bytes:
    if isinstance(value, dict):
        return _control(7, len(value)) + b"".join(
            _encode(str(k)) + _encode(v) for k, v in value.items()
        )
    if isinstance(value, list):
        return _control(11, len(value)) + b"".join(_encode(v) for v in value)
    if isinstance(value, str):
        raw = value.encode()
        return _control(2, len(raw)) + raw
    if isinstance(value, bool):
        return _control(14, int(value))
    if isinstance(value, int):
        return _uint(6, value)
    raise TypeError(value)


def write_mmdb(path: Path, networks: dict[str, Any], ip_version: int = 6) -> Path:
    """A MaxMind DB file mapping each network to its record (24-bit records)."""
    width = 128 if ip_version == 6 else 32
    data = b""
    offsets: dict[str, int] = {}
    root: list[Any] = [None, None]
    for network, record in networks.items():
        key = json.dumps(record, sort_keys=True)
        if key not in offsets:
            offsets[key] = len(data)
            data += _encode(record)
        net = ipaddress.ip_network(network)
        # IPv4 lives under ::/96 in an IPv6 tree: the same integer, 96 more leading zeros.
        bits = int(net.network_address)
        length = net.prefixlen + (96 if net.version == 4 and ip_version == 6 else 0)
        node = root
        for depth in range(length):
            bit = (bits >> (width - 1 - depth)) & 1
            if depth == length - 1:
                node[bit] = ("data", offsets[key])
            else:
                if node[bit] is None:
                    node[bit] = [None, None]
                node = node[bit]
    nodes: list[list[Any]] = []
    queue = [root]
    index: dict[int, int] = {}
    while queue:
        current = queue.pop(0)
        index[id(current)] = len(nodes)
        nodes.append(current)
        queue.extend(child for child in current if isinstance(child, list))
    count = len(nodes)

    def record_value(child: Any) -> int:
        if child is None:
            return count
        if isinstance(child, tuple):
            return count + 16 + child[1]
        return index[id(child)]

    tree = b"".join(
        record_value(left).to_bytes(3, "big") + record_value(right).to_bytes(3, "big")
        for left, right in nodes
    )
    metadata = (
        _control(7, 9)
        + _encode("node_count")
        + _uint(6, count)
        + _encode("record_size")
        + _uint(5, 24)
        + _encode("ip_version")
        + _uint(5, ip_version)
        + _encode("database_type")
        + _encode("Tinylytics-Test-Country")
        + _encode("languages")
        + _encode(["en"])
        + _encode("binary_format_major_version")
        + _uint(5, 2)
        + _encode("binary_format_minor_version")
        + _control(5, 0)
        + _encode("build_epoch")
        + _uint(9, 1_700_000_000)
        + _encode("description")
        + _encode({"en": "test fixture"})
    )
    path.write_bytes(tree + bytes(16) + data + b"\xab\xcd\xefMaxMind.com" + metadata)
    return path


MAXMIND_STYLE = {
    "81.2.69.0/24": {
        "continent": {"code": "EU"},
        "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
        "registered_country": {"iso_code": "GB"},
    },
    "2001:4860::/32": {"country": {"iso_code": "US"}, "registered_country": {"iso_code": "US"}},
    # Anycast ranges have a registered country but no located one.
    "203.0.113.0/24": {"registered_country": {"iso_code": "AU"}},
    # Junk the lookup must not pass on.
    "198.51.100.0/24": {"country": {"iso_code": "XX"}},
    "100.24.0.0/16": {"country": {"iso_code": 7}},
}
IP_LOCATION_DB_STYLE = {
    "8.8.8.0/24": {"country_code": "US"},
    "1.1.1.0/24": {"country_code": "AU"},
    "2a00:1450::/29": {"country_code": "IE"},
}


@pytest.fixture
def maxmind_file(tmp_path: Path) -> Path:
    return write_mmdb(tmp_path / "GeoLite2-Country.mmdb", MAXMIND_STYLE)


@pytest.fixture
def ip_location_file(tmp_path: Path) -> Path:
    return write_mmdb(tmp_path / "geo-whois-asn-country.mmdb", IP_LOCATION_DB_STYLE)


def test_the_fixture_writer_makes_files_maxminddb_reads(maxmind_file: Path) -> None:
    with maxminddb.open_database(str(maxmind_file)) as db:
        assert db.metadata().database_type == "Tinylytics-Test-Country"
        assert db.get("81.2.69.142")["country"]["iso_code"] == "GB"  # type: ignore[index,call-overload]
    for mode in (maxminddb.MODE_FILE, maxminddb.MODE_MEMORY):
        with maxminddb.open_database(str(maxmind_file), mode) as db:
            assert db.get("2001:4860:4860::8888") == MAXMIND_STYLE["2001:4860::/32"]


# -- MmdbCountryLookup ------------------------------------------------------------------------


def test_maxmind_layout(maxmind_file: Path) -> None:
    lookup = MmdbCountryLookup(maxmind_file)
    assert lookup.loaded
    assert lookup.country("81.2.69.142") == "GB"
    assert lookup.country("2001:4860:4860::8888") == "US"
    assert lookup.country("203.0.113.9") == "AU"
    assert lookup.country("198.51.100.1") is None
    assert lookup.country("100.24.1.1") is None
    assert lookup.country("9.9.9.9") is None


def test_ip_location_db_layout(ip_location_file: Path) -> None:
    lookup = MmdbCountryLookup(ip_location_file)
    assert lookup.country("8.8.8.8") == "US"
    assert lookup.country("1.1.1.1") == "AU"
    assert lookup.country("2a00:1450:4001::1") == "IE"
    assert lookup.country("4.4.4.4") is None


def test_bad_addresses_and_an_ipv6_question_to_an_ipv4_file_answer_none(tmp_path: Path) -> None:
    lookup = MmdbCountryLookup(
        write_mmdb(tmp_path / "v4.mmdb", {"8.8.8.0/24": {"country_code": "US"}}, ip_version=4)
    )
    assert lookup.country("8.8.8.8") == "US"
    assert lookup.country("2001:4860::1") is None
    assert lookup.country("garbage") is None
    assert lookup.country("999.999.999.999") is None


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"country": {"iso_code": "de"}}, "DE"),
        ({"country_code": "PL", "country": "Poland"}, "PL"),
        ({"country": {"iso_code": None}, "registered_country": {"iso_code": "FR"}}, "FR"),
        ({"country": {"iso_code": "T1"}}, None),
        ({"country_code": "USA"}, None),
        ({}, None),
        (None, None),
        ("US", None),
        ([{"country_code": "US"}], None),
    ],
)
def test_country_of_record(record: Any, expected: str | None) -> None:
    assert country_of_record(record) == expected


def test_a_missing_file_warns_once_and_answers_none(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    lookup = MmdbCountryLookup(tmp_path / "nowhere.mmdb", recheck_seconds=0)
    for _ in range(5):
        assert lookup.country("8.8.8.8") is None
    assert not lookup.loaded
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "nowhere.mmdb is missing" in warnings[0].getMessage()
    assert "scripts/geo-db" in warnings[0].getMessage()


@pytest.mark.parametrize(
    "content", [b"", b"not a database at all" * 100, os.urandom(4096), b"\xab\xcd\xefMaxMind.com"]
)
def test_a_corrupt_file_warns_once_and_answers_none(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    caplog.set_level(logging.WARNING)
    path = tmp_path / "broken.mmdb"
    path.write_bytes(content)
    lookup = MmdbCountryLookup(path, recheck_seconds=0)
    for _ in range(3):
        assert lookup.country("8.8.8.8") is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "not a readable MaxMind DB file" in warnings[0]


def test_a_file_fetched_or_replaced_later_is_picked_up(tmp_path: Path) -> None:
    now = [1000.0]
    path = tmp_path / "geo.mmdb"
    lookup = MmdbCountryLookup(path, recheck_seconds=300, clock=lambda: now[0])
    assert lookup.country("8.8.8.8") is None
    write_mmdb(path, {"8.8.8.0/24": {"country_code": "US"}})
    assert lookup.country("8.8.8.8") is None  # not looked at again yet
    now[0] += 301
    assert lookup.country("8.8.8.8") == "US"
    replacement = write_mmdb(tmp_path / "new.mmdb", {"8.8.8.0/24": {"country_code": "CA"}})
    replacement.replace(path)  # what scripts/geo-db does: a rename over the old file
    now[0] += 301
    assert lookup.country("8.8.8.8") == "CA"


# -- CountryResolver --------------------------------------------------------------------------


class FakeLookup:
    def __init__(self, answers: dict[str, str | None] | None = None, fail: bool = False) -> None:
        self.answers = answers or {}
        self.fail = fail
        self.asked: list[str] = []

    def country(self, ip: str) -> str | None:
        self.asked.append(ip)
        if self.fail:
            raise RuntimeError("lookup exploded")
        return self.answers.get(ip)


def test_the_given_country_wins() -> None:
    local, fallback = FakeLookup({"8.8.8.8": "US"}), FakeLookup({"8.8.8.8": "US"})
    resolver = CountryResolver(local, fallback)
    assert resolver.resolve("PL", "8.8.8.8", cdn_country="DE") == "PL"
    assert resolver.resolve("XX", "8.8.8.8") == "XX"
    assert local.asked == fallback.asked == []


def test_a_cdn_country_comes_next() -> None:
    local = FakeLookup({"8.8.8.8": "US"})
    resolver = CountryResolver(local, None)
    assert resolver.resolve(None, "8.8.8.8", cdn_country="DE") == "DE"
    assert resolver.resolve(None, "8.8.8.8", cdn_country="de") == "DE"
    assert resolver.resolve(None, None, cdn_country="FR") == "FR"
    assert resolver.resolve(None, "garbage", cdn_country="FR") == "FR"
    assert local.asked == []


@pytest.mark.parametrize("cdn", ["XX", "T1", "ZZ", "", "  ", "USA", "1A", "E", None])
def test_unknown_cdn_values_fall_through_to_the_lookups(cdn: str | None) -> None:
    resolver = CountryResolver(FakeLookup({"8.8.8.8": "US"}), None)
    assert resolver.resolve(None, "8.8.8.8", cdn_country=cdn) == "US"


def test_local_lookup_before_fallback() -> None:
    local = FakeLookup({"8.8.8.8": "US"})
    fallback = FakeLookup({"8.8.8.8": "CA", "1.1.1.1": "AU"})
    resolver = CountryResolver(local, fallback)
    assert resolver.resolve(None, "8.8.8.8", remote=True) == "US"
    assert fallback.asked == []
    assert resolver.resolve(None, "1.1.1.1") == "XX"  # the fallback only when asked for
    assert fallback.asked == []
    assert resolver.resolve(None, "1.1.1.1", remote=True) == "AU"
    assert local.asked == ["8.8.8.8", "1.1.1.1", "1.1.1.1"]
    assert fallback.asked == ["1.1.1.1"]


def test_nothing_known_is_xx() -> None:
    assert CountryResolver(FakeLookup(), FakeLookup()).resolve(None, "8.8.8.8", remote=True) == "XX"
    assert CountryResolver(None, None).resolve(None, "8.8.8.8") == "XX"
    remote_only = CountryResolver(None, FakeLookup({"8.8.8.8": "US"}))
    assert remote_only.resolve(None, "8.8.8.8", remote=True) == "US"
    assert remote_only.resolve(None, "8.8.8.8") == "XX"


def test_junk_answers_count_as_no_answer() -> None:
    local = FakeLookup({"8.8.8.8": "usa"})
    fallback = FakeLookup({"8.8.8.8": "xx"})
    assert CountryResolver(local, fallback).resolve(None, "8.8.8.8") == "XX"
    assert CountryResolver(FakeLookup({"8.8.8.8": "us"}), None).resolve(None, "8.8.8.8") == "US"


@pytest.mark.parametrize(
    "ip",
    [
        None,
        "",
        "999.999.999.999",
        "garbage",
        "8.8.8",
        "8.8.8.8/32",
        " 8.8.8.8; DROP TABLE hits",
        "1" * 500,
        # Not public: private, loopback, link-local, CGNAT, documentation, reserved,
        # multicast, unspecified.
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.1.1",
        "100.64.0.1",
        "192.0.2.1",
        "198.51.100.7",
        "203.0.113.7",
        "240.0.0.1",
        "255.255.255.255",
        "224.0.0.1",
        "0.0.0.0",
        "::1",
        "::",
        "fe80::1",
        "fe80::1%eth0",
        "fc00::1",
        "fd12:3456::1",
        "2001:db8::1",
        "ff02::1",
        "::ffff:10.0.0.1",
    ],
)
def test_invalid_and_non_public_addresses_are_xx_without_lookups(ip: str | None) -> None:
    local, fallback = FakeLookup(fail=True), FakeLookup(fail=True)
    assert CountryResolver(local, fallback).resolve(None, ip) == "XX"
    assert local.asked == fallback.asked == []


def test_an_ipv4_mapped_address_is_looked_up_as_ipv4() -> None:
    local = FakeLookup({"8.8.8.8": "US"})
    assert CountryResolver(local, None).resolve(None, "::ffff:8.8.8.8") == "US"
    assert local.asked == ["8.8.8.8"]
    assert public_ip(" 2001:4860:4860:0:0:0:0:8888 ") == "2001:4860:4860::8888"


def test_a_failing_lookup_never_raises_and_never_logs_the_address(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    resolver = CountryResolver(FakeLookup(fail=True), FakeLookup({"81.2.69.142": "GB"}))
    assert resolver.resolve(None, "81.2.69.142", remote=True) == "GB"
    both_fail = CountryResolver(FakeLookup(fail=True), FakeLookup(fail=True))
    assert both_fail.resolve(None, "81.2.69.142", remote=True) == "XX"
    assert "RuntimeError" in caplog.text
    assert "81.2.69.142" not in caplog.text


def test_the_resolver_runs_on_a_real_file(maxmind_file: Path) -> None:
    resolver = CountryResolver(MmdbCountryLookup(maxmind_file), None)
    assert resolver.resolve(None, "81.2.69.142") == "GB"
    assert resolver.resolve(None, "9.9.9.9") == "XX"


def test_known_country() -> None:
    assert known_country(" gb ") == "GB"
    assert known_country("XX") is None
    assert known_country("T1") is None
    assert known_country("G1") is None
    assert known_country(None) is None


# -- IpinfoLiteFallback against a fake server -------------------------------------------------

TOKEN = "tok_3f9a_secret_never_logged"


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is what some tests are about.
        pass


class FakeIpinfo:
    """Answers /lite/<ip> as told by `mode`; records what it was asked."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                fake.requests.append((parts.path, parse_qs(parts.query)))
                ip = parts.path.rsplit("/", 1)[-1]
                mode = fake.mode
                if mode == "slow":
                    time.sleep(1.0)
                    mode = "ok"
                if mode == "ok":
                    body = {"ip": ip, "asn": "AS15169", "country_code": "US", "country": "US"}
                    self._send(200, json.dumps(body).encode())
                elif mode == "bogon":
                    self._send(200, json.dumps({"ip": ip, "bogon": True}).encode())
                elif mode == "array":
                    self._send(200, b"[]")
                elif mode == "garbage":
                    self._send(200, b"<html>oops</html>")
                elif mode == "broken":
                    self.wfile.write(b"NOT HTTP AT ALL\r\n\r\n")
                else:
                    self._send(int(mode), b'{"error": "nope"}')

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ipinfo(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeIpinfo]:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    server = FakeIpinfo()
    yield server
    server.close()


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def test_it_asks_the_lite_endpoint_with_the_token(ipinfo: FakeIpinfo) -> None:
    fallback = IpinfoLiteFallback(TOKEN, base_url=ipinfo.url + "/")
    assert fallback.country("8.8.8.8") == "US"
    assert ipinfo.requests == [("/lite/8.8.8.8", {"token": [TOKEN]})]
    assert fallback.country("2001:4860:4860::8888") == "US"
    assert ipinfo.requests[1][0] == "/lite/2001%3A4860%3A4860%3A%3A8888"


def test_answers_are_cached_until_they_expire(ipinfo: FakeIpinfo) -> None:
    clock = Clock()
    fallback = IpinfoLiteFallback(TOKEN, base_url=ipinfo.url, cache_ttl=600, clock=clock)
    assert fallback.country("8.8.8.8") == "US"
    assert fallback.country("8.8.8.8") == "US"
    assert len(ipinfo.requests) == 1
    clock.now += 601
    assert fallback.country("8.8.8.8") == "US"
    assert len(ipinfo.requests) == 2


def test_the_cache_is_bounded(ipinfo: FakeIpinfo) -> None:
    fallback = IpinfoLiteFallback(TOKEN, base_url=ipinfo.url, cache_size=2)
    for ip in ("8.8.8.8", "8.8.4.4", "1.1.1.1", "8.8.8.8"):
        fallback.country(ip)
    assert len(ipinfo.requests) == 4
    assert len(fallback._cache) == 2


def test_the_cache_keeps_no_address(ipinfo: FakeIpinfo) -> None:
    fallback = IpinfoLiteFallback(TOKEN, base_url=ipinfo.url)
    fallback.country("8.8.8.8")
    assert all(b"8.8.8.8" not in key for key in fallback._cache)
    assert "8.8.8.8" not in repr(fallback._cache)


def test_an_address_without_a_country_is_none(ipinfo: FakeIpinfo) -> None:
    ipinfo.mode = "bogon"
    fallback = IpinfoLiteFallback(TOKEN, base_url=ipinfo.url)
    assert fallback.country("8.8.8.8") is None
    assert fallback.country("8.8.8.8") is None
    assert len(ipinfo.requests) == 1  # a real answer, so cached


@pytest.mark.parametrize("mode", ["500", "429", "401", "404", "garbage", "array", "broken"])
def test_failures_answer_none(ipinfo: FakeIpinfo, mode: str) -> None:
    ipinfo.mode = mode
    fallback = IpinfoLiteFallback(TOKEN, base_url=ipinfo.url)
    assert fallback.country("8.8.8.8") is None


def test_a_slow_server_times_out(ipinfo: FakeIpinfo) -> None:
    ipinfo.mode = "slow"
    fallback = IpinfoLiteFallback(TOKEN, base_url=ipinfo.url, timeout=0.2)
    started = time.monotonic()
    assert fallback.country("8.8.8.8") is None
    assert time.monotonic() - started < 0.9


def test_an_unreachable_server_answers_none() -> None:
    fallback = IpinfoLiteFallback(TOKEN, base_url="http://127.0.0.1:9", timeout=0.5)
    assert fallback.country("8.8.8.8") is None


def test_the_breaker_stops_calls_for_a_minute_after_failures(ipinfo: FakeIpinfo) -> None:
    clock = Clock()
    fallback = IpinfoLiteFallback(TOKEN, base_url=ipinfo.url, clock=clock)
    ipinfo.mode = "500"
    for ip in ("8.8.8.8", "8.8.4.4", "1.1.1.1"):
        assert fallback.country(ip) is None
    assert len(ipinfo.requests) == 3
    ipinfo.mode = "ok"
    clock.now += 30
    assert fallback.country("9.9.9.9") is None  # open: not asked
    assert len(ipinfo.requests) == 3
    clock.now += 31
    ipinfo.mode = "500"
    assert fallback.country("9.9.9.9") is None  # one trial call, which fails: open again
    assert len(ipinfo.requests) == 4
    assert fallback.country("9.9.9.9") is None
    assert len(ipinfo.requests) == 4
    clock.now += 61
    ipinfo.mode = "ok"
    assert fallback.country("9.9.9.9") == "US"  # closed again
    assert fallback.country("8.8.4.4") == "US"
    assert len(ipinfo.requests) == 6
    ipinfo.mode = "500"
    assert fallback.country("1.0.0.1") is None  # one failure alone does not open it
    ipinfo.mode = "ok"
    assert fallback.country("1.0.0.2") == "US"


def test_after_the_pause_only_one_trial_call_goes_out(ipinfo: FakeIpinfo) -> None:
    clock = Clock()
    fallback = IpinfoLiteFallback(TOKEN, base_url=ipinfo.url, failure_limit=1, clock=clock)
    ipinfo.mode = "slow"
    fallback._failures = 1  # as if it had just failed and paused
    clock.now += 61
    calls = [threading.Thread(target=fallback.country, args=(f"8.8.8.{n}",)) for n in range(5)]
    for call in calls:
        call.start()
    for call in calls:
        call.join()
    assert len(ipinfo.requests) == 1


def test_cached_answers_are_served_while_the_breaker_is_open(ipinfo: FakeIpinfo) -> None:
    fallback = IpinfoLiteFallback(TOKEN, base_url=ipinfo.url, failure_limit=1)
    assert fallback.country("8.8.8.8") == "US"
    ipinfo.mode = "500"
    assert fallback.country("1.1.1.1") is None
    assert fallback.country("8.8.8.8") == "US"


def test_no_token_or_a_bad_address_means_no_call(ipinfo: FakeIpinfo) -> None:
    assert IpinfoLiteFallback("  ", base_url=ipinfo.url).country("8.8.8.8") is None
    fallback = IpinfoLiteFallback(TOKEN, base_url=ipinfo.url)
    assert fallback.country("../../admin") is None
    assert fallback.country("8.8.8.8?x=1") is None
    assert ipinfo.requests == []


def test_the_token_and_the_address_never_reach_the_log(
    ipinfo: FakeIpinfo, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = Clock()
    fallback = IpinfoLiteFallback(TOKEN, base_url=ipinfo.url, timeout=0.2, clock=clock)
    for mode in ("500", "401", "garbage", "broken", "slow", "ok"):
        ipinfo.mode = mode
        clock.now += 120
        fallback.country("81.2.69.142")
    unreachable = IpinfoLiteFallback(TOKEN, base_url="http://127.0.0.1:9", failure_limit=1)
    unreachable.country("81.2.69.142")
    resolver = CountryResolver(None, fallback)
    resolver.resolve(None, "81.2.69.142")
    assert "pausing" in caplog.text  # the failures were logged...
    logged = caplog.text + "".join(repr(r.args) + str(r.exc_text) for r in caplog.records)
    assert TOKEN not in logged  # ...without the token
    assert "81.2.69.142" not in logged
    assert TOKEN not in repr(fallback)
