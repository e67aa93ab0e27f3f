"""Deleting one site is a real erasure, as deleting an account is: nothing of the site
stays in any store (read raw, as tests/test_erasure.py reads them), the account and its
other site stay whole, a rebuild brings nothing back, and bad input deletes nothing."""

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from application.sites import SiteChanges
from domain.content_monitoring import monitor_id as content_monitor_id
from domain.errors import Conflict, DomainError, NotFound
from domain.hits import site_id_range
from domain.insights import insights_id
from domain.monitors import monitor_id_for
from infrastructure.bootstrap import Container
from infrastructure.persistence import postgres_url, sqlite_event_file
from infrastructure.settings import Settings
from interfaces.cli import main
from tests.conftest import World, bearer
from tests.test_erasure import dump_stores, traces
from tests.uptime_helpers import DueQueue, fake_site, refusing_port
from tests.webhook_helpers import Subscriber, subscriber

REMOVED = "domain.accounts:Account.SiteRemoved"
ATTACHED = "domain.accounts:Account.SiteAttached"


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    env["TINYLYTICS_UPTIME_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    env["TINYLYTICS_WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    env["TINYLYTICS_RDAP_URL"] = f"http://127.0.0.1:{refusing_port()}"
    env["TINYLYTICS_BASE_URL"] = "https://stats.example.org"
    return env


# -- reading the raw event stores ----------------------------------------------------------
def stored_events(settings: Settings, store: str, app: str) -> list[tuple[UUID, str, str]]:
    """(originator id, topic, state as text) of every event in one store (the
    application `app`'s)."""
    if settings.is_postgres:
        url = postgres_url(settings).set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as db:
            table = f'"{settings.db_schema}".{app.lower()}_events'
            rows = db.execute(f"SELECT originator_id, topic, state FROM {table}").fetchall()
        return [(UUID(str(o)), t, bytes(s).decode("utf-8", "replace")) for o, t, s in rows]
    db = sqlite3.connect(sqlite_event_file(settings, store))
    try:
        rows = db.execute("SELECT originator_id, topic, state FROM stored_events").fetchall()
    finally:
        db.close()
    return [(UUID(o), t, bytes(s).decode("utf-8", "replace")) for o, t, s in rows]


def in_range(ids: list[UUID], site_id: UUID) -> list[UUID]:
    low, high = site_id_range(site_id)
    return [i for i in ids if low <= i <= high]


# -- an account with two sites worth erasing ---------------------------------------------------
@dataclass
class Tracked:
    created: Any
    tag: str

    @property
    def uuid(self) -> UUID:
        return UUID(str(self.created.uuid))


@dataclass
class Two:
    c: Container
    client: FlaskClient
    owner: Any
    key: dict[str, str]
    kept: Tracked
    gone: Tracked
    sub: Subscriber
    queue: DueQueue

    def post(self, url: str, body: Any) -> Any:
        response = self.client.post(
            url, data=json.dumps(body), headers={**self.key, "Content-Type": "application/json"}
        )
        assert response.status_code in (200, 201, 202), response.json
        return response

    def fill(self, site: Tracked) -> None:
        """Hits, a kudo and a custom event, each naming the site's tag."""
        base = f"/api/v1/sites/{site.created.id}"
        tag = site.tag
        for _ in range(2):
            self.post(
                f"{base}/hits", {"path": f"/{tag}-page", "referrer": f"https://{tag}-ref.example/"}
            )
        self.post(f"{base}/kudos", {"path": f"/{tag}-kudo", "custom_uid": f"{tag}-kudo-uid"})
        self.post(f"{base}/events", {"event": f"{tag}.signup", "value": f"{tag}-value"})

    def settle(self) -> None:
        """What a running server does in a moment: project, dispatch, deliver, fire jobs."""
        for _ in range(2):
            self.c.projections.catch_up()
            self.c.webhook_dispatch.catch_up()
            self.queue.run_due()
            self.c.clock.tick()
        self.c.projections.catch_up()

    def view(self, site: Tracked) -> tuple[Any, ...]:
        """What the API says of a site."""
        base = f"/api/v1/sites/{site.created.id}"
        answers = [self.client.get(base + p, headers=self.key) for p in ("", "/hits", "/kudos")]
        assert [a.status_code for a in answers] == [200, 200, 200]
        return tuple(a.json for a in answers)

    def needles(self, site: Tracked) -> list[str]:
        """Strings that only this site's data holds (its ids come separately)."""
        tag = site.tag
        return [
            f"{tag}-blog",
            f"{tag} label",
            f"/{tag}-page",
            f"{tag}-ref.example",
            f"{tag}-kudo",
            f"{tag}.signup",
            f"{tag}-value",
            f"/{tag}-secret",
            f"{tag}-boss@example.org",
            site.created.uid,
        ]

    def ids(self, site: Tracked) -> list[UUID]:
        """The site's id and the ids derived from it (monitors, insights)."""
        s = site.uuid
        return [s, monitor_id_for(s), insights_id(s), content_monitor_id(s)]


def id_needles(ids: list[UUID]) -> list[str]:
    return [n for i in ids for n in (str(i), i.hex)]


@pytest.fixture
def two(container: Container, world: World, client: FlaskClient) -> Iterator[Two]:
    c = container
    with fake_site() as web, subscriber() as sub:
        queue = DueQueue(c.webhook_sender)
        c.webhooks.queue = queue
        owner = world.account("owner@example.com", is_subscribed=True)
        c.configuration.confirm_email(owner.uuid)
        key = bearer(world.key(owner, "writer", "full_access"))
        c.webhooks.create_webhook(owner.uuid, sub.url("/the-hook"), ["new_hit", "new_kudo"])
        sites = {}
        for tag in ("kept", "gone"):
            created = world.site(owner, f"{web.url()}/{tag}-blog", label=f"{tag} label")
            c.configuration.change_site(
                created.uuid,
                SiteChanges(
                    ignored_paths=[f"/{tag}-secret"], report_recipients=[f"{tag}-boss@example.org"]
                ),
            )
            sites[tag] = Tracked(created, tag)
        t = Two(c, client, owner, key, sites["kept"], sites["gone"], sub, queue)
        for site in (t.kept, t.gone):
            t.fill(site)
            c.monitoring.enable(site.uuid, owner.uuid)
            c.daily_insights.enable(site.uuid)
            c.content.enable(site.uuid)
        c.projections.catch_up()
        c.reports.sync()  # a weekly report job per site
        t.settle()
        yield t


def schedule_rows(c: Container, ids: list[UUID]) -> list[str]:
    """The kinds of the clock's jobs keyed by these ids."""
    keys = {str(i) for i in ids}
    found = []
    for kind in sorted(c.clock.kinds):
        found += [kind for key in c.schedule.keys(kind) if key in keys]
    return found


def webhook_deliveries(c: Container, site_id: UUID) -> list[UUID]:
    """The ids of the deliveries about a site, from the webhooks store itself."""
    app = c.webhooks
    found = app.recorder.select_notifications(start=1, limit=100_000)
    return [
        UUID(str(n.originator_id))
        for n in found
        if n.topic.endswith("Delivery.Scheduled")
        and app.mapper.to_domain_event(n).site_id == site_id  # type: ignore[attr-defined]
    ]


def assert_site_erased(settings: Settings, two: Two, site: Tracked) -> None:
    c = two.c
    ids = two.ids(site)
    # Nothing that names the site, anywhere: read models, operational tables, every store.
    assert traces(settings, two.needles(site)) == []
    # Its ids only in the account's own history (attached, then removed): no read
    # model, job, sample, mail or other store holds them.
    held = traces(settings, id_needles(ids))
    assert {t for t, _n in held} <= {"configuration_events", "configuration.stored_events"}
    mentioning = [
        e
        for e in stored_events(settings, "configuration", "Configuration")
        if site.uuid.hex in e[2]
    ]
    assert {(o, t) for o, t, _s in mentioning} == {
        (two.owner.uuid, ATTACHED),
        (two.owner.uuid, REMOVED),
    }
    stores = {
        "tracking": c.tracking,
        "monitoring": c.monitoring,
        "insights": c.insights,
        "content": c.content_monitoring,
        "webhooks": c.webhooks,
    }
    for store, app in stores.items():
        originators = [o for o, _t, _s in stored_events(settings, store, app.name)]
        assert in_range(originators, site.uuid) == [], store
        assert not set(ids) & set(originators), store
    assert webhook_deliveries(c, site.uuid) == []
    assert schedule_rows(c, ids) == []
    with pytest.raises(NotFound):
        c.configuration.site_by_uid(site.created.uid)
    with pytest.raises(NotFound):
        c.configuration.get_site(site.uuid)
    assert site.uuid not in c.configuration.get_account(two.owner.uuid).site_ids
    base = f"/api/v1/sites/{site.created.id}"
    for path in ("", "/hits", "/kudos", "/uptime"):
        assert two.client.get(base + path, headers=two.key).status_code == 404, path
    hit = two.client.post(
        f"{base}/hits",
        data=json.dumps({"path": "/after"}),
        headers={**two.key, "Content-Type": "application/json"},
    )
    assert hit.status_code == 404
    listed = two.client.get("/api/v1/sites", headers=two.key).json["sites"]
    assert site.created.id not in [s["id"] for s in listed]


# -- tests -----------------------------------------------------------------------------------
def test_deleting_a_site_leaves_nothing_of_it_and_spares_the_other(
    settings: Settings, two: Two
) -> None:
    c = two.c
    gone, kept = two.gone, two.kept
    # Before: every kind of data is there, so that the checks below can fail.
    found = {n for _t, n in traces(settings, two.needles(gone))}
    assert found >= {"gone-blog", "/gone-page", "gone-kudo", "gone.signup", "gone-boss@example.org"}
    assert webhook_deliveries(c, gone.uuid) and webhook_deliveries(c, kept.uuid)
    kinds = schedule_rows(c, two.ids(gone))
    assert {"monitor.check", "report.weekly", "insights.daily"} <= set(kinds), kinds
    tracking = [o for o, _t, _s in stored_events(settings, "tracking", c.tracking.name)]
    assert in_range(tracking, gone.uuid) and in_range(tracking, kept.uuid)
    assert c.reads.uptime.monitor(gone.uuid) is not None
    kept_view = two.view(kept)
    kept_traces = traces(settings, two.needles(kept) + id_needles(two.ids(kept)))
    kept_deliveries = webhook_deliveries(c, kept.uuid)
    kept_jobs = schedule_rows(c, two.ids(kept))

    scope = c.erasure.delete_site(gone.uuid, _domain(c, gone))
    assert scope.site_ids == (gone.uuid,) and not scope.whole_account
    assert scope.account_id == two.owner.uuid and scope.key_ids == ()

    assert_site_erased(settings, two, gone)
    # The account, its key, its webhook and its other site are whole.
    assert two.view(kept) == kept_view
    assert traces(settings, two.needles(kept) + id_needles(two.ids(kept))) == kept_traces
    assert webhook_deliveries(c, kept.uuid) == kept_deliveries
    assert schedule_rows(c, two.ids(kept)) == kept_jobs
    assert [w.url for w in c.webhooks.webhooks_of(two.owner.uuid)] == [two.sub.url("/the-hook")]
    assert c.configuration.find_account("owner@example.com").site_ids == [kept.uuid]
    assert two.client.get("/api/v1/me", headers=two.key).status_code == 200

    # The server goes on: jobs fire, hits to the kept site are delivered, and a rebuild
    # of every read model brings nothing of the erased site back.
    before = len(two.sub.received)
    two.post(f"/api/v1/sites/{kept.created.id}/hits", {"path": "/kept-later"})
    two.settle()
    assert [r.json["hit"]["path"] for r in two.sub.received[before:]] == ["/kept-later"]
    for name in list(c.projections.projections):
        c.projections.rebuild(name)
    assert_site_erased(settings, two, gone)
    after = two.view(kept)
    assert after[0]["lifetime_hits"] == kept_view[0]["lifetime_hits"] + 1  # the later hit
    assert after[2] == kept_view[2]


def _domain(c: Container, site: Tracked) -> str:
    return c.configuration.get_site(site.uuid).url.split("://", 1)[1]


def test_bad_input_deletes_nothing(settings: Settings, two: Two, world: World) -> None:
    c = two.c
    stranger = world.account("stranger@example.com")
    before = dump_stores(settings)
    domain = _domain(c, two.gone)
    with pytest.raises(NotFound, match="Site not found"):
        c.erasure.delete_site(uuid4(), domain)
    with pytest.raises(NotFound, match="Site not found"):
        c.erasure.delete_site(two.gone.uuid, domain, owner_id=stranger.uuid)
    for typed in ("", None, "kept-blog", _domain(c, two.kept), domain + "x"):
        with pytest.raises(DomainError, match="Type the site's domain"):
            c.erasure.delete_site(two.gone.uuid, typed)
    c.projections.catch_up()
    assert dump_stores(settings) == before
    assert c.configuration.get_account(two.owner.uuid).site_ids == [two.kept.uuid, two.gone.uuid]


def test_the_full_url_confirms_too_and_a_url_claim_another_site_took_is_kept(
    settings: Settings, container: Container, world: World
) -> None:
    app = container.configuration
    owner = world.account("mover@example.com")
    moved = world.site(owner, "https://first.example")
    app.change_site(moved.uuid, SiteChanges(url="https://second.example"))
    # The released address is another site's now: its claim is not the erased site's.
    taker = world.site(owner, "https://first.example")
    container.erasure.delete_site(moved.uuid, "HTTPS://second.example/")
    container.projections.catch_up()
    assert traces(settings, ["second.example", moved.uid]) == []
    with pytest.raises(Conflict, match="already taken"):
        app.register_site(owner.uuid, "https://first.example")
    assert app.get_site(taker.uuid).url == "https://first.example"
    # The erased site's own address is free again.
    again = app.register_site(owner.uuid, "https://second.example")
    assert app.get_site(again.uuid).url == "https://second.example"


def test_an_erasure_that_failed_is_finished_by_asking_again_or_by_the_account_erasure(
    settings: Settings, container: Container, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    eraser = container.erasure.eraser
    real = eraser.erase
    owner = world.account("half@example.com")
    kept = world.site(owner, "https://half-kept.example")
    first = world.site(owner, "https://half-first.example")
    second = world.site(owner, "https://half-second.example")

    def broken(scope: Any) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(eraser, "erase", broken)
    for site in (first, second):
        with pytest.raises(RuntimeError):
            container.erasure.delete_site(site.uuid, site_url(container, site))
    monkeypatch.setattr(eraser, "erase", real)
    container.projections.catch_up()
    # Removed from the account (its lists, the sites read model), not yet erased.
    assert container.configuration.get_account(owner.uuid).site_ids == [kept.uuid]
    assert traces(settings, ["half-first.example"]) != []
    container.erasure.delete_site(first.uuid, "half-first.example")
    container.projections.catch_up()
    assert traces(settings, ["half-first.example"]) == []
    assert traces(settings, ["half-kept.example"]) != []
    container.erasure.delete_account(owner.uuid)
    container.projections.catch_up()
    assert traces(settings, ["half-second.example", "half-kept.example", "half@example.com"]) == []


def site_url(container: Container, site: Any) -> str:
    return container.configuration.get_site(site.uuid).url


# -- the CLI ------------------------------------------------------------------------------------
def test_cli_sites_delete_by_uid_or_domain(
    env: dict[str, str], settings: Settings, container: Container, world: World
) -> None:
    owner = world.account("cli@example.com")
    world.site(owner, "https://cli-kept.example")
    by_uid = world.site(owner, "https://cli-uid.example/blog")
    by_domain = world.site(owner, "https://cli-domain.example")
    other = world.account("other@example.com")
    world.site(other, "https://cli-domain.example")  # the same domain, another account
    runner = CliRunner()

    result = runner.invoke(
        main,
        ["sites", "delete", by_uid.uid, "--confirm", "cli-uid.example/blog", "--json"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "deleted": True,
        "uid": by_uid.uid,
        "url": "https://cli-uid.example/blog",
        "owner": "cli@example.com",
    }
    assert traces(settings, ["cli-uid.example", by_uid.uid]) == []

    two = runner.invoke(
        main, ["sites", "delete", "cli-domain.example", "--confirm", "cli-domain.example"], env=env
    )
    assert two.exit_code == 1 and "2 sites have the domain" in two.stderr
    done = runner.invoke(
        main,
        [
            "sites",
            "delete",
            "cli-domain.example",
            "--owner",
            "cli@example.com",
            "--confirm",
            "cli-domain.example",
        ],
        env=env,
    )
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == (
        f"erased site https://cli-domain.example (uid {by_domain.uid}) of cli@example.com"
        " and all its data"
    )
    container.projections.catch_up()
    assert traces(settings, [by_domain.uid]) == []
    assert traces(settings, ["cli-kept.example"]) != []
    assert container.configuration.get_account(other.uuid).site_ids != []


def test_cli_sites_delete_refuses_bad_input_and_deletes_nothing(
    env: dict[str, str], settings: Settings, container: Container, world: World
) -> None:
    owner = world.account("cli@example.com")
    site = world.site(owner, "https://cli-site.example")
    before = dump_stores(settings)
    runner = CliRunner()
    missing = runner.invoke(main, ["sites", "delete", site.uid], env=env)
    assert missing.exit_code == 2 and "--confirm" in missing.output
    wrong = runner.invoke(main, ["sites", "delete", site.uid, "--confirm", "nope.example"], env=env)
    assert wrong.exit_code == 1
    assert "Type the site's domain, cli-site.example, to delete it" in wrong.stderr
    unknown = runner.invoke(
        main, ["sites", "delete", "nosuchsite", "--confirm", "x", "--json"], env=env
    )
    assert unknown.exit_code == 1
    assert json.loads(unknown.stdout) == {"error": "No site with uid or domain 'nosuchsite'"}
    stranger = world.account("stranger@example.com")
    before = dump_stores(settings)
    theirs = runner.invoke(
        main,
        [
            "sites",
            "delete",
            site.uid,
            "--owner",
            "stranger@example.com",
            "--confirm",
            "cli-site.example",
        ],
        env=env,
    )
    assert theirs.exit_code == 1 and "Site not found" in theirs.stderr
    container.projections.catch_up()
    assert dump_stores(settings) == before
    assert stranger.uuid != owner.uuid
