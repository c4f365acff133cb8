"""Search anyone: a patient, card, doctor, institution, pharmacy, terminal or claim id (or a
provider's / doctor's name, and a person's name where the data is not pseudonymised) → its
leads, its neighbourhood and its claims (two providers side by side: :func:`graphkit.risk.explain.compare_providers`).

Ids are found in the in-memory claims index (one hash lookup per id column, no scan), so a
search costs the same on a 10M-claim store; names are matched as a case-insensitive
substring in the (small) dimension tables.

Examples
--------
>>> parse_query(" institution:H1 ")
('institution', 'H1')
>>> parse_query("PT00000001")
(None, 'PT00000001')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import pandas as pd

from ..findings import ENTITY_TYPES
from . import shaping
from .labels import entity_label

__all__ = ["parse_query", "find_entities", "lead_index", "search", "SearchResult", "ID_COLUMNS"]

#: entity type → claims column holding its id
ID_COLUMNS = {"patient": "patient_id", "card": "card_id", "doctor": "doctor_id", "institution": "institution_id",
              "pharmacy": "pharmacy_id", "terminal": "terminal_id"}


def parse_query(q: str) -> tuple[str | None, str]:
    """``"type:id"`` → (type, id); anything else → (None, text)."""
    q = q.strip()
    if ":" in q:
        t, i = q.split(":", 1)
        if t in ENTITY_TYPES or t == "claim":
            return t, i.strip()
    return None, q


def _in_column(frame: pd.DataFrame, col: str, value: str) -> bool:
    if col not in frame.columns:
        return False
    s = frame[col]
    if isinstance(s.dtype, pd.CategoricalDtype):
        return bool(s.cat.categories.get_indexer([value])[0] >= 0)
    return bool((s.astype("object") == value).any())


def find_entities(wb: Any, query: str, *, limit: int = 20) -> list[dict[str, str]]:
    """What ``query`` names: ``[{"node": "patient:PT1", "type": "patient", "id": "PT1", "label": …, "how": "id"}]``.

    An exact id is looked up in every id column of the claims (and claim ids); failing
    that, provider and doctor names (and people's names unless pseudonymised, ``pz:`` values)
    are matched as substrings.
    """
    t, q = parse_query(query)
    if not q:
        return []
    out: list[dict[str, str]] = []
    ix = wb.index
    frame = ix.frame if ix is not None else wb.store.table("claims", list(dict.fromkeys(["claim_id", *ID_COLUMNS.values()])))
    if t in (None, "claim") and len(wb.claims([q], ["fund_amount"])):
        out.append({"node": f"claim:{q}", "type": "claim", "id": q, "label": f"结算单 claim {q}", "how": "id"})
    for typ, col in ID_COLUMNS.items():
        if t not in (None, typ):
            continue
        found = _in_column(frame, col, q)
        if not found and typ in ("patient", "card"):  # a person or card with no claims still exists
            table = "patients" if typ == "patient" else "cards"
            if wb.store.has_table(table):
                found = bool((wb.store.table(table, [col])[col].astype("object") == q).any())
        if found:
            node = f"{typ}:{q}"
            out.append({"node": node, "type": typ, "id": q, "label": entity_label(node, wb.names), "how": "id"})
    if out or t is not None:
        return out[:limit]
    needle = q.lower()
    p = wb.providers
    hit = p[p["name"].astype(str).str.lower().str.contains(needle, regex=False)]
    for prov, name in zip(hit["provider"], hit["name"]):
        ty, i = prov.split(":", 1)
        out.append({"node": prov, "type": ty, "id": i, "label": entity_label(prov, wb.names), "how": "name"})
    for typ, table, col in (("doctor", "doctors", "doctor_id"), ("patient", "patients", "patient_id")):
        if len(out) >= limit or not wb.store.has_table(table):
            continue
        d = wb.store.table(table, [col, "name"]).dropna()
        names = d["name"].astype(str)
        m = names.str.lower().str.contains(needle, regex=False) & ~names.str.startswith("pz:")
        for i, n in zip(d.loc[m, col].astype(str), names[m]):
            out.append({"node": f"{typ}:{i}", "type": typ, "id": i, "label": f"{entity_label(f'{typ}:{i}')} {n}",
                        "how": "name"})
    return out[:limit]


def lead_index(findings: Any) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(entity node → finding ids, claim id → finding ids) over all findings.

    Examples
    --------
    >>> from graphkit.findings import Entity, Finding
    >>> f = Finding.create("shared_card", key=["K1"], claims=["C1"], entities=[Entity("card", "K1", "card")])
    >>> by_node, by_claim = lead_index([f])
    >>> by_node["card:K1"] == by_claim["C1"] == [f.id]
    True
    """
    by_node: dict[str, list[str]] = {}
    by_claim: dict[str, list[str]] = {}
    for f in findings:
        for e in f.entities:
            by_node.setdefault(f"{e.type}:{e.id}", []).append(f.id)
        for c in f.claims:
            by_claim.setdefault(c, []).append(f.id)
    return by_node, by_claim


@dataclass
class SearchResult:
    """What a search found: the matches, the chosen entity's leads, claims and neighbourhood."""

    query: str
    matches: list[dict[str, str]]
    node: str | None = None
    leads: pd.DataFrame = field(default_factory=pd.DataFrame)
    claims: pd.DataFrame = field(default_factory=pd.DataFrame)
    graph: nx.MultiDiGraph = field(default_factory=nx.MultiDiGraph)


def _leads_of(wb: Any) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    cache = getattr(wb, "_gk_lead_index", None)
    if cache is None:
        cache = lead_index(wb.findings.values())
        wb._gk_lead_index = cache
    return cache


def _all_claim_ids(wb: Any, m: dict[str, str], shown: pd.DataFrame) -> list[str]:
    ix = wb.index
    col = ID_COLUMNS.get(m["type"])
    if ix is None or col is None or col not in ix.frame.columns:
        return shown["claim_id"].astype(str).tolist()
    s = ix.frame[col]
    code = s.cat.categories.get_indexer([m["id"]])[0] if isinstance(s.dtype, pd.CategoricalDtype) else -1
    if code < 0:
        return []
    ids = ix.frame["claim_id"].to_numpy(dtype=object)[s.cat.codes.to_numpy() == code]
    return [str(c) for c in ids]


def search(wb: Any, query: str, *, pick: int = 0, limit: int = 200) -> SearchResult:
    """Search ``query`` and open the ``pick``-th match: its leads (as the entity or through its
    claims), its claims (the ``limit`` largest by fund) and its neighbourhood graph."""
    matches = find_entities(wb, query)
    res = SearchResult(query=query, matches=matches)
    if not matches:
        return res
    m = matches[min(pick, len(matches) - 1)]
    res.node = m["node"]
    by_node, by_claim = _leads_of(wb)
    if m["type"] == "claim":
        claims = wb.claims([m["id"]], ["patient_id", "card_id", "claim_type", "institution_id", "pharmacy_id", "doctor_id",
                                       "terminal_id", "start_time", "fund_amount", "total_amount"])
    else:
        claims = wb.touching(m["node"], limit=limit)
    ids = set(by_node.get(m["node"], []))
    for c in _all_claim_ids(wb, m, claims):  # every claim of the entity, not only the shown ones
        ids.update(by_claim.get(c, []))
    res.leads = wb.leads[wb.leads["id"].isin(ids)].reset_index(drop=True)
    res.claims = claims.sort_values("start_time", kind="stable").reset_index(drop=True) if len(claims) else claims
    g = shaping.claims_graph(claims, holders=wb.holders)
    if m["type"] == "terminal" and len(claims):  # the claims graph has no terminals: cards swiped at it
        g.add_node(m["node"], type="terminal", id=m["id"], role="", label=f"终端 {m['id']}")
        per = claims.groupby(claims["card_id"].astype(str), sort=True).agg(n=("claim_id", "size"), fund=("fund_amount", "sum"),
                                                                           ids=("claim_id", list))
        for card, r in per.iterrows():
            g.add_edge(f"card:{card}", m["node"], key="SWIPED_AT", rel="SETTLED_AT", claims=int(r["n"]),
                       fund=round(float(r["fund"]), 2), claim_ids=sorted(map(str, r["ids"])))
    if m["node"] in g:
        g.nodes[m["node"]]["lead"] = True
        g.nodes[m["node"]]["role"] = "searched"
    res.graph = g
    return res
