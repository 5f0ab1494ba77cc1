"""Report figures and tables on a real analysis of a simulated night with known events."""

from __future__ import annotations

import numpy as np
import pytest

from cpap_lib.reports import figures
from cpap_lib.analysis import analyze
from cpap_lib.sim import simulate_recording


@pytest.fixture(scope="module")
def analysis():
    sim = simulate_recording(seed=5, minutes=8, apneas=4, hypopneas=2)
    return analyze(sim.recording())


def test_night_flow_is_decimated_and_every_event_is_shaded(analysis):
    rec = analysis.recording
    fig = figures.night_flow_figure(rec.time_s, rec.flow_lps, analysis.events)
    ax = fig.axes[0]
    assert rec.samples > figures.NIGHT_POINTS >= len(ax.lines[0].get_xdata())
    shaded = sum(len(c.get_paths()) for c in ax.collections)
    assert shaded == len(analysis.events) == analysis.to_dict()["apnea_count"] + analysis.to_dict()["hypopnea_count"]
    assert ax.get_xlabel() == "time (min)"


def test_worst_event_zoom_is_the_longest_apnea(analysis):
    rec = analysis.recording
    apneas = analysis.events[analysis.events["kind"] == "apnea"]
    longest = apneas.loc[apneas["duration_s"].idxmax()]
    ax = figures.worst_event_figure(rec.time_s, rec.flow_lps, analysis.events).axes[0]
    lo, hi = ax.get_xlim()
    assert lo == pytest.approx(longest["start_s"] - figures.ZOOM_MARGIN_S)
    assert hi == pytest.approx(longest["end_s"] + figures.ZOOM_MARGIN_S)
    assert ax.get_title().startswith(f"Worst event: apnea of {longest['duration_s']:.1f} s")


def test_summary_and_events_tables_show_the_analysis(analysis):
    summary = analysis.to_dict()
    table = figures.summary_table(summary)["value"]
    assert table["Breaths"] == str(summary["breath_count"])
    assert table["Breath rate"] == f"{summary['breath_rate_bpm']:.1f} breaths/min"
    assert table["Tidal volume (median)"] == f"{summary['tidal_volume_l']:.3f} L"
    events = figures.events_table(analysis.events)
    assert events["kind"].tolist() == analysis.events["kind"].tolist()
    assert np.allclose(events["duration_s"], analysis.events["duration_s"], atol=0.05)


def test_breath_rate_trend_and_png(analysis):
    fig = figures.breath_rate_figure(analysis.breaths)
    medians = fig.axes[0].lines[0].get_ydata()
    assert len(medians) == 8 and np.nanmedian(medians) == pytest.approx(15, abs=1.5)
    assert figures.figure_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"
