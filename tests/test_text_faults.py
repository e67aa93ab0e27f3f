"""The fault suite for text: a NUL and a lone surrogate in every text field of every write path.

Free text collected from browsers and API clients is cleaned (the visit is kept);
values an owner chooses as names are refused with the documented validation error
(docs/decisions/0008-text-fields.md). Either way: never a 5xx, nothing half-written,
and the projections catch up and rebuild with read models equal to the log.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from eventsourcing.persistence import StoredEvent
from flask.testing import FlaskClient
from sqlalchemy import select

from application.sites import SiteChanges
from domain.custom_events import CustomEvent
from domain.errors import DomainError
from domain.hits import Hit, Visit
from domain.kudos import Kudo
from infrastructure.bootstrap import Container
from interfaces.cli import main
from projections.base import utc
from tests.conftest import World, bearer
from tests.tracking_helpers import CHROME, raw_tracking_state, recorded

BAD = {"nul": "\x00", "surrogate": "\ud800"}
# What no stored text may hold: C0 and C1 controls, DEL, surrogate code points.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass
class Ctx:
    client: FlaskClient
    container: Container
    world: World
    owner: Any
    site: Any
    key: dict[str, str]


@pytest.fixture
def ctx(client: FlaskClient, container: Container, world: World) -> Ctx:
    owner = world.account(confirmed=True)  # kudos need a confirmed owner
    site = world.site(owner, "https://example.com")
    # A URL keeps only the query parameters its owner allows (decision 16): `q` is.
    container.configuration.change_site(site.uuid, SiteChanges(allowed_query_params=["q"]))
    key = bearer(world.key(owner, "writer", "full_access"))
    return Ctx(client, container, world, owner, site, key)


# -- sending ------------------------------------------------------------------------------
def collect(ctx: Ctx, payload: dict[str, Any]) -> Any:
    # json.dumps writes a lone surrogate as the escape "\ud800", as a browser's would.
    return ctx.client.post(
        f"/collect/{ctx.site.uid}",
        data=json.dumps(payload),
        headers={
            "Content-Type": "text/plain;charset=UTF-8",
            "User-Agent": CHROME,
            "Origin": "https://example.com",
        },
    )


def api(ctx: Ctx, path: str, body: Any) -> Any:
    return ctx.client.post(
        f"/api/v1/sites/{ctx.site.id}/{path}",
        data=json.dumps(body),
        headers={**ctx.key, "Content-Type": "application/json"},
    )


PAGE = "https://example.com/a"


@dataclass(frozen=True)
class Tracked:
    """A write path and one of its fields: `send` puts the bad text in the field; the
    stored event (hit, event or kudo) then has `field` equal to `cleaned`."""

    name: str
    send: Callable[[Ctx, str], Any]
    status: int
    field: str
    cleaned: str


def _row(bad: str, field: str, base: dict[str, Any]) -> dict[str, Any]:
    values = {
        "path": f"/a{bad}b",
        "url": f"https://example.com/a{bad}b",
        "referrer": f"https://ref.example/{bad}x",
        "source": f"news{bad}letter",
        "user_agent": f"{CHROME}{bad}",
        "visitor_id": f"user{bad}1",
        "ip_address": f"203.0.113.9{bad}",
        "event": f"sign{bad}up.click",
        "value": f"pri{bad}cing",
    }
    return {**base, field: values[field]}


HIT_FIELDS = {
    "path": ("path", "/ab"),
    "url": ("url", "https://example.com/ab"),
    "referrer": ("referrer", "https://ref.example/x"),
    "source": ("source", "newsletter"),
    "user_agent": ("browser", "Chrome"),
    "visitor_id": ("path", "/p"),
    "ip_address": ("path", "/p"),
}
EVENT_FIELDS = {
    "event": ("name", "signup.click"),
    "value": ("value", "pricing"),
    "path": ("path", "/ab"),
    "url": ("url", "https://example.com/ab"),
    "referrer": ("referrer", "https://ref.example/x"),
    "source": ("source", "newsletter"),
    "user_agent": ("browser", "Chrome"),
    "visitor_id": ("name", "e.v"),
}


def _api_cases() -> list[Tracked]:
    cases = []
    for field, (stored, cleaned) in HIT_FIELDS.items():

        def one(ctx: Ctx, bad: str, field: str = field) -> Any:
            return api(ctx, "hits", _row(bad, field, {"path": "/p"}))

        def batch(ctx: Ctx, bad: str, field: str = field) -> Any:
            rows = [{"path": "/ok"}, _row(bad, field, {"path": "/p"}), {"path": "/ok2"}]
            return api(ctx, "hits/batch", rows)

        cases.append(Tracked(f"api-hit-{field}", one, 201, stored, cleaned))
        cases.append(Tracked(f"api-hit-batch-{field}", batch, 200, stored, cleaned))
    for field, (stored, cleaned) in EVENT_FIELDS.items():
        base = {"event": "e.v"}

        def event(ctx: Ctx, bad: str, field: str = field, base: dict[str, Any] = base) -> Any:
            return api(ctx, "events", _row(bad, field, base))

        def events(ctx: Ctx, bad: str, field: str = field, base: dict[str, Any] = base) -> Any:
            return api(ctx, "events/batch", [{"event": "o.k"}, _row(bad, field, base)])

        cases.append(Tracked(f"api-event-{field}", event, 201, stored, cleaned))
        cases.append(Tracked(f"api-event-batch-{field}", events, 200, stored, cleaned))
    cases.append(
        Tracked(
            "api-kudo-path",
            lambda ctx, bad: api(ctx, "kudos", {"path": f"/a{bad}b"}),
            201,
            "path",
            "/ab",
        )
    )
    return cases


CASES: list[Tracked] = [
    Tracked(
        "collect-hit-page-path",
        lambda ctx, bad: collect(ctx, {"k": "hit", "u": f"https://example.com/a{bad}b"}),
        204,
        "path",
        "/ab",
    ),
    Tracked(
        "collect-hit-page-query",
        lambda ctx, bad: collect(ctx, {"k": "hit", "u": f"https://example.com/a?q={bad}1"}),
        204,
        "url",
        "https://example.com/a?q=1",
    ),
    Tracked(
        "collect-hit-referrer",
        lambda ctx, bad: collect(ctx, {"k": "hit", "u": PAGE, "r": f"https://x.example/{bad}"}),
        204,
        "referrer",
        "https://x.example/",
    ),
    Tracked(
        "collect-event-name",
        lambda ctx, bad: collect(ctx, {"k": "event", "u": PAGE, "e": f"sign{bad}up.click"}),
        204,
        "name",
        "signup.click",
    ),
    Tracked(
        "collect-event-value",
        lambda ctx, bad: collect(ctx, {"k": "event", "u": PAGE, "e": "e.v", "v": f"pri{bad}cing"}),
        204,
        "value",
        "pricing",
    ),
    Tracked(
        "collect-event-page",
        lambda ctx, bad: collect(ctx, {"k": "event", "u": f"{PAGE}{bad}b", "e": "e.v"}),
        204,
        "path",
        "/ab",
    ),
    Tracked(
        "collect-event-referrer",
        lambda ctx, bad: collect(
            ctx, {"k": "event", "u": PAGE, "e": "e.v", "r": f"https://x.example/{bad}"}
        ),
        204,
        "referrer",
        "https://x.example/",
    ),
    Tracked(
        "collect-kudo-path",
        lambda ctx, bad: collect(ctx, {"k": "kudo", "u": PAGE, "p": f"/a{bad}b"}),
        200,
        "path",
        "/ab",
    ),
    Tracked(
        "collect-kudo-page",
        lambda ctx, bad: collect(ctx, {"k": "kudo", "u": f"{PAGE}{bad}b"}),
        200,
        "path",
        "/ab",
    ),
    *_api_cases(),
]


# -- checking -----------------------------------------------------------------------------
def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _texts(v)]
    return []


def assert_log_is_clean(container: Container) -> list[Any]:
    """No stored event holds a control character or a surrogate; returns the events."""
    raw = raw_tracking_state(container)
    assert b"\\u0000" not in raw and b"\x00" not in raw
    assert b"\\ud800" not in raw.lower()
    events = recorded(container)
    for stored in events:
        for text in _texts(stored.__dict__):
            assert not UNSAFE.search(text), (type(stored).__qualname__, text)
    return events


def _plain(value: Any) -> Any:
    return utc(value) if isinstance(value, datetime) else value


def snapshot(container: Container, names: tuple[str, ...]) -> dict[str, list[Any]]:
    found = {}
    with container.engine.connect() as conn:
        for name in names:
            for base, table in container.projections.tables[name].items():
                rows = [tuple(_plain(v) for v in r) for r in conn.execute(select(table))]
                found[f"{name}.{base}"] = sorted(rows, key=repr)
    return found


def assert_projections_follow_the_log(container: Container) -> None:
    """Catch-up applies every event, and a rebuild of each projection gives the same tables."""
    engine = container.projections
    engine.catch_up()
    assert all(s.lag == 0 for s in engine.status()), engine.status()
    assert engine.quarantined() == []
    names = tuple(engine.projections)
    live = snapshot(container, names)
    for name in names:
        engine.rebuild(name)
    assert snapshot(container, names) == live
    assert engine.quarantined() == []


def assert_documented_error(response: Any) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.data)
    body = response.json
    assert body == {"status": "error", "errors": body.get("errors")} or set(body) == {"error"}
    assert all(isinstance(e, str) and e for e in body.get("errors", [body.get("error")]))


# -- tracked text: cleaned, never lost ----------------------------------------------------
@pytest.mark.parametrize("bad", list(BAD.values()), ids=list(BAD))
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_text_in_a_tracked_field_is_cleaned_and_kept(ctx: Ctx, case: Tracked, bad: str) -> None:
    response = case.send(ctx, bad)
    assert response.status_code == case.status, (response.status_code, response.data)
    if response.status_code == 200 and response.is_json and "results" in response.json:
        assert response.json["error_count"] == 0, response.json
    events = assert_log_is_clean(ctx.container)
    values = [getattr(e, case.field, None) for e in events]
    assert case.cleaned in values, values
    assert_projections_follow_the_log(ctx.container)


def test_a_nul_in_the_pixel_path_and_referrer_is_cleaned(ctx: Ctx) -> None:
    # A URL cannot carry a lone surrogate: only the percent-escapes of its bytes.
    answers = [
        ctx.client.get(
            f"/pixel/{ctx.site.uid}.gif?path={quote('/a' + chr(0) + 'b')}",
            headers={"User-Agent": CHROME, "Referer": "https://x.example/\x01y"},
        ),
        ctx.client.get(
            f"/pixel/{ctx.site.uid}.gif?path=/c%ED%A0%80d", headers={"User-Agent": CHROME}
        ),
    ]
    assert [a.status_code for a in answers] == [200, 200]
    events = assert_log_is_clean(ctx.container)
    # Percent-escapes of a surrogate's bytes are kept as sent: they are plain text.
    assert [e.path for e in events] == ["/ab", "/c%ED%A0%80d"]
    assert events[0].referrer == "https://x.example/y"
    assert_projections_follow_the_log(ctx.container)


# -- names an owner chooses: refused, nothing written ------------------------------------
REFUSED_API: list[tuple[str, Callable[[Ctx, str], Any]]] = [
    (
        "api-kudo-custom-uid",
        lambda ctx, bad: api(ctx, "kudos", {"path": "/a", "custom_uid": f"k{bad}1"}),
    ),
]


@pytest.mark.parametrize("bad", list(BAD.values()), ids=list(BAD))
@pytest.mark.parametrize("send", [s for _, s in REFUSED_API], ids=[n for n, _ in REFUSED_API])
def test_bad_text_in_a_chosen_name_on_the_api_is_a_documented_422(
    ctx: Ctx, send: Callable[[Ctx, str], Any], bad: str
) -> None:
    before = len(recorded(ctx.container))
    response = send(ctx, bad)
    assert response.status_code == 422, (response.status_code, response.data)
    assert_documented_error(response)
    assert len(recorded(ctx.container)) == before
    assert_projections_follow_the_log(ctx.container)


SETTINGS: list[tuple[str, Callable[[Ctx, str], Any]]] = [
    ("account-email", lambda ctx, bad: ctx.container.configuration.register_account(
        f"a{bad}b@example.com", "correct horse")),
    ("account-change-email", lambda ctx, bad: ctx.container.configuration.change_email(
        ctx.owner.uuid, f"a{bad}b@example.com")),
    ("account-timezone", lambda ctx, bad: ctx.container.configuration.change_account_timezone(
        ctx.owner.uuid, f"UTC{bad}")),
    ("site-url", lambda ctx, bad: ctx.container.configuration.register_site(
        ctx.owner.uuid, f"https://new.example/a{bad}b")),
    ("site-label", lambda ctx, bad: ctx.container.configuration.register_site(
        ctx.owner.uuid, "https://new.example", label=f"My{bad}Site")),
    ("site-change-url", lambda ctx, bad: ctx.container.configuration.change_site(
        ctx.site.uuid, SiteChanges(url=f"https://example.com/{bad}"))),
    ("site-change-label", lambda ctx, bad: ctx.container.configuration.change_site(
        ctx.site.uuid, SiteChanges(label=f"My{bad}Site"))),
    ("site-ignored-path", lambda ctx, bad: ctx.container.configuration.change_site(
        ctx.site.uuid, SiteChanges(ignored_paths=[f"/admin{bad}"]))),
    ("site-report-recipient", lambda ctx, bad: ctx.container.configuration.change_site(
        ctx.site.uuid, SiteChanges(report_recipients=[f"r{bad}@example.com"]))),
    ("key-name", lambda ctx, bad: ctx.container.configuration.issue_key(
        ctx.owner.uuid, f"ci{bad}key", "read_only")),
    ("kudo-uid", lambda ctx, bad: ctx.container.tracking.give_kudo(
        ctx.site.uuid, "/a", f"k{bad}1", "api")),
    ("webring-label", lambda ctx, bad: ctx.container.configuration.add_webring_member(
        "https://ring.example", f"Ring{bad}", None)),
    ("webhook-url", lambda ctx, bad: ctx.container.webhooks.create_webhook(
        ctx.owner.uuid, f"https://93.184.215.14/{bad}", ["new_hit"])),
]  # fmt: skip


# U+009B, the C1 control sequence introducer, starts escape sequences in some terminals.
@pytest.mark.parametrize("bad", [*BAD.values(), "\x9b", "\x7f"], ids=[*BAD, "c1", "del"])
@pytest.mark.parametrize("command", [c for _, c in SETTINGS], ids=[n for n, _ in SETTINGS])
def test_bad_text_in_a_setting_is_refused_by_the_domain(
    ctx: Ctx, command: Callable[[Ctx, str], Any], bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every way in (API, dashboard, CLI) calls these commands: refused here, refused there."""
    ctx.container.configuration.set_subscribed(ctx.owner.uuid, True)  # webhooks need a plan
    stores = (ctx.container.configuration, ctx.container.tracking, ctx.container.webhooks)
    heads = [app.recorder.max_notification_id() for app in stores]
    with pytest.raises(DomainError) as refused:
        command(ctx, bad)
    assert refused.value.message
    assert [app.recorder.max_notification_id() for app in stores] == heads  # nothing written
    assert_projections_follow_the_log(ctx.container)


@pytest.mark.parametrize(
    "command",
    [
        lambda ctx, bad: ctx.container.configuration.register_account("n@example.com", bad * 9),
        lambda ctx, bad: ctx.container.configuration.change_password(ctx.owner.uuid, bad * 9),
    ],
    ids=["register", "change"],
)
def test_a_password_that_cannot_be_hashed_is_refused(
    ctx: Ctx, command: Callable[[Ctx, str], Any]
) -> None:
    """A password is never stored, only hashed: what cannot be encoded cannot be hashed."""
    with pytest.raises(DomainError):
        command(ctx, BAD["surrogate"])


def _token(page: Any) -> str:
    found = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data)
    assert found is not None
    return found.group(1).decode()


DASHBOARD = [
    ("edit", "label", "My{bad}Site", b"control character"),
    ("edit", "url", "https://example.com/a{bad}b", b"control character"),
    ("edit", "ignored_paths", "/ok\n/admin{bad}x", b"control character"),
    ("edit", "report_recipients", "r{bad}x@example.com", b"Invalid email address"),
    ("new", "url", "https://new{bad}.example", b"control character"),
    ("new", "label", "New{bad}Site", b"control character"),
]


@pytest.mark.parametrize("bad", ["\x00", "\x9b"], ids=["nul", "c1"])
@pytest.mark.parametrize(
    ("form", "field", "value", "said"), DASHBOARD, ids=[f"{f}-{n}" for f, n, _, _ in DASHBOARD]
)
def test_a_bad_setting_from_the_dashboard_is_shown_beside_its_field(
    ctx: Ctx, form: str, field: str, value: str, said: bytes, bad: str
) -> None:
    """The forms refuse C0 controls; what they let through (C1) reaches the domain and
    comes back as the form's error: a 422 page, never a 500, nothing saved."""
    client = ctx.client
    page = client.get("/auth/sign_in")
    signed = client.post(
        "/auth/sign_in",
        data={
            "email": "owner@example.com",
            "password": "correct horse",
            "csrf_token": _token(page),
        },
    )
    assert signed.status_code in (302, 303), signed.data
    url = f"/sites/{ctx.site.uid}/edit" if form == "edit" else "/sites/new"
    data = {"url": "https://example.com", "label": "", "timezone": "UTC"}
    if form == "new":
        data["url"] = "https://new.example"
    data[field] = value.format(bad=bad)
    head = ctx.container.configuration.recorder.max_notification_id()
    answer = client.post(url, data={**data, "csrf_token": _token(client.get(url))})
    assert answer.status_code == 422, answer.status_code
    # The forms' own check says "control characters" for C0; the domain's, for C1.
    assert said in answer.data or b"control characters" in answer.data
    assert ctx.container.configuration.recorder.max_notification_id() == head
    assert_projections_follow_the_log(ctx.container)


CLI = [
    ("users", "create", "--email", "a{bad}b@example.com", "--password", "correct horse"),
    ("sites", "create", "--owner", "owner@example.com", "--url", "https://x.example/{bad}"),
    ("sites", "create", "--owner", "owner@example.com", "--url", "x.example", "--label", "L{bad}"),
    ("keys", "create", "--owner", "owner@example.com", "--name", "k{bad}", "--access", "read_only"),
    ("webring", "add", "--url", "https://ring.example", "--label", "R{bad}"),
]


# An argument that is not UTF-8 reaches Python as a lone surrogate (surrogateescape).
@pytest.mark.parametrize("bad", ["\udcff", "\x9b", "\x7f"], ids=["surrogate", "c1", "del"])
@pytest.mark.parametrize("args", CLI, ids=[" ".join(a[:2]) + " " + a[-2] for a in CLI])
def test_a_bad_name_on_the_command_line_exits_1_saying_why(
    ctx: Ctx, env: dict[str, str], args: tuple[str, ...], bad: str
) -> None:
    head = ctx.container.configuration.recorder.max_notification_id()
    result = CliRunner().invoke(main, [a.format(bad=bad) for a in args] + ["--json"], env=env)
    assert result.exit_code == 1, (result.stdout, result.exception)
    assert set(json.loads(result.stdout)) == {"error"}
    assert ctx.container.configuration.recorder.max_notification_id() == head


# -- events stored before the rule ------------------------------------------------------
# What today's code refuses or cleans, earlier code stored: NUL and other C0 controls
# escaped in the JSON, DEL and C1 as they are, and (from a writer whose JSON escapes
# everything) lone surrogates as "\ud800".
OLD = {"nul": "\x00", "soh": "\x01", "del": "\x7f", "c1": "\x9b", "surrogate": "\ud800"}
PLACEHOLDER = "\u2603placeholder\u2603"


def store_as_before(app: Any, events: list[Any]) -> None:
    """Save events through the library's mapper, as the code before the rule did; a text
    the mapper cannot encode (a lone surrogate) goes in as the JSON escape another
    writer would have stored."""
    stored = []
    for event in events:
        bad = {k: v for k, v in vars(event).items() if isinstance(v, str) and "\ud800" in v}
        if not bad:
            stored.append(app.mapper.to_stored_event(event))
            continue
        for name, value in bad.items():
            object.__setattr__(event, name, value.replace("\ud800", PLACEHOLDER))
        plain = app.mapper.to_stored_event(event)
        state = plain.state.replace(PLACEHOLDER.encode(), b"\\ud800")
        stored.append(
            StoredEvent(plain.originator_id, plain.originator_version, plain.topic, state)
        )
    app.recorder.insert_events(stored)


def old_events(ctx: Ctx) -> None:
    site_id = ctx.container.configuration.get_site(ctx.site.uuid).id
    hits, kudos = [], []
    for name, bad in OLD.items():
        visit = Visit(
            path="/p", url=None, referrer=None, country="XX", browser=None, platform=None,
            is_mobile=False, source=None, utm_campaign=None, utm_medium=None,
            unique_hash=f"u-{name}", visitor_hash=f"v-{name}", channel="script",
        )  # fmt: skip
        # Made field by field, as the code before the rule made them, around Visit's cleaning.
        hit = Hit.record(site_id, visit)
        for field, value in {
            "path": f"/a{bad}b",
            "url": f"https://example.com/a{bad}b",
            "referrer": f"https://r.example/{bad}x",
            "source": f"s{bad}x",
            "utm_campaign": f"c{bad}x",
        }.items():
            object.__setattr__(hit, field, value)
        event = CustomEvent.record(site_id, "e.v", None, visit, has_path=True)
        object.__setattr__(event, "name", f"e{bad}.v")
        object.__setattr__(event, "value", f"v{bad}x")
        object.__setattr__(event, "path", f"/a{bad}b")
        hits += [hit, event]
        given = Kudo.give(site_id, "/placeholder", f"k_{name}", "api")
        (kudo_given,) = given.collect_events()
        object.__setattr__(kudo_given, "path", f"/k{bad}x")
        kudos.append(kudo_given)
    store_as_before(ctx.container.tracking, hits + kudos)
    # A setting: relabelled around the rule, through the application.
    site = ctx.container.configuration.get_site(ctx.site.uuid)
    site._relabelled("My\x00Site\ud800")
    for stored in [site.collect_events()]:
        store_as_before(ctx.container.configuration, stored)


def test_events_stored_before_the_rule_are_applied_cleaned_and_block_no_one(ctx: Ctx) -> None:
    old_events(ctx)
    engine = ctx.container.projections
    engine.catch_up()
    assert all(s.lag == 0 and s.quarantined == 0 for s in engine.status()), engine.status()
    t = engine.tables
    with ctx.container.engine.connect() as conn:
        hits = conn.execute(select(t["traffic"]["hits"]).order_by(t["traffic"]["hits"].c.id)).all()
        events = conn.execute(select(t["traffic"]["events"])).all()
        kudos = conn.execute(select(t["kudos"]["kudos"])).all()
        label = conn.execute(select(t["sites"]["sites"].c.label)).scalar_one()
    assert len(hits) == len(events) == len(kudos) == len(OLD)
    assert {(h.path, h.url, h.referrer, h.source, h.utm_campaign) for h in hits} == {
        ("/ab", "https://example.com/ab", "https://r.example/x", "sx", "cx")
    }
    assert {(e.name, e.value, e.path) for e in events} == {("e.v", "vx", "/ab")}
    assert {k.path for k in kudos} == {"/kx"}
    assert label == "MySite"
    # Read through the API too: one page, counted once per old hit.
    key = bearer(ctx.world.key(ctx.owner, "reader", "read_only"))
    answer = ctx.client.get(
        f"/api/v1/sites/{ctx.site.id}/hits?grouped=true&group_by=path",
        headers=key,
    )
    assert answer.status_code == 200, answer.json
    assert [(g["path"], g["views"]) for g in answer.json["grouped_hits"]] == [("/ab", len(OLD))]
    assert_projections_follow_the_log(ctx.container)


# -- reading: a filter is compared with what is stored, cleaned the same way ---------------
@pytest.mark.parametrize(
    ("query", "key", "found"),
    [
        ("hits?path=/a%00b", "hits", 1),
        ("hits?referrer=ref%00.example", "hits", 1),
        ("hits?grouped=true&path=/a%00b", "grouped_hits", 1),
        ("hits?grouped=true&group_by=referrer&referrer=%00ref", "grouped_hits", 1),
        ("kudos?path=/a%00b", "kudos", 1),
        ("kudos?uid=k%001", "kudos", 0),
    ],
)
def test_a_nul_in_a_read_filter_finds_what_was_stored_cleaned(
    ctx: Ctx, query: str, key: str, found: int
) -> None:
    assert (
        api(ctx, "hits", {"path": "/a\x00b", "referrer": "https://ref.example/"}).status_code == 201
    )
    assert api(ctx, "kudos", {"path": "/a\x00b"}).status_code == 201
    ctx.container.projections.catch_up()
    reader = bearer(ctx.world.key(ctx.owner, "reader", "read_only"))
    answer = ctx.client.get(f"/api/v1/sites/{ctx.site.id}/{query}", headers=reader)
    assert answer.status_code == 200, answer.data
    assert len(answer.json[key]) == found
