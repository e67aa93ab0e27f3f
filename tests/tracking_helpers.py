"""Helpers for the collection tests: what the tracking event store holds."""

from typing import Any

from infrastructure.bootstrap import Container

CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def recorded(container: Container) -> list[Any]:
    """Every domain event in the tracking store, in log order."""
    notifications = container.tracking.recorder.select_notifications(start=1, limit=100_000)
    return [container.tracking.mapper.to_domain_event(n) for n in notifications]


def raw_tracking_state(container: Container) -> bytes:
    """The stored bytes of every tracking event, to search for what must not be there."""
    notifications = container.tracking.recorder.select_notifications(start=1, limit=100_000)
    return b"\n".join(n.state + n.topic.encode() for n in notifications)
