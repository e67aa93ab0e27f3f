"""Slow and broken uploads against the real server (`tinylytics serve`, issue 12 items 2 and 9).

A client that sends the headers of a request and then stalls in its body must hold
no thread that other requests need, and is cut off with 408 after
TINYLYTICS_BODY_TIMEOUT; a body shorter than its Content-Length (the client gave
up) is refused and nothing of it is stored; a body over TINYLYTICS_MAX_BODY_BYTES
is refused at once with 413.
"""

import json
import socket
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from infrastructure.bootstrap import bootstrap
from infrastructure.settings import Settings
from tests.server_helpers import read_status, request_head, serving
from tests.tracking_helpers import CHROME, recorded

pytestmark = pytest.mark.slow

STALLED = 200
BODY_TIMEOUT = 2  # seconds, short so that the test sees the cut-off
QUICK = 2.0  # seconds an answer may take while the stalled uploads are open
COLLECT_HEADERS = {
    "Content-Type": "text/plain",
    "Origin": "https://example.com",
    "User-Agent": CHROME,
}


def _site_and_key(env: dict[str, str]) -> tuple[str, str]:
    setup = bootstrap(Settings.from_env(env), fast_passwords=True)
    try:
        owner = setup.configuration.register_account("slow@example.com", "correct horse")
        site = setup.configuration.register_site(owner.uuid, "https://example.com")
        key = setup.configuration.issue_key(owner.uuid, "cli", "full_access")
        setup.projections.catch_up()
        return site.uid, key.secret
    finally:
        setup.close()


def _stored_paths(env: dict[str, str]) -> set[str]:
    after = bootstrap(Settings.from_env(env), fast_passwords=True)
    try:
        return {hit.path for hit in recorded(after) if hasattr(hit, "path")}
    finally:
        after.close()


def _timed(
    port: int, path: str, headers: dict[str, str], data: bytes | None = None
) -> tuple[int | str, float]:
    """The status of one request and the seconds it took ("no answer" past 5 s)."""
    started = time.monotonic()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status: int | str = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError):
        status = "no answer"
    return status, time.monotonic() - started


def _hit(path: str) -> bytes:
    return json.dumps({"k": "hit", "u": f"https://example.com{path}"}).encode()


def test_stalled_uploads_hold_no_thread_and_are_cut_off_after_the_timeout(
    env: dict[str, str],
) -> None:
    uid, key = _site_and_key(env)
    server_env = {**env, "TINYLYTICS_BODY_TIMEOUT": str(BODY_TIMEOUT)}
    with serving(server_env, "--threads", "16") as port:
        head = request_head("POST", f"/collect/{uid}", {**COLLECT_HEADERS, "Content-Length": "200"})
        stalled: list[tuple[socket.socket, float]] = []
        answers: dict[str, tuple[int | str, float]] = {}
        cut: list[tuple[int | str | None, float]] = []
        try:
            for _ in range(STALLED):
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                sock.sendall(head + b'{"k":"hit","u":"https://example.com/stalled"')
                stalled.append((sock, time.monotonic()))

            answers["health"] = _timed(port, "/healthz", {})
            answers["api"] = _timed(port, "/api/v1/me", {"Authorization": f"Bearer {key}"})
            answers["dashboard"] = _timed(port, "/auth/sign_in", {})
            answers["collector"] = _timed(
                port, f"/collect/{uid}", COLLECT_HEADERS, _hit("/while-stalled")
            )

            for sock, sent in stalled:
                sock.settimeout(max(0.1, sent + BODY_TIMEOUT + 10 - time.monotonic()))
                try:
                    status: int | str | None = read_status(sock)
                except TimeoutError:
                    status = "still open"
                cut.append((status, time.monotonic() - sent))
        finally:
            for sock, _ in stalled:
                sock.close()

    assert {name: status for name, (status, _) in answers.items()} == {
        "health": 200,
        "api": 200,
        "dashboard": 200,
        "collector": 204,
    }, answers
    slowest = max(seconds for _, seconds in answers.values())
    assert slowest < QUICK, answers
    assert [status for status, _ in cut] == [408] * STALLED
    assert min(seconds for _, seconds in cut) >= BODY_TIMEOUT - 0.1
    assert max(seconds for _, seconds in cut) < BODY_TIMEOUT + 10
    stored = _stored_paths(env)
    assert "/while-stalled" in stored and "/stalled" not in stored


def _short_body(port: int, path: str, headers: dict[str, str], body: bytes, abort: bool) -> Any:
    """Send `body` under a Content-Length 20 bytes longer, then stop sending.

    `abort`: close the connection at once (the answer is lost); else half-close it
    and return the status of the answer.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(request_head("POST", path, {**headers, "Content-Length": str(len(body) + 20)}))
        sock.sendall(body)
        if abort:
            return None
        sock.shutdown(socket.SHUT_WR)
        return read_status(sock)
    finally:
        sock.close()


def test_a_body_shorter_than_its_content_length_is_refused_and_nothing_is_stored(
    env: dict[str, str],
) -> None:
    uid, key = _site_and_key(env)
    api = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    with serving(env) as port:
        site_id = json.loads(
            urllib.request.urlopen(
                urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/sites", headers=api),
                timeout=5,
            ).read()
        )["sites"][0]["id"]
        hits = f"/api/v1/sites/{site_id}/hits"
        answers = {
            "collector, half-closed": _short_body(
                port, f"/collect/{uid}", COLLECT_HEADERS, _hit("/short-collector"), abort=False
            ),
            "api, half-closed": _short_body(
                port, hits, api, json.dumps({"path": "/short-api"}).encode(), abort=False
            ),
        }
        _short_body(port, f"/collect/{uid}", COLLECT_HEADERS, _hit("/aborted-collector"), True)
        _short_body(port, hits, api, json.dumps({"path": "/aborted-api"}).encode(), True)
        # Complete requests after the broken ones: answered, and stored.
        control = {
            "collector": _timed(port, f"/collect/{uid}", COLLECT_HEADERS, _hit("/complete"))[0],
            "api": _timed(port, hits, api, json.dumps({"path": "/complete-api"}).encode())[0],
        }
    # The server was stopped gracefully: whatever it would have stored is stored.
    assert answers == {"collector, half-closed": 400, "api, half-closed": 400}
    assert control == {"collector": 204, "api": 201}
    stored = _stored_paths(env)
    assert {"/complete", "/complete-api"} <= stored
    assert stored.isdisjoint(
        {"/short-collector", "/short-api", "/aborted-collector", "/aborted-api"}
    ), stored


def test_a_body_over_the_limit_is_refused_at_once(env: dict[str, str]) -> None:
    uid, key = _site_and_key(env)
    api = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    server_env = {**env, "TINYLYTICS_MAX_BODY_BYTES": "4096"}
    with serving(server_env) as port:
        # Declared too large: refused before a byte of the body is sent.
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            sock.sendall(
                request_head("POST", "/api/v1/sites/1/hits", {**api, "Content-Length": "5000"})
            )
            declared = read_status(sock)
        finally:
            sock.close()
        # Chunked, with no Content-Length: refused once the limit is passed.
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            sock.sendall(
                request_head(
                    "POST", f"/collect/{uid}", {**COLLECT_HEADERS, "Transfer-Encoding": "chunked"}
                )
            )
            chunk = b"x" * 1000
            for _ in range(5):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            chunked = read_status(sock)
        finally:
            sock.close()
        # Within the limit, chunked: answered as usual.
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            body = _hit("/chunked")
            sock.sendall(
                request_head(
                    "POST", f"/collect/{uid}", {**COLLECT_HEADERS, "Transfer-Encoding": "chunked"}
                )
                + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
            )
            fine = read_status(sock)
        finally:
            sock.close()
    assert (declared, chunked, fine) == (413, 413, 204)
    assert "/chunked" in _stored_paths(env)
