"""The reader for the lab's 100 Hz venturi text files: :func:`read_lab_file` -> :class:`~cpap_lib.recording.Recording`.

The lab format is a header line, then rows of seven comma-separated numbers::

    Time [s], V1-P2, V1-P1-Ins, V1-P1-Exp, V2-P2, V2-P1-Ins, V2-P1-Exp   (ADC counts)

Rows that cannot be used (empty field, NaN, text, wrong number of fields, a
fraction where an ADC integer belongs) are skipped and reported with their
1-based physical line numbers (the header is line 1).

The file is parsed typed (float time, int32 counts) in blocks of whole lines,
a few blocks at a time in threads; only a block holding a bad row goes through
the validating parser. A file with a few bad rows so costs about what a clean
one does.

Examples
--------
>>> import io
>>> from cpap_lib.io.lab_text import read_lab_file
>>> text = "Time [s],a,b,c,d,e,f\\n" + "".join(
...     f"{i / 100:.2f},5000,{5021 if i % 200 < 100 else 1638},"
...     f"{1638 if i % 200 < 100 else 5021},5000,5000,1638\\n" for i in range(1000))
>>> rec = read_lab_file(io.StringIO(text + "10.00,5000,,1638,5000,5000,1638\\n"))
>>> rec.samples, rec.fs_hz, rec.skipped_rows, rec.skipped_lines
(1000, 100.0, 1, (1002,))
"""

from __future__ import annotations

import collections
import io
import os
from collections.abc import Iterator
from typing import IO, Any

import numpy as np

from ..analysis.flow import adc_to_cmh2o, lab_flow_lps
from ..errors import RecordingError
from ..recording import Recording

__all__ = ["read_lab_file", "LAB_COLUMNS", "MAX_REPORTED_LINES"]

LAB_COLUMNS = ("time_s", "v1_p2", "v1_p1_ins", "v1_p1_exp", "v2_p2", "v2_p1_ins", "v2_p1_exp")
MAX_REPORTED_LINES = 10
"""How many skipped line numbers a recording keeps (the count is always exact)."""
MIN_DURATION_S = 5.0
"""A recording shorter than this cannot hold a breath."""
_ADC_MIN, _ADC_MAX = 0, 65535


def _source_name(src: Any) -> str:
    if isinstance(src, (str, os.PathLike)):
        return str(src)
    return str(getattr(src, "name", "<stream>"))


def _read_bytes(src: str | os.PathLike | IO, name: str) -> bytes:
    if isinstance(src, (str, os.PathLike)):
        return _read_head(src, name, size=-1)
    data = src.read()
    if isinstance(data, str):
        data = data.encode("utf-8", errors="replace")
    return bytes(data)


def _read_head(path: str | os.PathLike, name: str, size: int = 65536) -> bytes:
    """The first ``size`` bytes of a file, with read errors as RecordingError."""
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except FileNotFoundError:
        raise RecordingError("file not found", file=name) from None
    except IsADirectoryError:
        raise RecordingError("is a directory, not a lab recording file", file=name) from None
    except OSError as exc:
        raise RecordingError(f"cannot be read ({exc.strerror})", file=name) from None


BLOCK_BYTES = 1 << 18
"""Bytes per block of the typed parse (whole lines). A block with a bad row is parsed again by the validating
parser, alone: about twice a typed parse of 256 KiB (a few ms), whatever the size of the file."""


def _typed_block(block: bytes) -> Any:
    """Parse a block of whole lines typed (float time, int32 counts) into a ``pyarrow.Table``; None if anything is off.

    Empty lines, wrong field counts, empty fields, text, fractions in ADC
    columns and counts outside 0-65535 all make it give up, so the caller can
    hand the block to :func:`_robust_parse`, which reports the bad rows
    with their line numbers.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv

    try:
        table = csv.read_csv(
            pa.py_buffer(block),
            read_options=csv.ReadOptions(
                column_names=list(LAB_COLUMNS), use_threads=False, block_size=max(len(block) + 1, 1 << 16)
            ),
            parse_options=csv.ParseOptions(ignore_empty_lines=False),  # any wrong row raises
            convert_options=csv.ConvertOptions(
                column_types={c: (pa.float64() if i == 0 else pa.int32()) for i, c in enumerate(LAB_COLUMNS)}
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError, ValueError, OSError):
        return None
    if table.num_rows == 0 or any(table.column(i).null_count for i in range(7)):
        return None
    if not np.isfinite(table.column(0).to_numpy()).all():
        return None
    for i in range(1, 7):
        lo, hi = pc.min_max(table.column(i)).values()
        if lo.as_py() < _ADC_MIN or hi.as_py() > _ADC_MAX:
            return None
    return table


_Parsed = tuple[np.ndarray, list[np.ndarray], np.ndarray]
"""(time_s, the kept ADC columns as int32, 1-based line numbers of the bad rows) of a piece of the file."""


def _parse_block(block: bytes, first_line: int, columns: int) -> _Parsed:
    """Parse a block of whole lines starting at line ``first_line``, keeping ADC columns 1..``columns``.

    Typed first; only if that fails does the validating parser read the block
    and find its bad rows by line. (Splitting a failing block further was
    measured: it saves nothing, each extra pyarrow call costs as much as it spares.)
    """
    table = _typed_block(block)
    if table is not None:
        return (
            table.column(0).to_numpy(),
            [table.column(i).to_numpy() for i in range(1, columns + 1)],
            np.zeros(0, dtype=np.int64),
        )
    values, bad = _robust_parse(block, first_line)
    return (
        np.ascontiguousarray(values[:, 0]),
        [values[:, i].astype(np.int32) for i in range(1, columns + 1)],  # validated counts 0-65535
        bad,
    )


def _line_blocks(stream: IO[bytes], first_line: int) -> Iterator[tuple[bytes, int]]:
    """``(block, its first line number)``: about :data:`BLOCK_BYTES` each, cut after a line break."""
    carry = b""
    line = first_line
    while True:
        chunk = stream.read(BLOCK_BYTES)
        if not chunk:
            break
        data = carry + chunk if carry else chunk
        cut = data.rfind(b"\n") + 1
        if cut == 0:  # no line break yet: keep reading
            carry = data
            continue
        block, carry = data[:cut], data[cut:]
        yield block, line
        line += block.count(b"\n")
    if carry:
        yield carry, line


def _parse_body(stream: IO[bytes], first_line: int, columns: int) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Parse every row of ``stream`` (positioned after the header) in blocks, two or more at a time in threads.

    pyarrow releases the GIL while it parses, so the blocks of one file use
    every core; at most ``2 x workers`` blocks are held at once.
    """
    from concurrent.futures import ThreadPoolExecutor

    workers = max(1, min(4, os.cpu_count() or 1))
    pieces: list[_Parsed] = []
    with ThreadPoolExecutor(workers, thread_name_prefix="lab-reader") as pool:
        pending: collections.deque = collections.deque()
        for block, line in _line_blocks(stream, first_line):
            pending.append(pool.submit(_parse_block, block, line, columns))
            if len(pending) >= 2 * workers:
                pieces.append(pending.popleft().result())
        while pending:
            pieces.append(pending.popleft().result())
    if not pieces:
        return np.zeros(0), [np.zeros(0, dtype=np.int32) for _ in range(columns)], np.zeros(0, dtype=np.int64)
    time_s = np.concatenate([p[0] for p in pieces])
    adc = [np.concatenate([p[1][i] for p in pieces]) for i in range(columns)]
    bad = np.concatenate([p[2] for p in pieces]).astype(np.int64)
    return time_s, adc, bad


_FLOAT_RE = r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$"
# every byte to plain ASCII: control and non-ASCII bytes become "?" (never a valid number);
# CR, tab and space are deleted (they never matter between commas)
_SANITIZE = bytes(b if (32 < b < 127 or b == 10) else 63 for b in range(256))


def _robust_parse(body: bytes, first_line: int) -> tuple[np.ndarray, np.ndarray]:
    """Parse any body; return (good rows as an (n, 7) float array, 1-based line numbers of bad rows).

    Vectorized throughout: field counts per line come from ``np.add.reduceat``
    over byte masks; pyarrow parses the lines with seven fields as strings,
    which are validated (digits only in ADC columns, a number in the time
    column) before conversion.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv

    body = body.translate(_SANITIZE, b"\r\t ")
    raw = np.frombuffer(body, dtype=np.uint8)
    ends = np.flatnonzero(raw == 10)
    if raw.size and raw[-1] != 10:
        ends = np.append(ends, raw.size)
    starts = np.concatenate(([0], ends[:-1] + 1))
    nonempty = ends > starts
    commas = np.zeros(ends.size, dtype=np.int32)
    if nonempty.any():  # reduceat over non-empty lines only (an empty segment would read the next byte)
        commas[nonempty] = np.add.reduceat(raw == 44, starts[nonempty], dtype=np.int32)
    line_no = np.arange(ends.size) + first_line
    candidate = nonempty & (commas == 6)
    bad_lines = [line_no[nonempty & (commas != 6)]]
    if not candidate.any():
        return np.zeros((0, 7)), np.sort(bad_lines[0])

    table = csv.read_csv(
        pa.py_buffer(body),
        read_options=csv.ReadOptions(column_names=list(LAB_COLUMNS)),
        parse_options=csv.ParseOptions(quote_char=False, invalid_row_handler=lambda row: "skip"),
        convert_options=csv.ConvertOptions(
            column_types={c: pa.string() for c in LAB_COLUMNS}, strings_can_be_null=False
        ),
    )
    cand_lines = line_no[candidate]
    if table.num_rows != cand_lines.size:
        raise RecordingError("could not split the file into rows (binary or corrupt data?)")
    ok = np.ones(table.num_rows, dtype=bool)
    values = np.empty((table.num_rows, 7), dtype=np.float64)
    for i in range(7):
        col = table.column(i)
        valid = pc.match_substring_regex(col, _FLOAT_RE) if i == 0 else pc.utf8_is_digit(col)
        values[:, i] = pc.cast(pc.if_else(valid, col, pa.scalar("0")), pa.float64()).to_numpy(zero_copy_only=False)
        ok &= valid.to_numpy(zero_copy_only=False)
    adc = values[:, 1:]
    ok &= np.isfinite(values[:, 0]) & (adc <= _ADC_MAX).all(axis=1)
    bad_lines.append(cand_lines[~ok])
    return values[ok], np.sort(np.concatenate(bad_lines))


def read_lab_file(src: str | os.PathLike | IO, *, keep_adc: bool = False) -> Recording:
    """Read one of the lab's 100 Hz venturi text files.

    Parameters
    ----------
    src : path or file-like
        The file, or an open text/binary stream.
    keep_adc : bool
        Also keep the six raw ADC columns in ``channels`` (costs memory).

    Returns
    -------
    Recording
        With ``flow_lps`` from the patient-side venturi (V1) and
        ``pressure_cmh2o`` from its throat port.

    Raises
    ------
    RecordingError
        Empty file, header only, no valid rows, time not increasing, or too
        short to hold a breath; the message names the file and the reason.
    """
    name = _source_name(src)
    is_path = isinstance(src, (str, os.PathLike))
    data = None if is_path else _read_bytes(src, name)
    head = _read_head(src, name) if isinstance(src, (str, os.PathLike)) else data[:65536]
    if head.startswith(b"\xef\xbb\xbf") or not head.strip():  # rare: work on the whole bytes
        data = (_read_bytes(src, name) if data is None else data).removeprefix(b"\xef\xbb\xbf")
        head = data[:65536]
        if not data.strip():
            raise RecordingError("the file is empty", file=name)
    if b"\x00" in head[:4096]:
        raise RecordingError("binary data, not a lab text recording", file=name)
    first_nl = head.find(b"\n")
    header = head if first_nl < 0 else head[:first_nl]
    try:
        [float(f) for f in header.decode("latin-1").split(",")]
        has_header = False  # no header: the first line is data
    except ValueError:
        has_header = True

    columns = 6 if keep_adc else 3  # only the patient venturi's counts are needed unless asked
    with open(src, "rb") if data is None else io.BytesIO(data) as stream:  # type: ignore[arg-type]
        if has_header:
            stream.readline()
        try:
            time_s, adc, bad = _parse_body(stream, 2 if has_header else 1, columns)
        except RecordingError as exc:
            raise RecordingError(exc.reason, file=name) from None
    if time_s.size == 0:
        if bad.size == 0:
            raise RecordingError("header only, no data rows", file=name)
        raise RecordingError(f"no valid data rows ({bad.size} malformed)", file=name)

    steps = np.diff(time_s)
    if steps.size and (steps <= 0).any():
        first = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise RecordingError(
            f"time is not increasing (t={time_s[first]:g} s follows t={time_s[first - 1]:g} s)", file=name
        )
    if steps.size == 0:
        raise RecordingError("only one valid row; too short to hold a breath", file=name)
    fs_hz = float(np.round(1.0 / np.median(steps[:100_000]), 6))  # a prefix tells the rate as well as the whole
    duration = time_s.size / fs_hz
    if duration < MIN_DURATION_S:
        raise RecordingError(
            f"too short to hold a breath ({duration:.1f} s; at least {MIN_DURATION_S:g} s needed)", file=name
        )

    flow = lab_flow_lps(adc[0], adc[1], adc[2])
    pressure = adc_to_cmh2o(adc[0])
    channels = dict(zip(LAB_COLUMNS[1:], adc)) if keep_adc else {}
    return Recording(
        time_s=time_s,
        flow_lps=flow,
        fs_hz=fs_hz,
        source=name,
        pressure_cmh2o=pressure,
        skipped_rows=int(bad.size),
        skipped_lines=tuple(int(x) for x in bad[:MAX_REPORTED_LINES]),
        channels=channels,
        meta={"format": "lab-venturi"},
    )
