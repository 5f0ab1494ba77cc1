"""The look of the staff and bedside pages: one style sheet and a page header.

No external fonts or files: the system UI font stack and plain CSS, put into
the page through an ``HTML`` widget (Voilà renders widget HTML as-is).

Examples
--------
>>> from cpap_lib.dashboard.widgets.theme import style_widget, page_header
>>> "<style>" in style_widget().value
True
>>> "&lt;b&gt;" in page_header("Ward <b>", "sub").value
True
>>> from cpap_lib.errors import ParameterError
>>> page = error_page("Staff", ParameterError("CPAP_REFRESH_S", "must be a number"))
>>> page.children[-1].text
'The page cannot start: CPAP_REFRESH_S: must be a number. Fix the setting and reload the page.'
"""

from __future__ import annotations

import ipywidgets as widgets

from .common import escape

__all__ = [
    "STYLE_CSS",
    "ALERT_COLOR",
    "STALE_COLOR",
    "STATE_COLORS",
    "STATE_LABELS",
    "style_widget",
    "page_header",
    "error_page",
]

ALERT_COLOR = "#c62828"
"""Red of values that need attention (apnea count of 2 or more)."""
STALE_COLOR = "#8a6d00"

STATE_LABELS = {
    "no_data": "NO DATA",
    "ahi_high": "AHI HIGH",
    "apnea_run": "APNEA RUN",
    "high_leak": "HIGH LEAK",
    "ok": "OK",
    "empty": "EMPTY",
}
"""The badge of each alarm state (see :mod:`cpap_lib.server.alarms`)."""
STATE_COLORS = {
    "no_data": ("#4a0072", "#fff"),
    "ahi_high": (ALERT_COLOR, "#fff"),
    "apnea_run": ("#d84315", "#fff"),
    "high_leak": ("#f9a825", "#1f2d3a"),
    "ok": ("#2e7d32", "#fff"),
    "empty": ("#9e9e9e", "#fff"),
}
"""Badge and tile-edge colour, and badge text colour, of each state: the loudest is the darkest."""

_STATE_CSS = "\n".join(
    f".cpap-card.cpap-state-{state} {{ border-left-color: {bg}; }}\n"
    f".cpap-card.cpap-state-{state} .cpap-state {{ background: {bg}; color: {fg}; }}"
    for state, (bg, fg) in STATE_COLORS.items()
)

STYLE_CSS = f"""
body, .jp-Notebook, .widget-html, .widget-label, .widget-button, .widget-text input {{
  font-family: -apple-system, "Segoe UI", "Helvetica Neue", Arial, "Liberation Sans", sans-serif;
}}
body {{ background: #f3f6f9; }}
.jp-Cell-outputWrapper, .jp-OutputArea-output {{ overflow: visible; }}
.cpap-page {{ max-width: 1400px; margin: 0 auto; }}
.cpap-page.cpap-wall {{ max-width: none; margin: 0 8px; }}
.cpap-header {{ background: #0b3d62; color: #fff; padding: 12px 18px; border-radius: 6px; margin-bottom: 10px; }}
.cpap-header h1 {{ font-size: 20px; margin: 0; font-weight: 600; color: #fff; letter-spacing: .2px; }}
.cpap-header .cpap-sub {{ font-size: 13px; opacity: .85; margin-top: 2px; }}
.cpap-section-title {{ font-size: 15px; font-weight: 600; color: #0b3d62; margin: 8px 0 4px 0; }}
.cpap-panel {{ background: #fff; border: 1px solid #d5dde5; border-radius: 6px; padding: 10px 14px; }}
.cpap-status {{ font-size: 12px; color: #4a5a6a; }}
.cpap-grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 8px; }}
.cpap-metrics {{ display: grid; grid-template-columns: repeat(3, 1fr); gap: 2px 8px; margin-top: 4px; }}
.cpap-metric {{ display: flex; flex-direction: column; }}
.cpap-metric-label {{ font-size: 10px; text-transform: uppercase; color: #5f6f7f; letter-spacing: .3px; }}
.cpap-metric .cpap-value {{ font-weight: 600; font-variant-numeric: tabular-nums; font-size: 13px; white-space: nowrap; }}
.cpap-state {{ font-size: 12px; font-weight: 800; border-radius: 3px; padding: 1px 6px; letter-spacing: .4px; }}
.cpap-detail {{ font-size: 12px; color: #1f2d3a; margin-top: 2px; min-height: 16px; line-height: 1.25; }}
.cpap-ack {{ font-size: 11px; color: #1f4d2a; background: #e8f5e9; border-radius: 3px; padding: 2px 5px;
  margin-top: 4px; overflow-wrap: anywhere; }}
.cpap-card.cpap-acknowledged {{ border-left-style: dashed; }}
.cpap-card.cpap-state-no_data {{ border-left-width: 9px; background: #f6eefa; }}
.cpap-card.cpap-state-no_data.cpap-acknowledged, .cpap-card.cpap-acknowledged {{ background: #fbfbfb; }}
.cpap-card-box .cpap-ack-button {{ position: absolute; right: 10px; top: 32px; z-index: 3; height: 24px;
  font-size: 12px; background: #0b3d62; color: #fff; margin: 0; }}
.cpap-card.cpap-open .cpap-name, .cpap-card.cpap-open .cpap-mrn {{ padding-right: 118px; }}
.cpap-station-drawer {{ position: fixed; top: 0; right: 0; width: min(1180px, 78vw); height: 100vh;
  overflow-y: auto; z-index: 40; box-shadow: -6px 0 18px rgba(0, 0, 0, .25); background: #fff;
  box-sizing: border-box; }}
.cpap-station.cpap-station-drawer {{ display: block; }}
/* Voilà's lab shell panels have "contain: strict", which would pin a fixed panel to the scrolled page
   instead of the screen: the station panel must stay where it is seen */
.jp-LabShell .lm-BoxPanel, .jp-LabShell .lm-BoxPanel-child {{ contain: none !important; }}
.cpap-station-drawer > * {{ margin-bottom: 6px; }}
.cpap-titration-table {{ border-collapse: collapse; font-size: 13px; width: 100%; }}
.cpap-titration-table th, .cpap-titration-table td {{ border-bottom: 1px solid #e3e8ee; padding: 3px 6px;
  text-align: right; font-variant-numeric: tabular-nums; }}
.cpap-titration-table th {{ color: #5f6f7f; font-weight: 600; font-size: 11px; text-transform: uppercase; }}
.cpap-titration-table tr.cpap-current td {{ background: #eef5fc; font-weight: 600; }}
.cpap-prompt {{ border-radius: 4px; padding: 6px 10px; font-size: 13px; margin: 4px 0; }}
.cpap-prompt-raise {{ background: #fff4e0; color: #7a4f01; border: 1px solid #f0c36d; }}
.cpap-prompt-wait, .cpap-prompt-hold, .cpap-prompt-none {{ background: #eef2f6; color: #34495e; }}
.cpap-prompt-maximum {{ background: #fdecea; color: #8b0000; }}
.cpap-notes {{ font-size: 13px; }}
.cpap-note {{ border-bottom: 1px solid #eef2f6; padding: 3px 0; white-space: pre-wrap; overflow-wrap: anywhere; }}
.cpap-note-when {{ font-weight: 600; color: #0b3d62; font-variant-numeric: tabular-nums; }}
.cpap-card-box {{ position: relative; overflow: visible; }}
.cpap-card-box .cpap-card-select {{
  position: absolute; top: 0; left: 0; width: 100%; height: 100%; margin: 0;
  opacity: 0; cursor: pointer; z-index: 2;
}}
.cpap-card {{
  background: #fff; border: 1px solid #d5dde5; border-left: 5px solid #2e7d32; border-radius: 6px;
  padding: 6px 10px; width: 100%; box-sizing: border-box; font-size: 13px; color: #1f2d3a;
}}
.cpap-card-box:hover .cpap-card {{ box-shadow: 0 2px 8px rgba(11, 61, 98, .25); }}
.cpap-card-box.cpap-selected .cpap-card {{ box-shadow: 0 0 0 3px #1565c0; }}
{_STATE_CSS}
.cpap-card-head {{ display: flex; justify-content: space-between; align-items: baseline; }}
.cpap-room {{ font-size: 17px; font-weight: 700; color: #0b3d62; }}
.cpap-stale {{ font-size: 11px; font-weight: 700; color: #fff; background: {STALE_COLOR};
  border-radius: 3px; padding: 1px 5px; text-transform: uppercase; }}
.cpap-name {{ font-size: 14px; font-weight: 600; margin-top: 2px; overflow-wrap: anywhere; }}
.cpap-mrn {{ font-size: 12px; color: #4a5a6a; }}
.cpap-alert {{ color: {ALERT_COLOR} !important; font-weight: 700; }}
.cpap-updated {{ font-size: 11px; color: #5f6f7f; margin-top: 4px; }}
.cpap-facts {{ display: flex; flex-wrap: wrap; gap: 8px 28px; font-size: 14px; }}
.cpap-fact-label {{ font-size: 11px; text-transform: uppercase; color: #5f6f7f; letter-spacing: .4px; }}
.cpap-fact-value {{ font-size: 18px; font-weight: 600; color: #1f2d3a; overflow-wrap: anywhere; }}
.cpap-invalid input {{ border-color: {ALERT_COLOR} !important; background: #fdecea; }}
.cpap-hint {{ font-size: 12px; color: #5f6f7f; line-height: 1.4; }}
.widget-html-content {{ line-height: 1.35; }}
"""


def style_widget() -> widgets.HTML:
    """An HTML widget holding the pages' style sheet (display it once per page)."""
    return widgets.HTML(f"<style>{STYLE_CSS}</style>", layout=widgets.Layout(display="none"))


def page_header(title: str, subtitle: str = "") -> widgets.HTML:
    """The dark title bar at the top of a page (texts are escaped)."""
    sub = f'<div class="cpap-sub">{escape(subtitle)}</div>' if subtitle else ""
    return widgets.HTML(
        f'<div class="cpap-header"><h1>{escape(title)}</h1>{sub}</div>',
        layout=widgets.Layout(width="100%"),
    )


def error_page(title: str, error: BaseException) -> widgets.VBox:
    """A page that only says, as a sentence, why the real page could not be built."""
    from .common import MessageBar

    bar = MessageBar()
    bar.show_error(f"The page cannot start: {describe(error)}. Fix the setting and reload the page.")
    page = widgets.VBox([style_widget(), page_header(title), bar], layout=widgets.Layout(width="100%"))
    page.add_class("cpap-page")
    return page


def describe(error: BaseException) -> str:
    """The error's own sentence, without a trailing full stop."""
    from .common import describe_error

    return describe_error(error).rstrip(".")
