"""A sliding-window rate limit: at most ``limit`` events per key within the last ``window_s`` seconds.

The server's two limits are this one piece of code: the write quota per
bearer token (:class:`~.middleware.WriteQueue`, ``CPAP_WRITES_PER_MINUTE``)
and the unknown tokens per client address (:class:`~.deps.FailedTokenLimit`).
Times are ``time.monotonic()`` seconds unless ``now`` is given.

Examples
--------
>>> window = SlidingWindow(limit=2, window_s=60.0)
>>> window.take("10.0.0.9", now=0.0), window.take("10.0.0.9", now=1.0), window.take("10.0.0.9", now=2.0)
(None, None, 58.0)
>>> window.wait("10.0.0.8", now=2.0) is None, window.wait("10.0.0.9", now=60.5) is None
(True, True)
"""

from __future__ import annotations

import time
from collections.abc import Hashable

__all__ = ["SlidingWindow"]


class SlidingWindow:
    """Event times per key, kept for ``window_s`` seconds; a key is over its limit at ``limit`` events.

    Parameters
    ----------
    limit : int
        Events a key may have within the window.
    window_s : float
        Length of the window, seconds.
    max_keys : int
        Above this many keys, keys with no event in the window are forgotten
        (memory stays bounded however many tokens or addresses come by).
    """

    def __init__(self, limit: int, window_s: float = 60.0, max_keys: int = 10_000):
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._stamps: dict[Hashable, list[float]] = {}

    def _recent(self, key: Hashable, now: float) -> list[float]:
        stamps = [t for t in self._stamps.get(key, ()) if now - t < self.window_s]
        if stamps:
            self._stamps[key] = stamps
        else:
            self._stamps.pop(key, None)
        return stamps

    def _wait(self, stamps: list[float], now: float) -> float | None:
        if len(stamps) < self.limit:
            return None
        return self.window_s - (now - stamps[-self.limit])

    def _append(self, key: Hashable, stamps: list[float], now: float) -> None:
        stamps.append(now)
        self._stamps[key] = stamps
        if len(self._stamps) > self.max_keys:
            self._stamps = {k: s for k, s in self._stamps.items() if now - s[-1] < self.window_s}

    def wait(self, key: Hashable, now: float | None = None) -> float | None:
        """Seconds until ``key`` is under its limit again, or None if it is under it now (nothing counted)."""
        now = time.monotonic() if now is None else now
        return self._wait(self._recent(key, now), now)

    def add(self, key: Hashable, now: float | None = None) -> None:
        """Count one event for ``key`` (even over its limit)."""
        now = time.monotonic() if now is None else now
        self._append(key, self._recent(key, now), now)

    def take(self, key: Hashable, now: float | None = None) -> float | None:
        """Count one event for ``key`` if it is under its limit and return None; else the seconds to wait."""
        now = time.monotonic() if now is None else now
        stamps = self._recent(key, now)
        wait = self._wait(stamps, now)
        if wait is None:
            self._append(key, stamps, now)
        return wait
