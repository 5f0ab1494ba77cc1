"""Batch reports: one papermill run of ``notebooks/batch_report.ipynb`` per patient.

- :mod:`~cpap_lib.reports.runner`: the batch (jobs, papermill, process pool or Dask, HTML export);
- :mod:`~cpap_lib.reports.kernels`: the kernels the notebooks run in;
- :mod:`~cpap_lib.reports.subjects`: the job and subject types every source shares;
- :mod:`~cpap_lib.reports.sources`: recording files (and the notebook's entry point);
- :mod:`~cpap_lib.reports.server_source`: the server's patients;
- :mod:`~cpap_lib.reports.figures`: matplotlib figures and tables of a report;
- :mod:`~cpap_lib.reports.index`: the batch's ``index.html``.

Examples
--------
>>> from cpap_lib.reports import run_reports, DEFAULT_NOTEBOOK
>>> DEFAULT_NOTEBOOK.name
'batch_report.ipynb'
"""

from .kernels import current_env_kernel
from .runner import DEFAULT_NOTEBOOK, BatchResult, ReportResult, cell_seconds, run_one_report, run_reports

__all__ = [
    "run_reports",
    "run_one_report",
    "current_env_kernel",
    "cell_seconds",
    "ReportResult",
    "BatchResult",
    "DEFAULT_NOTEBOOK",
]
