"""A finding's evidence as a networkx graph, ready for pyvis or any other drawing.

Nodes are entities (``"patient:PT1"``, ``"card:K1"``, ``"institution:H1"`` …) with
``type``, ``label`` and ``role``; edges aggregate the finding's claims (count, fund amount,
claim ids) between person, card, provider and doctor.

Examples
--------
>>> import networkx as nx
>>> from graphkit.store import open_store      # doctest: +SKIP
>>> g = finding.subgraph(open_store("store"))  # doctest: +SKIP
>>> isinstance(g, nx.Graph)                    # doctest: +SKIP
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import networkx as nx
import pandas as pd

from ._fast import isin
from .projections import provider_key

if TYPE_CHECKING:  # annotation only: findings imports this module for Finding.subgraph
    from graphkit.store.base import Store
    from .findings import Finding

__all__ = ["evidence_graph", "TYPE_ZH"]

TYPE_ZH = {
    "patient": "参保人",
    "card": "医保卡",
    "doctor": "医师",
    "institution": "医疗机构",
    "pharmacy": "药店",
    "terminal": "终端",
}


def evidence_graph(store: Store, finding: Finding, *, max_claims: int = 5000) -> nx.MultiDiGraph:
    """Build the evidence graph of ``finding`` from its claims (at most ``max_claims``)."""
    g = nx.MultiDiGraph(finding_id=finding.id, kind=finding.kind, summary=finding.summary)
    for e in finding.entities:
        node = f"{e.type}:{e.id}"
        g.add_node(node, type=e.type, id=e.id, role=e.role, label=f"{TYPE_ZH[e.type]} {e.id}")
    claims = store.claims_by_id(
        finding.claims[:max_claims],
        ["card_id", "patient_id", "institution_id", "pharmacy_id", "doctor_id", "start_time", "fund_amount"],
    )
    g.graph["claims_shown"] = int(len(claims))
    g.graph["claims_total"] = len(finding.claims)
    if claims.empty:
        return g
    ptype, pid = provider_key(claims)
    claims = claims.assign(provider=ptype.str.cat(pid, sep=":"))

    def add_edges(src: pd.Series, dst: pd.Series, rel: str) -> None:
        df = pd.DataFrame({"s": src, "d": dst, "c": claims["claim_id"], "f": claims["fund_amount"]}).dropna(subset=["s", "d"])
        for (s, d), grp in df.groupby(["s", "d"], sort=True):
            for n in (s, d):
                if n not in g:
                    t, i = n.split(":", 1)
                    g.add_node(n, type=t, id=i, role="", label=f"{TYPE_ZH.get(t, t)} {i}")
            g.add_edge(s, d, key=rel, rel=rel, claims=int(len(grp)), fund=round(float(grp["f"].sum()), 2),
                       claim_ids=sorted(grp["c"].tolist()))

    add_edges("patient:" + claims["patient_id"], "card:" + claims["card_id"], "PAID_WITH")
    # who holds the cards in the picture (the holder of a lent card may have no claim here)
    card_ids = {n.split(":", 1)[1] for n in g.nodes if n.startswith("card:")}
    cards = store.table("cards", ["card_id", "patient_id"])
    cards = cards[isin(cards["card_id"], sorted(card_ids)) & cards["patient_id"].notna().to_numpy()]
    for card, holder in zip(cards["card_id"].tolist(), cards["patient_id"].tolist()):
        if isinstance(holder, str):
            hn = f"patient:{holder}"
            if hn not in g:
                g.add_node(hn, type="patient", id=holder, role="card_holder", label=f"{TYPE_ZH['patient']} {holder}")
            g.add_edge(hn, f"card:{card}", key="HOLDS", rel="HOLDS", claims=0, fund=0.0, claim_ids=[])
    add_edges("card:" + claims["card_id"], claims["provider"], "SETTLED_AT")
    add_edges("patient:" + claims["patient_id"], "doctor:" + claims["doctor_id"], "TREATED_BY")
    return g
