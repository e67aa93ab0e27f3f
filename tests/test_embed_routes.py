"""The embed script routes, through the Flask test client (the browser tests are in
tests/browser)."""

import gzip
import re

import pytest
from flask.testing import FlaskClient

from interfaces.collect import scripts
from tests.conftest import World

JS = "application/javascript; charset=utf-8"


@pytest.fixture
def uid(world: World) -> str:
    return str(world.site(world.account()).uid)


@pytest.mark.parametrize("suffix", [".js", "/min.js"])
def test_serves_the_script_for_a_site(client: FlaskClient, uid: str, suffix: str) -> None:
    response = client.get(f"/embed/{uid}{suffix}?spa&events&kudos=%E2%9D%A4%EF%B8%8F")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == JS
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in response.headers
    expected = scripts.tracker_min() if suffix == "/min.js" else scripts.tracker()
    assert response.data == expected.body
    assert response.headers["ETag"] == f'"{expected.etag}"'  # strong: no W/


def test_the_two_forms_differ_and_the_full_one_is_the_source(client: FlaskClient, uid: str) -> None:
    full = client.get(f"/embed/{uid}.js")
    small = client.get(f"/embed/{uid}/min.js")
    assert full.data.decode() == scripts.SOURCE.read_text(encoding="utf-8")
    assert len(small.data) < len(full.data)
    assert full.headers["ETag"] != small.headers["ETag"]


def test_etag_revalidation_answers_304(client: FlaskClient, uid: str) -> None:
    for path in (f"/embed/{uid}.js", f"/embed/{uid}/min.js"):
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


def test_minified_fits_the_size_budget() -> None:
    size = len(gzip.compress(scripts.tracker_min().body, compresslevel=9))
    assert size <= 2048, f"min.js is {size} bytes gzipped"


def test_minified_is_generated_from_the_source() -> None:
    source = scripts.source_text()
    small = scripts.tracker_min().body.decode()
    code = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    code = re.sub(r"^\s*//.*$", "", code, flags=re.M)  # whole-line comments
    literals = set(re.findall(r'"[^"\\\n]*"', code))
    assert {'"tinylytics_ignore"', '"data-tinylytics-event"', '"/collect/"'} <= literals
    assert all(literal in small for literal in literals)
    assert "/*" not in small  # comments are gone
    assert len(small) < len(source) * 0.7
