"""Small helpers shared by the test modules (importable because pytest puts tests/ on sys.path)."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

from cpap_lib.paths import REPO_ROOT

T = TypeVar("T")

REFERENCE_DATA = REPO_ROOT.parent / "shared" / "reference_data"
"""The real recordings (``../shared/reference_data`` beside the repository; read there, never copied)."""


def wait_until(predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.05) -> T:
    """Poll ``predicate`` until it returns something true, or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
