"""Fixtures for the batch report tests: sample recordings, a broken one, HTML helpers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cpap_lib.paths import REPO_ROOT, SAMPLE_DATA_DIR

REPO = REPO_ROOT
CPAP_LAB = [sys.executable, "-m", "cpap_lib.cli"]
SAMPLES = ("severe_apnea", "fast_breathing")
"""Sample recordings the batch tests report on (events, and none; short files)."""


@pytest.fixture(scope="session")
def sample_paths() -> list[Path]:
    return [SAMPLE_DATA_DIR / f"{name}.txt" for name in SAMPLES]


@pytest.fixture(scope="session")
def broken_recording(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("broken") / "broken_night.txt"
    path.write_text("this is not a recording\n\x00\x01 junk junk\n", encoding="utf-8")
    return path


def cli(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``cpap-lab ARGS`` in a subprocess (the real command line), with ``env`` added to the environment."""
    return subprocess.run(
        [*CPAP_LAB, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO, env={**os.environ, **(env or {})}
    )


def analyze_json(path: Path) -> dict:
    """What ``cpap-lab analyze --json PATH`` prints."""
    done = cli("analyze", "--json", str(path), timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


class _Tables(HTMLParser):
    """Collects every ``<table>`` as a list of rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def html_tables(html: str) -> list[list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def table_rows(html: str, first_header: str) -> dict[str, str]:
    """The two-column table whose header starts with ``first_header``, as {first cell: second cell}."""
    for table in html_tables(html):
        if table and table[0] and table[0][0] == first_header:
            return {row[0]: row[1] for row in table[1:]}
    raise AssertionError(f"no table headed {first_header!r} in the report")


PNG_IMG = re.compile(r'<img alt="[^"]+" src="data:image/png;base64,[A-Za-z0-9+/=\s]{1000,}"')
