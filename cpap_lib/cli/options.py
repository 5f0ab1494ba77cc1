"""The analysis options every analysing ``cpap-lab`` subcommand accepts."""

from __future__ import annotations

import argparse

from ..analysis import DEFAULT_PARAMS, HYPOPNEA_RULES, METHODS, PARAM_RANGES

__all__ = ["add_analysis_arguments", "analysis_params"]


def add_analysis_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--method``, ``--hypopnea-rule`` and one ``--<parameter>`` option per analysis parameter."""
    parser.add_argument(
        "--method",
        choices=METHODS,
        default="amplitude",
        help="apnea rule: AASM amplitude (default) or the old system's gap rule",
    )
    parser.add_argument(
        "--hypopnea-rule",
        choices=HYPOPNEA_RULES,
        default=None,
        help="hypopnea rule of the AHI: flow_50pct (flow only, device-comparable; the default "
        "without oximetry), aasm_3pct (the default with SpO2), cms_4pct, or the exploratory "
        "candidates_30pct (no AHI)",
    )
    for name, default in DEFAULT_PARAMS.items():
        lo, hi = PARAM_RANGES[name]
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            type=float,
            default=None,
            metavar="X",
            help=f"{lo:g} to {hi:g}, default {default:g}",
        )


def analysis_params(args: argparse.Namespace) -> dict:
    """The analysis parameters given on the command line (unset ones left to the defaults).

    ``hypopnea_rule`` is included when ``--hypopnea-rule`` was given.
    """
    params: dict = {k: getattr(args, k) for k in DEFAULT_PARAMS if getattr(args, k) is not None}
    if getattr(args, "hypopnea_rule", None):
        params["hypopnea_rule"] = args.hypopnea_rule
    return params
