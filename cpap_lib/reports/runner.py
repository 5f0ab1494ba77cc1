"""Batch reports: one papermill run of ``notebooks/batch_report.ipynb`` per patient-night.

The pipeline of :func:`run_reports`:

1. expand the inputs (recording files and globs, or :class:`ReportJob` objects
   such as the server's patient-nights) into jobs, one per report;
2. execute the notebook for each job with papermill on the worker's warm
   kernel (:mod:`cpap_lib.reports.engine`), here (``workers=1``), in a
   process pool (``workers=N``) or on a Dask distributed cluster
   (``scheduler="tcp://host:8786"``);
3. keep every executed notebook (failed ones with their partial outputs) and
   export the successful ones to HTML without code cells;
4. write ``index.html`` (every patient with the key figures, severe ones
   flagged, failures with their error) and ``results.json``.

Everything is built in a staging folder inside ``out_dir`` and then moved in
place, so a re-run replaces the previous outputs cleanly and a crashed run
leaves them untouched. The runner writes only into a new or empty folder or
one it wrote before (:data:`OUTPUT_MARKER`), and there replaces only its own
outputs. On a multi-machine Dask cluster ``out_dir`` and the
recordings must be on a file system every worker sees.

Output layout::

    out_dir/.cpap-lab-report            the marker: this folder is the runner's
    out_dir/index.html                  the overview page
    out_dir/results.json                one record per patient (status, error, timings)
    out_dir/reports/<name>.html         the report, code cells removed
    out_dir/notebooks/<name>.ipynb      the executed notebook (partial if it failed)
    out_dir/summaries/<name>.summary.json   the key figures the notebook handed back

Examples
--------
>>> from cpap_lib.reports.runner import BatchResult
>>> BatchResult(out_dir=Path("out"), results=[], seconds=0.0).exit_status
0
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import logging
import math
import multiprocessing
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..analysis import METHODS
from ..errors import ParameterError, ReportError
from ..paths import NOTEBOOK_DIR
from .index import write_index
from .kernels import KERNEL_START_TIMEOUT_S, current_env_kernel
from .sources import expand_inputs, file_jobs
from .subjects import SUMMARY_SUFFIX, ReportJob

__all__ = ["run_reports", "run_one_report", "cell_seconds", "ReportResult", "BatchResult", "DEFAULT_NOTEBOOK"]

log = logging.getLogger(__name__)

DEFAULT_NOTEBOOK = NOTEBOOK_DIR / "batch_report.ipynb"
"""The report notebook shipped with the project."""
CELL_TIMEOUT_S = 1800
"""Longest one notebook cell may run (an 8-hour night analyzes in well under this)."""
REMOVE_TAG = "remove-in-report"
"""Cells with this tag are left out of the HTML reports (notes for notebook users)."""
_MANAGED = ("reports", "notebooks", "summaries", "index.html", "results.json")
OUTPUT_MARKER = ".cpap-lab-report"
"""File the runner writes into each output folder; it writes only into new or empty folders, or folders with it."""


@dataclass(frozen=True)
class ReportResult:
    """The outcome of one patient's report.

    Attributes
    ----------
    name : str
        The report's name.
    ok : bool
        Whether the notebook ran to the end.
    notebook : str
        Executed notebook, relative to the batch's output folder.
    html : str or None
        HTML report, relative to the output folder (None if it failed).
    summary : dict or None
        Key figures the notebook wrote (``analysis``, ``patient``, ``timings``).
    error : str or None
        ``"ErrorName: message"`` of the failure.
    run_s : float
        Wall time of the papermill run on the warm kernel (its reset included, its start not).
    cells_s : float
        Sum of the notebook's cell execution times.
    tagged_s : dict
        Execution time of the cells with each tag (``imports``, ``analysis`` ...).
    export_s : float
        Time to export the HTML.
    kernel_s : float
        Time to start the worker's kernel and preload its imports, for the
        report that started it (0 for the reports that reused it).
    cpu_s : float
        CPU seconds of the report in the kernel and in the worker (papermill,
        export), the kernel's start included for the report that started it:
        what the report costs on an otherwise idle machine (NaN off Linux).
    job : dict
        What the job named (``room``, ``mrn``, ``night``, ``recording``), so
        a failed report is still listed by patient and night.
    """

    name: str
    ok: bool
    notebook: str
    html: str | None = None
    summary: dict | None = None
    error: str | None = None
    run_s: float = 0.0
    cells_s: float = 0.0
    tagged_s: dict = field(default_factory=dict)
    export_s: float = 0.0
    kernel_s: float = 0.0
    cpu_s: float = 0.0
    job: dict = field(default_factory=dict)

    @property
    def overhead_s(self) -> float:
        """Time of the run outside cells: the kernel's reset and papermill's bookkeeping."""
        return max(self.run_s - self.cells_s, 0.0)


@dataclass
class BatchResult:
    """The outcome of a batch: every patient's :class:`ReportResult`."""

    out_dir: Path
    results: list[ReportResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def succeeded(self) -> list[ReportResult]:
        """Reports that ran to the end."""
        return [r for r in self.results if r.ok]

    @property
    def failed(self) -> list[ReportResult]:
        """Reports that failed (their partial notebooks are kept)."""
        return [r for r in self.results if not r.ok]

    @property
    def index_html(self) -> Path:
        """The overview page."""
        return self.out_dir / "index.html"

    @property
    def exit_status(self) -> int:
        """0 if every report succeeded, else 1."""
        return 1 if self.failed else 0


def cell_seconds(nb: Any) -> tuple[float, dict[str, float]]:
    """Papermill's cell durations in an executed notebook: the total, and per cell tag.

    >>> import nbformat.v4 as v4
    >>> nb = v4.new_notebook(cells=[v4.new_code_cell("1", metadata={"tags": ["imports"], "papermill": {"duration": 1.5}}),
    ...                              v4.new_code_cell("2", metadata={"papermill": {"duration": 0.25}})])
    >>> cell_seconds(nb)
    (1.75, {'imports': 1.5})
    """
    total = 0.0
    tagged: dict[str, float] = {}
    for cell in nb.cells:
        metadata = cell.get("metadata", {})
        duration = float(metadata.get("papermill", {}).get("duration") or 0.0)
        total += duration
        for tag in metadata.get("tags", []):
            tagged[tag] = tagged.get(tag, 0.0) + duration
    return total, tagged


_SCRIPT = re.compile(r"<script\b.*?</script\s*>", re.IGNORECASE | re.DOTALL)


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _output_html(output: Any) -> str:
    """One cell output as HTML: our HTML as it is, images embedded, text escaped in ``<pre>``."""
    import html as html_lib

    kind = output.get("output_type")
    if kind in ("display_data", "execute_result"):
        data = output.get("data", {})
        if "text/html" in data:
            return _SCRIPT.sub("", _text(data["text/html"]))
        if "image/png" in data:
            return f'<img alt="figure" src="data:image/png;base64,{_text(data["image/png"]).strip()}">'
        return f"<pre>{html_lib.escape(_text(data.get('text/plain', '')))}</pre>"
    if kind == "stream":
        return f'<pre class="{output.get("name", "stream")}">{html_lib.escape(_text(output.get("text", "")))}</pre>'
    if kind == "error":
        message = f"{output.get('ename')}: {output.get('evalue')}"
        return f'<pre class="error">{html_lib.escape(message)}</pre>'
    return ""


def _export_html(nb: Any, title: str) -> str:
    """A static, self-contained page of the notebook's outputs: no code, no prompts, our CSS.

    Cells tagged ``remove-in-report`` are left out, Markdown cells rendered
    (mistune, as nbconvert does), code cells replaced by their outputs. No
    script or CDN link (a patient's report must open offline and contact no
    other site; any ``<script>`` in an output is removed). Writing the page
    directly takes milliseconds, where nbconvert's template machinery took a
    good part of a short report's time. :data:`cpap_lib.reports.style.REPORT_CSS`
    styles it for the screen and A4 print.
    """
    import html as html_lib

    import mistune

    from .style import REPORT_CSS

    parts = []
    for cell in nb.cells:
        if REMOVE_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        if cell.cell_type == "markdown":
            parts.append(_SCRIPT.sub("", str(mistune.html(_text(cell.source)))))
        elif cell.cell_type == "code":
            parts.extend(_output_html(output) for output in cell.get("outputs", []))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html_lib.escape(title)}</title><style>{REPORT_CSS}</style></head>"
        f"<body><main>{''.join(parts)}</main></body></html>\n"
    )


@functools.cache
def _preload_code(notebook: str, mtime_ns: int) -> str:
    """The source of the notebook's cells tagged ``imports``: run once when a warm kernel starts."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    return "\n".join(
        cell.source
        for cell in nb.cells
        if cell.cell_type == "code" and "imports" in cell.get("metadata", {}).get("tags", [])
    )


def run_one_report(
    job: ReportJob,
    notebook: str | os.PathLike,
    build_dir: str | os.PathLike,
    *,
    kernel_name: str | None = None,
    cell_timeout_s: float = CELL_TIMEOUT_S,
    token: str = "",
) -> ReportResult:
    """Execute the report notebook for one job into ``build_dir``, on this worker's warm kernel.

    The kernel is started on the worker's first report (and its ``imports``
    cells preloaded) and reused for the next ones (see
    :mod:`cpap_lib.reports.engine`); ``token`` reaches the notebook only
    through the kernel's environment (``$CPAP_LAB_TOKEN``).

    A failure inside the notebook (an unreadable recording, an unreachable
    server, a dead kernel, a cell timeout) is returned as a failed
    :class:`ReportResult` with the partial notebook kept; it is not raised.
    This function runs in worker processes (pool or Dask), so it takes and
    returns only picklable values.
    """
    import nbformat
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    from .engine import ENGINE_NAME, discard_warm_kernel, warm_kernel

    build = Path(build_dir)
    for sub in ("notebooks", "reports", "summaries"):
        (build / sub).mkdir(parents=True, exist_ok=True)
    notebook = Path(notebook).resolve()
    notebook_rel = f"notebooks/{job.name}.ipynb"
    output = build / notebook_rel
    summary_path = build / "summaries" / f"{job.name}{SUMMARY_SUFFIX}"
    error = None
    cpu_started = time.process_time()
    warm, started_here = warm_kernel(
        kernel_name or current_env_kernel(),
        os.fspath(notebook.parent),
        token=token,
        preload=_preload_code(os.fspath(notebook), notebook.stat().st_mtime_ns),
    )
    kernel_s = warm.start_s + warm.preload_s if started_here else 0.0
    kernel_cpu = 0.0 if started_here else warm.cpu_s()
    facts = {
        "room": job.room,
        "mrn": job.mrn,
        "night": job.night,
        "recording": os.path.basename(os.path.normpath(job.recording_path)) if job.recording_path else "",
    }
    started = time.perf_counter()
    try:
        papermill.execute_notebook(
            os.fspath(notebook),
            os.fspath(output),
            parameters=job.notebook_parameters(build / "summaries"),
            kernel_name=warm.kernel_name,
            progress_bar=False,
            cwd=os.fspath(notebook.parent),
            execution_timeout=cell_timeout_s,
            start_timeout=KERNEL_START_TIMEOUT_S,
            request_save_on_cell_execute=False,
            engine_name=ENGINE_NAME,
            warm=warm,
            partial_path=os.fspath(output),
        )
    except papermill.PapermillExecutionError as exc:
        error = f"{exc.ename}: {exc.evalue}"
    except (DeadKernelError, CellTimeoutError) as exc:
        error = f"{type(exc).__name__}: {exc}"
        discard_warm_kernel(warm)  # dead, or still busy with the timed-out cell
    run_s = time.perf_counter() - started
    kernel_cpu = warm.cpu_s() - kernel_cpu if warm.km is not None else math.nan
    nb = nbformat.read(output, as_version=4)
    cells_s, tagged_s = cell_seconds(nb)
    if error is not None:
        log.info("report %s failed: %s", job.name, error)
        return ReportResult(
            name=job.name,
            ok=False,
            notebook=notebook_rel,
            error=error,
            run_s=run_s,
            cells_s=cells_s,
            tagged_s=tagged_s,
            kernel_s=kernel_s,
            job=facts,
            cpu_s=kernel_cpu + time.process_time() - cpu_started,
        )
    started = time.perf_counter()
    html_rel = f"reports/{job.name}.html"
    (build / html_rel).write_text(_export_html(nb, job.name), encoding="utf-8")
    export_s = time.perf_counter() - started
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.exists() else None
    return ReportResult(
        name=job.name,
        ok=True,
        notebook=notebook_rel,
        html=html_rel,
        summary=summary,
        run_s=run_s,
        cells_s=cells_s,
        tagged_s=tagged_s,
        export_s=export_s,
        kernel_s=kernel_s,
        job=facts,
        cpu_s=kernel_cpu + time.process_time() - cpu_started,
    )


def _jobs_from(
    inputs: Iterable[str | os.PathLike | ReportJob], method: str, params: Mapping[str, Any] | None
) -> list[ReportJob]:
    jobs = [item for item in inputs if isinstance(item, ReportJob)]
    paths = [item for item in inputs if not isinstance(item, ReportJob)]
    jobs += file_jobs(expand_inputs(paths), method=method, params=params) if paths else []
    names = [job.name for job in jobs]
    if len(set(names)) != len(names):
        raise ParameterError(
            "inputs", f"report names must be unique, got {sorted(n for n in set(names) if names.count(n) > 1)}"
        )
    if not jobs:
        raise ParameterError("inputs", "no recording or server patient to report on")
    return jobs


class _Progress:
    """The tqdm bar, opened by :meth:`start` (after any fork: tqdm runs a monitor thread)."""

    def __init__(self, total: int, enabled: bool | None) -> None:
        self.total, self.enabled, self.failed = total, enabled, 0
        self.bar: Any = None

    def start(self) -> None:
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=self.total,
                unit="report",
                desc="reports",
                disable=None if self.enabled is None else not self.enabled,
            )

    def done(self, result: ReportResult) -> None:
        self.start()
        self.failed += not result.ok
        self.bar.update(1)
        self.bar.set_postfix(failed=self.failed)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _pool_context() -> multiprocessing.context.BaseContext:
    """``fork`` when this process runs no other thread, else ``spawn``.

    Forked workers start at once with papermill and mistune already
    imported (a spawned worker spends seconds importing them); forking a
    process that runs threads (a Jupyter kernel, a Dask client) can deadlock,
    so such callers get ``spawn``.
    """
    import mistune  # noqa: F401  (imported here once, inherited by forked workers)
    import papermill  # noqa: F401

    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _run_local(
    jobs: Sequence[ReportJob],
    notebook: Path,
    build: Path,
    kernel: str,
    workers: int,
    token: str,
    progress: _Progress,
    on_done: Callable[[ReportResult], None],
) -> None:
    """Run here (``workers == 1``) or in a process pool; each worker's kernel is shut down at its end."""
    if workers == 1:
        from .engine import shutdown_warm_kernels

        progress.start()
        try:
            for job in jobs:
                on_done(run_one_report(job, notebook, build, kernel_name=kernel, token=token))
        finally:
            shutdown_warm_kernels()
        return
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
        futures = [pool.submit(run_one_report, job, notebook, build, kernel_name=kernel, token=token) for job in jobs]
        progress.start()
        for future in concurrent.futures.as_completed(futures):
            on_done(future.result())


def _run_dask(
    jobs: Sequence[ReportJob],
    notebook: Path,
    build: Path,
    scheduler: str,
    token: str,
    on_done: Callable[[ReportResult], None],
) -> None:
    """Run on a Dask cluster; the workers' kernels are shut down at the end of the batch."""
    from distributed import Client, KilledWorker, as_completed

    from .engine import shutdown_warm_kernels

    with Client(scheduler, set_as_default=False) as client:
        batch = uuid.uuid4().hex[:8]
        futures = {
            client.submit(
                run_one_report,
                job,
                os.fspath(notebook),
                os.fspath(build),
                token=token,
                pure=False,
                key=f"report-{job.name}-{batch}",
            ): job
            for job in jobs
        }
        try:
            for future in as_completed(futures, loop=client.loop):
                job = futures[future]
                try:
                    on_done(future.result())
                except KilledWorker as exc:  # the worker died: the others go on
                    on_done(
                        ReportResult(
                            name=job.name,
                            ok=False,
                            notebook=f"notebooks/{job.name}.ipynb",
                            error=f"KilledWorker: {exc}",
                        )
                    )
        finally:
            client.run(shutdown_warm_kernels)


def _check_out_dir(out: Path) -> None:
    """Refuse an output folder the runner did not create (it would replace files there).

    >>> _check_out_dir(Path(__file__).parent)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cpap_lib.errors.ParameterError: out: ... is not empty and was not written by cpap-lab report (no .cpap-lab-report file in it): give a new or empty folder
    """
    if out.exists() and not out.is_dir():
        raise ParameterError("out", f"{out} exists and is not a folder")
    marker = out / OUTPUT_MARKER
    if out.is_dir() and not (marker.is_file() and not marker.is_symlink()) and any(out.iterdir()):
        raise ParameterError(
            "out",
            f"{out} is not empty and was not written by cpap-lab report (no {OUTPUT_MARKER} "
            "file in it): give a new or empty folder",
        )


def _claim_out_dir(out: Path) -> None:
    """Create ``out`` (checked by :func:`_check_out_dir`) and mark it as the runner's."""
    out.mkdir(parents=True, exist_ok=True)
    (out / OUTPUT_MARKER).write_text(
        "Written by cpap-lab report. A re-run replaces only its own outputs here: " + ", ".join(_MANAGED) + "\n",
        encoding="utf-8",
    )


def _replace_outputs(build: Path, out_dir: Path) -> None:
    """Move the staged outputs over the previous run's ones (only the runner's own names; other files stay)."""
    for name in _MANAGED:
        target, staged = out_dir / name, build / name
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)
        if staged.exists():
            staged.rename(target)
    shutil.rmtree(build)


def run_reports(
    inputs: Iterable[str | os.PathLike | ReportJob],
    out_dir: str | os.PathLike,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    params: Mapping[str, Any] | None = None,
    method: str = "amplitude",
    notebook: str | os.PathLike = DEFAULT_NOTEBOOK,
    progress: bool | None = None,
    server_url: str | None = None,
    rooms: Sequence[int | str] | None = None,
    token: str = "",
    night: str | None = None,
) -> BatchResult:
    """Produce one report per patient and an ``index.html`` in ``out_dir``.

    Parameters
    ----------
    inputs : iterable of str, path or ReportJob
        Recording files, folders or globs (``**`` allowed), and/or ready jobs
        (e.g. :func:`cpap_lib.reports.server_source.server_jobs` for a server's rooms).
    out_dir : str or path
        Output folder: new, empty, or written by an earlier run (it holds
        :data:`OUTPUT_MARKER`); that run's outputs are replaced, other files
        in it are left alone.
    workers : int
        Reports run at the same time on this machine (process pool when > 1).
    scheduler : str, optional
        Address of a Dask distributed scheduler (``"tcp://host:8786"``); the
        reports then run on its workers and ``workers`` is ignored.
    params : mapping, optional
        Keyword arguments of :func:`cpap_lib.analysis.analyze` for file inputs.
    method : str
        Analysis method for file inputs (``"amplitude"`` or ``"gap"``).
    notebook : str or path
        The report notebook (default: ``notebooks/batch_report.ipynb``).
    progress : bool, optional
        Show a tqdm progress bar (default: only on a terminal).
    server_url : str, optional
        Also report on this server's patients: every room with a patient, or
        only ``rooms`` (see :func:`cpap_lib.reports.server_source.server_jobs`).
    rooms : sequence of int, optional
        The server rooms to report on (default: all with a patient).
    token : str
        API token for ``server_url``.
    night : str, optional
        The night to report on for server patients (ISO date of the evening,
        lab time); default each patient's latest night.

    Returns
    -------
    BatchResult
        One :class:`ReportResult` per patient, in input order.

    Raises
    ------
    ParameterError
        For unknown inputs, no inputs, an unknown method, ``workers < 1``, or
        an ``out_dir`` that is not empty and not the runner's.
    ApiError
        If ``server_url`` cannot be reached or refuses the token.
    ReportError
        If the notebook does not exist.
    """
    if workers < 1:
        raise ParameterError("workers", f"must be at least 1, got {workers}")
    if method not in METHODS:
        raise ParameterError("method", f"must be one of {', '.join(METHODS)}, got {method!r}")
    notebook = Path(notebook).resolve()
    if not notebook.is_file():
        raise ReportError(f"report notebook {notebook} does not exist")
    out = Path(out_dir).resolve()
    _check_out_dir(out)
    inputs = list(inputs)
    if server_url:
        from .server_source import server_jobs

        inputs += server_jobs(server_url, token=token, rooms=rooms, method=method, night=night)
    jobs = _jobs_from(inputs, method, params)
    _claim_out_dir(out)
    build = out / f".staging-{uuid.uuid4().hex[:12]}"
    build.mkdir()
    started = time.perf_counter()
    results: dict[str, ReportResult] = {}
    bar = _Progress(len(jobs), progress)

    def on_done(result: ReportResult) -> None:
        results[result.name] = result
        bar.done(result)

    try:
        if scheduler:
            bar.start()
            _run_dask(jobs, notebook, build, scheduler, token, on_done)
        else:
            _run_local(jobs, notebook, build, current_env_kernel(), min(workers, len(jobs)), token, bar, on_done)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    finally:
        bar.close()
    batch = BatchResult(out_dir=out, results=[results[job.name] for job in jobs], seconds=time.perf_counter() - started)
    write_index(build / "index.html", batch.results)
    (build / "results.json").write_text(
        json.dumps([asdict(r) for r in batch.results], indent=1, default=str), encoding="utf-8"
    )
    _replace_outputs(build, out)
    log.info("%d reports in %.1f s, %d failed", len(jobs), batch.seconds, len(batch.failed))
    return batch
