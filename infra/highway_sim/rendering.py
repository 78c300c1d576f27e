"""A small worker pool that renders videos off the request threads.

At most two workers: the machine has two cores and request threads must stay responsive.
Each job gets a cancel event so ``reset`` and ``stop`` do not wait for long encodes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from .video import RenderCancelled

log = logging.getLogger(__name__)

Job = Callable[[threading.Event], bytes]
Done = Callable[[str, "bytes | None", "str | None"], None]  # task_id, video, error


class RenderPool:
    def __init__(self, workers: int = 2) -> None:
        self._workers = workers
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._cancels: dict[str, threading.Event] = {}

    def start(self) -> None:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="highway-sim-render")

    def submit(self, task_id: str, job: Job, done: Done) -> None:
        """Run ``job`` in the pool; ``done`` gets the bytes or an error text (not on cancel)."""
        cancel = threading.Event()
        with self._lock:
            if self._executor is None:
                raise RuntimeError("render pool is not running")
            self._cancels[task_id] = cancel
            future: Future = self._executor.submit(self._run, task_id, job, done, cancel)
        future.add_done_callback(lambda _f: self._forget(task_id, cancel))

    def cancel_all(self) -> None:
        with self._lock:
            for event in self._cancels.values():
                event.set()
            self._cancels.clear()

    def stop(self) -> None:
        """Cancel every job and join the workers."""
        with self._lock:
            executor, self._executor = self._executor, None
        self.cancel_all()
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _forget(self, task_id: str, cancel: threading.Event) -> None:
        with self._lock:
            if self._cancels.get(task_id) is cancel:
                del self._cancels[task_id]

    @staticmethod
    def _run(task_id: str, job: Job, done: Done, cancel: threading.Event) -> None:
        if cancel.is_set():
            return
        try:
            video = job(cancel)
        except RenderCancelled:
            return
        except Exception as exc:  # a render bug must fail the task, not kill the worker
            log.exception("rendering task %s failed", task_id)
            done(task_id, None, f"{type(exc).__name__}: {exc}")
            return
        done(task_id, video, None)
