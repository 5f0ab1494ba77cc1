"""Report figures and tables on a real analysis of a simulated night with known events, and on made-up channels."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from cpap_lib.analysis import analyze
from cpap_lib.clock import lab_timezone
from cpap_lib.recording import Signal
from cpap_lib.reports import figures, night, tables
from cpap_lib.reports.subjects import ReportSubject, events_frame
from cpap_lib.sim import simulate_recording


@pytest.fixture(scope="module")
def subject():
    sim = simulate_recording(seed=5, minutes=8, apneas=4, hypopneas=2)
    a = analyze(sim.recording())
    return ReportSubject(
        name="sim",
        summary=a.to_dict(),
        patient={"name": "sim"},
        time_s=a.recording.time_s,
        flow_lps=a.recording.flow_lps,
        events=a.events,
        breaths=a.breaths,
    )


def test_overview_has_the_flow_envelope_and_every_event(subject):
    fig = figures.overview_figure(subject)
    flow_ax, events_ax = fig.axes
    bars = sum(len(c.get_paths()) for c in events_ax.collections)
    assert bars == len(subject.events) == subject.summary["apnea_count"] + subject.summary["hypopnea_count"]
    labels = [t.get_text() for t in events_ax.get_yticklabels()]
    assert labels == [
        f"ours: apnea ({subject.summary['apnea_count']})",
        f"ours: hypopnea ({subject.summary['hypopnea_count']})",
    ]
    assert events_ax.get_xlabel() == "hours from the start"
    centre, lo, hi = figures.flow_envelope(subject.time_s, subject.flow_lps)
    assert np.nanmax(hi) == pytest.approx(subject.flow_lps.max()) and np.nanmin(lo) == pytest.approx(
        subject.flow_lps.min()
    )


def test_overview_on_the_clock_stacks_the_device_channels(subject):
    t = np.arange(0.0, 480.0, 2.0)
    signals = {
        "pressure": Signal("pressure", "cmH2O", t, np.where(t < 240, 8.0, 10.0)),
        "leak": Signal("leak", "L/min", t, np.full(t.size, 6.0)),
        "spo2": Signal("spo2", "%", t, np.full(t.size, 95.0)),
    }
    start = datetime(2026, 3, 3, 23, 30, tzinfo=lab_timezone("Europe/Berlin"))
    on_clock = ReportSubject(**{**subject.__dict__, "signals": signals, "start": start})
    fig = figures.overview_figure(on_clock)
    assert [ax.get_ylabel() for ax in fig.axes] == [
        "flow (L/s)",
        "pressure (cmH2O)",
        "leak (L/min)",
        "SpO2 (%)",
        "events",
    ]
    assert fig.axes[-1].get_xlabel() == "clock time (CET)"
    appendix = tables.events_appendix(on_clock)
    assert appendix.columns[0] == "Clock time (CET)" and appendix.iloc[0, 0] > "23:30:00"


def test_titration_table_counts_events_per_pressure_step(subject):
    t = np.arange(0.0, 480.0, 2.0)
    stepped = ReportSubject(
        **{**subject.__dict__, "signals": {"pressure": Signal("pressure", "cmH2O", t, np.where(t < 240, 8.0, 10.0))}}
    )
    table = night.titration_table(stepped)
    assert table["Pressure (cmH2O)"].tolist() == ["8", "10"]
    assert table["Time (min)"].tolist() == [4.0, 4.0]
    events = subject.events
    early = events["start_s"] < 240
    assert table["Apneas"].tolist() == [
        int((early & (events["kind"] == "apnea")).sum()),
        int((~early & (events["kind"] == "apnea")).sum()),
    ]
    assert int(table["Apneas"].sum() + table["Hypopneas"].sum()) == len(events)


def test_worst_events_and_ahi_per_hour(subject):
    fig = figures.worst_events_figure(subject)
    apneas = subject.events[subject.events["kind"] == "apnea"].sort_values("duration_s", ascending=False)
    assert fig.axes[0].get_title().startswith(f"apnea {apneas['duration_s'].iloc[0]:.0f} s at +0:")
    assert len(fig.axes) == 3
    per_hour = night.ahi_per_hour(subject)
    assert per_hour["events"].sum() == len(subject.events)
    assert per_hour["ahi"].iloc[0] == pytest.approx(len(subject.events) / (8 / 60))


def test_page_one_and_tables_for_people(subject):
    m = night.night_metrics(subject)
    assert m["ahi"] == pytest.approx(subject.summary["ahi"]) and m["severity"] == night.severity_of_ahi(m["ahi"])
    page = tables.page_one_table(subject, m)
    assert "SpO2 mean / minimum (%)" not in page["Measure"].tolist()  # no oximeter: no SpO2 rows
    long = pd.DataFrame({"Clock time": [f"{i}" for i in range(300)], "Duration (s)": np.arange(300.0)})
    html = tables.table_html(long)
    assert html.count("<tr>") == 301 and "…" not in html and "<th></th>" not in html  # every row, no index column


def test_spo2_rows_where_an_oximeter_was_worn(subject):
    t = np.arange(0.0, 480.0)
    spo2 = np.full(t.size, 96.0)
    spo2[100:130] = 89.0
    with_spo2 = ReportSubject(**{**subject.__dict__, "signals": {"spo2": Signal("spo2", "%", t, spo2)}})
    page = dict(tables.page_one_table(with_spo2).values.tolist())
    assert page["SpO2 mean / minimum (%)"] == f"{spo2.mean():.1f} / 89"
    assert page["Time with SpO2 < 90 % (min)"] == "0.5"
    assert page["ODI (3 %, /h)"] == f"{1 / (480 / 3600):.1f}"


def _pixels(fig) -> np.ndarray:
    from io import BytesIO

    from PIL import Image

    return np.asarray(Image.open(BytesIO(figures.figure_png(fig))).convert("RGBA"))


def test_kept_figures_draw_the_same_pictures_as_new_ones(subject):
    """A batch kernel draws each patient into the previous patient's figures: nothing of theirs may remain."""
    zone = lab_timezone("Europe/Berlin")
    t = np.arange(0.0, 480.0, 2.0)
    signals = {
        "pressure": Signal("pressure", "cmH2O", t, np.where(t < 240, 8.0, 10.0)),
        "leak": Signal("leak", "L/min", t, 6.0 + np.sin(t / 30)),
    }
    device = subject.events.iloc[:2].assign(kind="central_apnea")
    on_clock = ReportSubject(
        **{
            **subject.__dict__,
            "signals": signals,
            "device_events": device,
            "start": datetime(2026, 3, 3, 23, 30, tzinfo=zone),
        }
    )
    hours = np.arange(0.0, 4 * 3600.0, 0.5)
    long_night = ReportSubject(
        name="long",
        summary={"duration_s": hours[-1]},
        patient={},
        time_s=hours,
        flow_lps=0.4 * np.sin(2 * np.pi * hours / 4),
        events=events_frame([(600.0, 620.0), (7300.0, 7330.0)], [(9000.0, 9040.0)]),
        start=datetime(2026, 3, 4, 22, 10, tzinfo=zone),
        breaths=pd.DataFrame({"peak_s": hours[::8], "rate_bpm": np.full(hours[::8].size, 14.0)}),
    )
    quiet = ReportSubject(
        **{**subject.__dict__, "events": subject.events.iloc[:0], "breaths": subject.breaths.iloc[:0]}
    )
    nights = [subject, on_clock, long_night, quiet]

    def drawn(s):
        yield figures.overview_figure(s)
        yield figures.worst_events_figure(s)
        yield figures.ahi_per_hour_figure(s)
        yield figures.breath_rate_figure(s.breaths)

    new = [[_pixels(fig) for fig in drawn(s)] for s in nights]
    with figures.reusing_figures():
        for i in [0, 1, 2, 0, 3, 2, 1, 3, 0]:
            kept = [_pixels(fig) for fig in drawn(nights[i])]
            assert all(np.array_equal(a, b) for a, b in zip(kept, new[i], strict=True)), nights[i].name
