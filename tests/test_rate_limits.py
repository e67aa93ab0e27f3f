"""The per-visitor moving window, checked a batch at a time (memory alone, or Redis when set)."""

from dataclasses import replace

from infrastructure.rate_limits import VisitorRateLimiter
from infrastructure.settings import Settings


def test_a_batch_counts_a_repeated_visitor_in_order(settings: Settings) -> None:
    limiter = VisitorRateLimiter(replace(settings, visitor_rate_limit_per_minute=3))
    answers = limiter.allow_many(["alice", "bob", "alice", "alice", "alice", "bob"])
    assert answers == [True, True, True, True, False, True]
    assert limiter.allow("bob") is True
    assert limiter.allow("bob") is False
    assert limiter.allow("carol") is True
    assert limiter.allow_many([]) == []


def test_the_window_is_shared_by_every_limiter_of_one_store(settings: Settings) -> None:
    first = VisitorRateLimiter(replace(settings, visitor_rate_limit_per_minute=2))
    second = VisitorRateLimiter(replace(settings, visitor_rate_limit_per_minute=2))
    assert first.allow_many(["dave", "dave"]) == [True, True]
    # Two web processes share Redis; alone, each process has its own memory.
    assert second.allow("dave") is (settings.redis_url is None)
