"""The allowed values the whole product enforces: one definition for the server, client and dashboards.

Examples
--------
>>> import re
>>> from cpap_lib.limits import MRN_PATTERN, PRESSURE_MAX_CMH2O, PRESSURE_MIN_CMH2O
>>> (PRESSURE_MIN_CMH2O, PRESSURE_MAX_CMH2O)
(4, 25)
>>> bool(re.match(MRN_PATTERN, "BR-001")), bool(re.match(MRN_PATTERN, "-x"))
(True, False)
"""

from __future__ import annotations

__all__ = ["PRESSURE_MIN_CMH2O", "PRESSURE_MAX_CMH2O", "ROOM_MIN", "ROOM_MAX", "MRN_MAX_LENGTH", "MRN_PATTERN"]

PRESSURE_MIN_CMH2O, PRESSURE_MAX_CMH2O = 4, 25
"""Commandable CPAP pressures, whole cmH2O (inclusive)."""
ROOM_MIN, ROOM_MAX = 1, 99_999
"""Room numbers (inclusive)."""
MRN_MAX_LENGTH = 32
MRN_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9_.-]{{0,{MRN_MAX_LENGTH - 1}}}$"
"""A medical record number: letters and digits, then also ``_ . -``; at most 32 characters."""
