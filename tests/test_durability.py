"""An acknowledged hit is a committed hit: kill the server mid-stream, lose none of them."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from infrastructure.bootstrap import bootstrap
from infrastructure.settings import Settings
from tests.tracking_helpers import CHROME, recorded

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_acknowledged_hit_is_lost_when_the_server_is_killed(env: dict[str, str]) -> None:
    setup = bootstrap(Settings.from_env(env), fast_passwords=True)
    owner = setup.configuration.register_account("durable@example.com", "correct horse")
    site = setup.configuration.register_site(owner.uuid, "https://example.com")
    setup.close()

    port = _free_port()
    server_env = {
        **os.environ,
        **env,
        "TINYLYTICS_TRUSTED_PROXIES": "127.0.0.1",
        "TINYLYTICS_VISITOR_RATE_LIMIT": "100000",
    }
    tinylytics = Path(sys.executable).parent / "tinylytics"
    server = subprocess.Popen(
        [str(tinylytics), "serve", "--port", str(port), "--threads", "16"],
        env=server_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)

        def client(n: int) -> None:
            i = 0
            while not stop.is_set() and i < 2000:
                path = f"/c{n}-{i}"
                body = json.dumps({"k": "hit", "u": f"https://example.com{path}"}).encode()
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/collect/{site.uid}",
                    data=body,
                    headers={
                        "Content-Type": "text/plain",
                        "Origin": "https://example.com",
                        "User-Agent": CHROME,
                        "X-Forwarded-For": f"10.{n}.{i // 250}.{i % 250 + 1}",
                    },
                )
                try:
                    with urllib.request.urlopen(request, timeout=5) as response:
                        if response.status == 204:
                            with lock:
                                acknowledged.append(path)
                except (urllib.error.URLError, ConnectionError, OSError):
                    return
                i += 1

        clients = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for t in clients:
            t.start()
        while len(acknowledged) < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.send_signal(signal.SIGKILL)  # no shutdown, no flush: as a crash
        server.wait(10)
        stop.set()
        for t in clients:
            t.join(10)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)

    assert len(acknowledged) >= 300
    after = bootstrap(Settings.from_env(env), fast_passwords=True)
    try:
        stored = {hit.path for hit in recorded(after)}
    finally:
        after.close()
    lost = [path for path in acknowledged if path not in stored]
    assert lost == []
