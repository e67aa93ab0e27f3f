"""Content crawl benchmark: our crawler and linkinator on the same generated local site.

    npm install --prefix .bench/linkinator linkinator@6      # once (8 needs Node 22)
    flock /tmp/tinylytics-bench.lock .venv/bin/python benchmarks/content.py \
        [--pages 5000] [--timeout 5] [--per-host 4] [--skip-linkinator]

The site: `--pages` HTML pages over HTTPS on loopback (a throw-away CA from trustme;
linkinator is given it with NODE_EXTRA_CA_CERTS), each with about ten links — five to
other pages, three to a second local "external" host (plain HTTP), an image — about
50,000 links for 5,000 pages. Planted: internal 404s, external 404s and 500s, external
links that hang past the time-out, and mixed content (http:// images on the https://
pages). Both servers run in a child process (a thread per connection, keep-alive, a
listen backlog of 4,096, TLS handshakes in the connection's thread), so both tools meet
the same servers, and linkinator's hundred parallel connections are not dropped.

Reported: wall time and pages/s for both, the load average (`uptime`'s) before and
after each run, and findings parity as set differences (`parity`) with a `verdict`:
every broken link linkinator finds is one of ours; ours are exactly the planted ones
(no false positives), plus the planted mixed content, which linkinator does not look
for. `--linkinator PATH` names the binary (linkinator 6 runs on Node 20).
"""

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from application.crawling import CrawlPlan  # noqa: E402
from domain.addresses import AddressPolicy  # noqa: E402
from infrastructure.crawler import CrawlLimits, SafeCrawler  # noqa: E402

EXTERNAL_URLS = 3000
IMAGES = 500


def build_site(pages: int, ext: str) -> tuple[dict[str, bytes], dict[str, set[str]]]:
    """Every page's HTML by path, and the planted findings (full URLs, `{ext}` and
    `{site}` filled in by the caller)."""
    site: dict[str, bytes] = {}
    planted: dict[str, set[str]] = {"broken": set(), "mixed": set(), "slow": set()}
    for i in range(pages):
        links = [
            (i + 1) % pages,
            (i * 7 + 3) % pages,
            (i * 13 + 5) % pages,
            i // 2,
            (i * 31 + 11) % pages,
        ]
        body = [f'<a href="/p/{n}.html">page {n}</a>' for n in links]
        body += [f'<a href="{ext}/e/{(i * k + k) % EXTERNAL_URLS}">ext</a>' for k in (3, 17, 101)]
        body.append(f'<img src="/img/{i % IMAGES}.png" alt="">')
        if i % 100 == 7:
            body.append(f'<a href="/missing/{i}">gone</a>')
            planted["broken"].add(f"{{site}}/missing/{i}")
        if i % 150 == 9:
            body.append(f'<a href="{ext}/gone/{i}">gone</a>')
            planted["broken"].add(f"{ext}/gone/{i}")
        if i % 200 == 11:
            body.append(f'<a href="{ext}/err/{i}">error</a>')
            planted["broken"].add(f"{ext}/err/{i}")
        if i % 1000 == 13:
            body.append(f'<a href="{ext}/slow/{i}">slow</a>')
            planted["broken"].add(f"{ext}/slow/{i}")
            planted["slow"].add(f"{ext}/slow/{i}")
        if i % 250 == 17:
            body.append(f'<img src="{ext}/mixed/{i}.png" alt="">')
            planted["mixed"].add(f"{ext}/mixed/{i}.png")
        html = f"<!doctype html><html><head><title>{i}</title></head><body><h1>Page {i}</h1>{''.join(body)}</body></html>"
        site[f"/p/{i}.html"] = html.encode()
    site["/"] = b'<!doctype html><html><body><a href="/p/0.html">start</a></body></html>'
    return site, planted


class Server(ThreadingHTTPServer):
    """One thread per connection, a listen backlog that holds a burst of a hundred
    parallel connections (the class attribute is read by listen() in the constructor:
    setting it on the instance afterwards, as before, left the default of 5, and
    linkinator's connections beyond it were dropped and reported "broken"), and TLS
    handshakes in the connection's thread, not in the accepting loop."""

    request_queue_size = 4096
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up, or a handshake a client gave up on


class Quiet(BaseHTTPRequestHandler):
    # Keep-alive: every answer has a Content-Length, so a client may reuse its connection.
    protocol_version = "HTTP/1.1"
    # As nginx's `tcp_nodelay on` (its default): the headers and the body go out in two
    # writes, and with Nagle on a kept connection the body waits for the client's
    # delayed ACK (about 40 ms on Linux) on every answer.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        import ssl

        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()  # here, in this connection's own thread
        super().setup()

    def log_message(self, *_a: Any) -> None:
        pass

    def answer(self, status: int, kind: str, body: bytes, head: bool) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)
        except OSError:
            self.close_connection = True


def serve(pages: int, cert_dir: str, ready: Any, slow: float) -> None:
    import ssl
    import threading

    import trustme

    ca = trustme.CA()
    ca.cert_pem.write_to_path(os.path.join(cert_dir, "ca.pem"))

    class ExtHandler(Quiet):
        def _go(self, head: bool) -> None:
            path = self.path
            status = 200
            if path.startswith("/gone/"):
                status = 404
            elif path.startswith("/err/"):
                status = 500
            elif path.startswith("/slow/"):
                time.sleep(slow)
            self.answer(status, "text/plain", b"external", head)

        def do_GET(self) -> None:
            self._go(False)

        def do_HEAD(self) -> None:
            self._go(True)

    ext_server = Server(("127.0.0.1", 0), ExtHandler)
    ext = f"http://127.0.0.1:{ext_server.server_address[1]}"
    site_pages, _ = build_site(pages, ext)

    class SiteHandler(Quiet):
        def _go(self, head: bool) -> None:
            path = self.path
            body = site_pages.get(path)
            kind = "text/html"
            status = 200
            if body is None and path.startswith("/img/"):
                body, kind = b"\x89PNG....", "image/png"
            if body is None:
                body, status = b"<h1>Not Found</h1>", 404
            self.answer(status, kind, body, head)

        def do_GET(self) -> None:
            self._go(False)

        def do_HEAD(self) -> None:
            self._go(True)

    site_server = Server(("127.0.0.1", 0), SiteHandler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    site_server.socket = context.wrap_socket(
        site_server.socket, server_side=True, do_handshake_on_connect=False
    )
    threading.Thread(target=ext_server.serve_forever, daemon=True).start()
    ready.put((f"https://127.0.0.1:{site_server.server_address[1]}", ext))
    site_server.serve_forever()


def run_ours(site: str, ca_pem: str, timeout: float, per_host: int) -> tuple[float, Any]:
    import ssl

    tls = ssl.create_default_context(cafile=ca_pem)
    policy = AddressPolicy(allowed_networks=(__import__("ipaddress").ip_network("127.0.0.1/32"),))
    limits = CrawlLimits(
        max_pages=100_000, request_timeout=timeout, connect_timeout=timeout, per_host=per_host
    )
    crawler = SafeCrawler(policy, limits, tls=tls)
    started = time.monotonic()
    report = crawler.crawl(CrawlPlan(site))
    return time.monotonic() - started, report


def run_linkinator(
    site: str, ca_pem: str, timeout: float, binary: str
) -> tuple[float, list[dict[str, Any]]]:
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": ca_pem}
    started = time.monotonic()
    done = subprocess.run(
        [binary, site, "--recurse", "--format", "json", "--timeout", str(int(timeout * 1000))],
        capture_output=True,
        env=env,
        check=False,
    )
    elapsed = time.monotonic() - started
    try:
        found = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(done.stderr.decode()[-500:]) from None
    return elapsed, found["links"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--per-host", type=int, default=4)
    parser.add_argument("--skip-linkinator", action="store_true")
    parser.add_argument(
        "--linkinator", default=str(ROOT / ".bench/linkinator/node_modules/.bin/linkinator")
    )
    args = parser.parse_args()
    cert_dir = tempfile.mkdtemp()
    ready: Any = multiprocessing.Queue()
    server = multiprocessing.Process(
        target=serve, args=(args.pages, cert_dir, ready, args.timeout * 2), daemon=True
    )
    server.start()
    site, ext = ready.get(timeout=120)
    ca_pem = os.path.join(cert_dir, "ca.pem")
    _, planted_raw = build_site(args.pages, ext)
    planted = {k: {u.replace("{site}", site) for u in v} for k, v in planted_raw.items()}
    result: dict[str, Any] = {
        "pages": args.pages,
        "timeout_s": args.timeout,
        "per_host": args.per_host,
    }

    def load() -> list[float]:
        return [round(x, 2) for x in os.getloadavg()]

    def listed(urls: set[str]) -> dict[str, Any]:
        return {"count": len(urls), "first": sorted(urls)[:20]}

    theirs_broken: set[str] | None = None
    try:
        result["load_before_ours"] = load()
        took, report = run_ours(site, ca_pem, args.timeout, args.per_host)
        result["load_after_ours"] = load()
        ours_broken = {c.url for c in report.checks if c.broken}
        ours_mixed = {c.url for c in report.checks if c.mixed}
        result["ours"] = {
            "wall_s": round(took, 2),
            "pages": report.pages,
            "pages_per_s": round(report.pages / took, 1),
            "urls_checked": len(report.checks),
            "broken": len(ours_broken),
            "mixed": len(ours_mixed),
            "complete": report.complete,
            "stopped_because": report.stopped_because,
        }
        binary = args.linkinator if os.path.exists(args.linkinator) else shutil.which("linkinator")
        links = None
        if args.skip_linkinator:
            pass
        elif not binary:
            result["linkinator"] = (
                "not installed (npm install --prefix .bench/linkinator linkinator@6)"
            )
        else:
            try:
                result["load_before_linkinator"] = load()
                took, links = run_linkinator(site, ca_pem, args.timeout, binary)
                result["load_after_linkinator"] = load()
            except RuntimeError as error:
                result["linkinator"] = f"failed: {error}"
        if links is not None:
            theirs_broken = {
                link["url"].split("#", 1)[0] for link in links if link["state"] == "BROKEN"
            }
            theirs_pages = {
                link["url"]
                for link in links
                if link["url"].startswith(site + "/p/") and link["state"] == "OK"
            }
            result["linkinator"] = {
                "wall_s": round(took, 2),
                "pages": len(theirs_pages),
                "pages_per_s": round(len(theirs_pages) / took, 1),
                "links_reported": len(links),
                "broken": len(theirs_broken),
            }
            # Above 1: we crawled the same site in less wall time than linkinator.
            result["speed_ratio_linkinator_wall_over_ours"] = round(
                took / result["ours"]["wall_s"], 2
            )
    finally:
        server.terminate()
        shutil.rmtree(cert_dir, ignore_errors=True)
    # Findings parity, as set differences (planted: what the generated site has).
    parity: dict[str, Any] = {
        "planted_broken": len(planted["broken"]),
        "planted_mixed": len(planted["mixed"]),
        "ours_false_positives (ours - planted)": listed(ours_broken - planted["broken"]),
        "ours_missed (planted - ours)": listed(planted["broken"] - ours_broken),
        "mixed_false (ours - planted)": listed(ours_mixed - planted["mixed"]),
        "mixed_missed (planted - ours)": listed(planted["mixed"] - ours_mixed),
    }
    verdict = {
        "ours_exactly_the_planted_broken": ours_broken == planted["broken"],
        "ours_exactly_the_planted_mixed": ours_mixed == planted["mixed"],
    }
    if theirs_broken is not None:
        parity["theirs_not_ours (linkinator - ours)"] = listed(theirs_broken - ours_broken)
        parity["ours_not_theirs (ours - linkinator)"] = listed(ours_broken - theirs_broken)
        parity["theirs_false_positives (linkinator - planted)"] = listed(
            theirs_broken - planted["broken"]
        )
        parity["theirs_missed (planted - linkinator)"] = listed(planted["broken"] - theirs_broken)
        verdict["we_find_every_broken_link_linkinator_finds"] = theirs_broken <= ours_broken
        verdict["linkinator_exactly_the_planted_broken"] = theirs_broken == planted["broken"]
    result["parity"] = parity
    result["verdict"] = verdict
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
