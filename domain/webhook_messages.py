"""What a webhook delivery says: payloads, bodies per platform, headers and signatures.

The shapes are webhooks.md's. Two signatures are sent, both over the exact body:

- `X-Signature: sha256=<hex>`: HMAC-SHA256 of the raw body, keyed with the signing
  secret as shown to the user, UTF-8 encoded (the whole `whsec_…` string).
- `webhook-signature: v1,<base64>` (Standard Webhooks): HMAC-SHA256 of
  `"<webhook-id>.<webhook-timestamp>.<body>"`, keyed with the bytes the secret's part
  after `whsec_` decodes to from base64, as that specification says.

During a secret rotation both secrets sign: `X-Signature` lists both signatures
separated by `, ` and `webhook-signature` by a space, the newest secret's first.
"""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from domain.hits import public_hit
from domain.webhooks import (
    CONTENT_ISSUE,
    DISCORD,
    MONITOR_DOWN,
    MONITOR_EVENTS,
    MONITOR_UP,
    NEW_HIT,
    NEW_KUDO,
    SECRET_PREFIX,
)

USER_AGENT = "Tinylytics-Webhooks/1.0"
DISCORD_RED = 0xE5484D
DISCORD_GREEN = 0x30A46C


def iso(moment: datetime) -> str:
    """`2026-05-14T12:15:00Z`: how the API writes times."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def dashboard_url(base_url: str | None, site_number: int) -> str:
    """The site's dashboard on this server; a path alone when no base URL is configured."""
    return f"{(base_url or '').rstrip('/')}/sites/{site_number}"


def site_payload(number: int, name: str, url: str, base_url: str | None) -> dict[str, Any]:
    return {
        "id": number,
        "name": name,
        "url": url,
        "dashboard_url": dashboard_url(base_url, number),
    }


def hit_payload(hit: Any, hit_id: int) -> dict[str, Any]:
    """A `Hit.Recorded` event in the create-hit API response shape (domain/hits.py)."""
    return public_hit(hit, id=hit_id, created_at=iso(hit.timestamp))


def kudo_payload(kudo_id: int, uid: str, path: str, created_at: datetime) -> dict[str, Any]:
    """A kudo in the API kudo shape."""
    return {"id": kudo_id, "uid": uid, "path": path, "created_at": iso(created_at)}


def event_payload(
    event_type: str, at: datetime, site: dict[str, Any], **parts: Any
) -> dict[str, Any]:
    """The wrapper every event shares, then its own keys (`hit`, `kudo`, `monitor`…)."""
    return {"event": event_type, "timestamp": iso(at), "site": site, **parts}


def content_check_payload(
    url: str,
    issue_type: str,
    status_code: int | None,
    error_message: str | None,
    checked_at: datetime,
) -> dict[str, Any]:
    """The `check` object of a `content_issue` (the shape subscribers already read)."""
    return {
        "url": url,
        "issue_type": issue_type,
        "status_code": status_code,
        "error_message": error_message,
        "checked_at": iso(checked_at),
    }


def sample_payload(event_type: str, at: datetime, base_url: str | None) -> dict[str, Any]:
    """What "Send test" sends: sample data, flagged `"test": true`."""
    site = site_payload(123, "Example Blog", "https://example.com", base_url)
    started = at.replace(microsecond=0)
    parts: dict[str, Any]
    if event_type == NEW_HIT:
        parts = {
            "hit": {
                "id": 789,
                "url": "https://example.com/articles/webhooks",
                "path": "/articles/webhooks",
                "referrer": "https://example.org",
                "country": "US",
                "browser_name": "Safari",
                "platform_name": "macOS",
                "is_mobile": False,
                "source": "newsletter",
                "unique_hash": "4cc1ed6d2f0d",
                "visitor_hash": "9e89d84f3e47",
                "created_at": iso(started),
            }
        }
    elif event_type == NEW_KUDO:
        parts = {"kudo": kudo_payload(987, "kudo_d4f96c", "/articles/webhooks", started)}
    elif event_type in MONITOR_EVENTS:
        down = event_type == MONITOR_DOWN
        parts = {
            "monitor": {"id": 456, "status": "down" if down else "up"},
            "downtime": {
                "started_at": iso(started),
                "started_at_formatted": started.strftime("%b %d, %Y at %H:%M"),
                "ended_at": None if down else iso(started),
                "ended_at_formatted": None if down else started.strftime("%b %d, %Y at %H:%M"),
                "duration_seconds": 120,
                "duration_formatted": "2 minutes",
                "error": "Connection timeout",
            },
        }
    elif event_type == CONTENT_ISSUE:
        check = content_check_payload(
            "https://example.com/old-page", "broken_link", 404, "Not Found", started
        )
        parts = {"check": check}
    else:
        raise ValueError(f"unknown event {event_type!r}")
    payload = event_payload(event_type, at, site, **parts)
    return {
        "event": payload.pop("event"),
        "timestamp": payload.pop("timestamp"),
        "test": True,
        **payload,
    }


def discord_monitor_body(payload: dict[str, Any]) -> dict[str, Any]:
    """A Discord embed for `monitor_down` and `monitor_up`."""
    site = payload.get("site") or {}
    downtime = payload.get("downtime") or {}
    down = payload.get("event") == MONITOR_DOWN
    title = f"{site.get('name') or site.get('url') or 'Your site'} is {'down' if down else 'up'}"
    if payload.get("test"):
        title = f"[Test] {title}"
    fields = [
        ("Site", site.get("url")),
        ("Down since", downtime.get("started_at_formatted")),
        ("Back up at", None if down else downtime.get("ended_at_formatted")),
        ("Duration", downtime.get("duration_formatted")),
        ("Error", downtime.get("error")),
    ]
    embed: dict[str, Any] = {
        "title": title[:256],
        "color": DISCORD_RED if down else DISCORD_GREEN,
        "fields": [
            {"name": name, "value": str(value)[:1024], "inline": name != "Error"}
            for name, value in fields
            if value not in (None, "")
        ],
        "timestamp": payload.get("timestamp"),
        "footer": {"text": "Tinylytics"},
    }
    link = site.get("dashboard_url")
    if isinstance(link, str) and link.startswith(("http://", "https://")):
        embed["url"] = link
    return {"username": "Tinylytics", "embeds": [embed]}


def body_document(payload: dict[str, Any], platform: str, wrap: bool) -> dict[str, Any]:
    """The JSON document sent: Discord embeds for monitor events, else the payload
    (inside `{"content": …}` when the webhook wraps content)."""
    if platform == DISCORD and payload.get("event") in (MONITOR_DOWN, MONITOR_UP):
        return discord_monitor_body(payload)
    return {"content": payload} if wrap else payload


def render_body(payload: dict[str, Any], platform: str, wrap: bool) -> bytes:
    document = body_document(payload, platform, wrap)
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def x_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def standard_webhooks_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    mac = hmac.new(standard_webhooks_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


def delivery_headers(
    event_type: str, delivery_ref: str, timestamp: int, body: bytes, secrets: list[str]
) -> dict[str, str]:
    """Every header of one attempt; `delivery_ref` is stable across the attempts."""
    if not secrets:
        raise ValueError("a delivery is signed with at least one secret")
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Tinylytics-Event": event_type,
        "X-Tinylytics-Delivery": delivery_ref,
        "X-Tinylytics-Timestamp": str(timestamp),
        "X-Signature": ", ".join(x_signature(s, body) for s in secrets),
        "webhook-id": delivery_ref,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            standard_signature(s, delivery_ref, timestamp, body) for s in secrets
        ),
    }
