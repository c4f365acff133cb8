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

Scoring (see ``docs/detectors-cards.md``)
-----------------------------------------
* **identifiers** — for each value, ``log10 P(H ≥ households)`` under a geometric null whose
  mean is this data's mean excess households per value of that kind (leave-one-out: the
  value tested never sets its own null; kinds pooled when a kind has no other value);
* **venue steering** — the shared venue with the most surprising number of members, Poisson
  against the venue's reach into the members' regions (``venue_reach``: the share of each
  region's insured settled there), Bonferroni over the ring's shared venues;
* both Fisher-combined, in decades beyond the bar of all identifier values tested
  (``surprise``), times the benign checks' factor: collective households (care homes,
  dormitories), village agents not steered beyond an institution of their own region,
  employers' numbers (an excess of employees, not steered), providers' numbers (no two
  members there on one day).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .._fast import unique_ints
from ..findings import Entity, Finding
from ..params import Param
from ..projections import projection, provider_key
from . import register
from ._common import benign_check, benign_factor, surprise, surprise_score, yuan
from ._nulls import binom_log10_sf, fisher_log10, geometric_log10_tail, poisson_log10_sf
from ._people import CHILD_AGE, address_groups, ages_at, household_max

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["identity_rings", "identity_links"]

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


#: the last store's value households (identity_links and identifier_background both need them;
#: identity_rings asks for one right after the other): (weak ref to the store, fingerprint, value)
_LAST_VH: list = []


def _value_households(store: Store) -> dict[str, Any] | None:
    """Every phone/bank/device/address value with the households among its people (the
    shared core of ``identity_links`` and ``identifier_background``); None without contacts.
    The last store's answer is kept (see :data:`_LAST_VH`) until :func:`identity_rings` ends."""
    fp = getattr(store, "fingerprint", None)
    if _LAST_VH and fp is not None and _LAST_VH[0]() is store and _LAST_VH[1] == fp:
        return _LAST_VH[2]
    out = _compute_value_households(store)
    _LAST_VH.clear()
    if fp is not None:
        try:
            _LAST_VH.extend([weakref.ref(store), fp, out])
        except TypeError:  # a store that cannot be weakly referenced is not cached
            pass
    return out


def _compute_value_households(store: Store) -> dict[str, Any] | None:
    contacts = store.table("contacts", ["patient_id", "kind", "value"])
    c = contacts[contacts["patient_id"].notna() & contacts["value"].notna()]
    if c.empty:
        return None
    is_fam = (c["kind"] == "family").fillna(False).to_numpy()
    # one code space for people (contact owners and family targets)
    pcodes, people = pd.factorize(pd.concat([c["patient_id"], c["value"][is_fam]], ignore_index=True))
    n = len(people)
    owner = pcodes[: len(c)].astype(np.int64)
    fa, fb = owner[is_fam], pcodes[len(c):].astype(np.int64)
    family = _components(n, fa, fb)
    # identifier values: (kind, value) as one integer code
    kc, kind_names = pd.factorize(c["kind"].astype("string").fillna("?"))  # codes in order of first appearance
    kind_names = pd.Index(np.asarray(kind_names, dtype=object))
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
    # distinct (value, person)
    pair = _unique(key * np.int64(n + 1) + who)
    key, who = pair // np.int64(n + 1), pair % np.int64(n + 1)
    uk, inv, size = _unique(key, counts=True)
    u_kind = np.asarray(kind_names, dtype=object)[uk % (len(kind_names) + 1)] if uk.size else np.zeros(0, dtype=object)
    addr_sizes = size[u_kind == "address"]
    kk = key % (len(kind_names) + 1)
    addr_row = np.asarray(kind_names == "address")[kk] if key.size else np.zeros(0, bool)
    hh = np.where(addr_row, family[who], household[who])
    hh_pairs = _unique(inv * np.int64(n + 1) + hh)
    h_value = np.bincount(hh_pairs // np.int64(n + 1), minlength=uk.size)
    return {"c": c, "idn": idn, "vc": vc, "kc": kc, "kind_names": kind_names, "people": people, "n": n,
            "family": family, "key": key, "who": who, "inv": inv, "size": size, "kk": kk, "addr_row": addr_row,
            "hh": hh, "h_value": h_value, "u_kind": u_kind, "addr_sizes": addr_sizes}


@projection("identifier_background")
def identifier_background(store: Store) -> pd.DataFrame:
    """Per identifier kind: ``values`` (distinct values), ``shared`` (values on two or more
    households) and ``mean_excess`` (mean households per value minus one, over all values):
    how much sharing is normal in this data (identity_ring's null)."""
    v = _value_households(store)
    cols = {"kind": pd.Series([], dtype=object), "values": pd.Series([], dtype="int64"),
            "shared": pd.Series([], dtype="int64"), "mean_excess": pd.Series([], dtype="float64")}
    if v is None or v["h_value"].size == 0:
        return pd.DataFrame(cols)
    df = pd.DataFrame({"kind": v["u_kind"], "h": v["h_value"]})
    g = df.groupby("kind", sort=True)["h"]
    out = pd.DataFrame({"values": g.size(), "shared": g.apply(lambda x: int((x >= 2).sum())),
                        "mean_excess": g.apply(lambda x: float((x - 1).clip(lower=0).mean()))}).reset_index()
    return out.astype({"values": "int64", "shared": "int64", "mean_excess": "float64"})


@projection("identity_links")
def identity_links(store: Store, *, min_households: int = 3, min_address_members: int = 0,
                   elderly_age: int = 65) -> pd.DataFrame:
    """People on shared phone/bank/device/address values that span ``min_households``
    households (see module docstring), one row per (value, person). ``min_address_members``
    0: an address needs more people than a household holds in this data
    (:func:`graphkit.detectors._people.household_max`)."""
    empty = pd.DataFrame({k: pd.Series([], dtype="object") for k in LINK_COLUMNS})
    v = _value_households(store)
    if v is None:
        return empty
    if min_address_members <= 0:
        min_address_members = household_max(v["addr_sizes"]) + 1
    c, idn, vc, kc, kind_names = v["c"], v["idn"], v["vc"], v["kc"], v["kind_names"]
    size, inv, key, who, kk = v["size"], v["inv"], v["key"], v["who"], v["kk"]
    keep = size[inv] >= 2
    households = v["h_value"][inv]
    members = size[inv]
    ok = keep & (households >= min_households) & (~v["addr_row"] | (members >= min_address_members))
    if not ok.any():
        return empty
    rows = np.flatnonzero(ok)
    first_row = pd.Series(np.arange(len(c))[idn]).groupby(pd.Series(vc[idn].astype(np.int64) * (len(kind_names) + 1) + kc[idn])).first()
    src = first_row.reindex(key[rows]).to_numpy()
    sh = pd.DataFrame({
        "kind": np.asarray(kind_names, dtype=object)[kk[rows]],
        "value": c["value"].to_numpy(dtype=object)[src],
        "patient_id": np.asarray(v["people"], dtype=object)[who[rows]],
        "household": v["hh"][rows],
        "family": v["family"][who[rows]],
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
def member_claims(store: Store, *, patient_ids: Iterable[str]) -> pd.DataFrame:
    """Claims settled for the given people (with provider type/id)."""
    cols = ["claim_id", "patient_id", "card_id", "institution_id", "pharmacy_id", "start_time", "fund_amount"]
    c = store.table_where("claims", cols, [("patient_id", "in", list(patient_ids))])
    c["provider_type"], c["provider_id"] = provider_key(c)
    return c.drop(columns=["institution_id", "pharmacy_id"]).reset_index(drop=True)


@projection("venue_reach")
def venue_reach(store: Store, *, institutions: Iterable[str] = (), pharmacies: Iterable[str] = ()) -> pd.DataFrame:
    """Distinct people settled at the given providers, per the people's region (``''`` when
    unknown): provider_type, provider_id, region, patients — how far a venue reaches into each
    region, the null for a ring steered to one venue."""
    cols = ["provider_type", "provider_id", "region", "patients"]
    empty = pd.DataFrame({k: pd.Series([], dtype="int64" if k == "patients" else "string") for k in cols})
    inst = pd.Index(pd.unique(pd.Series(list(institutions), dtype=object)))
    ph = pd.Index(pd.unique(pd.Series(list(pharmacies), dtype=object)))
    if not len(inst) and not len(ph):
        return empty
    # only the claims at these venues, filtered as they are read
    where = ([[("institution_id", "in", list(inst))]] if len(inst) else []) + ([[("pharmacy_id", "in", list(ph))]] if len(ph) else [])
    claims = store.table_where("claims", ["patient_id", "institution_id", "pharmacy_id"], where)

    def codes(col: pd.Series, wanted: pd.Index) -> np.ndarray:
        c, uniq = pd.factorize(col)  # factorize the column once, look up only its distinct values
        look = np.r_[wanted.get_indexer(pd.Index(uniq, dtype=object)), -1]
        return look[c]

    ic = codes(claims["institution_id"], inst)
    pc = np.where(ic < 0, codes(claims["pharmacy_id"], ph), -1)
    venue = np.where(ic >= 0, ic, np.where(pc >= 0, len(inst) + pc, -1))
    sel = venue >= 0
    if not sel.any():
        return empty
    pcode, pats = pd.factorize(claims["patient_id"][sel])
    key = unique_ints(venue[sel].astype(np.int64) * (len(pats) + 1) + pcode)
    v, who = key // (len(pats) + 1), key % (len(pats) + 1)
    patients = store.table("patients", ["patient_id", "region"])
    reg = pd.Series(patients["region"].to_numpy(dtype=object), index=patients["patient_id"].to_numpy(dtype=object))
    region = pd.Series(np.asarray(pats, dtype=object)).map(reg)  # once per person, not per (venue, person)
    rcode, rvals = pd.factorize(region.where(region.notna(), "").to_numpy(dtype=object))
    pair, n = np.unique(v * np.int64(len(rvals) + 1) + rcode[who], return_counts=True)
    v, r = pair // (len(rvals) + 1), pair % (len(rvals) + 1)
    names = np.concatenate([np.asarray(inst, dtype=object), np.asarray(ph, dtype=object)])
    out = pd.DataFrame({"provider_type": np.where(v < len(inst), "institution", "pharmacy").astype(object),
                        "provider_id": names[v], "region": np.asarray(rvals, dtype=object)[r], "patients": n})
    out = out.sort_values(["provider_type", "provider_id", "region"], kind="stable").reset_index(drop=True)
    return out.astype({"provider_type": "string", "provider_id": "string", "region": "string", "patients": "int64"})


@register(
    "identity_ring",
    [
        Param("min_households", 3, "int", low=2, doc="households an identifier must span to be unexplained"),
        Param("min_address_members", 0, "int", low=0,
              doc="people an address needs; 0: more than a household holds in this data (Q3 + 3 IQR of people per address)"),
        Param("collective_weight", 0.2, "float", low=0.0, high=1.0,
              doc="score factor when the members live at one care home or dormitory"),
        Param("agent_weight", 0.2, "float", low=0.0, high=1.0,
              doc="score factor for an agent's, village doctor's or employer's number whose holders are not steered to one venue"),
        Param("elderly_age", 60, "int", low=40, high=100, doc="age counted as elderly (60: 《老年人权益保障法》)"),
    ],
    needs=("contacts",),
)
def identity_rings(
    store: Store,
    *,
    min_households: int = 3,
    min_address_members: int = 0,
    collective_weight: float = 0.2,
    agent_weight: float = 0.2,
    elderly_age: int = 60,
) -> list[Finding]:
    """Groups of people sharing personal identifiers across unrelated households.

    The score is the surprise of the ring in this data: how rare its identifiers' household
    counts are among all values of their kind (geometric null at the data's own mean), Fisher-
    combined with how far more members share a venue than the venue's reach into their regions
    predicts (Poisson); legal look-alikes (care homes, dormitories, village agents, employers'
    and providers' numbers) are tested and multiply it (``evidence["benign_checks"]``).

    Examples
    --------
    >>> from graphkit.store import open_store                          # doctest: +SKIP
    >>> identity_rings(open_store("store"))[0].evidence["identifiers"]  # doctest: +SKIP
    """
    links = store.projection("identity_links", min_households=min_households,
                             min_address_members=min_address_members, elderly_age=elderly_age)
    if links.empty:
        _LAST_VH.clear()
        return []
    links = links.assign(ident=links["kind"].astype(str) + ":" + links["value"].astype(str))
    links = _rings(links)
    background = store.projection("identifier_background").set_index("kind")
    _LAST_VH.clear()  # both projections have what they need of the contacts
    n_values = int(background["values"].sum()) if len(background) else 1
    pats = pd.Index(pd.unique(links["patient_id"]))
    mc = store.projection("member_claims", patient_ids=pats)
    people = store.table("patients", ["patient_id", "birth_date", "region", "insurance_type"]).set_index("patient_id")
    people.attrs["employee_share"] = float((people["insurance_type"] == "employee").mean()) if len(people) else 0.0
    ref = mc["start_time"].max() if len(mc) else None
    groups, address_of, hh_max = address_groups(store, ref)
    inst = store.table("institutions", ["institution_id", "kind", "region"])
    # institutions by region: villagers' own clinics and county hospitals are their natural venues
    primary = {f"institution:{i}": r for i, r in zip(inst["institution_id"], inst["region"])}
    # each member's claims: one stable sort by member (not a groupby and a concat per ring)
    pats_o = pd.Index(np.asarray(pats, dtype=object))
    mcode = pats_o.get_indexer(mc["patient_id"].to_numpy(dtype=object))
    mc_order = np.argsort(mcode, kind="stable")
    mc_cut = np.searchsorted(mcode[mc_order], np.arange(len(pats_o) + 1))
    n_rings = int(links["ring"].nunique())
    ring_list = []
    for ring_id, rows in links.groupby("ring", sort=True):
        members = sorted(rows["patient_id"].unique())
        mpos = pats_o.get_indexer(members)
        ring_list.append((rows, members, np.concatenate([mc_order[mc_cut[k]: mc_cut[k + 1]] for k in mpos]
                                                        + [np.zeros(0, np.int64)])))
    venues = _ring_venues(mc, mcode, [pos for *_, pos in ring_list])
    rings = []
    for k, (rows, members, pos) in enumerate(ring_list):
        c = mc.iloc[pos].reset_index(drop=True)
        venue_pats, at_shared = venues(k)
        rings.append((rows, members, c, venue_pats, venue_pats[venue_pats >= 2], at_shared))
    reach = _reach(store, pd.concat([v.index.to_frame(index=False) for *_, v, _ in rings] or [mc.iloc[:0]]), people)
    look = _PeopleLookup(people)
    findings: list[Finding] = []
    for rows, members, c, venue_pats, shared, at_shared in rings:
        per_val = rows.drop_duplicates("ident").sort_values("ident")
        idents, lp_ident = [], 0.0
        for r in per_val.itertuples(index=False):
            m = _leave_one_out(background, r.kind, int(r.households))
            lp = float(geometric_log10_tail(r.households, m))
            lp_ident += lp
            idents.append({"kind": r.kind, "token": r.value, "members": int(r.members), "households": int(r.households),
                           "elderly_share": round(float(r.elderly_share), 3), "kind_mean_excess_households": round(m, 6),
                           "log10_p": round(lp, 3)})
        kinds = sorted(per_val["kind"].unique())
        top_share = float(venue_pats.max() / len(members)) if len(venue_pats) else 0.0
        claims = c[at_shared] if len(shared) else c
        lp_venue, venue_null = _steering(shared, members, people, reach)
        lp = fisher_log10([lp_ident, lp_venue])
        s = float(surprise(lp, n_values))
        # steered: most members at one shared venue, beyond what its reach into their regions explains
        steered = (float(surprise(lp_venue, max(n_rings, 1))) > 0
                   and venue_null.get("venue_members", 0) > len(members) / 2)
        checks, care_home = _ring_checks(rows, per_val, members, c, venue_null, steered, look, groups, address_of, hh_max,
                                         ref, primary, n_rings, elderly_age=elderly_age, collective_weight=collective_weight,
                                         agent_weight=agent_weight)
        factor = benign_factor(checks)
        fund = float(claims["fund_amount"].sum())
        note = "（住户多为老年人，疑似养老机构）" if care_home else ""
        note_en = " (mostly elderly residents: likely a care home)" if care_home else ""
        ents = [Entity("patient", p, "member") for p in members]
        top = shared.sort_values(ascending=False).head(5)
        ents += [Entity(t, i, "shared_venue") for (t, i) in top.index]
        ident_txt = "、".join(f"{KIND_ZH.get(d['kind'], d['kind'])}{d['token']}" for d in idents[:3])
        ident_en = ", ".join(f"{d['kind']} {d['token']}" for d in idents[:3])
        hh = max(d["households"] for d in idents)
        start, end = (claims["start_time"].min(), claims["start_time"].max()) if len(claims) else (None, None)
        null = {"method": "identifiers: geometric tail of households per value at this data's mean for the kind; venue: "
                          "Poisson tail of members at a shared venue vs. the venue's reach into the members' regions; "
                          "Fisher-combined",
                "log10_p_identifiers": round(lp_ident, 3), **venue_null, "log10_p": round(lp, 3), "n_tests": n_values,
                "surprise": round(s, 3)}
        findings.append(
            Finding.create(
                "identity_ring",
                key=tuple(sorted(per_val["ident"])),
                score=float(surprise_score(s)) * factor,
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
                    "null": null,
                    "benign_checks": checks,
                    "benign_factor": round(factor, 4),
                },
            )
        )
    return findings


def _ring_venues(mc: pd.DataFrame, person: np.ndarray, ring_pos: list[np.ndarray]):
    """For every ring (its members' claims as row positions ``ring_pos`` in ``mc``; ``person``
    a member code per claim), with one sort over all rings: a function of the ring number
    giving (members per venue, as ``c.groupby(["provider_type", "provider_id"])["patient_id"].nunique()``
    of the ring's claims ``c`` would; which of those claims are at a venue with two or more members)."""
    tcode, tvals = pd.factorize(mc["provider_type"], sort=True)
    icode, ivals = pd.factorize(mc["provider_id"], sort=True)
    ni = len(ivals) + 1
    venue = np.where((tcode >= 0) & (icode >= 0), tcode.astype(np.int64) * ni + icode, -1)  # sorted as (type, id)
    lens = np.array([p.size for p in ring_pos], dtype=np.int64)
    allpos = np.concatenate(ring_pos + [np.zeros(0, np.int64)])
    ring = np.repeat(np.arange(len(ring_pos), dtype=np.int64), lens)
    v, who = venue[allpos], person[allpos].astype(np.int64)
    ok = v >= 0
    nv, npers = np.int64(len(tvals) * ni + 1), np.int64(max(int(person.max(initial=0)) + 1, 1))
    triples = unique_ints((ring[ok] * nv + v[ok]) * npers + who[ok])
    rv, n = np.unique(triples // npers, return_counts=True)
    row_rv = ring * nv + v
    hit = np.searchsorted(rv, row_rv)
    hit_c = np.minimum(hit, max(rv.size - 1, 0))
    shared_row = ok & (rv.size > 0) & (rv[hit_c] == row_rv) & (n[hit_c] >= 2) if rv.size else np.zeros(ring.size, bool)
    cut = np.searchsorted(rv // nv, np.arange(len(ring_pos) + 1))
    rcut = np.r_[0, np.cumsum(lens)]
    tv, iv = np.asarray(tvals, dtype=object), np.asarray(ivals, dtype=object)

    def at(k: int) -> tuple[pd.Series, np.ndarray]:
        vk = rv[cut[k]: cut[k + 1]] % nv
        idx = pd.MultiIndex.from_arrays([tv[vk // ni], iv[vk % ni]], names=["provider_type", "provider_id"])
        return pd.Series(n[cut[k]: cut[k + 1]], index=idx, name="patient_id"), shared_row[rcut[k]: rcut[k + 1]]

    return at


class _PeopleLookup:
    """Members' patient rows by position (a reindex of the Arrow-backed patients frame per
    ring costs milliseconds): ``frame(members)`` equals ``people.reindex(members)``."""

    def __init__(self, people: pd.DataFrame) -> None:
        self.people = people
        self.attrs = people.attrs
        self.cols = {c: people[c].to_numpy(dtype=object) if isinstance(people[c].dtype, pd.StringDtype)
                     else people[c].to_numpy() for c in people.columns}

    def frame(self, members: list[str]) -> pd.DataFrame:
        pos = self.people.index.get_indexer(members)
        if not (pos >= 0).all():
            return self.people.reindex(members)
        return pd.DataFrame({c: pd.array(v[pos], dtype=self.people[c].dtype) if v.dtype == object else v[pos]
                             for c, v in self.cols.items()}, index=pd.Index(members, dtype=self.people.index.dtype))


def _leave_one_out(background: pd.DataFrame, kind: str, households: int) -> float:
    """Mean excess households per value of ``kind`` without the value tested (a value never
    sets its own null); all identifier kinds pooled when the kind has no other value."""
    if background.empty:
        return 0.0
    excess = background["mean_excess"] * background["values"]
    own = max(households - 1, 0)
    if kind in background.index and int(background.at[kind, "values"]) > 1:
        return max(float(excess[kind]) - own, 0.0) / (int(background.at[kind, "values"]) - 1)
    total, n = float(excess.sum()) - own, int(background["values"].sum()) - 1
    return max(total, 0.0) / n if n > 0 else 0.0


def _rings(links: pd.DataFrame) -> pd.DataFrame:
    """``links`` with a ``ring`` column: components over phone/bank/device values; an address
    joins a ring only when at least two of the ring's members live there (one shared resident
    does not merge an address-full of strangers into a ring), otherwise it is a ring of its own."""
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
    return pd.concat(parts, ignore_index=True)


def _reach(store: Store, venues: pd.DataFrame, people: pd.DataFrame) -> dict[str, Any]:
    """Reach of the venues rings share (provider_type, provider_id): share of each region's
    insured settled there."""
    inst = venues.loc[venues["provider_type"] == "institution", "provider_id"].dropna().unique()
    ph = venues.loc[venues["provider_type"] == "pharmacy", "provider_id"].dropna().unique()
    vr = store.projection("venue_reach", institutions=list(inst), pharmacies=list(ph))
    region = people["region"].astype(object).where(people["region"].notna(), "")
    insured = region.value_counts()
    by_region = {(t, i, r): int(n) for t, i, r, n in vr[["provider_type", "provider_id", "region", "patients"]].itertuples(index=False)}
    total = vr.groupby(["provider_type", "provider_id"])["patients"].sum().to_dict()
    return {"by_region": by_region, "total": total, "insured": insured.to_dict(), "n_insured": max(int(len(people)), 1),
            "region_of": region, "region_vals": region.to_numpy(dtype=object)}


def _steering(shared: pd.Series, members: list[str], people: pd.DataFrame, reach: dict) -> tuple[float, dict]:
    """log10 p of the most surprising shared venue (Bonferroni over the ring's shared venues)
    and what it rests on."""
    if shared.empty:
        return 0.0, {"venue": None, "log10_p_venue": 0.0}
    ro = reach["region_of"]
    if ro.index.is_unique and len(ro):  # ro.get(p, "") per member, by position
        pos = ro.index.get_indexer(members)
        regions = [reach["region_vals"][i] if i >= 0 else "" for i in pos.tolist()]
    else:
        regions = [ro.get(p, "") for p in members]
    best, info = 0.0, {}
    for (t, i), c in shared.items():
        lam = 0.0
        for r in regions:
            n_r = reach["insured"].get(r, 0)
            lam += reach["by_region"].get((t, i, r), 0) / n_r if n_r else reach["total"].get((t, i), 0) / reach["n_insured"]
        lp = float(poisson_log10_sf(int(c), lam))
        if lp < best or not info:
            best, info = min(lp, 0.0), {"venue": f"{t}:{i}", "venue_members": int(c), "venue_expected_members": round(lam, 4)}
    lp_venue = min(0.0, best + float(np.log10(len(shared))))
    return lp_venue, {**info, "log10_p_venue": round(lp_venue, 3)}


def _ring_checks(rows, per_val, members, c, venue_null, steered, people, groups, address_of, hh_max, ref, primary, n_rings, *,
                 elderly_age: int, collective_weight: float, agent_weight: float) -> tuple[list[dict], bool]:
    """The legal look-alikes of one ring, tested (see module docstring)."""
    hh = int(per_val["households"].max())
    checks = [benign_check("registered_family", "登记家庭/同住户", "ruled_out",
                           f"the identifiers span {hh} households that are not one registered family or address")]
    mem = people.frame(members)
    ages = ages_at(mem["birth_date"], np.full(len(members), np.datetime64(pd.Timestamp(ref or "today"), "s")))
    known = ~np.isnan(ages)
    working = float(((ages[known] >= CHILD_AGE) & (ages[known] < elderly_age)).mean()) if known.any() else 0.0
    # collective address: most members at one care home / dormitory / collective household
    pos = address_of.index.get_indexer(members) if address_of.index.is_unique else None
    addr = address_of.iloc[pos] if pos is not None and (pos >= 0).all() else address_of.reindex(members)
    care_home = False
    if addr.notna().any() and len(groups):
        vc = addr.value_counts()
        share, top = float(vc.iloc[0] / len(members)), vc.index[0]
        typ = groups["type"].get(top, "household")
        if share > 0.5 and typ in ("care_home", "dormitory"):
            care_home = typ == "care_home"
            zh = "养老机构" if care_home else "集体宿舍/集体户"
            checks.append(benign_check("collective_household", f"{zh}（同址同电话）", "explains",
                                       f"{share:.0%} of the members live at one {typ.replace('_', ' ')} address "
                                       f"({groups['members'].get(top, 0)} residents)", collective_weight))
        elif share > 0.5 and typ == "collective":
            checks.append(benign_check("collective_household", "集体户", "partial",
                                       f"{share:.0%} of the members live at one address of {groups['members'].get(top, 0)} "
                                       f"people (more than a household, ≤ {hh_max}), of mixed ages", collective_weight ** 0.5))
        else:
            checks.append(benign_check("collective_household", "养老机构/集体户", "ruled_out",
                                       "the members do not live at one collective address"))
    else:
        checks.append(benign_check("collective_household", "养老机构/集体户", "not_testable", "no addresses in the data"))
    strong_kinds = set(per_val["kind"]) - {"address"}
    venue = venue_null.get("venue")
    steer_txt = (f"{venue_null.get('venue_members')} members at {venue} where {venue_null.get('venue_expected_members')} "
                 f"were expected") if venue else "no venue shared"
    # village doctor / agent activating e-vouchers: one region, mostly elderly or children, and not
    # steered, or steered only to an institution of their own region (their clinic, their county hospital)
    region = mem["region"].dropna()
    top_region = region.value_counts().index[0] if len(region) else None
    one_region = float(region.value_counts().iloc[0] / len(members)) if len(region) else 0.0
    dependants = float(((ages[known] >= elderly_age) | (ages[known] < CHILD_AGE)).mean()) if known.any() else 0.0
    local_clinic = venue is not None and venue in primary and primary[venue] is not None and primary[venue] == top_region
    # an agent registers their own phone or device for the villagers' e-vouchers, never a bank
    # account: a shared account (where reimbursements are paid) is not this explanation
    agent_kinds = strong_kinds - {"phone", "device"}
    if not strong_kinds:
        pass
    elif agent_kinds:
        checks.append(benign_check("village_agent", "村医/代办人代激活电子凭证", "ruled_out",
                                   f"shared {', '.join(sorted(agent_kinds))}: an agent registers a phone or device, not this"))
    elif one_region > 0.5 and dependants > 0.5:
        agent_steered = steered and not local_clinic
        why = (f"but steered: {steer_txt}" if agent_steered else
               f"the shared venue is an institution of their own region ({steer_txt})" if steered else
               f"not steered to a venue ({steer_txt})")
        checks.append(benign_check("village_agent", "村医/代办人代激活电子凭证",
                                   "ruled_out" if agent_steered else "explains",
                                   f"{one_region:.0%} in one region, {dependants:.0%} elderly or children; " + why,
                                   1.0 if agent_steered else agent_weight))
    else:
        checks.append(benign_check("village_agent", "村医/代办人代激活电子凭证", "ruled_out",
                                   f"{one_region:.0%} of the members in one region, {dependants:.0%} elderly or children"))
    # employer's number: far more employees (职工医保) among the holders than in the city, of
    # working age, and not steered
    emp = mem["insurance_type"].dropna()
    n_emp, n_known = int((emp == "employee").sum()), int(len(emp))
    city_emp = float(people.attrs["employee_share"])
    lp_emp = float(binom_log10_sf(n_emp, n_known, city_emp)) if n_known and 0 < city_emp < 1 else 0.0
    employees = float(surprise(lp_emp, max(n_rings, 1))) > 0
    emp_txt = f"{n_emp}/{n_known} employees (city {city_emp:.0%}, log10 p {lp_emp:.1f}), {working:.0%} of working age"
    if "phone" in strong_kinds and working > 0.5 and employees:
        checks.append(benign_check("employer_number", "单位总机号码", "ruled_out" if steered else "explains",
                                   emp_txt + "; " + (f"but steered: {steer_txt}" if steered else f"not steered ({steer_txt})"),
                                   1.0 if steered else agent_weight))
    elif "phone" in strong_kinds:
        checks.append(benign_check("employer_number", "单位总机号码", "ruled_out", emp_txt))
    # a provider's own number registered for its patients: the venue is a hospital and the
    # members' visits there never fall on the same day (no organised trips)
    if venue and venue.startswith("institution:") and strong_kinds == {"phone"}:
        vid = venue.split(":", 1)[1]
        at = c[(c["provider_type"] == "institution") & (c["provider_id"] == vid)]
        same_day = at.assign(d=at["start_time"].dt.floor("D")).groupby("d")["patient_id"].nunique().max() if len(at) else 0
        if same_day <= 1:
            checks.append(benign_check("provider_number", "医疗机构登记的机构电话", "partial",
                                       f"members share {venue}, but never on the same day (no organised visits)", agent_weight ** 0.5))
        else:
            checks.append(benign_check("provider_number", "医疗机构登记的机构电话", "ruled_out",
                                       f"up to {int(same_day)} members at {venue} on one day"))
    return checks, care_home
