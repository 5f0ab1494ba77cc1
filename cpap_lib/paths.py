"""Where the package's data files are: computed here, once, through :mod:`importlib.resources`.

The notebooks, the sample recordings and Voilà's settings ship inside the
package (package data), so an installed wheel finds them exactly as a
checkout does. One copy of each file: ``cpap_lib/notebooks/``,
``cpap_lib/sample_data/``, ``cpap_lib/dashboard/runtime/voila.json``. The
package must be installed as files (a wheel or a checkout), not run from a zip.

>>> (NOTEBOOK_DIR / "monitor.ipynb").is_file(), (SAMPLE_DATA_DIR / "mild_apnea.txt").is_file()
(True, True)
>>> (VOILA_CONFIG_DIR / "voila.json").is_file()
True
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

__all__ = ["PACKAGE_DIR", "NOTEBOOK_DIR", "SAMPLE_DATA_DIR", "VOILA_CONFIG_DIR", "REPO_ROOT"]

PACKAGE_DIR = Path(str(importlib.resources.files("cpap_lib")))
"""The installed ``cpap_lib`` folder."""
NOTEBOOK_DIR = PACKAGE_DIR / "notebooks"
"""The served and batch notebooks (monitor, bedside, explorer, batch_report)."""
SAMPLE_DATA_DIR = PACKAGE_DIR / "sample_data"
"""Simulated recordings with their ground truth (``cpap_lib/sample_data/make_samples.py``)."""
VOILA_CONFIG_DIR = PACKAGE_DIR / "dashboard" / "runtime"
"""The folder holding ``voila.json`` (Voilà's settings; given to Voilà as its config path)."""
REPO_ROOT = PACKAGE_DIR.parent
"""The folder holding ``cpap_lib/``: the repository in a checkout (tests and benchmarks use it for
``../shared``); ``site-packages`` in an installed wheel, so the package itself never uses it."""
