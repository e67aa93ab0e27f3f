"""The premium endpoints answer as api.md documents, before their features exist:
listed in discovery and OpenAPI with the documented schemas; 403 without a
subscription; with one, insights empty (and off), uptime 404, content 403."""

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from tests.conftest import World, bearer
from tests.test_api_account import schema_validator

PREMIUM = ("/sites/{id}/insights", "/sites/{id}/uptime", "/sites/{id}/content")

# The response examples of api.md, as written there.
DOCUMENTED = {
    "/sites/{id}/insights": """{ "insights": [ { "id": 42, "insights_for_date": "2026-02-13", "formatted_insights_date": "February 13, 2026", "generated_at": "2026-02-14T06:00:00Z", "summary": "Traffic was steadier than usual overall, with one blog post and a new referrer doing most of the lifting.", "signals": [ { "type": "traffic_change", "headline": "Traffic is up 28% this week", "summary": "The site picked up 378 hits in the last 7 days, up from 296 the week before.", "importance_score": 64, "detected_at": "2026-02-14T06:00:00Z", "window": { "started_at": "2026-02-07T00:00:00Z", "ended_at": "2026-02-14T06:00:00Z" }, "payload_excerpt": { "direction": "increase", "current_hits": 378, "previous_hits": 296, "absolute_change": 82, "change_percentage": 27.7 } } ], "traffic_patterns": "Wednesday and Thursday were the busiest days, with evenings remaining your strongest hour.", "best_content": "Your recent Rails post is getting more attention than usual and is now one of the site's top pages.", "recommendations": "Keep an eye on the post that is breaking out, and consider sharing similar content while the momentum is still fresh." } ], "pagination": { "current_page": 1, "per_page": 50, "total_count": 1, "total_pages": 1 }, "site": { "id": 456, "uid": "abc123", "url": "https://example.com", "label": "My Blog", "insights_enabled": true, "daily_insight_reports_active": true, "next_insight_job_scheduled_at": "2026-02-15T06:00:00Z" } }""",  # noqa: E501
    "/sites/{id}/uptime": """{ "monitor": { "id": 101, "url": "https://example.com", "enabled": true, "is_down": false, "uptime": 99.95, "last_check_at": "2026-02-14T09:55:00Z", "next_check_at": "2026-02-14T10:00:00Z", "last_status_code": 200, "last_error_message": null, "status_description": "Up", "current_check_interval": 300, "period": "30d", "ssl": { "expires_at": "2026-08-01T00:00:00Z", "valid": true, "expiring_soon": false, "expired": false, "days_until_expiry": 168 }, "domain": { "tested_at": "2026-02-14T00:00:00Z", "expires_at": "2027-06-01T00:00:00Z", "remaining_days": 472, "source": "whois", "expired": false, "expiring_soon": false, "days_until_expiry": 472 }, "auto_paused": false, "created_at": "2025-06-01T12:00:00Z", "updated_at": "2026-02-14T09:55:00Z" }, "downtimes": [ { "id": 55, "error": "Connection timed out", "started_at": "2026-02-10T03:00:00Z", "ended_at": "2026-02-10T03:15:00Z", "duration": 900, "duration_in_words": "15 minutes", "partial": false, "ongoing": false } ], "pagination": { "current_page": 1, "per_page": 100, "total_count": 1, "total_pages": 1 }, "summary": { "total_downtimes": 3, "ongoing_downtimes": 0, "recent_downtimes_30_days": 1 } }""",  # noqa: E501
    "/sites/{id}/content": """{ "site": { "id": 456, "uid": "abc123", "url": "https://example.com", "label": "My Blog" }, "monitoring_status": { "enabled": true, "root_path": "/blog", "last_check_at": "2026-02-14T08:00:00Z", "is_initial_check": false, "is_rechecking": false, "has_issues": true, "emails_paused": false, "emails_paused_until": null }, "issues": { "broken_links": [ { "id": 201, "url": "https://example.com/old-page", "status_code": 404, "error_message": "Not Found", "issue_type": "broken_link", "checked_at": "2026-02-14T08:00:00Z", "ignored": false } ], "mixed_content": [] }, "ignored_issues": [], "ok_links": [], "stats": { "total_checked": 48, "broken_links_count": 1, "mixed_content_count": 0, "ignored_count": 0, "ok_count": 47 } }""",  # noqa: E501
}


def _document(client: FlaskClient) -> dict[str, Any]:
    document = client.get("/api/v1/openapi.json").json
    assert isinstance(document, dict)
    validate(document)
    return document


def _validator(document: dict[str, Any], route: str, status: int) -> Any:
    content = document["paths"][route]["get"]["responses"][str(status)]["content"]
    ref = content["application/json"]["schema"]["$ref"]
    return schema_validator(document, ref.rsplit("/", 1)[1])


def test_discovery_and_openapi_list_them_with_the_documented_schemas(
    client: FlaskClient,
) -> None:
    listed = {(e["path"], e["access"]) for e in client.get("/api/v1").json["endpoints"]}
    for route in PREMIUM:
        assert (route, "subscription") in listed
    document = _document(client)
    for route in PREMIUM:
        operation = document["paths"][route]["get"]
        assert operation["x-access"] == "subscription"
        assert {"200", "401", "403", "404"} <= set(operation["responses"])
        # The documented answer is valid, and the schema is strict about what it holds.
        example = json.loads(DOCUMENTED[route])
        _validator(document, route, 200).validate(example)
        with pytest.raises(Exception, match="Additional properties"):
            _validator(document, route, 200).validate({**example, "surprise": 1})


def test_an_owner_without_a_subscription_gets_403(client: FlaskClient, world: World) -> None:
    owner = world.account()
    site = world.site(owner)
    headers = bearer(world.key(owner))
    document = _document(client)
    for route in PREMIUM:
        path = "/api/v1" + route.replace("{id}", str(site.id))
        response = client.get(path, headers=headers)
        assert response.status_code == 403, (path, response.json)
        assert response.json == {"error": "This endpoint requires an active subscription"}
        _validator(document, route, 403).validate(response.json)
        # Another account's site (or none) is 404 first: existence never leaks.
        assert client.get("/api/v1" + route.replace("{id}", "99999"), headers=headers).json == {
            "error": "Site not found"
        }


def test_a_subscribed_owner_sees_the_features_off(client: FlaskClient, world: World) -> None:
    owner = world.account(is_subscribed=True)
    site = world.site(owner, label="My Blog")
    headers = bearer(world.key(owner))
    document = _document(client)

    insights = client.get(f"/api/v1/sites/{site.id}/insights", headers=headers)
    assert insights.status_code == 200
    assert insights.json == {
        "insights": [],
        "pagination": {"current_page": 1, "per_page": 50, "total_count": 0, "total_pages": 0},
        "site": {
            "id": site.id,
            "uid": site.uid,
            "url": "https://example.com",
            "label": "My Blog",
            "insights_enabled": False,
            "daily_insight_reports_active": False,
            "next_insight_job_scheduled_at": None,
        },
    }
    _validator(document, "/sites/{id}/insights", 200).validate(insights.json)

    uptime = client.get(f"/api/v1/sites/{site.id}/uptime", headers=headers)
    assert uptime.status_code == 404
    assert uptime.json == {"error": "Uptime monitoring is not enabled for this site"}
    _validator(document, "/sites/{id}/uptime", 404).validate(uptime.json)

    content = client.get(f"/api/v1/sites/{site.id}/content", headers=headers)
    assert content.status_code == 403
    assert content.json == {
        "error": "Content monitoring is not enabled for this site",
        "content_monitoring_enabled": False,
    }
    _validator(document, "/sites/{id}/content", 403).validate(content.json)


@pytest.mark.parametrize(
    ("query", "message"),
    [("per_page=51", "Per page must be between 1 and 50"), ("page=0", "Page must be")],
)
def test_bad_paging_is_a_400(client: FlaskClient, world: World, query: str, message: str) -> None:
    owner = world.account(is_subscribed=True)
    site = world.site(owner)
    response = client.get(
        f"/api/v1/sites/{site.id}/insights?{query}", headers=bearer(world.key(owner))
    )
    assert response.status_code == 400
    assert message in response.json["error"]
    uptime = client.get(
        f"/api/v1/sites/{site.id}/uptime?per_page=101", headers=bearer(world.key(owner, "b"))
    )
    assert uptime.status_code == 400
