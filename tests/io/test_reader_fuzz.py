"""Property-based: whatever bytes the reader is fed, it returns a Recording or raises RecordingError."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpap_lib.analysis import analyze
from cpap_lib.errors import CpapError, RecordingError
from cpap_lib.io.lab_text import read_lab_file

HEADER = b"Time [s],a,b,c,d,e,f\n"
GOOD = [
    f"{i / 100:.2f},5000,{5030 if (i // 150) % 2 else 1638},{1638 if (i // 150) % 2 else 5030},5000,5000,1638\n".encode()
    for i in range(900)
]

field = st.one_of(
    st.integers(-10, 70000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "NaN", "abc", " ", "5012.5", "1e3", "-", '"5000"', "\t5000"]),
    st.text(max_size=6),
)
line = st.lists(field, min_size=0, max_size=9).map(lambda fs: (",".join(fs) + "\n").encode("utf-8", "replace"))


def check(data: bytes) -> None:
    try:
        rec = read_lab_file(io.BytesIO(data))
    except RecordingError as exc:
        assert str(exc)  # a message naming the problem
        return
    assert rec.samples > 0 and np.isfinite(rec.flow_lps).all() and np.all(np.diff(rec.time_s) > 0)
    try:
        analyze(rec)
    except CpapError:
        pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_random_bytes(data):
    check(data)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(line, max_size=40), st.booleans())
def test_random_rows(rows, header):
    check((HEADER if header else b"") + b"".join(rows))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 899), line), max_size=12))
def test_valid_file_with_garbage_inserted_keeps_every_good_row(inserts):
    rows = list(GOOD)
    for pos, bad in sorted(inserts, reverse=True):
        rows.insert(pos, bad)
    try:
        rec = read_lab_file(io.BytesIO(HEADER + b"".join(rows)))
    except RecordingError:
        return  # garbage that happens to be a valid row can break time ordering: refused by name
    inserted_lines = sum(bad.count(b"\n") for _, bad in inserts)  # a text field may hold a newline
    assert rec.samples >= 900 and rec.skipped_rows <= inserted_lines
