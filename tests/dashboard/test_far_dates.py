"""Far dates in the dashboard's date pickers (overview, events, the public page) and the
export: shown beside the field, never a 500. (The API: tests/test_extreme_dates.py.)"""

from typing import Any

import pytest
from flask.testing import FlaskClient

from application.sites import SiteChanges
from tests.conftest import World
from tests.dashboard.conftest import Browser

FAR = "Pick dates between 2000 and 2100"
EXTREME_RANGES = [
    ("0001-01-01", "0001-01-01", FAR),
    ("9999-12-31", "9999-12-31", FAR),
    ("0001-01-01", "9999-12-31", "Pick at most 730 days"),
    ("9999-12-30", "9999-12-31", FAR),
    ("1999-12-31", "2000-01-01", FAR),
    ("2100-12-31", "2101-01-01", FAR),
]


@pytest.fixture
def signed_in(world: World, person: Browser) -> tuple[Browser, Any]:
    owner = world.account("far@example.com", timezone="Pacific/Kiritimati")
    site = world.site(owner, "https://far.example")
    person.container.configuration.change_site(site.uuid, SiteChanges(public=True))
    person.container.projections.catch_up()
    assert person.sign_in("far@example.com").status_code == 302
    return person, person.container.configuration.site_by_uid(site.uid)


@pytest.mark.parametrize(("start", "end", "message"), EXTREME_RANGES)
def test_dashboard_date_pickers_refuse_far_dates_in_place(
    signed_in: tuple[Browser, Any], client: FlaskClient, start: str, end: str, message: str
) -> None:
    person, site = signed_in
    custom = {"period": "custom", "start": start, "end": end}
    for page in (f"/sites/{site.uid}", f"/sites/{site.uid}/events"):
        shown = person.get(page, query_string=custom)
        assert shown.status_code == 200, (page, shown.status_code)
        assert message in shown.get_data(as_text=True)
    public = client.get(f"/public/{site.uid}", query_string=custom)
    assert public.status_code == 200, public.status_code
    export = person.get(f"/sites/{site.uid}/export", query_string={"start": start, "end": end})
    assert export.status_code == 422
    assert message in export.get_data(as_text=True)
