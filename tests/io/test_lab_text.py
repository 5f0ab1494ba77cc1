"""The lab text reader: malformed rows skipped and reported, unusable files refused by name."""

from __future__ import annotations

import io

import numpy as np
import pytest

from cpap_lib.errors import CpapError, RecordingError
from cpap_lib.io.lab_text import MAX_REPORTED_LINES, read_lab_file

HEADER = "Time [s],V1-P2,V1-P1-Ins,V1-P1-Exp,V2-P2,V2-P1-Ins,V2-P1-Exp\n"


def rows(n: int = 1000, fs: float = 100.0) -> list[str]:
    """n clean rows of a 0.5 Hz square-ish breathing pattern."""
    out = []
    for i in range(n):
        ins = (i // int(fs)) % 2 == 0
        out.append(f"{i / fs:.3f},5000,{5021 if ins else 1638},{1638 if ins else 5021},5200,5230,1638\n")
    return out


def text(lines: list[str], header: str = HEADER) -> str:
    return header + "".join(lines)


@pytest.mark.parametrize(
    "bad",
    [
        "5.005,5000,,1638,5200,5230,1638",  # empty field
        "5.005,5000,NaN,1638,5200,5230,1638",  # NaN
        "5.005,5000,abc,1638,5200,5230,1638",  # text
        "5.005,5000,5021,1638,5200,5230",  # too few fields
        "5.005,5000,5021,1638,5200,5230,1638,7",  # too many fields
        "5.005,5000,5012.5,1638,5200,5230,1638",  # a fraction where an ADC integer belongs
        "5.005,5000,99999999,1638,5200,5230,1638",  # outside any ADC range
        "   ",  # whitespace only: not a row, not counted
    ],
)
def test_one_malformed_row_is_skipped_and_reported_by_line(bad):
    lines = rows()
    lines.insert(500, bad + "\n")  # physical line 502 (header is line 1)
    rec = read_lab_file(io.StringIO(text(lines)))
    assert rec.samples == 1000
    assert np.isfinite(rec.flow_lps).all() and np.isfinite(rec.pressure_cmh2o).all()
    if bad.strip():
        assert (rec.skipped_rows, rec.skipped_lines) == (1, (502,))
    else:
        assert (rec.skipped_rows, rec.skipped_lines) == (0, ())


def test_many_malformed_rows_count_is_exact_and_first_lines_are_kept():
    lines = rows(2000)
    bad_at = list(range(100, 1900, 100))  # 18 bad lines
    for k, pos in enumerate(bad_at):
        lines.insert(pos + k, "x,y\n")
    rec = read_lab_file(io.StringIO(text(lines)))
    expected = [pos + k + 2 for k, pos in enumerate(bad_at)]
    assert rec.skipped_rows == 18
    assert rec.skipped_lines == tuple(expected[:MAX_REPORTED_LINES])
    assert rec.samples == 2000


def test_clean_file_from_path_bytes_and_text_agree(tmp_path):
    content = text(rows())
    path = tmp_path / "clean.txt"
    path.write_text(content)
    a = read_lab_file(path)
    b = read_lab_file(io.BytesIO(content.encode()))
    c = read_lab_file(io.StringIO(content))
    for other in (b, c):
        np.testing.assert_array_equal(a.time_s, other.time_s)
        np.testing.assert_array_equal(a.flow_lps, other.flow_lps)
    assert a.fs_hz == 100.0 and a.skipped_rows == 0 and a.source == str(path)
    assert a.flow_lps.max() > 0 > a.flow_lps.min()


def test_crlf_line_endings_and_missing_final_newline():
    content = text(rows()).replace("\n", "\r\n").rstrip()
    rec = read_lab_file(io.StringIO(content))
    assert rec.samples == 1000 and rec.skipped_rows == 0


def test_file_without_header_reads_every_line_as_data():
    rec = read_lab_file(io.StringIO("".join(rows())))
    assert rec.samples == 1000 and rec.skipped_rows == 0


def test_keep_adc_keeps_the_raw_columns():
    rec = read_lab_file(io.StringIO(text(rows())), keep_adc=True)
    assert sorted(rec.channels) == sorted(["v1_p2", "v1_p1_ins", "v1_p1_exp", "v2_p2", "v2_p1_ins", "v2_p1_exp"])
    assert rec.channels["v1_p2"][0] == 5000


@pytest.mark.parametrize(
    "content, reason",
    [
        ("", "the file is empty"),
        ("\n\n  \n", "the file is empty"),
        (HEADER, "header only"),
        (HEADER + "a,b,c\nx,y,z\n", "no valid data rows (2 malformed)"),
        (text(rows(300)), "too short to hold a breath (3.0 s"),
        (text(rows(10)[:5] + rows(10)[2:]), "time is not increasing (t=0.02 s follows t=0.04 s)"),
        (HEADER + "1.0,5000,5000,1638,5000,5000,1638\n", "only one valid row"),
    ],
)
def test_unusable_files_raise_a_recording_error_naming_the_reason(content, reason):
    with pytest.raises(RecordingError, match="^night.txt: ") as info:
        stream = io.StringIO(content)
        stream.name = "night.txt"
        read_lab_file(stream)
    assert reason in str(info.value)
    assert isinstance(info.value, CpapError)


def test_binary_junk_is_refused(tmp_path):
    path = tmp_path / "junk.bin"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(RecordingError, match="junk.bin: binary data"):
        read_lab_file(path)


def test_missing_file_and_directory_are_named(tmp_path):
    with pytest.raises(RecordingError, match="nope.txt: file not found"):
        read_lab_file(tmp_path / "nope.txt")
    with pytest.raises(RecordingError, match="is a directory"):
        read_lab_file(tmp_path)


def test_error_reports_the_line_when_one_applies():
    err = RecordingError("empty field", file="a.txt", line=7)
    assert (err.file, err.line, str(err)) == ("a.txt", 7, "a.txt, line 7: empty field")


def test_bad_rows_across_many_blocks_keep_exact_line_numbers_and_every_good_row(tmp_path):
    """A file of many parse blocks: bad rows first, last, at block edges and side by side are all found by line."""
    from cpap_lib.io.lab_text import BLOCK_BYTES

    clean = rows(60_000)
    per_block = BLOCK_BYTES // len(clean[0])  # about where the first block boundaries fall
    at = sorted({0, 1, per_block - 1, per_block, per_block + 1, 3 * per_block, 20_000, 20_001, 20_002, 59_999})
    lines = list(clean)
    for k, index in enumerate(reversed(at)):  # a mix of every kind of bad row
        lines.insert(
            index,
            [
                "5.005,5000,,1638,5200,5230,1638\n",
                "x,1,2,3,4,5,6\n",
                "1,2,3\n",
                "5.005,5000,5012.5,1638,5200,5230,1638\n",
            ][k % 4],
        )
    path = tmp_path / "night.txt"
    path.write_text(text(lines))
    rec = read_lab_file(path)
    expected = [index + i + 2 for i, index in enumerate(at)]  # physical lines: header is line 1
    assert rec.skipped_rows == len(at)
    assert list(rec.skipped_lines) == expected[:MAX_REPORTED_LINES]
    reference = read_lab_file(io.StringIO(text(clean)))
    assert rec.samples == reference.samples == 60_000
    np.testing.assert_array_equal(rec.time_s, reference.time_s)
    np.testing.assert_array_equal(rec.flow_lps, reference.flow_lps)
