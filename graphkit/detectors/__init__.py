"""Detector registry: each detector is a function ``(store, **params) -> list[Finding]``.

Detectors register their kind and declared parameters; :func:`run_detector` checks the
parameters (one message format) before calling.

Examples
--------
>>> from graphkit.detectors import REGISTRY
>>> "shared_card" in REGISTRY
True
>>> REGISTRY["shared_card"].defaults()["min_foreign_claims"]
2
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..findings import KINDS, Finding
from ..params import Param, check_params

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["Detector", "REGISTRY", "register", "run_detector", "default_kinds"]


@dataclass(frozen=True)
class Detector:
    kind: str
    func: Callable[..., list[Finding]]
    params: tuple[Param, ...]
    #: what the data must hold for the detector to run at all (see graphkit.profile), e.g.
    #: ``("time:day", "terminals")``; the scan skips the detector and says why otherwise
    needs: tuple[str, ...] = ()
    #: what it uses when present, with the degraded behaviour when absent, e.g.
    #: ``{"time:minute": "day-level windows instead of 60-minute windows"}``
    prefers: tuple[tuple[str, str], ...] = ()
    #: part of a plain ``scan`` (the default battery); ``False``: runs only when asked for by kind
    default: bool = True
    #: ``fits(store)``: why the detector cannot run on this machine (e.g. the memory it would need),
    #: or None; the scan skips it with that reason instead of failing halfway
    fits: Callable[[Any], str | None] | None = None

    @property
    def doc(self) -> str:
        """The docstring's first paragraph, on one line."""
        return " ".join((self.func.__doc__ or "").strip().split("\n\n")[0].split())

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}


REGISTRY: dict[str, Detector] = {}


def register(kind: str, params: Sequence[Param], *, needs: Sequence[str] = (),
             prefers: dict[str, str] | None = None, default: bool = True,
             fits: Callable[[Any], str | None] | None = None):
    """Decorator: register a detector function for ``kind`` with its declared parameters and
    the data it needs (``needs``) or uses when present (``prefers``: need → degraded behaviour).
    ``default=False`` keeps it out of a plain scan (it runs when its kind is asked for); ``fits``
    says why it cannot run on this machine, if it cannot (the scan then skips it and says why)."""
    if kind not in KINDS:
        raise ValueError(f"unknown finding kind {kind!r}")

    def deco(fn: Callable[..., list[Finding]]):
        REGISTRY[kind] = Detector(kind, fn, tuple(params), tuple(needs), tuple((prefers or {}).items()), default, fits)
        return fn

    return deco


def default_kinds() -> list[str]:
    """The kinds a plain scan runs (registered with ``default=True``).

    >>> "shared_card" in default_kinds(), "indicator_outlier" in default_kinds()
    (True, False)
    """
    return [k for k, d in REGISTRY.items() if d.default]


def run_detector(kind: str, store: Store, params: dict[str, Any] | None = None) -> tuple[list[Finding], dict[str, Any]]:
    """Check ``params`` against the declaration, run the detector, return (findings, params used)."""
    det = REGISTRY[kind]
    full = check_params(kind, det.params, params or {})
    return det.func(store, **full), full


# importing the modules registers their detectors
from . import bursts, cards, concentration, duplicates, identity, referrals, rings, splits, stays, travel  # noqa: E402,F401
from . import outliers  # noqa: E402,F401  (last of the battery: the risk model takes its shared indicators next)
from ..rules import detector as _rules  # noqa: E402,F401  (rule_violation: the rule pack)
