"""The batch's ``index.html``: every patient with the key figures, links, failures.

A single self-contained page (inline CSS, no scripts), readable offline.

Examples
--------
>>> from cpap_lib.reports.runner import ReportResult
>>> ok = ReportResult(name="p1", ok=True, notebook="notebooks/p1.ipynb", html="reports/p1.html",
...                   summary={"analysis": {"duration_s": 600.0, "breath_count": 150, "breath_rate_bpm": 15.0,
...                            "apnea_count": 6, "apnea_index": 36.0, "severity": "severe",
...                            "hypopnea_count": 1, "ahi": 42.0}})
>>> bad = ReportResult(name="p2", ok=False, notebook="notebooks/p2.ipynb", error="RecordingError: p2.txt: no valid rows")
>>> page = index_html([ok, bad])
>>> 'class="severe"' in page, 'href="reports/p1.html"' in page, "no valid rows" in page
(True, True, True)
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["index_html", "write_index"]

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 2em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: right; }
th { background: #f0f0f0; }
td.name, td.error { text-align: left; }
tr.severe td { background: #fde2e2; }
span.flag { color: #b00020; font-weight: bold; }
"""
_COLUMNS = (
    ("Duration (min)", "duration_s", lambda v: f"{v / 60:.1f}"),
    ("Breaths", "breath_count", lambda v: f"{int(v)}"),
    ("Breath rate (/min)", "breath_rate_bpm", lambda v: f"{v:.1f}"),
    ("Apneas", "apnea_count", lambda v: f"{int(v)}"),
    ("Apnea index (/h)", "apnea_index", lambda v: f"{v:.1f}"),
    ("Hypopneas", "hypopnea_count", lambda v: f"{int(v)}"),
    ("AHI (/h)", "ahi", lambda v: f"{v:.1f}"),
)


def _cell(value: Any, fmt: Any) -> str:
    return "n/a" if value is None else html.escape(fmt(value))


def _ok_row(result: Any) -> str:
    analysis = (result.summary or {}).get("analysis", {})
    severity = str(analysis.get("severity", "n/a"))
    severe = severity == "severe"
    flag = f'<span class="flag">&#9888; {html.escape(severity)}</span>' if severe else html.escape(severity)
    cells = "".join(f"<td>{_cell(analysis.get(key), fmt)}</td>" for _, key, fmt in _COLUMNS)
    link = f'<a href="{html.escape(result.html)}">{html.escape(result.name)}</a>'
    row_class = ' class="severe"' if severe else ""
    return f'<tr{row_class}><td class="name">{link}</td>{cells}<td>{flag}</td></tr>'


def _failed_row(result: Any) -> str:
    link = f'<a href="{html.escape(result.notebook)}">partial notebook</a>'
    return (f'<tr><td class="name">{html.escape(result.name)}</td>'
            f'<td class="error">{html.escape(result.error or "unknown error")}</td><td>{link}</td></tr>')


def index_html(results: Sequence[Any], *, title: str = "Sleep lab batch reports") -> str:
    """The overview page for ``results`` (a sequence of ``ReportResult``)."""
    ok = [r for r in results if r.ok]
    failed = [r for r in results if not r.ok]
    severe = sum((r.summary or {}).get("analysis", {}).get("severity") == "severe" for r in ok)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = "".join(f"<th>{html.escape(label)}</th>" for label, _, _ in _COLUMNS)
    parts = [
        f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
        f"<p>{len(results)} patients, {len(ok)} reports, {len(failed)} failed, "
        f"{severe} severe (apnea index &ge; 30/h). Generated {stamp}.</p>",
        f'<table id="reports"><tr><th>Patient</th>{head}<th>Severity</th></tr>',
        *(_ok_row(r) for r in ok),
        "</table>",
    ]
    if failed:
        parts += ['<h2>Failed</h2><table id="failures"><tr><th>Patient</th><th>Error</th><th>Notebook</th></tr>',
                  *(_failed_row(r) for r in failed), "</table>"]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_index(path: str | os.PathLike, results: Sequence[Any]) -> Path:
    """Write :func:`index_html` of ``results`` to ``path``."""
    target = Path(path)
    target.write_text(index_html(results), encoding="utf-8")
    return target
