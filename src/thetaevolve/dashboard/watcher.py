"""The watcher: one thread that polls every run's follower and wakes the event streams,
and one that keeps every run's snapshot prepared (a build at 10^5 programs takes about a
second; polls must not wait for it)."""

from __future__ import annotations

import sys
import threading
import time
import traceback

from thetaevolve.dashboard.follower import RunFollower


class Watcher:
    """Polls every run's follower and wakes the streams when something changed."""

    def __init__(self, followers: list[RunFollower], interval_s: float,
                 prepare_ahead: bool = True) -> None:
        self.followers = followers
        self.interval_s = interval_s
        # Beside a run, snapshots are built only once a page asked for one: the run's own
        # process should not spend CPU on pages nobody opened.
        self.prepare_ahead = prepare_ahead
        self.generation = 0
        self.stopping = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="dashboard-watch", daemon=True)
        self._builder = threading.Thread(target=self._build_loop, name="dashboard-snapshots",
                                         daemon=True)

    def start(self) -> None:
        self.poll_once()  # the first page load finds every run read
        self._thread.start()
        self._builder.start()

    def _build_loop(self) -> None:
        """Keep every run's snapshot prepared, off the polling thread (a build at 10^5
        programs takes about a second; polls must not wait for it)."""
        while not self.stopping:
            for follower in self.followers:
                if self.stopping:
                    return
                wanted = self.prepare_ahead or follower.snapshot_requested
                if wanted and follower.info is not None and follower.snapshot_is_stale():
                    try:
                        follower.prepare_snapshot()
                    except Exception:  # noqa: BLE001 - a page load will report it
                        pass
            time.sleep(max(self.interval_s, 0.5))

    def poll_once(self) -> None:
        changed = False
        for follower in self.followers:
            changed |= follower.poll()
        if changed:
            with self._changed:
                self.generation += 1
                self._changed.notify_all()

    def _loop(self) -> None:
        while not self.stopping:
            time.sleep(self.interval_s)
            try:
                self.poll_once()
            except Exception:  # noqa: BLE001 - the watcher must outlive any one bad poll
                traceback.print_exc(file=sys.stderr)

    def wait(self, seen: int, timeout: float) -> int:
        with self._changed:
            self._changed.wait_for(lambda: self.generation != seen or self.stopping, timeout)
            return self.generation

    def stop(self) -> None:
        self.stopping = True
        with self._changed:
            self._changed.notify_all()
        for thread in (self._thread, self._builder):
            if thread.is_alive():
                thread.join(timeout=5)
