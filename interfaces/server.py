"""`tinylytics serve`: the WSGI server (waitress), in one process or several.

One process is the embedded default: HTTP, projections and jobs together. With
`--workers N` the listening socket is opened once and N forked processes serve
HTTP on it (the kernel spreads the connections), while the parent runs the
projections and jobs; a worker that dies is started again.
"""

import contextlib
import logging
import os
import signal
import socket
import time
from typing import Any

import waitress

from infrastructure.bootstrap import Container, bootstrap
from interfaces.app import create_app

log = logging.getLogger("tinylytics.server")


def _serve_http(container: Container, sock: socket.socket, threads: int) -> None:
    waitress.serve(
        create_app(container),
        sockets=[sock],
        threads=threads,
        ident="tinylytics",
        backlog=2048,
        # We decide which X-Forwarded-For to believe (TINYLYTICS_TRUSTED_PROXIES).
        clear_untrusted_proxy_headers=False,
    )


def _fork_worker(sock: socket.socket, threads: int) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        container = bootstrap()
        try:
            _serve_http(container, sock, threads)
        finally:
            container.close()
    except BaseException:
        log.exception("web worker %d stopped", os.getpid())
        code = 1
    os._exit(code)


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=2048)
    sock.set_inheritable(True)
    return sock


def run(sock: socket.socket, threads: int, workers: int) -> None:
    # Quiet waitress's per-request queue-depth warnings under load: queuing is expected.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    stopping = False

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    if workers == 1:
        container = bootstrap()
        container.start_background()
        try:
            _serve_http(container, sock, threads)
        except KeyboardInterrupt:
            pass
        finally:
            container.close()
        return

    children = {_fork_worker(sock, threads) for _ in range(workers)}
    container = bootstrap()
    container.start_background()
    try:
        while not stopping:
            pid, status = os.waitpid(-1, 0)
            if pid in children and not stopping:
                children.discard(pid)
                log.warning("web worker %d exited (%s); starting another", pid, status)
                time.sleep(0.5)
                children.add(_fork_worker(sock, threads))
    except (KeyboardInterrupt, ChildProcessError):
        pass
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        container.close()
