"""The claims activity and the monitoring indicators, computed once per scan and shared.

The ``indicator_outlier`` detector and the provider risk model both need the claims as arrays
(:func:`~graphkit.risk.activity.claims_activity`), the raw indicators
(:func:`~graphkit.risk.indicators.provider_indicators`) and their peer excess
(:func:`~graphkit.risk.peers.indicator_excess`) — the dearest stages of the risk model (at
10M claims: activity 6 s, indicators 19 s, peers 6 s). The first caller computes them and
keeps them on the store object, keyed by the store's fingerprint; the risk model, the last
consumer of a scan, takes them and drops them (:func:`release`), so they are not held after it.
The provider graph built from the activity (:func:`shared_graph`) is kept the same way.

A scan that runs its detectors in worker processes (:mod:`graphkit.scan_pool`) computes all of
this in one of them (:func:`compute_features`) and installs the result on the parent's store
object (:func:`install`): the risk model then finds it as if it had computed it.

Examples
--------
>>> import tempfile, pandas as pd
>>> from graphkit.store.embedded import EmbeddedStore
>>> d = tempfile.mkdtemp()
>>> EmbeddedStore.write(d, {"institutions": pd.DataFrame({"institution_id": ["H1"], "region": ["A"]}),
...     "claims": pd.DataFrame({"claim_id": ["C1"], "patient_id": ["P1"], "claim_type": ["outpatient"],
...         "institution_id": ["H1"], "start_time": pd.to_datetime(["2024-01-01"]),
...         "total_amount": [10.0], "fund_amount": [8.0]})})
>>> s = EmbeddedStore(d)
>>> a = shared_indicators(s)
>>> shared_indicators(s)[0] is a[0]
True
>>> release(s); shared_indicators(s)[0] is a[0]
False
>>> payload = compute_features(s, 10); release(s)
>>> install(s, payload); shared_indicators(s)[0] is payload["act"], shared_graph(s) is payload["graph"]
(True, True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from ..allocator import release_memory
from .activity import Activity, claims_activity
from .indicators import provider_indicators
from .network import ProviderGraph, provider_graph
from .peers import indicator_excess

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["shared_indicators", "shared_excess", "shared_outlier_leads", "shared_graph", "compute_features", "install",
           "release"]

_ATTR = "_graphkit_shared_indicators"


def _slot(store: Store) -> dict[str, Any] | None:
    c = getattr(store, _ATTR, None)
    if c is not None and c.get("fingerprint") == getattr(store, "fingerprint", None):
        return c
    return None


def shared_indicators(store: Store) -> tuple[Activity, pd.DataFrame, list[str]]:
    """``(activity, indicators, notes)`` of ``store``: computed on the first call, then shared."""
    c = _slot(store)
    if c is None:
        act = claims_activity(store)
        ind, notes = provider_indicators(store, act)
        release_memory()
        c = {"fingerprint": getattr(store, "fingerprint", None), "act": act, "ind": ind, "notes": notes, "excess": {}}
        try:
            setattr(store, _ATTR, c)
        except AttributeError:  # an object that takes no attributes: computed each time
            pass
    return c["act"], c["ind"], c["notes"]


def shared_excess(store: Store, min_peers: int) -> pd.DataFrame:
    """:func:`~graphkit.risk.peers.indicator_excess` of the shared indicators (per ``min_peers``)."""
    act, ind, _ = shared_indicators(store)
    c = _slot(store)
    cache = c["excess"] if c is not None else {}
    if min_peers not in cache:
        cache[min_peers] = indicator_excess(ind, act.entities, min_peers=int(min_peers))
        release_memory()
    return cache[min_peers]


def shared_outlier_leads(store: Store, min_peers: int) -> list[Any]:
    """``indicator_outlier``'s findings with default parameters and ``min_peers``, on the shared
    indicators (computed once per ``min_peers``): the risk model reads what their benign checks
    leave of each provider's indicator excess."""
    from ..detectors import run_detector

    shared_excess(store, int(min_peers))
    c = _slot(store)
    cache = c.setdefault("outlier_leads", {}) if c is not None else {}
    if int(min_peers) not in cache:
        cache[int(min_peers)] = list(run_detector("indicator_outlier", store, {"min_peers": int(min_peers)})[0])
    return cache[int(min_peers)]


def shared_graph(store: Store) -> ProviderGraph:
    """:func:`~graphkit.risk.network.provider_graph` of the shared activity (built once)."""
    act, _, _ = shared_indicators(store)
    c = _slot(store)
    if c is None:
        return provider_graph(act)
    if c.get("graph") is None:
        c["graph"] = provider_graph(act)
    return c["graph"]


def compute_features(store: Store, min_peers: int) -> dict[str, Any]:
    """Everything the risk model reads from the store alone (activity, indicators, their excess for
    ``min_peers``, indicator_outlier's leads on them, the provider graph), as one picklable dict for
    :func:`install`."""
    act, ind, notes = shared_indicators(store)
    excess = shared_excess(store, int(min_peers))
    leads = shared_outlier_leads(store, int(min_peers))
    graph = shared_graph(store)
    return {"fingerprint": getattr(store, "fingerprint", None), "act": act, "ind": ind, "notes": notes,
            "excess": {int(min_peers): excess}, "outlier_leads": {int(min_peers): leads}, "graph": graph}


def install(store: Store, payload: dict[str, Any]) -> None:
    """Keep ``payload`` (from :func:`compute_features` on the same data) on ``store`` as if computed here."""
    if payload.get("fingerprint") != getattr(store, "fingerprint", None):
        raise ValueError("the shared indicators belong to other data (fingerprints differ)")
    setattr(store, _ATTR, dict(payload))


def release(store: Store) -> None:
    """Drop what :func:`shared_indicators` keeps on ``store`` (the scan's last consumer calls it)."""
    if getattr(store, _ATTR, None) is not None:
        try:
            delattr(store, _ATTR)
        except AttributeError:
            pass
