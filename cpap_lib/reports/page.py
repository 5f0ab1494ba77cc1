"""The report notebook's sections, one call each: page 1, figures, the device's scoring, appendix, footer.

The notebook stays thin (import, load, show); what each section holds is
here. :data:`~cpap_lib.reports.style.REPORT_CSS` styles the exported HTML for
the screen and for A4 print (page 1 ends after the sign-off block).

Examples
--------
>>> callable(show_page_one) and callable(show_footer)
True
"""

from __future__ import annotations

from typing import Any

from . import figures, tables
from .night import titration_table

__all__ = ["show_page_one", "show_figures", "show_device_scoring", "show_appendix", "show_footer"]


def show_page_one(subject: Any, metrics: dict) -> None:
    """Patient and night, the key figures, the titration table and the empty sign-off block."""
    figures.show_html(tables.header_html(subject))
    figures.show_table(tables.page_one_table(subject, metrics), "Key figures")
    figures.show_table(
        titration_table(subject), "Titration: per pressure step", empty="No pressure recorded for this night."
    )
    figures.show_html(tables.signoff_html())


def show_figures(subject: Any) -> None:
    """The night on the clock, the worst events up close, the AHI per hour (and the breath rate for files).

    Drawn into the figures kept from the kernel's previous report
    (:func:`~cpap_lib.reports.figures.reusing_figures`): the same pictures at
    a third less cost.
    """
    figures.show_html("<h2>The night</h2>")
    with figures.reusing_figures():
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
    agreement = figures.device_agreement_figure(subject)
    if agreement is not None:
        figures.show(agreement)


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
