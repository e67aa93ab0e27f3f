import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from application.group_commit import CommitFailed, GroupCommitter


class FakeStore:
    def __init__(self) -> None:
        self.transactions: list[list[Any]] = []
        self.next_id = 1
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.lock = threading.Lock()

    def save(self, items: Sequence[Any]) -> list[int]:
        self.entered.set()
        self.gate.wait(5)
        if any(item == "poison" for item in items):
            raise ValueError("bad row")
        with self.lock:
            self.transactions.append(list(items))
            ids = list(range(self.next_id, self.next_id + len(items)))
            self.next_id += len(items)
        return ids


def wait_for(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_a_lone_request_is_committed_and_answered_with_its_ids() -> None:
    store = FakeStore()
    committer = GroupCommitter(store.save)
    try:
        assert committer.submit(["a", "b"]) == [1, 2]
        assert store.transactions == [["a", "b"]]
    finally:
        committer.close()


def test_requests_that_queue_during_a_commit_share_the_next_transaction() -> None:
    store = FakeStore()
    committer = GroupCommitter(store.save)
    results: dict[int, list[int]] = {}
    try:
        store.gate.clear()  # the first commit stalls while others queue up
        first = threading.Thread(target=lambda: results.__setitem__(0, committer.submit(["x"])))
        first.start()
        wait_for(store.entered.is_set)  # the committer is inside the first save
        threads = [
            threading.Thread(target=lambda i=i: results.__setitem__(i, committer.submit([i])))
            for i in range(1, 21)
        ]
        for t in threads:
            t.start()
        wait_for(lambda: committer._queue.qsize() == 20)
        store.gate.set()
        first.join(5)
        for t in threads:
            t.join(5)
        assert len(store.transactions) == 2
        assert sorted(len(tx) for tx in store.transactions) == [1, 20]
        all_ids = sorted(i for ids in results.values() for i in ids)
        assert all_ids == list(range(1, 22))
    finally:
        committer.close()


def test_a_failing_request_does_not_sink_the_others_in_its_group() -> None:
    store = FakeStore()
    committer = GroupCommitter(store.save)
    outcomes: dict[str, Any] = {}

    def send(name: str, items: list[Any]) -> None:
        try:
            outcomes[name] = committer.submit(items)
        except CommitFailed as error:
            outcomes[name] = error

    try:
        store.gate.clear()
        blocker = threading.Thread(target=send, args=("blocker", ["b"]))
        blocker.start()
        wait_for(store.entered.is_set)
        good = threading.Thread(target=send, args=("good", ["g1", "g2"]))
        bad = threading.Thread(target=send, args=("bad", ["poison"]))
        good.start()
        bad.start()
        wait_for(lambda: committer._queue.qsize() == 2)
        store.gate.set()
        for t in (blocker, good, bad):
            t.join(5)
        assert isinstance(outcomes["bad"], CommitFailed)
        assert len(outcomes["good"]) == 2
        assert ["poison"] not in store.transactions
    finally:
        committer.close()


def test_after_close_nothing_is_accepted() -> None:
    committer = GroupCommitter(FakeStore().save)
    committer.close()
    with pytest.raises(CommitFailed):
        committer.submit(["late"])


def test_several_committers_answer_every_request_once_and_stop_together() -> None:
    store = FakeStore()
    store.gate.clear()
    committer = GroupCommitter(store.save, committers=2)
    results: dict[int, list[Any]] = {}
    threads = [
        threading.Thread(target=lambda i=i: results.__setitem__(i, committer.submit([i, i])))
        for i in range(40)
    ]
    try:
        for thread in threads:
            thread.start()
        wait_for(lambda: store.entered.is_set())
        store.gate.set()
        for thread in threads:
            thread.join(10)
        saved = [item for transaction in store.transactions for item in transaction]
        assert sorted(saved) == sorted(i for i in range(40) for _ in (0, 1))
        ids = [n for answer in results.values() for n in answer]
        assert sorted(ids) == list(range(1, 81))
        # Each request's rows were saved together, in its own order.
        assert all(answer[1] == answer[0] + 1 for answer in results.values())
    finally:
        committer.close()
    assert not any(thread.is_alive() for thread in committer._threads)


class Down(Exception):
    """Stands for the database not answering."""


def test_when_the_database_is_down_a_batch_and_all_queued_behind_it_fail_with_one_wait() -> None:
    calls: list[list[Any]] = []
    entered, gate = threading.Event(), threading.Event()

    def save(items: Sequence[Any]) -> list[int]:
        calls.append(list(items))
        entered.set()
        gate.wait(5)  # the time a commit waits for a database that does not answer
        raise Down("no connection")

    committer = GroupCommitter(save, is_outage=lambda error: isinstance(error, Down))
    failed: list[int] = []
    try:

        def send(i: int) -> None:
            with pytest.raises(CommitFailed):
                committer.submit([i])
            failed.append(i)

        first = threading.Thread(target=send, args=(0,))
        first.start()
        wait_for(entered.is_set)
        queued = [threading.Thread(target=send, args=(i,)) for i in range(1, 11)]
        for t in queued:
            t.start()
        wait_for(lambda: committer._queue.qsize() == 10)
        gate.set()
        for t in [first, *queued]:
            t.join(5)
        # One wait for the database, not one per request, nor one per batch after it.
        assert calls == [[0]]
        assert sorted(failed) == list(range(11))
    finally:
        committer.close()
