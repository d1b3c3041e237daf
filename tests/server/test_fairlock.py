"""FairLock (fireline.server.db): SQLite writers of one process take turns in arrival order."""

from __future__ import annotations

import threading
import time

from fireline.server.db import FairLock


def test_a_waiter_gets_the_lock_before_a_releaser_that_takes_it_again_at_once() -> None:
    # The intake writer commits and begins again in a tight loop; the outbox must still get its turn.
    lock = FairLock()
    stop = threading.Event()
    rounds = 0

    def busy_writer() -> None:
        nonlocal rounds
        while not stop.is_set():
            assert lock.acquire(5)
            time.sleep(0.005)  # a transaction
            lock.release()
            rounds += 1

    writer = threading.Thread(target=busy_writer)
    writer.start()
    try:
        time.sleep(0.02)
        waits = []
        for _ in range(10):
            started = time.monotonic()
            assert lock.acquire(5)
            waits.append(time.monotonic() - started)
            lock.release()
        assert max(waits) < 0.1, waits  # one transaction's wait, not a lost race after another
    finally:
        stop.set()
        writer.join()
    assert rounds > 0


def test_turns_follow_arrival_order() -> None:
    lock = FairLock()
    assert lock.acquire(1)
    order: list[int] = []
    threads = []
    for n in range(5):
        thread = threading.Thread(target=lambda n=n: (lock.acquire(5), order.append(n), lock.release()))
        thread.start()
        threads.append(thread)
        time.sleep(0.02)  # each queues after the one before
    lock.release()
    for thread in threads:
        thread.join()
    assert order == [0, 1, 2, 3, 4]


def test_reentrant_and_a_timed_out_waiter_leaves_the_queue() -> None:
    lock = FairLock()
    assert lock.acquire(1) and lock.acquire(1)  # the same thread again: a nested transaction's begin
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(lock.acquire(0.05)))
    waiter.start()
    waiter.join()
    assert got == [False]
    lock.release()
    lock.release()
    other = threading.Thread(target=lambda: got.append(lock.acquire(0.5)) or lock.release())
    other.start()
    other.join()
    assert got == [False, True]
