"""``identity_ring`` (身份关联团伙): insured people tied together by a shared phone, bank account,
device or address *beyond what households explain*.

Method
------
1. **Households** (projection ``identity_links``). Two people belong to one household when
   they are registered family (``family`` contacts, connected: grandparent – parent – child)
   or share an address. A household sharing its phone, bank account or e-voucher device is
   normal, and so is a nursing home whose residents share the home's address and phone.
2. **Unexplained sharing.** For every phone, bank account and device value, ``households``
   counts the distinct households among the people registered with it. A value shared by
   ``min_households`` or more households is *unexplained*: a phone number or bank account
   is personal, and three unrelated households on one is not chance. An **address** is
   what defines a household, so it counts only when more people are registered there than
   a household holds (``min_address_members``) from ``min_households`` or more registered
   *family* groups; it is a weaker signal (dormitories, shared rural house numbers),
   weighted by ``address_weight``, and an address whose residents are mostly elderly
   (≥ 80 % aged ``elderly_age``+) is a care home: ×``care_home_weight``.
3. **Rings.** People and unexplained phone/bank/device values form a bipartite graph;
   each connected component is a ring (two identifiers sharing members chain into one
   ring). An unexplained address joins a ring when at least two of the ring's members are
   registered there, and is a ring of its own otherwise (one ring member living at a
   crowded address does not pull its strangers in). The ring key is its sorted identifiers
   (``kind:token``; tokens are the pseudonymised values).
4. **Claims** (documented choice): the members' claims at *shared venues* — providers where
   at least two members were settled — because an organiser steers the ring to the same
   pharmacy or clinic; when no venue is shared, all the members' claims. ``amount_at_risk``
   is their fund amount.

Scoring
-------
``Σ_values weight(kind) · log2(households)`` (bank account, device 1.0, phone 0.9, address
``address_weight``), plus the number of identifier kinds shared, plus the share of members
seen at the ring's most common venue (co-use of one provider), scaled by the ring's
strongest identifier weight (people at one address share their local clinic anyway).
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..findings import Entity, Finding
from ..params import Param
from ..projections import projection, provider_key
from . import register
from ._common import log_amount, squash, yuan

__all__ = ["identity_rings", "identity_links"]

KIND_WEIGHT = {"bank_account": 1.0, "device": 1.0, "phone": 0.9}
KIND_ZH = {"phone": "手机号", "bank_account": "银行账户", "device": "设备", "address": "地址"}
LINK_COLUMNS = ["kind", "value", "patient_id", "household", "family", "households", "members", "elderly_share"]


def _unique(x: np.ndarray, counts: bool = False):
    """Sorted unique values (sort-based; with inverse and counts when ``counts``).

    >>> u, inv, n = _unique(np.array([7, 3, 7, 9]), counts=True)
    >>> u.tolist(), inv.tolist(), n.tolist()
    ([3, 7, 9], [1, 0, 1, 2], [1, 2, 1])
    """
    o = np.argsort(x, kind="stable")
    xs = x[o]
    start = np.r_[True, xs[1:] != xs[:-1]] if xs.size else np.zeros(0, bool)
    u = xs[start]
    if not counts:
        return u
    grp = np.cumsum(start) - 1
    inv = np.empty(x.size, dtype=np.int64)
    inv[o] = grp
    return u, inv, np.bincount(grp, minlength=u.size)


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    g = coo_matrix((np.ones(a.size, dtype=np.int8), (a, b)), shape=(n, n))
    return connected_components(g, directed=False)[1].astype(np.int64)


@projection("identity_links")
def identity_links(store: Any, *, min_households: int = 3, min_address_members: int = 10,
                   elderly_age: int = 65) -> pd.DataFrame:
    """People on shared phone/bank/device/address values that span ``min_households``
    households (see module docstring), one row per (value, person)."""
    contacts = store.table("contacts", ["patient_id", "kind", "value"])
    c = contacts[contacts["patient_id"].notna() & contacts["value"].notna()]
    empty = pd.DataFrame({k: pd.Series([], dtype="object") for k in LINK_COLUMNS})
    if c.empty:
        return empty
    is_fam = (c["kind"] == "family").fillna(False).to_numpy()
    kinds = c["kind"].astype("string").fillna("?").to_numpy(dtype=object)
    # one code space for people (contact owners and family targets)
    pcodes, people = pd.factorize(pd.concat([c["patient_id"], c["value"][is_fam]], ignore_index=True))
    n = len(people)
    owner = pcodes[: len(c)].astype(np.int64)
    fa, fb = owner[is_fam], pcodes[len(c):].astype(np.int64)
    family = _components(n, fa, fb)
    # identifier values: (kind, value) as one integer code
    kc, kind_names = pd.factorize(pd.Series(kinds))
    vc, _ = pd.factorize(c["value"])
    key = vc.astype(np.int64) * (len(kind_names) + 1) + kc
    idn = ~is_fam
    key, who, kk = key[idn], owner[idn], kc[idn]
    is_addr_k = np.asarray(kind_names == "address")[kk] if len(kind_names) else np.zeros(0, bool)
    # households: family links plus co-residence (same address): every resident linked to
    # the first resident of the address
    a_key, a_who = key[is_addr_k], who[is_addr_k]
    o = np.argsort(a_key, kind="stable")
    a_key, a_who = a_key[o], a_who[o]
    a_first = a_who[np.searchsorted(a_key, a_key, side="left")]
    household = _components(n, np.r_[fa, a_who], np.r_[fb, a_first])
    # distinct (value, person), values with at least two people
    pair = _unique(key * np.int64(n + 1) + who)
    key, who = pair // np.int64(n + 1), pair % np.int64(n + 1)
    uk, inv, size = _unique(key, counts=True)
    keep = size[inv] >= 2
    key, who, inv = key[keep], who[keep], inv[keep]
    if key.size == 0:
        return empty
    kk = key % (len(kind_names) + 1)
    addr_row = np.asarray(kind_names == "address")[kk]
    hh = np.where(addr_row, family[who], household[who])
    hh_pairs = _unique(inv * np.int64(n + 1) + hh)
    households = np.bincount(hh_pairs // np.int64(n + 1), minlength=uk.size)[inv]
    members = size[inv]
    ok = (households >= min_households) & (~addr_row | (members >= min_address_members))
    if not ok.any():
        return empty
    rows = np.flatnonzero(ok)
    first_row = pd.Series(np.arange(len(c))[idn]).groupby(pd.Series(vc[idn].astype(np.int64) * (len(kind_names) + 1) + kc[idn])).first()
    src = first_row.reindex(key[rows]).to_numpy()
    sh = pd.DataFrame({
        "kind": np.asarray(kind_names, dtype=object)[kk[rows]],
        "value": c["value"].to_numpy(dtype=object)[src],
        "patient_id": np.asarray(people, dtype=object)[who[rows]],
        "household": hh[rows],
        "family": family[who[rows]],
        "households": households[rows],
        "members": members[rows],
        "_v": inv[rows],
    })
    # elderly share per value (care homes)
    pats = store.table("patients", ["patient_id", "birth_date"])
    claims_t = store.table("claims", ["start_time"])["start_time"]
    ref = claims_t.max() if len(claims_t) else pd.Timestamp("2000-01-01")
    bd = sh["patient_id"].map(pd.Series(pats["birth_date"].to_numpy(), index=pats["patient_id"].to_numpy()))
    age = (pd.Timestamp(ref) - pd.to_datetime(bd)).dt.days / 365.25
    sh["elderly"] = (age >= elderly_age).fillna(False).to_numpy()
    sh["elderly_share"] = sh.groupby("_v")["elderly"].transform("mean").to_numpy()
    return sh.sort_values(["kind", "value", "patient_id"])[LINK_COLUMNS].reset_index(drop=True)


@projection("member_claims")
def member_claims(store: Any, *, patient_ids: Iterable[str]) -> pd.DataFrame:
    """Claims settled for the given people (with provider type/id)."""
    cols = ["claim_id", "patient_id", "card_id", "institution_id", "pharmacy_id", "start_time", "fund_amount"]
    claims = store.table("claims", cols)
    c = claims[claims["patient_id"].isin(pd.Index(list(patient_ids)))].copy()
    c["provider_type"], c["provider_id"] = provider_key(c)
    return c.drop(columns=["institution_id", "pharmacy_id"]).reset_index(drop=True)


@register(
    "identity_ring",
    [
        Param("min_households", 3, "int", low=2, doc="households an identifier must span to be unexplained"),
        Param("min_address_members", 10, "int", low=2, doc="people an address needs (more than a household holds)"),
        Param("address_weight", 0.4, "float", low=0.0, high=1.0, doc="weight of a shared address (vs phone/bank/device)"),
        Param("care_home_weight", 0.3, "float", low=0.0, high=1.0, doc="factor for addresses whose residents are mostly elderly"),
        Param("elderly_age", 65, "int", low=40, high=100, doc="age counted as elderly for the care-home rule"),
    ],
)
def identity_rings(
    store: Any,
    *,
    min_households: int = 3,
    min_address_members: int = 10,
    address_weight: float = 0.4,
    care_home_weight: float = 0.3,
    elderly_age: int = 65,
) -> list[Finding]:
    """Groups of people sharing personal identifiers across unrelated households.

    Examples
    --------
    >>> from graphkit.store import open_store                          # doctest: +SKIP
    >>> identity_rings(open_store("store"))[0].evidence["identifiers"]  # doctest: +SKIP
    """
    links = store.projection("identity_links", min_households=min_households,
                             min_address_members=min_address_members, elderly_age=elderly_age)
    if links.empty:
        return []
    links = links.assign(ident=links["kind"].astype(str) + ":" + links["value"].astype(str))
    # rings: components over phone/bank/device values; an address joins a ring only when at
    # least two of the ring's members live there (one shared resident does not merge an
    # address-full of strangers into a ring), otherwise it is a ring of its own
    strong = links[links["kind"] != "address"]
    vals = pd.Index(pd.unique(strong["ident"]))
    spats = pd.Index(pd.unique(strong["patient_id"]))
    nv = len(vals)
    comp = _components(nv + len(spats), vals.get_indexer(strong["ident"]), nv + spats.get_indexer(strong["patient_id"]))
    ring_of_person = pd.Series(comp[nv + np.arange(len(spats))], index=spats)
    parts = [strong.assign(ring=comp[vals.get_indexer(strong["ident"])].astype(str))]
    addr = links[links["kind"] == "address"]
    if len(addr):
        addr = addr.assign(strong_ring=addr["patient_id"].map(ring_of_person))
        hits = addr.dropna(subset=["strong_ring"]).groupby(["ident", "strong_ring"]).size()
        hits = hits[hits >= 2].reset_index()[["ident", "strong_ring"]]
        joined = addr.merge(hits, on=["ident", "strong_ring"])
        parts.append(joined.drop(columns="strong_ring").assign(ring=joined["strong_ring"].astype(np.int64).astype(str)))
        alone = addr[~addr["ident"].isin(hits["ident"])]
        parts.append(alone.drop(columns="strong_ring").assign(ring="a:" + alone["ident"]))
    links = pd.concat(parts, ignore_index=True)
    pats = pd.Index(pd.unique(links["patient_id"]))
    mc = store.projection("member_claims", patient_ids=pats)
    mc_by_person = dict(tuple(mc.groupby("patient_id", sort=False)))
    empty_mc = mc.iloc[:0]
    findings: list[Finding] = []
    for ring_id, rows in links.groupby("ring", sort=True):
        per_val = rows.drop_duplicates("ident").sort_values("ident")
        members = sorted(rows["patient_id"].unique())
        z = 0.0
        w_max = 0.0
        idents = []
        for r in per_val.itertuples(index=False):
            w = KIND_WEIGHT.get(r.kind, address_weight)
            care = r.kind == "address" and r.elderly_share >= 0.8
            if care:
                w *= care_home_weight
            z += 0.4 * w * np.log2(r.households)
            w_max = max(w_max, w)
            idents.append({"kind": r.kind, "token": r.value, "members": int(r.members), "households": int(r.households),
                           "elderly_share": round(float(r.elderly_share), 3), "care_home": bool(care)})
        kinds = sorted(per_val["kind"].unique())
        z += 0.3 * (len(kinds) - 1)
        c = pd.concat([mc_by_person[p] for p in members if p in mc_by_person] or [empty_mc], ignore_index=True)
        venue_pats = c.groupby(["provider_type", "provider_id"])["patient_id"].nunique()
        shared = venue_pats[venue_pats >= 2]
        top_share = float(venue_pats.max() / len(members)) if len(venue_pats) else 0.0
        if len(shared):
            sv = c.set_index(["provider_type", "provider_id"]).index.isin(shared.index)
            claims = c[sv]
        else:
            claims = c
        z += 0.6 * top_share * w_max  # co-residents share their local providers anyway
        fund = float(claims["fund_amount"].sum())
        z += 0.02 * log_amount(fund)
        care_home = any(d["care_home"] for d in idents) and all(d["kind"] == "address" for d in idents)
        note = "（住户多为老年人，疑似养老机构）" if care_home else ""
        note_en = " (mostly elderly residents: likely a care home)" if care_home else ""
        ents = [Entity("patient", p, "member") for p in members]
        top = shared.sort_values(ascending=False).head(5)
        ents += [Entity(t, i, "shared_venue") for (t, i) in top.index]
        ident_txt = "、".join(f"{KIND_ZH.get(d['kind'], d['kind'])}{d['token']}" for d in idents[:3])
        ident_en = ", ".join(f"{d['kind']} {d['token']}" for d in idents[:3])
        hh = max(d["households"] for d in idents)
        start, end = (claims["start_time"].min(), claims["start_time"].max()) if len(claims) else (None, None)
        findings.append(
            Finding.create(
                "identity_ring",
                key=tuple(sorted(per_val["ident"])),
                score=squash(z),
                amount_at_risk=fund,
                start=start,
                end=end,
                entities=ents,
                claims=claims["claim_id"],
                summary=(
                    f"{len(members)}名参保人（来自至少{hh}个不同家庭）共用{ident_txt}"
                    f"{'等' if len(idents) > 3 else ''}{note}，共同就医/购药结算{len(claims)}次，基金{yuan(fund)}"
                    f" / {len(members)} insured people from at least {hh} unrelated households share {ident_en}"
                    f"{' and more' if len(idents) > 3 else ''}{note_en}; {len(claims)} claims at shared venues"
                ),
                evidence={
                    "identifiers": idents,
                    "members": members,
                    "kinds": kinds,
                    "care_home": care_home,
                    "claims_basis": "shared_venues" if len(shared) else "all_member_claims",
                    "shared_venues": [{"provider": f"{t}:{i}", "members": int(n)} for (t, i), n in top.items()],
                    "top_venue_member_share": round(top_share, 3),
                    "fund": fund,
                },
            )
        )
    return findings
