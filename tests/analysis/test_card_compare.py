"""`compare_card` / `cpap-lab compare CARD` on a card of the three shared devices' nights (assembled in a tmp dir)."""

from __future__ import annotations

import json
from datetime import date, datetime

import numpy as np
import pytest

from cpap_lib.analysis.agreement import bland_altman
from cpap_lib.analysis.card_compare import compare_card
from cpap_lib.cli import main
from cpap_lib.io.resmed.assemble import copy_card_files, copy_night
from support import REFERENCE_DATA

NIGHTS = {
    date(2024, 3, 1): REFERENCE_DATA / "resmed_airsense11" / "DATALOG" / "20241017",
    date(2024, 3, 2): REFERENCE_DATA / "resmed_aircurve10" / "DATALOG" / "20250202",
    date(2024, 3, 3): REFERENCE_DATA / "resmed_airsense10" / "DATALOG" / "20241126",
}
DEVICE_EVENTS = {"2024-03-01": (2, 1), "2024-03-02": (10, 2), "2024-03-03": (71, 9)}
"""(apneas, hypopneas) the device scored in its EVE files each night."""


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    root = tmp_path_factory.mktemp("card")
    copy_card_files(REFERENCE_DATA / "resmed_airsense11", root)
    for day, folder in NIGHTS.items():
        copy_night(folder, root, day)
    return root


@pytest.fixture(scope="module")
def result(card):
    return compare_card(card)


def test_every_night_is_compared_with_the_device_events(result):
    assert [r.night for r in result.nights] == list(DEVICE_EVENTS)
    for r in result.nights:
        apneas, hypopneas = DEVICE_EVENTS[r.night]
        assert r.error is None
        assert (r.events["apnea"]["device_count"], r.events["hypopnea"]["device_count"]) == (apneas, hypopneas)
        assert r.device_eve_ahi == pytest.approx((apneas + hypopneas) / r.hours)
        assert np.isnan(r.device_str_ahi)  # the card's STR.edf is not copied: no device summary for these days
        assert r.breath_rate["median_abs_diff"] < 1.0 and r.tidal_volume["median_abs_diff"] < 0.05
        f1 = r.events["apnea"]["f1"]
        s, p = r.events["apnea"]["sensitivity"], r.events["apnea"]["ppv"]
        assert f1 == pytest.approx(2 * s * p / (s + p))
    # the AirCurve night: all ten device apneas found, spread over the sessions they fall in
    assert result.nights[1].events["apnea"]["device_found"] == 10


def test_ahi_agreement_across_nights(result):
    ours = [r.our_ahi for r in result.nights]
    device = [r.device_eve_ahi for r in result.nights]
    ba = result.vs_eve
    diffs = np.subtract(ours, device)
    assert ba.n == 3 and ba.bias == pytest.approx(diffs.mean()) and ba.sd == pytest.approx(diffs.std(ddof=1))
    assert ba.loa_high - ba.bias == pytest.approx(1.96 * ba.sd)
    assert result.vs_str.n == 0
    fig = result.figure("eve")
    assert len(fig.axes[0].collections[0].get_offsets()) == 3
    d = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert d["ahi_agreement"]["vs_eve"]["n"] == 3 and d["ahi_agreement"]["vs_str"]["bias"] is None
    assert "limits of agreement" in result.summary()


def test_bland_altman_leaves_out_missing_pairs():
    ba = bland_altman([1.0, np.nan, 3.0, 5.0], [0.0, 2.0, 2.0, np.nan])
    assert (ba.n, ba.bias, ba.sd) == (2, 1.0, 0.0)
    assert np.isnan(bland_altman([1.0], [0.5]).sd)


def test_cli_compare_card_json_and_figure(card, tmp_path, capsys):
    figure = tmp_path / "ba.png"
    assert main(["compare", str(card), "--json", "--figure", str(figure)]) == 0
    d = json.loads(capsys.readouterr().out)
    assert [n["night"] for n in d["nights"]] == list(DEVICE_EVENTS)
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["compare", str(card), "--night", "2024-03-02", "--json"]) == 0
    night = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in night["sessions"]][0] == "20240302_223724"
    assert main(["compare", str(REFERENCE_DATA / "resmed_airsense11" / "DATALOG" / "20241017"), "--night", "x"]) == 2
    assert "applies to an SD-card root" in capsys.readouterr().err


def test_a_session_without_a_breath_is_left_out_of_the_comparison_with_a_note(tmp_path):
    import edfio

    from cpap_lib.analysis.compare import compare
    from cpap_lib.io.resmed import read_datalog

    folder = copy_night(NIGHTS[date(2024, 3, 1)], tmp_path, date(2024, 3, 1))
    # two minutes of mask on without breathing, between the first and second sessions
    edfio.Edf(
        [edfio.EdfSignal(np.zeros(3000), 25, label="Flow.40ms", physical_range=(-2, 3))],
        starttime=datetime(2024, 3, 2, 2, 12).time(),
        recording=edfio.Recording(startdate=date(2024, 3, 2)),
    ).write(folder / "20240302_021200_BRP.edf")
    night = read_datalog(folder)
    assert len(night.sessions) == 5
    result = compare(night)
    assert len(result.sessions) == 4
    assert result.notes == ("session 02:12:00: no breaths found: the flow shows no breathing; not compared",)
    assert result.to_dict()["notes"] == list(result.notes) and "note: session 02:12:00" in result.summary()
