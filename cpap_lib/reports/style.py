"""The exported report's style sheet (a module of its own: the runner's workers load it without matplotlib).

Examples
--------
>>> "@page" in REPORT_CSS and "size: A4" in REPORT_CSS
True
"""

__all__ = ["REPORT_CSS"]

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
