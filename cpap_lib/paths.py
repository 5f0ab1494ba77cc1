"""Where the repository's files outside the package are: computed here, once.

The notebooks, sample data and Voilà configuration sit beside ``cpap_lib/`` in
the repository (an editable install, as ``make run`` and ``make test`` do).

>>> (REPO_ROOT / "cpap_lib" / "paths.py").is_file()
True
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["REPO_ROOT", "NOTEBOOK_DIR", "SAMPLE_DATA_DIR"]

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The repository: the folder holding ``cpap_lib/``, ``notebooks/``, ``sample_data/``, ``voila.json``."""
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
"""The served and batch notebooks."""
SAMPLE_DATA_DIR = REPO_ROOT / "sample_data"
"""Simulated recordings with their ground truth (``sample_data/make_samples.py``)."""
