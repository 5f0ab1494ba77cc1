"""The simulator, its truth, the lab-file writer, the sample data and `cpap-lab simulate`."""

from __future__ import annotations

import io
import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cpap_lib.analysis.flow import lab_flow_lps
from cpap_lib.errors import ParameterError
from cpap_lib.io.lab_text import MAX_REPORTED_LINES, read_lab_file
from cpap_lib.paths import SAMPLE_DATA_DIR
from cpap_lib.sim.simulator import (
    LAB_HEADER,
    MALFORMED_KINDS,
    V2_BIAS_FLOW_LPS,
    Truth,
    minimum_minutes,
    simulate_recording,
    truth_path_for,
    write_lab_file,
)

SAMPLE_DATA = SAMPLE_DATA_DIR

# a spread of rates, noise levels, event mixes and lengths
CASES = [
    dict(seed=1, minutes=10, rate_bpm=8, apneas=3, hypopneas=1, pauses=2),
    dict(seed=2, minutes=12, rate_bpm=30, apneas=5, hypopneas=2, pauses=2, noise_counts=2.0),
    dict(seed=3, minutes=10, rate_bpm=15, apneas=6, hypopneas=2),  # tight: barely fits
    dict(seed=4, minutes=8, rate_bpm=20, hypopneas=3, pauses=3, leak_lps=0.1),
    dict(seed=5, minutes=25, rate_bpm=12, apneas=15, rate_variability=0.15, amplitude_variability=0.2),
    dict(seed=6, minutes=6, rate_bpm=4, apneas=1, hypopneas=1, pauses=1),
    dict(seed=7, minutes=4, rate_bpm=60, apneas=1, pauses=1),
]


def _write_bytes(sim) -> bytes:
    buffer = io.BytesIO()
    write_lab_file(sim, buffer)
    return buffer.getvalue()


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_bytes_and_truth():
    params = dict(seed=11, minutes=5, apneas=1, hypopneas=1, pauses=1, malformed_rows=3, leak_lps=0.05)
    first, second = simulate_recording(**params), simulate_recording(**params)
    assert _write_bytes(first) == _write_bytes(second)
    assert first.truth.to_dict() == second.truth.to_dict()


def test_different_seed_gives_different_recording():
    a = simulate_recording(seed=11, minutes=2)
    b = simulate_recording(seed=12, minutes=2)
    assert _write_bytes(a) != _write_bytes(b)
    assert not np.array_equal(a.truth.breath_onsets_s[:5], b.truth.breath_onsets_s[:5])


# --------------------------------------------------------------------------- truth


@pytest.mark.parametrize("params", CASES, ids=lambda p: f"seed{p['seed']}")
def test_truth_events_are_where_and_as_long_as_promised(params):
    sim = simulate_recording(**params)
    truth = sim.truth
    t0 = params.get("start_s", 2.685)
    t_end = t0 + truth.duration_s
    assert (len(truth.apneas), len(truth.hypopneas), len(truth.pauses)) == (
        params.get("apneas", 0),
        params.get("hypopneas", 0),
        params.get("pauses", 0),
    )
    for start, end in truth.apneas:
        assert 12 - 1e-9 <= end - start <= 40 + 1e-9
    for start, end in truth.hypopneas:
        assert 15 - 1e-9 <= end - start <= 40 + 1e-9
    for start, end in truth.pauses:
        assert 3 - 1e-9 <= end - start <= 7 + 1e-9
    events = sorted(truth.apneas + truth.hypopneas + truth.pauses)
    for start, end in events:
        assert start >= t0 + 60 and end <= t_end - 60
    for (_, end), (next_start, _) in itertools.pairwise(events):
        assert next_start - end >= 45  # disjoint, and at least 45 s of breathing between
    for apnea in truth.apneas:
        assert not any(_overlap(apnea, hyp) for hyp in truth.hypopneas)
    # no counted breath inside an apnea or a pause; hypopneas consist of counted breaths
    onsets = truth.breath_onsets_s
    for start, end in truth.apneas + truth.pauses:
        assert not ((onsets > start + 1e-9) & (onsets < end - 1e-9)).any()
        assert np.isclose(onsets, end).any()  # the next breath starts where the gap ends
    for start, _end in truth.hypopneas:
        assert np.isclose(onsets, start).any()
    assert np.all(np.diff(onsets) > 0)
    assert truth.breath_rate_bpm == pytest.approx(60 * onsets.size / truth.breath_periods_s.sum())
    assert truth.breath_rate_bpm == pytest.approx(params["rate_bpm"], rel=0.06)
    assert truth.apnea_index == pytest.approx(len(truth.apneas) * 3600 / truth.duration_s)
    assert truth.samples == sim.table.shape[0] == round(params["minutes"] * 6000)


def test_apnea_flow_is_suppressed_and_hypopnea_breaths_are_reduced():
    sim = simulate_recording(seed=21, minutes=12, apneas=3, hypopneas=3, pauses=1)
    time_s, flow = sim.table[:, 0], sim.flow_lps
    normal_peak = np.percentile(flow, 99)
    for start, end in sim.truth.apneas:
        inside = (time_s > start) & (time_s < end)
        assert np.abs(flow[inside]).max() <= 0.05 * normal_peak
    for start, end in sim.truth.pauses:
        assert not flow[(time_s > start) & (time_s < end)].any()
    for start, end in sim.truth.hypopneas:
        peak = flow[(time_s > start) & (time_s < end)].max()
        assert 0.35 * 0.5 * normal_peak < peak < 0.6 * 1.2 * normal_peak


def test_leak_is_net_inspired_volume_during_breathing():
    leaky = simulate_recording(seed=8, minutes=5, leak_lps=0.1, pauses=1).truth
    breathing_s = leaky.breath_periods_s.sum()
    assert leaky.net_volume_l == pytest.approx(0.1 * breathing_s, rel=0.05)
    assert abs(simulate_recording(seed=8, minutes=5).truth.net_volume_l) < 0.05 * 0.1 * breathing_s


def test_truth_json_round_trip(tmp_path):
    truth = simulate_recording(seed=9, minutes=5, apneas=1, hypopneas=1, pauses=1, malformed_rows=2).truth
    path = tmp_path / "t.truth.json"
    truth.to_json(path)
    back = Truth.from_json(path)
    assert back.to_dict() == truth.to_dict()
    assert isinstance(back.breath_onsets_s, np.ndarray) and back.apneas == truth.apneas
    assert json.loads(path.read_text())["apnea_index"] == truth.apnea_index


# --------------------------------------------------------------------------- ADC and reading


def test_flow_reconstructed_from_adc_tracks_true_flow():
    sim = simulate_recording(seed=10, minutes=3, apneas=0, leak_lps=0.05)
    table = sim.table
    assert np.array_equal(table[:, 1:], np.round(table[:, 1:]))  # integer ADC counts
    v1 = lab_flow_lps(table[:, 1], table[:, 2], table[:, 3])
    assert np.sqrt(np.mean((v1 - sim.flow_lps) ** 2)) < 0.05
    assert np.corrcoef(v1, sim.flow_lps)[0, 1] > 0.99
    breathing = np.abs(sim.flow_lps) > 0.2  # away from the quantized noise floor
    assert np.abs(v1 - sim.flow_lps)[breathing].max() < 0.05
    v2 = lab_flow_lps(table[:, 4], table[:, 5], table[:, 6])
    assert np.sqrt(np.mean((v2 - (sim.flow_lps + V2_BIAS_FLOW_LPS)) ** 2)) < 0.05


def test_written_file_has_the_lab_layout(tmp_path):
    sim = simulate_recording(seed=12, minutes=1)
    truth_path = sim.write(tmp_path / "night.txt")
    assert truth_path == tmp_path / "night.truth.json" == truth_path_for(tmp_path / "night.txt")
    lines = (tmp_path / "night.txt").read_text().splitlines()
    assert lines[0] == LAB_HEADER
    assert len(lines) == 6001
    assert lines[1].split(",")[0] == "2.685" and lines[2].split(",")[0] == "2.695"
    assert lines[-1].split(",")[0] == "62.675"
    assert all(len(line.split(",")) == 7 for line in lines[1:])
    assert Truth.from_json(truth_path).to_dict() == sim.truth.to_dict()


def test_write_read_round_trip(tmp_path):
    sim = simulate_recording(seed=13, minutes=4, apneas=1, pauses=1)
    sim.write(tmp_path / "r.txt")
    rec = read_lab_file(tmp_path / "r.txt", keep_adc=True)
    assert (rec.samples, rec.fs_hz, rec.skipped_rows) == (sim.truth.samples, 100.0, 0)
    assert rec.duration_s == sim.truth.duration_s
    np.testing.assert_allclose(rec.time_s, sim.table[:, 0], atol=5e-7)
    np.testing.assert_array_equal(rec.channels["v1_p1_ins"], sim.table[:, 2])
    np.testing.assert_allclose(rec.pressure_cmh2o.mean(), 8.0, atol=0.01)
    in_memory = sim.recording()
    np.testing.assert_array_equal(in_memory.flow_lps, rec.flow_lps)


def test_other_sampling_rate_round_trips():
    rec = simulate_recording(seed=14, minutes=1, fs_hz=25).recording()
    assert (rec.fs_hz, rec.samples) == (25.0, 1500)


@pytest.mark.parametrize("count", [1, 6, 13])
def test_malformed_rows_are_inserted_and_reported_exactly(count):
    sim = simulate_recording(seed=15 + count, minutes=1, malformed_rows=count)
    truth = sim.truth
    assert truth.skipped_rows == count == len(truth.malformed_lines)
    assert truth.malformed_lines == sorted(truth.malformed_lines)
    text = _write_bytes(sim).decode().split("\n")
    assert len(text) - 2 == sim.table.shape[0] + count  # header + rows + trailing newline
    for line_no, line in sim.malformed:
        assert text[line_no - 1] == line
    rec = sim.recording()
    assert rec.samples == sim.table.shape[0]  # inserted, not replacing good rows
    assert rec.skipped_rows == count
    assert list(rec.skipped_lines) == truth.malformed_lines[:MAX_REPORTED_LINES]


def test_malformed_rows_cycle_through_every_kind():
    sim = simulate_recording(seed=30, minutes=1, malformed_rows=len(MALFORMED_KINDS))
    lines = [text for _, text in sim.malformed]
    fields = [line.split(",") for line in lines]
    assert "" in fields[0] and "NaN" in fields[1] and "abc" in fields[2]
    assert (len(fields[3]), len(fields[4])) == (6, 8)
    assert fields[5][1].endswith(".5")


# --------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(rate_bpm=100), "rate_bpm: must be between 4 and 60"),
        (dict(minutes=0), "minutes: must be between"),
        (dict(minutes=float("nan")), "minutes: must be between"),
        (dict(apneas=-1), "apneas: must be between 0"),
        (dict(apneas=2.5), "apneas: must be a whole number"),
        (dict(noise_counts="loud"), "noise_counts: must be a number"),
        (dict(fs_hz=5), "fs_hz: must be between 10 and 1000"),
        (dict(malformed_rows=10**9), "malformed_rows: must be between"),
        (dict(apneas=3), "do not fit in 3 minutes.*at least"),
        (dict(seed=-1), "seed: must be between 0"),
    ],
)
def test_bad_parameters_raise_parameter_error(params, match):
    with pytest.raises(ParameterError, match=match):
        simulate_recording(**{"seed": 1, "minutes": 3, **params})


@pytest.mark.parametrize(
    "events",
    [dict(apneas=15, rate_bpm=8), dict(apneas=4, hypopneas=3, pauses=2, rate_bpm=30), dict(hypopneas=2, rate_bpm=4)],
)
def test_minimum_minutes_is_exactly_enough(events):
    rate = events.pop("rate_bpm")
    minutes = minimum_minutes(rate_bpm=rate, **events)
    truth = simulate_recording(seed=3, minutes=minutes, rate_bpm=rate, **events).truth
    assert len(truth.apneas) + len(truth.hypopneas) + len(truth.pauses) == sum(events.values())
    with pytest.raises(ParameterError, match="do not fit"):
        simulate_recording(seed=3, minutes=minutes - 0.1, rate_bpm=rate, **events)


# --------------------------------------------------------------------------- sample data


def test_sample_data_is_what_make_samples_writes(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SAMPLE_DATA / "make_samples.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written, result.stdout
    committed = sorted(p.name for p in SAMPLE_DATA.iterdir() if p.suffix in (".txt", ".json"))
    assert written == committed
    for name in written:
        assert (tmp_path / name).read_bytes() == (SAMPLE_DATA / name).read_bytes(), name
    assert sum((SAMPLE_DATA / name).stat().st_size for name in written) < 8e6


def test_sample_data_truth_matches_its_readme():
    def truth(name: str) -> Truth:
        return Truth.from_json(SAMPLE_DATA / f"{name}.truth.json")

    assert truth("normal_breathing").apnea_index == 0
    mild, severe = truth("mild_apnea"), truth("severe_apnea")
    assert (len(mild.apneas), len(mild.hypopneas), len(mild.pauses), mild.apnea_index) == (2, 2, 1, 10.0)
    assert (len(severe.apneas), len(severe.hypopneas), severe.apnea_index) == (6, 2, 36.0)
    assert truth("fast_breathing").breath_rate_bpm == pytest.approx(28, abs=0.5)
    malformed = truth("malformed_rows")
    rec = read_lab_file(SAMPLE_DATA / "malformed_rows.txt")
    assert rec.skipped_rows == malformed.skipped_rows == 7
    assert list(rec.skipped_lines) == malformed.malformed_lines
    readme = (SAMPLE_DATA / "README.md").read_text()
    assert ", ".join(str(n) for n in malformed.malformed_lines) in readme


# --------------------------------------------------------------------------- command line


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cpap_lib.cli", *args], check=False, capture_output=True, text=True, timeout=120, cwd=cwd
    )


def test_cli_simulate_writes_recording_and_truth(tmp_path):
    result = _cli(
        "simulate",
        "night.txt",
        "--seed",
        "4",
        "--minutes",
        "5",
        "--apneas",
        "1",
        "--hypopneas",
        "1",
        "--pauses",
        "1",
        "--rate",
        "18",
        "--leak",
        "0.05",
        "--noise",
        "1",
        "--tidal-volume",
        "0.6",
        "--fs",
        "100",
        "--malformed",
        "2",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1
    assert "night.txt" in result.stdout and "night.truth.json" in result.stdout
    truth = Truth.from_json(tmp_path / "night.truth.json")
    expected = simulate_recording(
        seed=4,
        minutes=5,
        apneas=1,
        hypopneas=1,
        pauses=1,
        rate_bpm=18,
        leak_lps=0.05,
        noise_counts=1,
        tidal_volume_l=0.6,
        malformed_rows=2,
    )
    assert truth.to_dict() == expected.truth.to_dict()
    assert (tmp_path / "night.txt").read_bytes() == _write_bytes(expected)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seed", "1", "--minutes", "5", "--rate", "100"], "--rate: must be between 4 and 60"),
        (["--seed", "1", "--minutes", "2", "--apneas", "4"], "--minutes: 4 apneas"),
    ],
)
def test_cli_simulate_bad_parameter_exits_2_with_message(tmp_path, args, message):
    result = _cli("simulate", "out.txt", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.txt").exists()


def test_cli_simulate_missing_folder_exits_2(tmp_path):
    result = _cli("simulate", str(tmp_path / "no" / "out.txt"), "--seed", "1", "--minutes", "1", cwd=tmp_path)
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_the_parameter_table_drives_the_simulator_and_the_command_line():
    import argparse
    from dataclasses import fields

    from cpap_lib.cli.simulate import register
    from cpap_lib.sim import SimParams

    names = [f.name for f in fields(SimParams)]
    assert list(simulate_recording(seed=1, minutes=1).truth.params) == names
    sub = argparse.ArgumentParser().add_subparsers()
    register(sub)
    options = {a.option_strings[0] for a in sub.choices["simulate"]._actions if a.option_strings} - {"-h"}
    assert options == {f.metadata["option"] for f in fields(SimParams) if f.metadata["option"]}
    with pytest.raises(ParameterError, match=r"^leak_lps: must be between 0 and 2, got 3$"):
        SimParams(seed=1, minutes=1, leak_lps=3)
