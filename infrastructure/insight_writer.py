"""The optional writer: an OpenAI-compatible chat-completions endpoint puts the signals
in words (OpenAI, or a local server such as Ollama or llama.cpp).

What it sends is aggregates and signals only (privacy.md): week totals, hits per
local day and per local hour, the leading pages, referrer hosts, platforms and
countries with their counts, the signals' snapshots and the owner's custom
instructions. It never sends a hit row, a visitor or unique hash, or an address:
it is only ever given a `WriterInput`, which holds none. The request goes through
the SSRF-safe client (no redirects, a deadline, a bounded answer), allowed to reach
the configured endpoint's host only. On any error, a timeout, or an answer that is
not the expected JSON, the default writer writes the insight instead, and the
insight records that it did.
"""

import json
import logging
from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from application.insights import DefaultWriter, WriterInput
from domain.addresses import AddressPolicy
from domain.insights import ReportText
from infrastructure.safe_http import SafeHttpClient

log = logging.getLogger("tinylytics.insights")

FIELDS = ("summary", "traffic_patterns", "best_content", "recommendations")
MAX_FIELD = 4000
MAX_ANSWER = 256 * 1024
TOP = 10

SYSTEM = (
    "You are the analyst of Tinylytics, a privacy-first web analytics service. You are "
    "given aggregated traffic numbers of one website for the last 7 days and the week "
    "before, and the signals detected in them. Write for the site's owner in plain, "
    "friendly English. Answer with one JSON object and nothing else, with exactly these "
    'string keys: "summary" (one or two sentences on what changed most), '
    '"traffic_patterns" (busiest days and hours, in the site\'s time zone), '
    '"best_content" (which pages get attention and why they may resonate), '
    '"recommendations" (2 or 3 specific, actionable suggestions in one paragraph). '
    "Use only the numbers given."
)


def model_brief(given: WriterInput) -> dict[str, Any]:
    """The aggregates the model sees: counts per value, never a single visit."""
    n = given.numbers
    zone = ZoneInfo(n.zone)
    by_hour: dict[int, int] = defaultdict(int)
    for hour in n.hours[-24 * 7 :]:
        by_hour[hour.at.astimezone(zone).hour] += hour.hits
    return {
        "site": {"label": given.site_label, "url": given.site_url, "time_zone": n.zone},
        "week": {
            "first_day": n.days[0].day.isoformat() if n.days else None,
            "last_day": n.for_day.isoformat(),
            "hits": n.current_hits,
            "unique_hits": n.current_uniques,
            "previous_week_hits": n.previous_hits,
        },
        "hits_per_day": [{"day": f"{d.day:%A %Y-%m-%d}", "hits": d.hits} for d in n.days],
        "hits_per_local_hour": {f"{h:02d}:00": by_hour[h] for h in sorted(by_hour)},
        "top_pages": [{"path": t.value, "hits": t.hits} for t in n.pages[:TOP]],
        "top_pages_previous_week": [
            {"path": t.value, "hits": t.hits} for t in n.previous_pages[:TOP]
        ],
        "top_referrers": [{"host": t.value, "hits": t.hits} for t in n.referrers[:TOP]],
        "platforms": [{"platform": t.value, "hits": t.hits} for t in n.platforms[:TOP]],
        "countries": [{"country": t.value, "hits": t.hits} for t in n.countries[:TOP]],
        "signals": [s.snapshot() for s in given.signals],
    }


def request_body(model: str, given: WriterInput) -> dict[str, Any]:
    messages = [{"role": "system", "content": SYSTEM}]
    if given.instructions:
        messages.append(
            {"role": "system", "content": "The owner's instructions: " + given.instructions}
        )
    messages.append({"role": "user", "content": json.dumps(model_brief(given))})
    return {
        "model": model,
        "messages": messages,
        "temperature": 0.4,
        "response_format": {"type": "json_object"},
    }


class BadAnswer(Exception):
    pass


def parse_answer(body: str) -> ReportText:
    """The words in a chat-completions answer; BadAnswer for anything else."""
    try:
        document = json.loads(body)
        content = document["choices"][0]["message"]["content"]
        if not isinstance(content, str):
            raise BadAnswer("the message has no text")
        text = content.strip()
        if text.startswith("```"):  # some local models fence their JSON
            text = text.strip("`").removeprefix("json").strip()
        words = json.loads(text)
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise BadAnswer(f"not the expected JSON ({type(error).__name__})") from None
    if not isinstance(words, dict):
        raise BadAnswer("the content is not a JSON object")
    found: dict[str, str] = {}
    for name in FIELDS:
        value = words.get(name)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = " ".join(v.strip() for v in value)
        if not isinstance(value, str) or not value.strip():
            raise BadAnswer(f"{name!r} is missing or not text")
        found[name] = value.strip()[:MAX_FIELD]
    return ReportText(**found)


class ChatCompletionsWriter:
    def __init__(
        self,
        base_url: str,
        model: str,
        key: str | None,
        timeout: float = 30.0,
        fallback: DefaultWriter | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.key = key
        host = urlsplit(self.url).hostname or ""
        # The operator chose this endpoint (often a local server): its host is allowed,
        # every other address class stays refused, and redirects are never followed.
        self.client = SafeHttpClient(
            AddressPolicy(allowed_hosts=frozenset({host.lower()})),
            connect_timeout=min(10.0, timeout),
            total_timeout=timeout,
            max_body=MAX_ANSWER,
        )
        self.fallback = fallback or DefaultWriter()

    @property
    def name(self) -> str:
        return f"model:{self.model}"

    def write(self, given: WriterInput) -> tuple[ReportText, str]:
        body = json.dumps(request_body(self.model, given)).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        outcome = self.client.post(self.url, body, headers)
        try:
            if not outcome.ok:
                raise BadAnswer(outcome.error or f"HTTP {outcome.status}")
            return parse_answer(outcome.body or ""), self.name
        except BadAnswer as error:
            log.warning("the language model did not write the insight (%s): default writer", error)
            text, _ = self.fallback.write(given)
            return text, f"default (fallback from {self.name}: {error})"[:200]
