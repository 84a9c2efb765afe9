"""Train ahead: while a learner reads the picture, a worker process trains what one more drag can reach.

An explorer that trains a model per setting (the capacity explorer: half a second to several seconds a
run on a slow CPU) cannot answer a drag at once unless the run is done before the drag. :class:`Ahead`
keeps the results of ``function(*key)``; ``want(keys)`` asks a worker process to train those keys, in
that order, one at a time (a later ``want`` replaces the list: the learner moved on). ``get(key)``
answers from the results, waits for the worker when it is training that very key, and otherwise
computes it here. The worker runs the same code on the same CPU with the same thread policy, so its
results are the ones this process would compute (``tests/test_widget_capacity_explorer.py`` checks it),
and it runs at a lower priority, so it slows little what the kernel itself does. It ends with the kernel,
even one that is killed.

A separate process, not a thread: the runs seed torch's global generator and use it for dropout, which
a thread would share with the notebook's own cells. Where no process can be started, ``get`` simply
computes each key here.
"""

from __future__ import annotations

import atexit
import contextlib
import signal
import threading
import time
from typing import Callable, Hashable


def _start_worker(parent: int) -> None:
    import os

    from ..device import apply_thread_policy

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # started with it blocked (_interrupts_held); ignored from now on
    apply_thread_policy()  # the kernel's policy (COURSE_THREADS): the same kernels, so the same numbers
    if hasattr(os, "nice"):
        os.nice(5)  # behind the kernel: training ahead takes the time the kernel leaves
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


@contextlib.contextmanager
def _interrupts_held():
    """Start processes with SIGINT blocked: they inherit the mask, and keep it while they import torch.

    Jupyter interrupts a kernel (its stop button, and its shutdown) by signalling the kernel's whole process
    group, the worker included, which then died with a KeyboardInterrupt traceback and stopped training ahead.
    """
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no process-group signals to fear
        yield
        return
    saved = signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT])
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, saved)


def _exit_with(parent: int) -> None:
    """End this worker when the kernel that started it is gone (killed, it could not say so): else the worker,
    which holds both ends of its task queue, would wait for a task forever."""
    import os

    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


class Ahead:
    """Results of ``function(*key)``, trained ahead in a worker process when asked (see the module's docstring).

    ``function`` must be importable by name (a module-level function): the worker imports it.
    """

    def __init__(self, function: Callable):
        self.function = function
        self.results: dict = {}
        self.failed: str | None = None  # why no worker runs, once starting or running one failed
        self._lock = threading.Condition()
        self._queue: list = []
        self._running: tuple | None = None  # (key, future)
        self._pool = None

    def get(self, key: Hashable):
        """The result for ``key``: trained ahead, or waited for while the worker trains it, or computed here."""
        with self._lock:
            if key in self.results:
                return self.results[key]
            running = self._running
        result = None
        if running is not None and running[0] == key:
            try:
                result = running[1].result()
            except Exception:  # noqa: BLE001  a broken worker: compute it here instead
                result = None
        if result is None:
            result = self.function(*key)
        with self._lock:
            self.results[key] = result
            if key in self._queue:
                self._queue.remove(key)
        return result

    def want(self, keys) -> None:
        """Train ``keys`` ahead, in this order (those already known are skipped); replaces the last list."""
        with self._lock:
            self._queue = [key for key in keys if key not in self.results]
            self._next()

    def settle(self, timeout: float | None = None) -> float:
        """Wait until everything wanted is trained (or ``timeout`` seconds pass); return the seconds waited."""
        start = time.perf_counter()
        with self._lock:
            self._lock.wait_for(
                lambda: self._running is None and (not self._queue or self.failed is not None), timeout=timeout
            )
        return time.perf_counter() - start

    def close(self) -> None:
        """Stop the worker (what is queued is dropped; the run in progress finishes first)."""
        with self._lock:
            self._queue = []
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _next(self) -> None:  # holding the lock
        if self._running is not None or self.failed is not None:
            return
        while self._queue and self._queue[0] in self.results:
            self._queue.pop(0)
        if not self._queue:
            self._lock.notify_all()
            return
        key = self._queue.pop(0)
        try:
            pool = self._worker()  # made first: making it starts multiprocessing's tracker, which unblocks SIGINT
            with _interrupts_held():  # the first submit starts the worker
                future = pool.submit(self.function, *key)
        except Exception as error:  # noqa: BLE001  no process here (a sandbox, say): everything is computed in get
            self.failed, self._queue = f"{type(error).__name__}: {error}", []
            self._lock.notify_all()
            return
        self._running = (key, future)
        future.add_done_callback(self._done)

    def _done(self, future) -> None:  # in the pool's thread
        with self._lock:
            key, self._running = self._running[0], None
            error = future.exception() if not future.cancelled() else None
            if future.cancelled():
                pass
            elif error is None:
                self.results.setdefault(key, future.result())
            else:
                self.failed, self._queue = f"{type(error).__name__}: {error}", []
            self._next()
            self._lock.notify_all()

    def _worker(self):
        if self._pool is None:
            import multiprocessing
            import os
            from concurrent.futures import ProcessPoolExecutor

            # spawn: a fresh interpreter, as on macOS and Windows; a fork of a kernel with threads can hang
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
            atexit.register(self.close)  # a kernel that shuts down stops its worker and frees the queue's semaphores
        return self._pool
