"""FlowChart and TrendChart in-process: decimation, zoom, clear, shading; the charts' shared toolbar."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pandas as pd
import pytest

from cpap_lib.dashboard.widgets.charts import (
    EVENT_COLORS,
    FlowChart,
    TrendChart,
    events_to_spans,
)
from cpap_lib.dashboard.widgets.night_chart import NightChart
from cpap_lib.errors import ParameterError
from cpap_lib.recording import Recording

FS = 100.0


@pytest.fixture(scope="module")
def night():
    """An 8-hour 100 Hz breathing-like signal (2.88 million samples)."""
    t = np.arange(0, 8 * 3600 * FS) / FS
    flow = 0.4 * np.sin(2 * np.pi * t / 4.0) + 0.02 * np.sin(2 * np.pi * t / 0.3)
    return t, flow


def test_set_data_sends_at_most_max_points_of_a_long_night(night):
    t, flow = night
    chart = FlowChart(max_points=2000)
    chart.set_data(t, flow)
    assert chart.total_samples == t.size
    assert chart.flow_points == 2000
    assert chart.flow_line.x[0] == t[0] and chart.flow_line.x[-1] == t[-1]
    # the envelope survives decimation
    assert chart.flow_line.y.max() == pytest.approx(flow.max())
    assert chart.flow_line.y.min() == pytest.approx(flow.min())
    assert chart.y_scale.min < flow.min() and chart.y_scale.max > flow.max()


def test_zoom_re_decimates_the_visible_window(night):
    t, flow = night
    chart = FlowChart(max_points=2000)
    chart.set_data(t, flow)
    chart.zoom(3600.0, 3630.0)  # 30 s = 3000 samples: still decimated to 2000
    xs = chart.flow_line.x
    assert xs.size == 2000
    assert xs[0] <= 3600.0 and xs[-1] >= 3630.0
    assert xs[1] > 3600.0 and xs[-2] < 3630.0
    chart.zoom(3600.0, 3610.0)  # 1000 samples: sent at full resolution
    np.testing.assert_array_equal(chart.flow_line.x[1:-1], t[360001:361000])
    assert chart.visible_range == (3600.0, 3610.0)


def test_scale_change_from_the_browser_redraws_like_pan_zoom(night):
    """PanZoom in the browser sets the x scale's min and max; the chart follows."""
    t, flow = night
    chart = FlowChart(max_points=1500)
    chart.set_data(t, flow)
    with chart.x_scale.hold_trait_notifications():
        chart.x_scale.min, chart.x_scale.max = 100.0, 130.0
    assert chart.visible_range == (100.0, 130.0)
    assert chart.flow_line.x[0] <= 100.0 and chart.flow_line.x[-1] >= 130.0
    assert chart.flow_line.x.size == 1500
    chart.reset_zoom()
    assert chart.visible_range == (t[0], t[-1])


def test_breath_marks_and_event_shading():
    t = np.arange(0, 120, 0.01)
    flow = np.sin(2 * np.pi * t / 4.0)
    events = pd.DataFrame(
        {"kind": ["apnea", "hypopnea", "apnea"], "start_s": [10.0, 40.0, 80.0], "end_s": [22.0, 52.0, 95.0]}
    )
    chart = FlowChart(max_points=500)
    chart.set_data(t, flow, breaths_peak_s=np.arange(1.0, 120.0, 4.0), events=events)
    assert chart.breaths_marked == 30 and chart.breath_marks.x.size == 89  # one tick (3 vertices) per breath
    ticks = np.append(chart.breath_marks.y, np.nan).reshape(-1, 3)
    assert np.isnan(ticks[:, 2]).all()  # NaN separates the ticks of one path
    assert (ticks[:, 0] > 1.0).all() and (ticks[:, 1] > ticks[:, 0]).all()  # just above each peak
    assert (ticks[:, 1] < chart.y_scale.max).all()
    np.testing.assert_array_equal(chart.breath_marks.x[::3], np.arange(1.0, 120.0, 4.0))
    assert chart.apnea_shading.x.shape == (2, 4)
    np.testing.assert_array_equal(chart.apnea_shading.x[1], [80.0, 80.0, 95.0, 95.0])
    assert chart.hypopnea_shading.x.shape == (4,)  # bqplot squeezes a single polygon
    assert chart.apnea_shading.fill_colors == [EVENT_COLORS["apnea"]] * 2
    # shading spans the whole y range
    assert chart.apnea_shading.y.min() == chart.y_scale.min and chart.apnea_shading.y.max() == chart.y_scale.max
    assert chart.points_sent == 500 + 89 + 8 + 4
    chart.zoom(0.0, 20.0)
    assert chart.breaths_marked == 5


def test_too_many_breath_marks_are_hidden_until_zoomed():
    t = np.arange(0, 3600, 0.01)
    chart = FlowChart(max_points=1000, max_breath_marks=100)
    chart.set_data(t, np.sin(t), breaths_peak_s=np.arange(0.0, 3600.0, 4.0))
    assert chart.breath_marks.x.size == 0 and chart.breaths_marked == 0
    assert "zoom in to see the 900 breath marks" in chart.status.value
    chart.zoom(0.0, 200.0)
    assert chart.breaths_marked == 50


def test_clear_empties_everything():
    t = np.arange(0, 60, 0.01)
    chart = FlowChart()
    chart.set_data(t, np.sin(t), breaths_peak_s=[1.0, 5.0], events=[{"kind": "apnea", "start_s": 5, "end_s": 20}])
    assert chart.points_sent > 0
    chart.clear()
    assert chart.points_sent == 0
    assert chart.total_samples == 0 and chart.visible_range is None
    assert "No data" in chart.status.value
    chart.set_data([], [])  # empty data is a clear, not an error
    assert chart.points_sent == 0


def test_bad_input_names_the_problem():
    chart = FlowChart()
    with pytest.raises(ParameterError, match="flow_lps: length 2 differs from time_s length 3"):
        chart.set_data([0, 1, 2], [0, 1])
    with pytest.raises(ParameterError, match="events: missing columns"):
        chart.set_data([0, 1, 2], [0, 1, 2], events=[{"start_s": 1}])
    with pytest.raises(ParameterError, match="x_max: must be greater"):
        chart.zoom(5, 5)
    with pytest.raises(ParameterError, match="max_points"):
        FlowChart(max_points=2)


def test_events_to_spans_accepts_analysis_dict_lists():
    events = [{"kind": "hypopnea", "start_s": 3.5, "end_s": 14.0}]
    np.testing.assert_array_equal(events_to_spans(events, "hypopnea"), [[3.5, 14.0]])
    assert events_to_spans(pd.DataFrame(columns=["kind", "start_s", "end_s"]), "apnea").shape == (0, 2)


def test_trend_chart_shares_the_time_axis_and_clears():
    chart = TrendChart()
    times = pd.date_range("2026-11-21 22:00", periods=5, freq="10min", tz="UTC")
    chart.set_data(
        times, pressure_cmh2o=[8, 8, 9, 9, 10], breath_rate_bpm=[14, 15, 15, 16, 14], apnea_count=[0, 1, 3, 0, 2]
    )
    assert chart.points_sent == 15
    assert {line.scales["x"] for line in chart.lines.values()} == {chart.x_scale}
    assert chart.lines["pressure_cmh2o"].x[0] == np.datetime64("2026-11-21T22:00:00.000")
    chart.set_frame(pd.DataFrame({"time": times[:2], "apnea_count": [1, 2]}))
    assert chart.lines["apnea_count"].y.tolist() == [1.0, 2.0]
    assert chart.lines["pressure_cmh2o"].x.size == 0
    with pytest.raises(ParameterError, match="breath_rate_bpm: has 1 values for 2 times"):
        chart.set_data(times[:2], breath_rate_bpm=[1])
    with pytest.raises(ParameterError, match="leak: unknown trend"):
        chart.set_data(times, leak=[1, 2, 3, 4, 5])
    chart.clear()
    assert chart.points_sent == 0


def test_keep_view_keeps_the_window_when_the_same_signal_is_redrawn(night):
    t, flow = night
    chart = FlowChart(max_points=1000)
    chart.set_data(t, flow)
    chart.zoom(500.0, 700.0)
    chart.set_data(t, flow * 0.5, keep_view=True)
    assert chart.visible_range == (500.0, 700.0)
    assert chart.flow_line.x[0] <= 500.0 and chart.flow_line.x[-1] >= 700.0
    chart.set_data(t, flow)
    assert chart.visible_range == (t[0], t[-1])


def test_gaps_in_the_recording_break_the_line():
    """Device nights are sessions with gaps; the chart must not draw a line across them."""
    t = np.concatenate([np.arange(0, 600, 0.04), np.arange(2000, 2600, 0.04)])
    chart = FlowChart(max_points=1000)
    chart.set_data(t, np.sin(t))
    ys, xs = chart.flow_line.y, chart.flow_line.x
    breaks = np.flatnonzero(np.isnan(ys))
    assert breaks.size == 1 and xs[breaks[0]] == pytest.approx(1300.0, abs=0.1)
    assert chart.flow_points == 1000
    chart.zoom(100.0, 500.0)  # no gap in view: no break
    assert not np.isnan(chart.flow_line.y).any()


@pytest.mark.parametrize("make", [FlowChart, NightChart], ids=["FlowChart", "NightChart"])
def test_both_charts_have_the_same_reset_and_save_toolbar(make):
    """One toolbar (TimeWindow._toolbar): Reset zoom shows the whole recording, Save PNG saves, status beside them."""
    t = np.arange(0, 600, 0.04)
    flow = 0.4 * np.sin(2 * np.pi * t / 4.0)
    chart = make()
    if isinstance(chart, NightChart):
        chart.set_data(Recording(time_s=t, flow_lps=flow, fs_hz=25.0))
    else:
        chart.set_data(t, flow)
    toolbar = next(c for c in chart.children if isinstance(c, widgets.HBox))
    assert toolbar.children == (chart.reset_button, chart.save_button, chart.status)
    assert [b.description for b in toolbar.children[:2]] == ["Reset zoom", "Save PNG"]
    assert "cpap-chart-status" in chart.status._dom_classes
    chart.zoom(100.0, 160.0)
    chart.reset_button.click()
    assert chart.visible_range == chart.data_range
    saved = []
    chart.save_png = lambda *args: saved.append(args)  # the browser download itself needs a browser
    chart.save_button.click()
    assert saved == [()]
