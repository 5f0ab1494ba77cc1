"""Tables and page blocks of a report, for people: units in the headers, no index column, every row.

Each function returns a :class:`pandas.DataFrame` (with header labels ready
to print) or an HTML string; :func:`table_html` renders a frame as a plain,
escaped ``<table>`` without index or truncation (a notebook's own DataFrame
display cuts rows and shows the index). Clock times are in the lab's zone
(``$CPAP_LAB_TZ``); without a known start, times are elapsed ``h:mm:ss``.

Examples
--------
>>> print(table_html(pd.DataFrame({"AHI (/h)": [12.5], "Severity": ["<b>mild</b>"]})))
<table class="report-table"><thead><tr><th>AHI (/h)</th><th>Severity</th></tr></thead><tbody><tr><td class="num">12.5</td><td>&lt;b&gt;mild&lt;/b&gt;</td></tr></tbody></table>
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from ..clock import zone_label
from .night import ahi_rule_text, event_rows, night_metrics

__all__ = [
    "table_html",
    "clock_texts",
    "page_one_table",
    "events_appendix",
    "uploads_table",
    "commands_table",
    "notes_table",
    "device_comparison_table",
    "header_html",
    "signoff_html",
    "footer_html",
    "product_version",
    "KIND_LABELS",
]

KIND_LABELS = {
    "apnea": "Apnea",
    "hypopnea": "Hypopnea",
    "obstructive_apnea": "Obstructive apnea",
    "central_apnea": "Central apnea",
    "mixed_apnea": "Mixed apnea",
    "unclassified_apnea": "Apnea (unclassified)",
}
"""How event kinds read in a report."""


def _num(value: Any, digits: int = 1, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    text = f"{value:.{digits}f}" if digits else f"{int(round(float(value)))}"
    return f"{text} {unit}".rstrip()


def table_html(frame: pd.DataFrame, *, css_class: str = "report-table", empty: str = "none") -> str:
    """``frame`` as an escaped HTML table: header row, every row, no index; NaN/None as "–"."""
    if frame.empty:
        return f'<p class="empty">{html.escape(empty)}</p>'
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)

    def cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return "<td>–</td>"
        numeric = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
        return f'<td class="num">{value}</td>' if numeric else f"<td>{html.escape(str(value))}</td>"

    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in frame.itertuples(index=False))
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def clock_texts(subject: Any, seconds: Any, *, with_seconds: bool = True) -> list[str]:
    """Clock times (lab zone) of ``seconds`` after the subject's start; elapsed ``h:mm:ss`` without a start.

    >>> from types import SimpleNamespace
    >>> clock_texts(SimpleNamespace(start=None), [3725.0])
    ['+1:02:05']
    """
    values = np.asarray(seconds, float).reshape(-1)
    if subject.start is None:
        return [
            f"+{int(s) // 3600}:{int(s) % 3600 // 60:02d}:{int(s) % 60:02d}" if math.isfinite(s) else "–"
            for s in values
        ]
    stamps = pd.Timestamp(subject.start) + pd.to_timedelta(values, unit="s")
    return list(stamps.strftime("%H:%M:%S" if with_seconds else "%H:%M"))


def page_one_table(subject: Any, metrics: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The key figures a physician reads first (``Measure``, ``Value``); SpO2 rows only where SpO2 exists."""
    m = night_metrics(subject) if metrics is None else metrics
    rows = [
        ("Hours recorded / used", f"{_num(m['hours_recorded'], 2)} h / {_num(m['hours_used'], 2)} h"),
        ("AHI", f"{_num(m['ahi'], 1, '/h')} ({m['severity'] or 'n/a'})"),
        ("AHI rule", m["ahi_rule"]),
        ("Apnea index", f"{_num(m['apnea_index'], 1, '/h')} ({_num(m['apnea_count'], 0)} apneas)"),
        (
            "Central / obstructive apneas",
            "not classified by this rule"
            if m["central_apneas"] is None
            else f"{m['central_apneas']} / {m['obstructive_apneas']}",
        ),
        ("Hypopneas", f"{_num(m['hypopnea_count'], 0)} ({_num(m['hypopnea_index'], 1, '/h')})"),
        ("Breath rate", _num(m["breath_rate_bpm"], 1, "breaths/min")),
        (
            "Pressure median / 95th percentile (cmH2O)",
            f"{_num(m['pressure_median_cmh2o'], 1)} / {_num(m['pressure_p95_cmh2o'], 1)}",
        ),
        (
            "Leak median / 95th percentile (L/min)",
            f"{_num(m['leak_median_lpm'], 1)} / {_num(m['leak_p95_lpm'], 1)}"
            if m.get("leak_mean_lpm") is None
            else f"mean {_num(m['leak_mean_lpm'], 2)} (no leak channel)",
        ),
    ]
    if m.get("spo2_mean") is not None and math.isfinite(m.get("spo2_mean", math.nan)):
        rows += [
            ("SpO2 mean / minimum (%)", f"{_num(m['spo2_mean'], 1)} / {_num(m['spo2_min'], 0)}"),
            ("Time with SpO2 < 90 % (min)", _num(m["spo2_below90_min"], 1)),
            ("ODI (3 %, /h)", _num(m["odi"], 1)),
        ]
    return pd.DataFrame(rows, columns=["Measure", "Value"])


def _kind_label(kind: Any) -> str:
    return KIND_LABELS.get(str(kind), str(kind).replace("_", " ").capitalize())


def events_appendix(subject: Any) -> pd.DataFrame:
    """Every event, ours and the device's: clock time, type, duration, drop, scored by."""
    ours = event_rows(subject.events).assign(scored_by="this analysis")
    frames = [ours]
    if subject.device_events is not None and len(subject.device_events):
        frames.append(event_rows(subject.device_events).assign(scored_by="device"))
    events = pd.concat(frames, ignore_index=True).sort_values("start_s", kind="stable")
    zone = f" ({zone_label(subject.start.tzinfo, subject.start)})" if subject.start is not None else " (elapsed)"
    table = pd.DataFrame(
        {
            f"Clock time{zone}": clock_texts(subject, events["start_s"].to_numpy(float)),
            "Type": [_kind_label(k) for k in events["kind"]],
            "Duration (s)": events["duration_s"].to_numpy(float).round(1),
            "Flow drop (%)": events["drop_pct"].to_numpy(float).round(0),
        }
    )
    if "desaturation_pct" in events and events["desaturation_pct"].notna().any():
        table["SpO2 drop (%)"] = events["desaturation_pct"].to_numpy(float).round(1)
    table["Scored by"] = events["scored_by"].to_numpy()
    return table


def uploads_table(subject: Any) -> pd.DataFrame:
    """A server night's uploads: the time each covers, pressure and its numbers."""
    s = subject.segments
    if s.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            "Covers": [
                f"{a}–{b}"
                for a, b in zip(
                    clock_texts(subject, s["start_s"], with_seconds=False),
                    clock_texts(subject, s["end_s"], with_seconds=False),
                )
            ],
            "Minutes": (s["duration_s"].to_numpy(float) / 60.0).round(1),
            "Pressure (cmH2O)": pd.to_numeric(s["pressure_cmh2o"], errors="coerce").round(1),
            "Apneas": s["apnea_count"].to_numpy(),
            "Hypopneas": s["hypopnea_count"].to_numpy(),
            "AHI (/h)": pd.to_numeric(s["ahi"], errors="coerce").round(1),
            "Breath rate (/min)": pd.to_numeric(s["breath_rate_bpm"], errors="coerce").round(1),
            "Leak (L/min)": pd.to_numeric(s["leak_lpm"], errors="coerce").round(2),
            "Upload": [f"#{i}" for i in s["id"]],
        }
    )


def commands_table(subject: Any) -> pd.DataFrame:
    """Pressure commands of the night: clock time, from, to, by."""
    c = subject.commands
    if c.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            "Clock time": clock_texts(subject, c["time_s"]),
            "From (cmH2O)": pd.to_numeric(c["from_cmh2o"], errors="coerce").round(1),
            "To (cmH2O)": c["to_cmh2o"].to_numpy(),
            "By": [b or "–" for b in c["by"]],
        }
    )


def notes_table(subject: Any) -> pd.DataFrame:
    """Technicians' notes of the night."""
    n = subject.notes
    if n.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            "Clock time": clock_texts(subject, n["time_s"]),
            "Author": n["author"].to_numpy(),
            "Note": n["text"].to_numpy(),
        }
    )


def device_comparison_table(subject: Any, metrics: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """This analysis beside the device's own scoring (events and its night summary), where the device scored.

    Event agreement counts events of each side that overlap one of the other
    side (5 s tolerance, :func:`cpap_lib.analysis.compare.match_spans`).
    """
    if subject.device_events is None:
        return pd.DataFrame()
    from ..analysis.compare import TOLERANCE_S, match_spans

    m = night_metrics(subject) if metrics is None else metrics
    dev = subject.device_events
    dev_summary = subject.device_summary or {}
    hours = m["hours_used"] or math.nan
    dev_apneas = int(dev["kind"].astype(str).str.contains("apnea").sum())
    dev_hypopneas = int((dev["kind"] == "hypopnea").sum())
    found, confirmed = match_spans(
        dev[["start_s", "end_s"]].to_numpy(float), subject.events[["start_s", "end_s"]].to_numpy(float), TOLERANCE_S
    )
    rows = [
        ("AHI (/h)", _num(m["ahi"]), _num(dev_summary.get("ahi", (dev_apneas + dev_hypopneas) / hours))),
        ("Apneas", _num(m["apnea_count"], 0), _num(dev_apneas, 0)),
        (
            "Central / obstructive apneas",
            "not classified" if m["central_apneas"] is None else f"{m['central_apneas']} / {m['obstructive_apneas']}",
            f"{int((dev['kind'] == 'central_apnea').sum())} / {int((dev['kind'] == 'obstructive_apnea').sum())}",
        ),
        ("Hypopneas", _num(m["hypopnea_count"], 0), _num(dev_hypopneas, 0)),
        (
            "Events the other side also scored",
            f"{int(confirmed.sum())} of {confirmed.size}",
            f"{int(found.sum())} of {found.size}",
        ),
    ]
    if dev_summary:
        rows += [
            ("Usage (h)", _num(m["hours_used"], 2), _num(dev_summary.get("usage_h"), 2)),
            (
                "Pressure median / 95th pct (cmH2O)",
                f"{_num(m['pressure_median_cmh2o'])} / {_num(m['pressure_p95_cmh2o'])}",
                f"{_num(dev_summary.get('pressure_median_cmh2o'))} / {_num(dev_summary.get('pressure_95_cmh2o'))}",
            ),
            (
                "Leak median / 95th pct (L/min)",
                f"{_num(m['leak_median_lpm'])} / {_num(m['leak_p95_lpm'])}",
                f"{_num(dev_summary.get('leak_median_lpm'))} / {_num(dev_summary.get('leak_95_lpm'))}",
            ),
        ]
    return pd.DataFrame(rows, columns=["Measure", "This analysis", "Device"])


def header_html(subject: Any) -> str:
    """Title and who/when line of page 1."""
    p = subject.patient
    title = p.get("name") or subject.name
    night = p.get("night")
    facts = [("MRN", p.get("mrn")), ("Room", p.get("room")), ("Device", p.get("device")), ("Source", p.get("source"))]
    if subject.start is not None:
        facts.append(("Start", f"{subject.start:%Y-%m-%d %H:%M} {zone_label(subject.start.tzinfo, subject.start)}"))
    items = "".join(
        f"<span><b>{html.escape(k)}</b> {html.escape(str(v))}</span>" for k, v in facts if v not in (None, "")
    )
    heading = f"Sleep report: {title}" + (f" — night of {night}" if night else "")
    return f'<header class="report-header"><h1>{html.escape(heading)}</h1><p class="facts">{items}</p></header>'


def signoff_html() -> str:
    """The sign-off block the physician fills in (left empty)."""
    return (
        '<section class="signoff"><h2>Interpretation and sign-off</h2>'
        '<div class="box"><b>Interpretation</b><div class="lines"></div></div>'
        '<div class="row"><div class="box"><b>Reviewer</b></div><div class="box"><b>Date</b></div>'
        '<div class="box"><b>Signature</b></div></div></section>'
    )


def product_version() -> str:
    """The installed product version (from the package metadata, else ``pyproject.toml``)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cpap_lib")
    except PackageNotFoundError:
        import tomllib

        from ..paths import REPO_ROOT

        try:
            return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "unknown"


def footer_html(subject: Any, *, generated: datetime | None = None) -> str:
    """Product version, analysis rule and parameters, inputs with checksums, time of generation."""
    summary = subject.summary
    params = summary.get("params") or {}
    when = generated or datetime.now(UTC)
    local = when.astimezone(subject.start.tzinfo) if subject.start is not None else when
    inputs = (
        "".join(
            f"<li><code>{html.escape(i['input'])}</code>"
            + (f" sha256 <code>{i['sha256']}</code>" if i.get("sha256") else "")
            + "</li>"
            for i in subject.inputs
        )
        or "<li>–</li>"
    )
    rule = html.escape(ahi_rule_text(summary))
    detail = html.escape(", ".join(f"{k}={v}" for k, v in params.items())) or "as uploaded"
    return (
        f'<footer class="report-footer"><p>Sleep Lab Monitor {html.escape(product_version())} · '
        f"analysis: {rule} · parameters: {detail} · generated {local:%Y-%m-%d %H:%M %Z}</p>"
        f"<p>Inputs:</p><ul>{inputs}</ul></footer>"
    )
