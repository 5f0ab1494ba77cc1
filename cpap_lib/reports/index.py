"""The batch's ``index.html``: one row per patient-night, sortable, severe and failed ones flagged.

A single self-contained page (inline CSS and a few lines of inline script
to sort by a column; no CDN), readable offline. Columns: patient, room,
night, hours used, AHI, severity (AASM band of the AHI), alarms of the
night (where the server recorded any), status. Failed reports are rows too,
with their error and a link to the partial notebook.

Examples
--------
>>> from cpap_lib.reports.runner import ReportResult
>>> ok = ReportResult(name="p1", ok=True, notebook="notebooks/p1.ipynb", html="reports/p1.html",
...                   summary={"patient": {"name": "Ada <B>", "room": 101, "night": "2026-03-03"},
...                            "night": {"ahi": 42.0, "severity": "severe", "hours_used": 7.5}, "alarms": []})
>>> bad = ReportResult(name="p2", ok=False, notebook="notebooks/p2.ipynb", error="RecordingError: p2.txt: no valid rows")
>>> page = index_html([ok, bad])
>>> 'class="severe"' in page, 'href="reports/p1.html"' in page, "no valid rows" in page, "Ada &lt;B&gt;" in page
(True, True, True, True)
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["index_html", "write_index", "index_rows"]

_STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 1.5em 2em; color: #1a1a1a; }
table { border-collapse: collapse; }
th, td { border: 1px solid #c8c8c8; padding: 0.3em 0.7em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #eef1f4; cursor: pointer; user-select: none; }
th[aria-sort="ascending"]::after { content: " \\25B2"; }
th[aria-sort="descending"]::after { content: " \\25BC"; }
td.date { white-space: nowrap; }
tr.severe td { background: #fde2e2; }
tr.failed td { background: #fff3cd; }
span.flag { color: #b00020; font-weight: bold; }
@media print { th { cursor: auto; } }
"""
_SORT_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th, col) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0];
    var up = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", up ? "ascending" : "descending");
    var key = function (row) { var c = row.cells[col]; return c.dataset.sort !== undefined ? c.dataset.sort : c.textContent; };
    Array.from(body.rows).sort(function (a, b) {
      var x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
      var r = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return up ? r : -r;
    }).forEach(function (row) { body.appendChild(row); });
  });
});
"""
_COLUMNS = ("Patient", "Room", "Night", "Hours used", "AHI (/h)", "Severity", "Alarms", "Status")
_SEVERITY_ORDER = {"normal": 0, "mild": 1, "moderate": 2, "severe": 3}


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def index_rows(results: Sequence[Any]) -> list[dict[str, Any]]:
    """One dict per result: the index's cells (``patient, room, night, hours, ahi, severity, alarms, ok, error``)."""
    rows = []
    for r in results:
        summary = r.summary or {}
        patient, night = summary.get("patient", {}), summary.get("night", {})
        job = getattr(r, "job", None) or {}
        rows.append(
            {
                "name": r.name,
                "patient": patient.get("name") or job.get("mrn") or job.get("recording") or r.name,
                "room": patient.get("room", job.get("room", "")),
                "night": patient.get("night", job.get("night", "")),
                "hours": _finite(night.get("hours_used")),
                "ahi": _finite(night.get("ahi")),
                "severity": night.get("severity") or "",
                "alarms": ", ".join(summary.get("alarms") or []),
                "ok": r.ok,
                "error": r.error,
                "link": r.html if r.ok else r.notebook,
            }
        )
    return rows


def _row(row: dict[str, Any]) -> str:
    e = html.escape
    severe = row["severity"] == "severe"
    cls = ' class="failed"' if not row["ok"] else (' class="severe"' if severe else "")
    name = f'<a href="{e(row["link"])}">{e(str(row["patient"]))}</a>' if row["ok"] else e(str(row["patient"]))
    severity = f'<span class="flag">&#9888; {e(row["severity"])}</span>' if severe else e(row["severity"])
    status = (
        "report"
        if row["ok"]
        else (
            f'<span class="flag">failed</span>: {e(row["error"] or "unknown error")} '
            f'(<a href="{e(row["link"])}">partial notebook</a>)'
        )
    )
    hours = "" if row["hours"] is None else f"{row['hours']:.2f}"
    ahi = "" if row["ahi"] is None else f"{row['ahi']:.1f}"
    order = _SEVERITY_ORDER.get(row["severity"], -1)
    return (
        f'<tr{cls}><td class="name">{name}</td><td class="num">{e(str(row["room"]))}</td>'
        f'<td class="date">{e(row["night"])}</td><td class="num" data-sort="{hours or -1}">{hours}</td>'
        f'<td class="num" data-sort="{ahi or -1}">{ahi}</td><td data-sort="{order}">{severity}</td>'
        f'<td>{e(row["alarms"])}</td><td data-sort="{int(row["ok"])}">{status}</td></tr>'
    )


def index_html(results: Sequence[Any], *, title: str = "Sleep lab reports") -> str:
    """The overview page for ``results`` (a sequence of ``ReportResult``): severe first, then by AHI."""
    rows = index_rows(results)
    rows.sort(key=lambda r: (r["ok"], -_SEVERITY_ORDER.get(r["severity"], -1), -(r["ahi"] or 0.0), str(r["patient"])))
    failed = sum(not r["ok"] for r in rows)
    severe = sum(r["ok"] and r["severity"] == "severe" for r in rows)
    stamp = datetime.now(UTC).astimezone().strftime("%Y-%m-%d %H:%M %Z")
    head = "".join(f"<th>{html.escape(label)}</th>" for label in _COLUMNS)
    return "\n".join(
        [
            f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>',
            f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
            f"<p>{len(rows)} patient-nights: {len(rows) - failed} reports, {failed} failed, {severe} severe "
            f"(AHI &ge; 30/h). Generated {stamp}. Click a column to sort.</p>",
            f'<table id="reports" class="sortable"><thead><tr>{head}</tr></thead><tbody>',
            *(_row(r) for r in rows),
            "</tbody></table>",
            f"<script>{_SORT_SCRIPT}</script></body></html>",
        ]
    )


def write_index(path: str | os.PathLike, results: Sequence[Any]) -> Path:
    """Write :func:`index_html` of ``results`` to ``path``."""
    target = Path(path)
    target.write_text(index_html(results), encoding="utf-8")
    return target
