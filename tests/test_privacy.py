"""Privacy hashes: the pure functions, the salt rotation rule, the salt table and seen sets."""

import hashlib
import ipaddress
import threading
from collections.abc import Collection, Iterator
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, event, select

from application.visitor_hashing import HashInput, SeenHashes, VisitorHasher
from domain.privacy import (
    HASH_CHARS,
    hash_day,
    salt_period,
    unique_hash,
    visitor_hash,
    visitor_key,
)
from infrastructure.bootstrap import Container
from infrastructure.salts import SALT_BYTES, SqlSaltStore, privacy_salts
from infrastructure.seen_hashes import REDIS_TTL, MemorySeenHashes, RedisSeenHashes
from infrastructure.settings import Settings

SALT = b"s" * 32
OTHER_SALT = b"t" * 32
DAY = date(2024, 5, 17)
IP = "203.0.113.77"
UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Safari/605.1.15"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


# --- domain ---------------------------------------------------------------------------


def test_hashes_are_deterministic_hex_of_fixed_length() -> None:
    visitor = visitor_key(IP, UA, None)
    first = unique_hash(SALT, "site-1", "/pricing", visitor, DAY)
    assert first == unique_hash(SALT, "site-1", "/pricing", visitor, DAY)
    assert visitor_hash(SALT, "site-1", visitor, DAY) == visitor_hash(SALT, "site-1", visitor, DAY)
    for value in (first, visitor_hash(SALT, "site-1", visitor, DAY)):
        assert len(value) == HASH_CHARS
        int(value, 16)


@pytest.mark.parametrize(
    "changed",
    [
        {"salt": OTHER_SALT},
        {"site": "site-2"},
        {"path": "/about"},
        {"visitor": visitor_key("198.51.100.1", UA, None)},
        {"day": DAY + timedelta(days=1)},
    ],
)
def test_unique_hash_differs_by_each_input(changed: dict[str, object]) -> None:
    base: dict[str, object] = {
        "salt": SALT,
        "site": "site-1",
        "path": "/pricing",
        "visitor": visitor_key(IP, UA, None),
        "day": DAY,
    }
    assert unique_hash(**base) != unique_hash(**{**base, **changed})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changed",
    [
        {"salt": OTHER_SALT},
        {"site": "site-2"},
        {"visitor": visitor_key("198.51.100.1", UA, None)},
        {"day": DAY + timedelta(days=1)},
    ],
)
def test_visitor_hash_differs_by_each_input(changed: dict[str, object]) -> None:
    base: dict[str, object] = {
        "salt": SALT,
        "site": "site-1",
        "visitor": visitor_key(IP, UA, None),
        "day": DAY,
    }
    assert visitor_hash(**base) != visitor_hash(**{**base, **changed})  # type: ignore[arg-type]


def test_visitor_hash_ignores_the_path_and_never_equals_a_unique_hash() -> None:
    visitor = visitor_key(IP, UA, None)
    assert visitor_hash(SALT, "s", visitor, DAY) != unique_hash(SALT, "s", "", visitor, DAY)


def test_the_encoding_keeps_fields_apart() -> None:
    visitor = visitor_key(IP, UA, None)
    assert unique_hash(SALT, "ab", "/c", visitor, DAY) != unique_hash(
        SALT, "a", "b/c", visitor, DAY
    )


def test_visitor_id_replaces_address_and_user_agent() -> None:
    by_id = visitor_key(IP, UA, "customer-42")
    assert by_id == visitor_key("198.51.100.1", "curl/8.0", "customer-42")
    assert by_id == visitor_key(None, None, "customer-42")
    assert by_id != visitor_key(IP, UA, None)
    assert by_id != visitor_key(IP, UA, "customer-43")
    # Blank ids are not ids: fall back to the request.
    assert visitor_key(IP, UA, "  ") == visitor_key(IP, UA, None)


def test_user_agent_counts_only_up_to_50_characters() -> None:
    head = UA[:50]
    assert visitor_key(IP, head, None) == visitor_key(IP, head + "anything else", None)
    assert visitor_key(IP, UA, None) == visitor_key(IP, head, None)
    assert visitor_key(IP, head[:49] + "X", None) != visitor_key(IP, head, None)
    assert visitor_key(IP, UA, None) != visitor_key("198.51.100.1", UA, None)


@pytest.mark.parametrize("ip", [IP, "2001:db8::8a2e:370:7334"])
def test_no_output_carries_the_address(ip: str) -> None:
    visitor = visitor_key(ip, UA, None)
    outputs = [
        visitor,
        unique_hash(SALT, "site-1", "/", visitor, DAY),
        visitor_hash(SALT, "site-1", visitor, DAY),
    ]
    packed = ipaddress.ip_address(ip).packed
    forms = {ip, ip.encode().hex(), packed.hex(), hashlib.sha256(ip.encode()).hexdigest()}
    for output in outputs:
        for form in forms:
            assert form not in output


def test_salt_periods_start_at_midnight_and_noon_utc() -> None:
    assert salt_period(at(DAY, 0)) == at(DAY, 0)
    assert salt_period(datetime(2024, 5, 17, 11, 59, 59, 999999, tzinfo=UTC)) == at(DAY, 0)
    assert salt_period(at(DAY, 12)) == at(DAY, 12)
    assert salt_period(at(DAY, 23, 59)) == at(DAY, 12)
    # Another zone counts by its UTC instant: 01:30 at +02:00 is 23:30 UTC the day before.
    plus_two = datetime(2024, 5, 18, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert salt_period(plus_two) == at(DAY, 12)
    assert hash_day(plus_two) == DAY
    assert salt_period(at(DAY, 5)).tzinfo is not None


def test_naive_times_and_weak_salts_are_refused() -> None:
    with pytest.raises(ValueError):
        salt_period(datetime(2024, 5, 17, 12))
    with pytest.raises(ValueError):
        unique_hash(b"short", "s", "/", "v", DAY)


# --- VisitorHasher across a rotation -------------------------------------------------


class PeriodSalts:
    """A salt per period derived from its start; `keep_previous=False` as after a restart."""

    def __init__(self, keep_previous: bool = True) -> None:
        self.keep_previous = keep_previous

    @staticmethod
    def salt_of(period: datetime) -> bytes:
        return hashlib.sha256(period.isoformat().encode()).digest()

    def salts(self, now: datetime) -> tuple[bytes, bytes | None]:
        period = salt_period(now)
        previous = self.salt_of(period - timedelta(hours=12)) if self.keep_previous else None
        return self.salt_of(period), previous


class CountingSeen:
    """Wraps a seen set, counting calls: each call is one round trip in production."""

    def __init__(self, inner: SeenHashes) -> None:
        self.inner = inner
        self.calls = 0

    def remember(self, day: date, hashes: Collection[str]) -> None:
        self.calls += 1
        self.inner.remember(day, hashes)

    def known(self, day: date, hashes: Collection[str]) -> set[str]:
        self.calls += 1
        return self.inner.known(day, hashes)


@pytest.fixture(params=["memory", "redis"])
def seen(request: pytest.FixtureRequest, settings: Settings) -> Iterator[SeenHashes]:
    if request.param == "memory":
        yield MemorySeenHashes()
        return
    if not settings.redis_url:
        pytest.skip("REDIS_URL is not set")
    store = RedisSeenHashes(settings.redis_url, settings.redis_prefix)
    yield store
    store.close()


def test_a_morning_visitor_keeps_their_hashes_after_noon(seen: SeenHashes) -> None:
    hasher = VisitorHasher(PeriodSalts(), seen)
    alice = visitor_key(IP, UA, None)
    morning = hasher.hashes("site-1", "/", alice, at(DAY, 11))
    assert hasher.hashes("site-1", "/", alice, at(DAY, 11, 30)) == morning
    assert hasher.hashes("site-1", "/", alice, at(DAY, 13)) == morning
    assert hasher.hashes("site-1", "/", alice, at(DAY, 23, 59)) == morning
    # A new page in the afternoon is a new unique hit, but the same visitor.
    unique, visitor = hasher.hashes("site-1", "/new", alice, at(DAY, 13))
    assert visitor == morning[1]
    assert unique == unique_hash(PeriodSalts.salt_of(at(DAY, 12)), "site-1", "/new", alice, DAY)


def test_a_visitor_new_after_noon_gets_the_current_salts_hashes(seen: SeenHashes) -> None:
    hasher = VisitorHasher(PeriodSalts(), seen)
    hasher.hashes("site-1", "/", visitor_key(IP, UA, None), at(DAY, 11))
    bob = visitor_key("198.51.100.1", UA, None)
    afternoon = PeriodSalts.salt_of(at(DAY, 12))
    expected = (
        unique_hash(afternoon, "site-1", "/", bob, DAY),
        visitor_hash(afternoon, "site-1", bob, DAY),
    )
    assert hasher.hashes("site-1", "/", bob, at(DAY, 13)) == expected
    assert hasher.hashes("site-1", "/", bob, at(DAY, 20)) == expected


def test_the_next_day_hashes_differ(seen: SeenHashes) -> None:
    hasher = VisitorHasher(PeriodSalts(), seen)
    alice = visitor_key(IP, UA, None)
    morning = hasher.hashes("site-1", "/", alice, at(DAY, 11))
    afternoon = hasher.hashes("site-1", "/", alice, at(DAY, 13))
    tomorrow = hasher.hashes("site-1", "/", alice, at(DAY + timedelta(days=1), 1))
    assert afternoon == morning
    assert tomorrow[0] != morning[0] and tomorrow[1] != morning[1]


def test_each_call_is_one_operation_on_the_seen_set() -> None:
    seen = CountingSeen(MemorySeenHashes())
    hasher = VisitorHasher(PeriodSalts(), seen)
    inputs = [
        HashInput("site-1", f"/{n}", visitor_key(f"198.51.100.{n}", UA, None)) for n in range(50)
    ]
    morning = hasher.hashes_many(inputs, at(DAY, 9))
    assert seen.calls == 1
    afternoon = hasher.hashes_many([*inputs, HashInput("site-1", "/", "new")], at(DAY, 15))
    assert seen.calls == 2
    assert afternoon[:50] == morning
    singles = [hasher.hashes(v.site, v.path, v.visitor, at(DAY, 15)) for v in inputs]
    assert singles == morning
    assert hasher.hashes_many([], at(DAY, 15)) == []


def test_without_the_previous_salt_the_current_one_answers() -> None:
    hasher = VisitorHasher(PeriodSalts(keep_previous=False), MemorySeenHashes())
    alice = visitor_key(IP, UA, None)
    morning = hasher.hashes("site-1", "/", alice, at(DAY, 11))
    afternoon = hasher.hashes("site-1", "/", alice, at(DAY, 13))
    assert afternoon != morning
    assert afternoon[0] == unique_hash(PeriodSalts.salt_of(at(DAY, 12)), "site-1", "/", alice, DAY)


def test_the_hasher_with_the_salt_table(container: Container, seen: SeenHashes) -> None:
    store = SqlSaltStore(container.engine)
    store.setup()
    hasher = VisitorHasher(store, seen)
    alice = visitor_key(IP, UA, None)
    morning = hasher.hashes("site-1", "/", alice, at(DAY, 10))
    # Another process: its own store and hasher, the same table and seen set.
    other = VisitorHasher(SqlSaltStore(container.engine), seen)
    assert other.hashes("site-1", "/", alice, at(DAY, 14)) == morning
    assert hasher.hashes("site-1", "/", alice, at(DAY, 14)) == morning


# --- SqlSaltStore -------------------------------------------------------------------


@pytest.fixture
def engine(container: Container) -> Engine:
    SqlSaltStore(container.engine).setup()
    return container.engine


def stored_periods(engine: Engine) -> list[datetime]:
    with engine.connect() as conn:
        rows = conn.execute(select(privacy_salts.c.period_start)).scalars().all()
    return sorted(r.replace(tzinfo=UTC) if r.tzinfo is None else r.astimezone(UTC) for r in rows)


def test_salts_rotate_every_12_hours_and_keep_the_previous(engine: Engine) -> None:
    store = SqlSaltStore(engine)
    first, previous = store.salts(at(DAY, 1))
    assert previous is None
    assert len(first) == SALT_BYTES
    assert store.salts(at(DAY, 11, 59)) == (first, None)
    second, previous = store.salts(at(DAY, 12))
    assert second != first and previous == first
    third, previous = store.salts(at(DAY + timedelta(days=1), 0, 5))
    assert third not in (first, second) and previous == second


def test_salts_older_than_48_hours_are_deleted(engine: Engine) -> None:
    store = SqlSaltStore(engine)
    start = at(DAY, 0)
    for half_days in range(4):
        store.salts(start + timedelta(hours=12 * half_days, minutes=1))
    assert stored_periods(engine) == [start + timedelta(hours=12 * n) for n in range(4)]
    store.salts(start + timedelta(hours=48, minutes=1))
    assert stored_periods(engine) == [start + timedelta(hours=12 * n) for n in range(1, 5)]
    # After a pause every expired salt goes at once.
    store.salts(start + timedelta(days=5))
    assert stored_periods(engine) == [start + timedelta(days=5)]


def test_two_stores_on_one_database_agree(engine: Engine) -> None:
    one, two = SqlSaltStore(engine), SqlSaltStore(engine)
    assert one.salts(at(DAY, 3)) == two.salts(at(DAY, 4))
    assert two.salts(at(DAY, 13)) == one.salts(at(DAY, 12, 30))
    assert SqlSaltStore(engine).salts(at(DAY, 18))[1] == one.salts(at(DAY, 3))[0]


def test_racing_stores_create_one_salt(engine: Engine) -> None:
    stores = [SqlSaltStore(engine) for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    results: list[tuple[bytes, bytes | None]] = []
    errors: list[BaseException] = []

    def race(store: SqlSaltStore) -> None:
        try:
            barrier.wait()
            results.append(store.salts(at(DAY, 7)))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=race, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(results)) == 1
    assert stored_periods(engine) == [at(DAY, 0)]


def test_salts_are_cached_until_the_period_changes(engine: Engine) -> None:
    store = SqlSaltStore(engine)
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        store.salts(at(DAY, 12, 1))
        loaded = len(statements)
        assert loaded > 0
        for minute in range(2, 60):
            store.salts(at(DAY, 12, minute))
        # A call that arrives just after a later rotation does not evict this period.
        store.salts(at(DAY + timedelta(days=1), 0, 1))
        after_rotation = len(statements)
        store.salts(at(DAY, 23, 59))
        assert len(statements) == after_rotation > loaded
    finally:
        event.remove(engine, "before_cursor_execute", count)


# --- seen sets ----------------------------------------------------------------------


def test_seen_sets_remember_per_day(seen: SeenHashes) -> None:
    seen.remember(DAY, ["a", "b"])
    seen.remember(DAY, [])
    assert seen.known(DAY, ["a", "c", "b"]) == {"a", "b"}
    assert seen.known(DAY, []) == set()
    assert seen.known(DAY + timedelta(days=1), ["a"]) == set()


def test_memory_seen_drops_earlier_days() -> None:
    seen = MemorySeenHashes()
    seen.remember(DAY, ["a"])
    seen.remember(DAY + timedelta(days=1), ["b"])
    assert seen.known(DAY, ["a"]) == set()
    seen.remember(DAY, ["late"])  # a straggler from a finished day is not kept
    assert seen.known(DAY, ["late"]) == set()
    assert seen.known(DAY + timedelta(days=1), ["b", "late"]) == {"b"}


def test_redis_seen_keys_expire_after_about_a_day(settings: Settings) -> None:
    if not settings.redis_url:
        pytest.skip("REDIS_URL is not set")
    seen = RedisSeenHashes(settings.redis_url, settings.redis_prefix)
    try:
        seen.remember(DAY, ["a"])
        key = f"{settings.redis_prefix}:seen:{DAY.isoformat()}"
        ttl = seen._redis.ttl(key)
        assert REDIS_TTL.total_seconds() - 60 < ttl <= REDIS_TTL.total_seconds()
    finally:
        seen.close()
