"""The optional writer against a real OpenAI-compatible server on loopback: what it sends
(aggregates and signals, never a hit, a hash or an address), what it takes back, and the
fall back to the default writer on an error, a timeout or an answer that is not the JSON
it asked for."""

import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import pytest
import time_machine

from application.insights import WriterInput
from domain.insight_signals import detect_signals
from infrastructure.bootstrap import Container, bootstrap
from infrastructure.insight_writer import ChatCompletionsWriter
from infrastructure.settings import Settings
from tests.conftest import World
from tests.insight_helpers import Traffic, at
from tests.webhook_helpers import Reply, Subscriber, subscriber

ZONE = "Europe/Berlin"
TODAY = date(2026, 11, 25)
WORDS = {
    "summary": "Evenings were lively: one hour brought ten times the usual visits.",
    "traffic_patterns": "Tuesday led the week; 21:00 was the strongest hour.",
    "best_content": "The home page stays the main way in.",
    "recommendations": "Post in the evening. Link /blog/b from the home page.",
}


def completion(content: Any) -> Reply:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
    }
    return Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"})


@pytest.fixture
def model() -> Iterator[Subscriber]:
    with subscriber() as server:
        yield server


@pytest.fixture
def llm_container(env: dict[str, str], model: Subscriber) -> Iterator[Container]:
    values = {
        **env,
        "TINYLYTICS_INSIGHTS_LLM_URL": f"http://127.0.0.1:{model.port}/v1",
        "TINYLYTICS_INSIGHTS_LLM_MODEL": "test-model",
        "TINYLYTICS_INSIGHTS_LLM_KEY": "sk-test",
        "TINYLYTICS_INSIGHTS_LLM_TIMEOUT": "2",
    }
    wired = bootstrap(Settings.from_env(values), fast_passwords=True)
    yield wired
    wired.close()


def _site(container: Container) -> UUID:
    world = World(container)
    owner = world.account("owner@example.com", is_subscribed=True)
    site = world.site(owner, "https://blog.example.com", label="My blog", timezone=ZONE)
    site_id = UUID(str(site.uuid))
    extra = [(1, 21, {"path": "/blog/b"}) for _ in range(30)]
    with time_machine.travel(at(ZONE, TODAY, 0, 30), tick=False):
        Traffic(ZONE, TODAY, extra=extra).record(container, site_id)
    return site_id


def test_the_model_writes_the_insight_from_aggregates_only(
    llm_container: Container, model: Subscriber
) -> None:
    c = llm_container
    site_id = _site(c)
    model.replies.append(completion(json.dumps(WORDS)))
    with time_machine.travel(at(ZONE, TODAY, 1, 0, 5), tick=False):
        c.daily_insights.enable(site_id)
        c.daily_insights.configure(site_id, "Make it casual and friendly", daily_email=False)
        found = c.daily_insights.generate(site_id)
    c.projections.catch_up()
    assert found.writer == "model:test-model"
    (row,) = c.reads.insights.page(site_id, 0, 1)[1]
    assert row.summary == WORDS["summary"] and row.recommendations == WORDS["recommendations"]
    assert row.writer == "model:test-model"
    assert [s["type"] for s in row.signals] == ["live_spike"]

    (request,) = model.received
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    sent = request.json
    assert sent["model"] == "test-model"
    assert any("Make it casual and friendly" in m["content"] for m in sent["messages"])
    brief = json.loads(sent["messages"][-1]["content"])
    assert set(brief) == {
        "site", "week", "hits_per_day", "hits_per_local_hour", "top_pages",
        "top_pages_previous_week", "top_referrers", "platforms", "countries", "signals",
    }  # fmt: skip
    assert brief["week"]["hits"] == 310 and brief["signals"][0]["type"] == "live_spike"
    # No hit rows, hashes or addresses: the generated hits' unique hashes are "u<day>-<i>".
    raw = request.body.decode()
    for forbidden in ("unique_hash", "visitor_hash", '"u1-', "127.0.0.1", "ip_address"):
        assert forbidden not in raw
    assert "google.com" in raw and "www.google.com/" not in raw  # hosts, not referrer URLs


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (Reply(500, b'{"error": "overloaded"}'), "HTTP 500"),
        (Reply(200, b"<html>not json</html>"), "not the expected JSON"),
        (completion("Sure! Here is your summary: traffic went up."), "not the expected JSON"),
        (completion(json.dumps({**WORDS, "best_content": ""})), "'best_content'"),
        (completion(json.dumps(["a list"])), "not a JSON object"),
        (Reply(200, json.dumps(WORDS).encode(), delay=3.0), "Timed out"),
    ],
)
def test_bad_answers_fall_back_to_the_default_writer(
    llm_container: Container, model: Subscriber, reply: Reply, why: str
) -> None:
    c = llm_container
    site_id = _site(c)
    moment = at(ZONE, TODAY, 1, 0, 5)
    for_day = TODAY - timedelta(days=1)
    numbers = c.reads.insights.numbers(site_id, ZONE, for_day, moment)
    given = WriterInput("My blog", "https://blog.example.com", numbers, detect_signals(numbers),
                        "", f"{site_id}:{for_day}")  # fmt: skip
    writer = ChatCompletionsWriter(
        f"http://127.0.0.1:{model.port}/v1", "test-model", None, timeout=1.0
    )
    model.replies.append(reply)
    text, name = writer.write(given)
    assert name.startswith("default (fallback from model:test-model: ")
    assert why.lower() in name.lower(), name
    default, _ = writer.fallback.write(given)
    assert text == default and "spike" in text.summary.lower()
    assert "authorization" not in model.received[0].headers


def test_a_redirect_is_not_followed(model: Subscriber) -> None:
    writer = ChatCompletionsWriter(f"http://127.0.0.1:{model.port}/v1", "m", None, timeout=1.0)
    model.replies.append(Reply(307, b"", {"Location": "http://169.254.169.254/latest"}))
    outcome = writer.client.post(writer.url, b"{}", {"Content-Type": "application/json"})
    assert outcome.status == 307 and len(model.received) == 1
