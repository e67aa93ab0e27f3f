"""The embed script routes (the embed script and the widgets script it loads), through
the Flask test client (the browser tests are in tests/browser)."""

import gzip
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from interfaces.collect import scripts
from tests.conftest import World

JS = "application/javascript; charset=utf-8"
CORE_BUDGET = 2048  # bytes, minified and gzipped
WIDGETS_BUDGET = 3072
# Every script route: its suffix after /embed/<uid> and what it serves.
FORMS = {
    ".js": scripts.tracker,
    "/min.js": scripts.tracker_min,
    "/widgets.js": scripts.widgets,
    "/widgets/min.js": scripts.widgets_min,
}


@pytest.fixture
def uid(world: World) -> str:
    return str(world.site(world.account()).uid)


@pytest.mark.parametrize("suffix", list(FORMS))
def test_serves_the_script_for_a_site(client: FlaskClient, uid: str, suffix: str) -> None:
    response = client.get(f"/embed/{uid}{suffix}?spa&events&kudos=%E2%9D%A4%EF%B8%8F")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == JS
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert "Set-Cookie" not in response.headers
    expected = FORMS[suffix]()
    assert response.data == expected.body
    assert response.headers["ETag"] == f'"{expected.etag}"'  # strong: no W/


@pytest.mark.parametrize(
    ("full_path", "small_path", "source"),
    [
        (".js", "/min.js", scripts.SOURCE),
        ("/widgets.js", "/widgets/min.js", scripts.WIDGETS_SOURCE),
    ],
)
def test_the_two_forms_differ_and_the_full_one_is_the_source(
    client: FlaskClient, uid: str, full_path: str, small_path: str, source: Path
) -> None:
    full = client.get(f"/embed/{uid}{full_path}")
    small = client.get(f"/embed/{uid}{small_path}")
    assert full.data.decode() == source.read_text(encoding="utf-8")
    assert len(small.data) < len(full.data)
    assert full.headers["ETag"] != small.headers["ETag"]


def test_the_embed_script_loads_the_widgets_from_the_matching_form() -> None:
    # tracker.js builds BASE/embed/UID + "/widgets" + ("/min" for min.js) + ".js".
    for form in (scripts.tracker(), scripts.tracker_min()):
        text = form.body.decode()
        assert '"/widgets"' in text and "tinylyticsWidgets" in text
    for form in (scripts.widgets(), scripts.widgets_min()):
        assert "w.tinylyticsWidgets=" in form.body.decode().replace(" ", "")


def test_etag_revalidation_answers_304(client: FlaskClient, uid: str) -> None:
    for path in (f"/embed/{uid}{suffix}" for suffix in FORMS):
        etag = client.get(path).headers["ETag"]
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.data == b""
        assert again.headers["ETag"] == etag
        assert again.headers["Cache-Control"] == "public, max-age=300"
        assert "Set-Cookie" not in again.headers
        changed = client.get(path, headers={"If-None-Match": '"something-else"'})
        assert changed.status_code == 200


def test_head_answers_without_a_body(client: FlaskClient, uid: str) -> None:
    response = client.head(f"/embed/{uid}/min.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == JS
    assert response.data == b""


@pytest.mark.parametrize(
    "path",
    [
        "/embed/nosuchsite.js",
        "/embed/nosuchsite/min.js",
        "/embed/a%00b.js",
        "/embed/%C3%A9t%C3%A9.js",
        "/embed/a%20b/min.js",
        "/embed/..%2F..%2Fetc.js",
        "/embed/" + "x" * 300 + ".js",
        "/embed/.js.js",
        "/embed/'%22%3Cscript%3E/min.js",
        "/embed/nosuchsite/widgets.js",
        "/embed/nosuchsite/widgets/min.js",
        "/embed/a%20b/widgets.js",
    ],
)
def test_an_unknown_or_odd_uid_is_404(client: FlaskClient, uid: str, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "Set-Cookie" not in response.headers


def test_the_uid_is_the_whole_name_before_js(client: FlaskClient, uid: str) -> None:
    assert client.get(f"/embed/{uid}.js.js").status_code == 404
    assert client.get(f"/embed/{uid}/min.js.js").status_code == 404
    assert client.get(f"/embed/{uid}").status_code == 404
    assert client.get(f"/embed/{uid}/widgets").status_code == 404
    assert client.get(f"/embed/{uid}/widgets.min.js").status_code == 404


def gzipped(script: scripts.Script) -> int:
    return len(gzip.compress(script.body, compresslevel=9))


def test_minified_fits_the_size_budget() -> None:
    # The core, which every page loads: at most 2 KB gzipped. The widgets, loaded only
    # by pages that show one, have a budget of their own.
    size = gzipped(scripts.tracker_min())
    assert size <= CORE_BUDGET, f"min.js is {size} bytes gzipped"
    widgets = gzipped(scripts.widgets_min())
    assert widgets <= WIDGETS_BUDGET, f"widgets/min.js is {widgets} bytes gzipped"


@pytest.mark.parametrize(
    ("source", "small", "expected"),
    [
        (
            scripts.SOURCE,
            scripts.tracker_min,
            {'"tinylytics_ignore"', '"data-tinylytics-event"', '"/collect/"', '"/widgets"'},
        ),
        (
            scripts.WIDGETS_SOURCE,
            scripts.widgets_min,
            {'"did_select"', '"tinylytics_kudos_private"', '"/widgets/"', '".tinylytics_hits"'},
        ),
    ],
    ids=["tracker", "widgets"],
)
def test_minified_is_generated_from_the_source(
    source: Path, small: Callable[[], scripts.Script], expected: set[str]
) -> None:
    text = source.read_text(encoding="utf-8")
    minified = small().body.decode()
    code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    code = re.sub(r"^\s*//.*$", "", code, flags=re.M)  # whole-line comments
    literals = set(re.findall(r'"[^"\\\n]*"', code))
    assert expected <= literals
    assert all(literal in minified for literal in literals)
    assert "/*" not in minified  # comments are gone
    assert len(minified) < len(text) * 0.7
