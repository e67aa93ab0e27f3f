"""What a webhook delivery says: payloads, bodies per platform, headers and signatures.

The shapes are webhooks.md's. Two signatures are sent, both over the exact body:

- `X-Signature: sha256=<hex>`: HMAC-SHA256 of the raw body, keyed with the signing
  secret as shown to the user, UTF-8 encoded (the whole `whsec_…` string).
- `webhook-signature: v1,<base64>` (Standard Webhooks): HMAC-SHA256 of
  `"<webhook-id>.<webhook-timestamp>.<body>"`, keyed with the bytes the secret's part
  after `whsec_` decodes to from base64, as that specification says.

`X-Signature` is always exactly one `sha256=<hex>`, with the current secret: the
documented receivers (webhooks.md's Rails and Node examples) compare the whole header
to one expected value. During a secret rotation the old secret signs too, but only in
`webhook-signature`, whose format lists several signatures separated by a space (the
newest secret's first).
"""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from domain.custom_events import public_event
from domain.hits import public_hit
from domain.webhooks import (
    CONTENT_ISSUE,
    DISCORD,
    MONITOR_DOWN,
    MONITOR_EVENTS,
    MONITOR_UP,
    NEW_EVENT,
    NEW_HIT,
    NEW_INSIGHT,
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


def iso_ms(moment: datetime) -> str:
    """`2026-05-14T12:15:00.123Z`: a hit's or kudo's time in a payload, as webhooks.md shows."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def dashboard_url(base_url: str | None, site_uid: str) -> str:
    """The site's dashboard page on this server (`/sites/<uid>`, the page the dashboard
    serves); a path alone when no base URL is configured."""
    return f"{(base_url or '').rstrip('/')}/sites/{site_uid}"


def site_payload(
    number: int, uid: str, name: str, url: str, base_url: str | None
) -> dict[str, Any]:
    return {
        "id": number,
        "name": name,
        "url": url,
        "dashboard_url": dashboard_url(base_url, uid),
    }


def hit_payload(hit: Any, hit_id: int) -> dict[str, Any]:
    """A `Hit.Recorded` event in the create-hit API response shape (domain/hits.py),
    its time with milliseconds as webhooks.md shows it."""
    return public_hit(hit, id=hit_id, created_at=iso_ms(hit.timestamp))


def kudo_payload(kudo_id: int, uid: str, path: str, created_at: datetime) -> dict[str, Any]:
    """A kudo in the API kudo shape, its time with milliseconds."""
    return {"id": kudo_id, "uid": uid, "path": path, "created_at": iso_ms(created_at)}


def analytics_event_payload(item: Any, event_id: int) -> dict[str, Any]:
    """A `CustomEvent.Recorded` event in the create-event API response shape (api.md),
    its time with milliseconds."""
    return public_event(item, event_id, iso_ms(item.timestamp))


def insight_payload(insight_id: int, stored: dict[str, Any]) -> dict[str, Any]:
    """An insight as `new_insight` sends it (docs/webhooks-new-insight.md): what
    subscribers read (`summary`, `traffic_patterns`, `best_content`, `recommendations`,
    `formatted_insights_date`, `generated_at`), its id and day, and its signals."""
    day = stored["insights_for_date"]
    year, month, number = (int(part) for part in day.split("-"))
    formatted = datetime(year, month, number).strftime("%B ") + f"{number}, {year}"
    return {
        "id": insight_id,
        "insights_for_date": day,
        "formatted_insights_date": formatted,
        "generated_at": iso(stored["generated_at"]),
        "summary": stored["summary"],
        "traffic_patterns": stored["traffic_patterns"],
        "best_content": stored["best_content"],
        "recommendations": stored["recommendations"],
        "signals": list(stored["signals"]),
    }


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
    site = site_payload(123, "abc123", "Example Blog", "https://example.com", base_url)
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
                "created_at": iso_ms(started),
            }
        }
    elif event_type == NEW_KUDO:
        parts = {"kudo": kudo_payload(987, "kudo_d4f96c", "/articles/webhooks", started)}
    elif event_type == NEW_EVENT:
        parts = {
            "analytics_event": {
                "id": 790,
                "event": "signup.started",
                "value": "pricing",
                "url": "https://example.com/pricing",
                "path": "/pricing",
                "referrer": "https://example.org",
                "country": "US",
                "source": "newsletter",
                "unique_hash": "4cc1ed6d2f0d",
                "visitor_hash": "9e89d84f3e47",
                "created_at": iso_ms(started),
            }
        }
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
    elif event_type == NEW_INSIGHT:
        parts = {
            "insight": insight_payload(
                42,
                {
                    "insights_for_date": (started.date()).isoformat(),
                    "generated_at": started,
                    "summary": "Traffic is up 28% this week, led by one blog post.",
                    "traffic_patterns": "Wednesday and Thursday were the busiest days.",
                    "best_content": "/articles/webhooks drew a third of the week's hits.",
                    "recommendations": "Write a follow-up to /articles/webhooks.",
                    "signals": [],
                },
            )
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


def _field(name: str, value: object) -> dict[str, Any] | None:
    if value in (None, ""):
        return None
    return {"name": name, "value": str(value)[:1024], "inline": True}


def discord_fallback_body(payload: dict[str, Any]) -> dict[str, Any]:
    """webhooks.md's "generic Discord fallback": a Discord message (a line of content and
    an embed) summarising any event that has no embed of its own (`new_hit`,
    `new_kudo`, `new_event`). Discord refuses a body that is not a message."""
    site = payload.get("site") or {}
    name = str(site.get("name") or site.get("url") or "Your site")
    event_type = str(payload.get("event") or "event")
    hit, kudo, custom = (payload.get(k) or {} for k in ("hit", "kudo", "analytics_event"))
    if event_type == NEW_HIT:
        summary = f"New hit on {name}: {hit.get('path') or '/'}"
        facts = [
            ("Path", hit.get("path")),
            ("Referrer", hit.get("referrer")),
            ("Source", hit.get("source")),
            ("Country", hit.get("country")),
            ("Browser", hit.get("browser_name")),
            ("Platform", hit.get("platform_name")),
        ]
    elif event_type == NEW_KUDO:
        summary = f"New kudo on {name}: {kudo.get('path') or '/'}"
        facts = [("Path", kudo.get("path"))]
    elif event_type == NEW_EVENT:
        summary = f"New event on {name}: {custom.get('event') or ''}"
        facts = [
            ("Event", custom.get("event")),
            ("Value", custom.get("value")),
            ("Path", custom.get("path")),
            ("Source", custom.get("source")),
            ("Country", custom.get("country")),
        ]
    else:
        summary = f"{event_type} on {name}"
        facts = []
    if payload.get("test"):
        summary = f"[Test] {summary}"
    embed: dict[str, Any] = {
        "title": summary[:256],
        "fields": [f for f in (_field(n, v) for n, v in facts) if f is not None],
        "timestamp": payload.get("timestamp"),
        "footer": {"text": f"Tinylytics · {event_type}"},
    }
    link = site.get("dashboard_url")
    if isinstance(link, str) and link.startswith(("http://", "https://")):
        embed["url"] = link
    return {"username": "Tinylytics", "content": summary[:2000], "embeds": [embed]}


def body_document(payload: dict[str, Any], platform: str, wrap: bool) -> dict[str, Any]:
    """The JSON document sent: to Discord always a Discord message (embeds for monitor
    events, the generic fallback otherwise; "wrap content" does not apply, as Discord's
    `content` is text), else the payload (inside `{"content": …}` when the webhook wraps
    content)."""
    if platform == DISCORD:
        if payload.get("event") in (MONITOR_DOWN, MONITOR_UP):
            return discord_monitor_body(payload)
        return discord_fallback_body(payload)
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
    """Every header of one attempt; `delivery_ref` is stable across the attempts.

    `secrets` are the webhook's signing secrets, the current one first.
    """
    if not secrets:
        raise ValueError("a delivery is signed with at least one secret")
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Tinylytics-Event": event_type,
        "X-Tinylytics-Delivery": delivery_ref,
        "X-Tinylytics-Timestamp": str(timestamp),
        "X-Signature": x_signature(secrets[0], body),
        "webhook-id": delivery_ref,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            standard_signature(s, delivery_ref, timestamp, body) for s in secrets
        ),
    }
