"""A whole ResMed card: our scoring against the device's, night by night and across nights.

Per night (:class:`NightAgreement`):

AHI
    ``our_ahi`` (our analysis: the rule named in ``ahi_rule``, per hour of
    flow), ``device_eve_ahi`` (the device's apneas and hypopneas in its
    EVE files, per hour of flow) and ``device_str_ahi`` (the AHI the device
    wrote in STR.edf for the day, per hour of mask-on time).
events
    Apneas and hypopneas matched event by event within ``tolerance_s``
    (default 5 s): sensitivity, PPV and F1 (:mod:`cpap_lib.analysis.compare`).
breath rate, tidal volume
    Median absolute difference from the device's RespRate / TidVol trends and
    the share within 1 breath/min / 0.1 L.

Across nights: the bias and 95 % limits of agreement (Bland-Altman,
:mod:`cpap_lib.analysis.agreement`) of our AHI against the EVE AHI and
against the STR AHI; :meth:`CardComparison.figure` draws them.

Examples
--------
>>> row = NightAgreement(night="2024-10-17", hours=8.9, our_ahi=12.0, device_eve_ahi=0.3)
>>> card = CardComparison(source="card", nights=[row])
>>> card.vs_eve.n, card.vs_eve.bias
(1, 11.7)
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CpapError, DeviceDataError, ParameterError
from ..io.resmed import DeviceCard, read_card
from ..jsonable import jsonable
from .agreement import BlandAltman, bland_altman, bland_altman_figure
from .card import DEFAULT_AHI_RULE
from .compare import EVENT_GROUPS, RATE_WINDOW_S, TOLERANCE_S, compare

__all__ = ["NightAgreement", "CardComparison", "compare_card"]


@dataclass
class NightAgreement:
    """One night of :func:`compare_card` (see the module docstring)."""

    night: str
    hours: float = float("nan")
    sessions: int = 0
    our_ahi: float = float("nan")
    ahi_rule: str = DEFAULT_AHI_RULE
    device_eve_ahi: float = float("nan")
    device_str_ahi: float = float("nan")
    events: dict[str, dict] = field(default_factory=dict)
    breath_rate: dict = field(default_factory=dict)
    tidal_volume: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))


@dataclass
class CardComparison:
    """Every night of a card compared, and the AHI agreement across them."""

    source: str
    nights: list[NightAgreement]
    device: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    def _pairs(self, attr: str) -> tuple[list[float], list[float], list[str]]:
        rows = [r for r in self.nights if r.error is None]
        return [r.our_ahi for r in rows], [getattr(r, attr) for r in rows], [r.night for r in rows]

    @property
    def vs_eve(self) -> BlandAltman:
        """Our AHI against the device's EVE events per hour of flow."""
        ours, device, _ = self._pairs("device_eve_ahi")
        return bland_altman(ours, device)

    @property
    def vs_str(self) -> BlandAltman:
        """Our AHI against STR.edf's AHI."""
        ours, device, _ = self._pairs("device_str_ahi")
        return bland_altman(ours, device)

    def figure(self, against: str = "eve"):
        """The Bland-Altman figure of our AHI against the device's (``"eve"`` or ``"str"``)."""
        if against not in ("eve", "str"):
            raise ValueError(f"against must be 'eve' or 'str', got {against!r}")
        ours, device, labels = self._pairs(f"device_{against}_ahi")
        result = bland_altman(ours, device)
        name = "EVE events" if against == "eve" else "STR.edf"
        return bland_altman_figure(
            result,
            quantity="AHI (events/h)",
            labels=labels,
            title=f"Our AHI vs the device's ({name}), {result.n} nights",
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "device": dict(self.device),
            "settings": jsonable(dict(self.settings)),
            "nights": [r.to_dict() for r in self.nights],
            "ahi_agreement": {"vs_eve": self.vs_eve.to_dict(), "vs_str": self.vs_str.to_dict()},
        }

    def summary(self) -> str:
        """What ``cpap-lab compare CARD`` prints."""

        def num(x: float | None, fmt: str) -> str:
            return "-" if x is None or not math.isfinite(x) else format(x, fmt)

        def ev(r: NightAgreement, group: str) -> str:
            e = r.events.get(group, {})
            return (
                f"{e.get('device_found', 0)}/{e.get('device_count', 0)} "
                f"F1 {num(e.get('f1') if e.get('f1') is not None else float('nan'), '.2f')}"
            )

        out = [
            f"{self.source}: our scoring vs the device's, {len(self.nights)} night{'s' if len(self.nights) != 1 else ''}"
            + (
                f" [{self.device.get('product_name', '')} {self.device.get('serial_number', '')}]".rstrip()
                if self.device
                else ""
            ),
            f"{'night':<10}  {'hours':>5}  {'AHI ours':>8}  {'EVE':>5}  {'STR':>5}  {'apneas found':>15}  "
            f"{'hypopneas found':>15}  {'rate |d|':>8}  {'TV |d| L':>8}",
        ]
        for r in self.nights:
            if r.error:
                out.append(f"{r.night:<10}  not compared: {r.error}")
                continue
            out.append(
                f"{r.night:<10}  {num(r.hours, '.2f'):>5}  {num(r.our_ahi, '.1f'):>8}  {num(r.device_eve_ahi, '.1f'):>5}  "
                f"{num(r.device_str_ahi, '.1f'):>5}  {ev(r, 'apnea'):>15}  {ev(r, 'hypopnea'):>15}  "
                f"{num(r.breath_rate.get('median_abs_diff') or float('nan'), '.2f'):>8}  "
                f"{num(r.tidal_volume.get('median_abs_diff') or float('nan'), '.3f'):>8}"
            )
        for label, ba in (("EVE", self.vs_eve), ("STR", self.vs_str)):
            out.append(
                f"AHI ours - device ({label}) over {ba.n} nights: bias {num(ba.bias, '+.2f')}/h, "
                f"limits of agreement {num(ba.loa_low, '+.2f')} to {num(ba.loa_high, '+.2f')}/h"
            )
        rules = sorted({r.ahi_rule for r in self.nights if r.error is None})
        if rules:
            out.append(
                "our AHI: "
                + "; ".join(rules)
                + f"; events matched within +-{self.settings.get('tolerance_s', TOLERANCE_S):g} s"
            )
        for r in self.nights:
            out += [f"{r.night}: {note}" for note in r.notes]
        return "\n".join(out)


def _our_ahi(analyses) -> tuple[float, str]:
    total_s = sum(a.recording.duration_s for a in analyses)
    if not total_s:
        return float("nan"), DEFAULT_AHI_RULE
    dicts = [a.to_dict() for a in analyses]
    weighted = sum((d.get("ahi") or 0.0) * a.recording.duration_s for d, a in zip(dicts, analyses))
    return weighted / total_s, dicts[0].get("ahi_rule") or DEFAULT_AHI_RULE


def compare_card(
    card: DeviceCard | str | os.PathLike,
    *,
    method: str = "amplitude",
    tolerance_s: float = TOLERANCE_S,
    rate_window_s: float = RATE_WINDOW_S,
    **params: float,
) -> CardComparison:
    """Compare every night of a card (read one at a time) with the device's scoring.

    A night that cannot be read or analysed gets a row with ``error``; it
    never stops the card.
    """
    card = card if isinstance(card, DeviceCard) else read_card(Path(card))
    rows: list[NightAgreement] = []
    settings: dict = {"method": method, "tolerance_s": float(tolerance_s), "rate_window_s": float(rate_window_s)}
    for index, night in card.read_nights():
        day = index.day.isoformat()
        if isinstance(night, DeviceDataError):
            rows.append(NightAgreement(night=day, error=night.reason))
            continue
        hours = night.recording.duration_s / 3600.0
        try:
            result = compare(night, method=method, tolerance_s=tolerance_s, rate_window_s=rate_window_s, **params)
        except ParameterError:
            raise  # a bad setting is the same for every night
        except CpapError as exc:  # e.g. a night without a breath
            rows.append(
                NightAgreement(
                    night=day, hours=hours, sessions=len(night.sessions), notes=list(night.notes), error=str(exc)
                )
            )
            continue
        settings["params"] = dict(result.settings.get("params", {}))
        our_ahi, rule = _our_ahi(result.analyses)
        dev = result.night.device_events
        respiratory = int(dev["kind"].isin(EVENT_GROUPS["any"][0]).sum())
        summary = night.summary or {}
        rows.append(
            NightAgreement(
                night=day,
                hours=hours,
                sessions=len(night.sessions),
                our_ahi=our_ahi,
                ahi_rule=rule,
                device_eve_ahi=respiratory / hours if hours else float("nan"),
                device_str_ahi=summary.get("ahi") if summary.get("ahi") is not None else float("nan"),
                events={k: v.to_dict() for k, v in result.night.events.items()},
                breath_rate=result.night.rate.to_dict(),
                tidal_volume=result.night.volume.to_dict(),
                notes=list(result.notes),
            )
        )
        del result, night
    return CardComparison(source=str(card.root), nights=rows, device=dict(card.identification), settings=settings)
