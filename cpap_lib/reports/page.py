"""The report notebook's sections, one call each: page 1, figures, the device's scoring, appendix, footer.

The notebook stays thin (import, load, show); what each section holds is
here. :data:`REPORT_CSS` styles the exported HTML for the screen and for A4
print (page 1 ends after the sign-off block).

Examples
--------
>>> "@page" in REPORT_CSS and "size: A4" in REPORT_CSS
True
"""

from __future__ import annotations

from typing import Any

from . import figures, tables
from .night import titration_table

__all__ = ["show_page_one", "show_figures", "show_device_scoring", "show_appendix", "show_footer", "REPORT_CSS"]

REPORT_CSS = """
@page { size: A4; margin: 14mm 12mm; }
body { font-family: "DejaVu Sans", Arial, sans-serif; color: #1a1a1a; margin: 0; }
main { max-width: 186mm; margin: 0 auto; padding: 6mm 4mm; }
pre { white-space: pre-wrap; font-size: 0.85em; }
.report-header h1 { font-size: 1.35em; margin: 0 0 0.2em; }
.report-header .facts { display: flex; flex-wrap: wrap; gap: 0.2em 1.2em; }
h2 { font-size: 1.15em; border-bottom: 1px solid #bbb; margin-top: 1.1em; }
h3 { font-size: 1em; margin: 0.9em 0 0.3em; }
table.report-table { border-collapse: collapse; margin: 0.3em 0 0.8em; font-size: 0.92em; }
table.report-table th, table.report-table td { border: 1px solid #c8c8c8; padding: 0.2em 0.55em; text-align: left; }
table.report-table th { background: #eef1f4; }
table.report-table td.num { text-align: right; font-variant-numeric: tabular-nums; }
p.empty { color: #555; font-style: italic; }
.signoff .box { border: 1px solid #888; min-height: 2.2em; padding: 0.3em 0.5em; margin: 0.35em 0; }
.signoff .lines { min-height: 6em; }
.signoff .row { display: flex; gap: 0.6em; }
.signoff .row .box { flex: 1; }
.report-figure img { max-width: 100%; height: auto; }
.report-footer { margin-top: 2em; border-top: 1px solid #bbb; font-size: 0.8em; color: #333; }
.report-footer code { font-size: 0.95em; word-break: break-all; }
@media print {
  .signoff { page-break-after: always; break-after: page; }
  .report-figure, table.report-table tr { page-break-inside: avoid; break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""
"""Styles of an exported report (screen and A4 print)."""


def show_page_one(subject: Any, metrics: dict) -> None:
    """Patient and night, the key figures, the titration table and the empty sign-off block."""
    figures.show_html(tables.header_html(subject))
    figures.show_table(tables.page_one_table(subject, metrics), "Key figures")
    figures.show_table(titration_table(subject), "Titration: per pressure step",
                       empty="No pressure recorded for this night.")
    figures.show_html(tables.signoff_html())


def show_figures(subject: Any) -> None:
    """The night on the clock, the worst events up close, the AHI per hour (and the breath rate for files)."""
    figures.show_html("<h2>The night</h2>")
    figures.show(figures.overview_figure(subject))
    figures.show(figures.worst_events_figure(subject))
    figures.show(figures.ahi_per_hour_figure(subject))
    if subject.breaths is not None and len(subject.breaths):
        figures.show(figures.breath_rate_figure(subject.breaths))


def show_device_scoring(subject: Any, metrics: dict) -> None:
    """This analysis beside the device's own scoring, when the input has the device's events."""
    if subject.device_events is None:
        return
    figures.show_html("<h2>The device's own scoring</h2>")
    figures.show_table(tables.device_comparison_table(subject, metrics))


def show_appendix(subject: Any) -> None:
    """Every event; for server nights the uploads, pressure commands and notes."""
    figures.show_html("<h2>Appendix</h2>")
    figures.show_table(tables.events_appendix(subject), "All events", empty="No events scored.")
    if subject.is_server_patient:
        figures.show_table(tables.uploads_table(subject), "Uploads of the night")
        figures.show_table(tables.commands_table(subject), "Pressure commands", empty="No pressure command this night.")
        figures.show_table(tables.notes_table(subject), "Notes", empty="No notes this night.")


def show_footer(subject: Any) -> None:
    """Product version, analysis rule and parameters, inputs with checksums, time of generation."""
    figures.show_html(tables.footer_html(subject))
