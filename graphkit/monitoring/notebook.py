"""Helpers for the monitoring notebook (``04_monitoring``): the store and scores the workbench
environment points at (:func:`from_env`) and illustrative supervision inputs — inspectors,
complaints, past violations — for a demo (:func:`example_inputs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..outputs import read_csv
from .inspection import inspection_candidates

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["from_env", "example_inputs"]


def from_env(env: Mapping[str, str] | None = None) -> tuple[Any, pd.DataFrame | None]:
    """The store and provider scores the workbench environment points at (``GRAPHKIT_STORE`` …).

    Returns ``(store, scores)``; ``scores`` is None when ``scores.csv`` is absent.

    Examples
    --------
    >>> from_env({"GRAPHKIT_STORE": "/nonexistent"})  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    graphkit.errors.StoreError: no store at /nonexistent
    """
    from ..workbench.data import WorkbenchConfig

    cfg = WorkbenchConfig.from_env(env)
    if cfg.neo4j_uri:
        from ..neo4jstore import Neo4jStore, connection_from_env

        store: Store = Neo4jStore(connection_from_env(cfg.neo4j_uri))
    else:
        from ..store import open_store

        store = open_store(cfg.store)  # type: ignore[arg-type]
    scores = read_csv(cfg.scores, dtype={"entity_id": "string"}) if cfg.scores and cfg.scores.is_file() else None
    return store, scores


def example_inputs(source: Any, *, seed: int = 0, scores: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Illustrative supervision inputs for a demo: inspector roster, complaints, past violations.

    Bundles do not carry these; a bureau passes its own. Here: 12 inspectors (``JC01`` …),
    complaints drawn at random (more for riskier providers), and past violations = the
    providers with fund at risk in ``scores`` (amount = ``amount_at_risk``).

    Examples
    --------
    >>> import pandas as pd
    >>> x = example_inputs({"institutions": pd.DataFrame({"institution_id": ["H1", "H2"]})}, seed=1)
    >>> sorted(x), len(x["inspectors"])
    (['complaints', 'inspectors', 'violations'], 12)
    """
    rng = np.random.default_rng(int(seed))
    cand = inspection_candidates(source, scores=scores)
    lam = 0.3 + 3 * cand["score"].to_numpy()
    n = rng.poisson(lam)
    complaints = pd.DataFrame({"provider_type": np.repeat(cand["provider_type"].to_numpy(), n),
                               "provider_id": np.repeat(cand["provider_id"].to_numpy(), n)})
    if scores is not None and len(scores) and "amount_at_risk" in scores.columns:
        v = scores[scores["entity_type"].isin(["institution", "pharmacy"]) & (scores["amount_at_risk"] > 0)]
        violations = pd.DataFrame({"provider_type": v["entity_type"].astype("string").to_numpy(),
                                   "provider_id": v["entity_id"].astype("string").to_numpy(),
                                   "amount": v["amount_at_risk"].astype("float64").to_numpy()})
    else:
        violations = pd.DataFrame({"provider_type": pd.Series([], dtype="string"),
                                   "provider_id": pd.Series([], dtype="string"), "amount": pd.Series([], dtype="float64")})
    inspectors = pd.DataFrame({"inspector_id": [f"JC{i:02d}" for i in range(1, 13)]})
    return {"inspectors": inspectors, "complaints": complaints, "violations": violations.reset_index(drop=True)}
