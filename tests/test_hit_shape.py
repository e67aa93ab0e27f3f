"""One hit shape: the domain's field lists are what the read model, the API, webhooks
and the export show, for a hit recorded with every field set."""

import csv
import io
from dataclasses import fields
from datetime import UTC
from typing import Any

from flask.testing import FlaskClient

from application.exports import HIT_COLUMNS as CSV_COLUMNS
from application.exports import csv_chunks
from domain.date_ranges import DateRange
from domain.hits import (
    API_HIT_FIELDS,
    EXPORTED_HIT_FIELDS,
    LISTED_HIT_FIELDS,
    VISIT_FIELDS,
    Hit,
    Visit,
    public_hit,
)
from domain.webhook_messages import hit_payload
from infrastructure.bootstrap import Container
from interfaces.api.hits import hit_shape
from projections.reads import Filters, HitRow
from projections.traffic.schema import HIT_COLUMNS
from tests.conftest import World, bearer

FULL = Visit(
    path="/every/field",
    url="https://shape.example/every/field?ref=1",
    referrer="https://news.example/",
    country="DE",
    browser="Firefox",
    platform="Linux",
    is_mobile=True,
    source="news.example",
    utm_campaign="spring",
    utm_medium="email",
    unique_hash="u" * 32,
    visitor_hash="v" * 32,
    channel="api",
    subscribers=12,
)


def test_the_lists_agree() -> None:
    assert tuple(f.name for f in fields(Visit)) == VISIT_FIELDS
    assert ("id", "site_uuid", "created_at", *VISIT_FIELDS, "is_unique") == HIT_COLUMNS
    assert {f.name for f in fields(HitRow)} == set(HIT_COLUMNS)
    assert issubclass(HitRow, Visit)
    stored = {name for _, name in API_HIT_FIELDS}
    assert stored <= {*HIT_COLUMNS}
    assert set(EXPORTED_HIT_FIELDS) <= {*HIT_COLUMNS}
    assert [p for p, _ in LISTED_HIT_FIELDS] == [
        p for p, _ in API_HIT_FIELDS if p not in ("unique_hash", "visitor_hash")
    ]


def test_every_surface_shows_the_hit_of_the_domains_lists(
    world: World, container: Container, client: FlaskClient
) -> None:
    owner = world.account("shape@example.com")
    site = world.site(owner, "https://shape.example")
    table = container.projections.tables["traffic"]["hits"]
    assert {c.name for c in table.columns} == set(HIT_COLUMNS)
    event = Hit.record(site.uuid, FULL)
    (number,) = container.tracking.record([event])
    container.projections.catch_up()
    at = event.timestamp.astimezone(UTC)

    # The read model keeps every field.
    total, rows = container.reads.traffic.hits_page(
        site.uuid, DateRange(at.date(), at.date()), Filters(), 10, 0
    )
    assert total == 1
    row = rows[0]
    assert {name: getattr(row, name) for name in VISIT_FIELDS} == {
        name: getattr(FULL, name) for name in VISIT_FIELDS
    }
    assert row.id == number and row.is_unique is True

    # The API listing: the listed fields, public names, in order.
    key = bearer(world.key(owner, "reader"))
    day = at.date().isoformat()
    listed = client.get(
        f"/api/v1/sites/{site.id}/hits?start_date={day}&end_date={day}", headers=key
    ).get_json()["hits"][0]
    assert list(listed) == [p for p, _ in LISTED_HIT_FIELDS]
    expected = public_hit(row, LISTED_HIT_FIELDS)
    expected["created_at"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert listed == expected

    # The create-hit answer and the new_hit webhook: every public field.
    created = hit_shape(event, number)
    assert list(created) == [p for p, _ in API_HIT_FIELDS]
    # The webhook's time has milliseconds (webhooks.md); every other field is the same.
    assert hit_payload(event, number) == {
        **created,
        "created_at": hit_payload(event, number)["created_at"],
    }
    assert {k: created[k] for k in listed} == listed

    # The export: the exported fields, in order, with the stored values.
    exported = export_rows(container, site.uuid)
    assert exported[0] == [
        f"{name}_utc" if name == "created_at" else name for name in EXPORTED_HIT_FIELDS
    ]
    line = dict(zip(exported[0], exported[1], strict=True))
    assert line["path"] == FULL.path and line["utm_medium"] == "email"
    assert line["is_mobile"] == "true" and line["channel"] == "api"


def export_rows(container: Container, site: Any) -> list[list[str]]:
    data = b"".join(csv_chunks(CSV_COLUMNS, container.reads.traffic.export_hits(site)))
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
