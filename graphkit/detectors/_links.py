"""Institutions that belong together, and the pooling region (统筹区) of each, derived from the data.

*Linked institutions* are one organisation in practice: a split stay (分解住院) may discharge a
patient from a hospital and re-admit them at its branch (…分院, 东院区, 院区), and a phantom stay's
"claim elsewhere" at the hospital's own branch is a consultation, not an absence. Links come
from what the bundle holds, each with its basis:

``name``
    The same name stem: a name and its branch (``济南市第一人民医院`` and ``济南市第一人民医院东院区``,
    ``…医院（南院）``, ``…分院``, ``…分部``, ``… branch``), or two identical names in one pooling
    region. The stem ends at the last institution word (医院, 卫生院, 中心, 诊所, 门诊部 …) when
    what follows it is a branch marker.
``group``
    The same value in an institution column naming a group or chain (``group``, ``group_id``,
    ``chain``, ``brand``, ``medical_group``, ``parent_institution_id`` …: extra columns the
    bundle may carry).
``roster``
    A shared doctor roster: doctors registered at one institution and treating inpatients at the
    other (or treating at both), more of them than a configuration null (each institution's
    number of multi-site doctors) allows beyond the Bonferroni bar over all pairs, and at least
    two.
``transfers``
    Frequent direct transfers: patients discharged from one and admitted to the other on the
    same or the next day, or referred between them, by at least ``min_patients`` distinct
    people and beyond what the two institutions' totals predict (Poisson, Bonferroni over pairs).
    One patient's own back-and-forth never links two hospitals.

*Pooling regions*: the national 6-digit county codes pool at the prefecture (the first four
digits); a ``regions`` table's ``parent_code`` is used when it lists the code; anything else is
unknown (never guessed).

Examples
--------
>>> name_stem("济南市第一人民医院东院区")
('济南市第一人民医院', True)
>>> name_stem("槐荫区德济门诊部（2部）")
('槐荫区德济门诊部', True)
>>> name_stem("济南市中心医院")
('济南市中心医院', False)
>>> pool_of_code("370102"), pool_of_code("X-17"), pool_of_code("990101")
('3701', None, None)
"""

from __future__ import annotations

import re
import unicodedata
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd
from scipy.stats import poisson

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["name_stem", "pool_of_code", "pool_mapper", "InstitutionLinks", "institution_links", "pooling_regions"]

DAY_S = 86_400
LN10 = np.log(10.0)

#: words that end an institution's name (longest first so 卫生服务中心 wins over 中心)
_TYPE_WORDS = ("卫生服务中心", "卫生服务站", "医疗中心", "保健院", "卫生院", "中医院", "门诊部", "卫生室", "医务室",
               "医院", "诊所", "中心", "hospital", "clinic", "center", "centre")
#: what a branch adds after the name (or in parentheses)
_BRANCH = re.compile(r"(分院|院区|分部|本部|总院|东院|西院|南院|北院|新院|老院|[0-9一二三四五六七八九十]+部|branch|campus|annex)",
                     re.IGNORECASE)
_PAREN = re.compile(r"\(([^()]*)\)")
#: provinces of the national administrative codes (GB/T 2260)
_PROVINCES = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53,
              54, 61, 62, 63, 64, 65, 71, 81, 82}
#: institution columns that name a group, chain or parent (extra columns a bundle may carry)
GROUP_COLUMNS = ("group", "group_id", "group_name", "chain", "brand", "medical_group", "network",
                 "parent_id", "parent_institution_id", "集团")


def name_stem(name: Any) -> tuple[str | None, bool]:
    """(stem, is_branch) of an institution name; ``(None, False)`` for an empty name.

    >>> name_stem("北京大学第三医院崇礼院区")
    ('北京大学第三医院', True)
    >>> name_stem("St. Mary Hospital Branch")
    ('st.maryhospital', True)
    """
    if name is None or (isinstance(name, float) and np.isnan(name)) or pd.isna(name):
        return None, False
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(name))).lower()
    branch = False
    for inner in _PAREN.findall(s):
        if _BRANCH.search(inner) or inner.isdigit():
            branch = True
    s = _PAREN.sub("", s)
    if not s:
        return None, False
    ends = sorted({m.end() for w in _TYPE_WORDS for m in re.finditer(re.escape(w), s)}, reverse=True)
    for e in ends:
        rest = s[e:]
        if not rest:
            return s, branch
        if len(rest) <= 12 and _BRANCH.search(rest):
            return s[:e], True
    return s, branch


def pool_of_code(code: Any) -> str | None:
    """Prefecture (first four digits) of a national 6-digit county code; None for anything else."""
    if code is None or pd.isna(code):
        return None
    s = str(code).strip()
    if len(s) == 6 and s.isdigit() and int(s[:2]) in _PROVINCES:
        return s[:4]
    return None


def _regions_parent(store: Store) -> dict[str, str]:
    has = getattr(store, "has_table", None)
    try:
        if has is not None and not has("regions"):
            return {}
        reg = store.table("regions", ["region_code", "parent_code"])
    except Exception:  # noqa: BLE001 - a store or schema without the optional regions table
        return {}
    reg = reg[reg["region_code"].notna() & reg["parent_code"].notna()]
    return dict(zip(reg["region_code"].astype(str), reg["parent_code"].astype(str)))


def pool_mapper(store: Store) -> Callable[[Any], str | None]:
    """A function region code → pooling region (None when unknown) for ``store``'s codes."""
    parent = _regions_parent(store)

    def pool_of(code: Any) -> str | None:
        if code is None or pd.isna(code):
            return None
        return parent.get(str(code)) or pool_of_code(code)

    return pool_of


def pooling_regions(store: Store) -> pd.DataFrame:
    """Per institution: its ``region``, pooling region ``pool`` (None when unknown) and ``pool_basis``
    (``regions_table``, ``national_code`` or ``unknown``)."""
    inst = store.table("institutions", ["institution_id", "region"])
    parent = _regions_parent(store)
    reg = inst["region"].astype("string")
    pools, basis = [], []
    for r in reg.to_numpy(dtype=object, na_value=None):
        if r is not None and str(r) in parent:
            pools.append(parent[str(r)])
            basis.append("regions_table")
        elif (p := pool_of_code(r)) is not None:
            pools.append(p)
            basis.append("national_code")
        else:
            pools.append(None)
            basis.append("unknown")
    return pd.DataFrame({"institution_id": inst["institution_id"].astype(str).to_numpy(object),
                         "region": reg.to_numpy(dtype=object, na_value=None),
                         "pool": pd.Series(pools, dtype=object).to_numpy(), "pool_basis": basis})


@dataclass
class InstitutionLinks:
    """Linked institution pairs and how they were found (see the module docstring)."""

    #: institution id -> component id of the equivalence links (name stem, group column)
    brand: dict[str, int] = field(default_factory=dict)
    #: unordered pair (a < b) -> basis (``roster`` / ``transfers``) for the pairwise links
    pairs: dict[tuple[str, str], str] = field(default_factory=dict)
    #: institution id -> basis of its brand link (``name`` or ``group``)
    brand_basis: dict[str, str] = field(default_factory=dict)

    def basis(self, a: Any, b: Any, bases: tuple[str, ...] | None = None) -> str | None:
        """How ``a`` and ``b`` are linked (None: not linked, or the same institution); only the
        ``bases`` given count (all when None)."""
        if a is None or b is None or a == b:
            return None
        a, b = str(a), str(b)
        ka, kb = self.brand.get(a), self.brand.get(b)
        out = None
        if ka is not None and ka == kb:
            out = self.brand_basis.get(a) or self.brand_basis.get(b) or "name"
        if out is None or (bases is not None and out not in bases):
            out = self.pairs.get((a, b) if a < b else (b, a))
        return out if out is None or bases is None or out in bases else None

    def linked(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`basis` (object array, None where not linked)."""
        out = np.empty(len(a), dtype=object)
        for i, (x, y) in enumerate(zip(a, b)):
            out[i] = self.basis(x, y)
        return out

    def partnered(self) -> set[str]:
        """Institutions with at least one linked institution."""
        return set(self.brand) | {x for pair in self.pairs for x in pair}

    def partners(self, a: str) -> list[str]:
        """Institutions linked to ``a`` (sorted)."""
        k = self.brand.get(a)
        out = {x for x, kk in self.brand.items() if k is not None and kk == k and x != a}
        out |= {y if x == a else x for (x, y) in self.pairs if a in (x, y)}
        return sorted(out)

    def to_frame(self) -> pd.DataFrame:
        rows = []
        by: dict[int, list[str]] = {}
        for i, k in self.brand.items():
            by.setdefault(k, []).append(i)
        for ids in by.values():
            ids = sorted(ids)
            for i, x in enumerate(ids):
                for y in ids[i + 1:]:
                    rows.append((x, y, self.brand_basis.get(x) or self.brand_basis.get(y) or "name"))
        rows += [(x, y, b) for (x, y), b in self.pairs.items()]
        return pd.DataFrame(sorted(set(rows)), columns=["a", "b", "basis"])


def _union(n: int, pairs: list[tuple[int, int]]) -> np.ndarray:
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return int(i)

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(i) for i in range(n)])


def _pair_surprise(pair_counts: pd.Series, node_totals: pd.Series) -> pd.DataFrame:
    """Configuration null for undirected pair counts: ``E = k_a k_b / (2M)`` with ``k`` the
    node's total incidences and ``M`` the total; Poisson surprise beyond Bonferroni over the
    possible pairs of nodes that have any."""
    a = pair_counts.index.get_level_values(0)
    b = pair_counts.index.get_level_values(1)
    tot = float(node_totals.sum())
    exp = node_totals.reindex(a).to_numpy(float) * node_totals.reindex(b).to_numpy(float) / max(tot, 1.0)
    obs = pair_counts.to_numpy(float)
    log10p = poisson.logsf(obs - 1, np.maximum(exp, 1e-12)) / LN10
    n = int((node_totals > 0).sum())
    n_tests = max(n * (n - 1) // 2, 1)
    return pd.DataFrame({"a": a, "b": b, "observed": obs, "expected": exp,
                         "surprise": -log10p - np.log10(n_tests)})


_CACHE: "weakref.WeakKeyDictionary[Any, dict[tuple, InstitutionLinks]]" = weakref.WeakKeyDictionary()


def institution_links(store: Store, *, min_patients: int = 3, adm: pd.DataFrame | None = None) -> InstitutionLinks:
    """Linked institutions of ``store`` (module docstring), computed once per store and data
    fingerprint. ``adm``: the ``inpatient_admissions`` projection when the caller has it already."""
    key = (getattr(store, "fingerprint", None), int(min_patients))
    try:
        memo = _CACHE.setdefault(store, {})
    except TypeError:  # a store that cannot be weakly referenced: no cache
        memo = {}
    if key[0] is not None and key in memo:
        return memo[key]
    links = _institution_links(store, min_patients=min_patients, adm=adm)
    memo[key] = links
    return links


def _institution_links(store: Store, *, min_patients: int, adm: pd.DataFrame | None) -> InstitutionLinks:
    inst = store.table("institutions", ["institution_id", "name"])
    ids = inst["institution_id"].astype(str).to_numpy(object)
    links = InstitutionLinks()
    pools = pooling_regions(store).set_index("institution_id")["pool"]
    # --- name stems and group columns (equivalence links)
    eq: list[tuple[int, int]] = []
    basis_of: dict[int, str] = {}
    stems = [name_stem(n) for n in inst["name"].to_numpy(dtype=object, na_value=None)]
    by_stem: dict[str, list[int]] = {}
    for i, (s, _) in enumerate(stems):
        if s:
            by_stem.setdefault(s, []).append(i)
    for s, members in by_stem.items():
        if len(members) < 2:
            continue
        branchy = [i for i in members if stems[i][1]]
        plain = [i for i in members if not stems[i][1]]
        # a name and its branches are one; identical plain names only within one pooling region
        for i in branchy:
            for j in members:
                if j != i:
                    eq.append((i, j))
                    basis_of[i] = basis_of[j] = "name"
        for k, i in enumerate(plain):
            for j in plain[k + 1:]:
                pi, pj = pools.get(ids[i]), pools.get(ids[j])
                if pi is None or pj is None or pi == pj:
                    eq.append((i, j))
                    basis_of[i] = basis_of[j] = "name"
    cols = set(store.columns("institutions")) if hasattr(store, "columns") else set()
    for gc in GROUP_COLUMNS:
        if gc not in cols:
            continue
        g = store.table("institutions", ["institution_id", gc])[gc].astype("string").str.strip()
        if gc in ("parent_id", "parent_institution_id"):
            pos = pd.Index(ids).get_indexer(g.fillna(""))
            for i, j in enumerate(pos):
                if j >= 0 and j != i:
                    eq.append((i, int(j)))
                    basis_of.setdefault(i, "group")
                    basis_of.setdefault(int(j), "group")
            continue
        for _, members in pd.Series(np.arange(len(ids)))[g.notna().to_numpy() & (g != "").fillna(False).to_numpy()].groupby(
                g[g.notna() & (g != "").fillna(False)].to_numpy()):
            m = members.to_numpy()
            for j in m[1:]:
                eq.append((int(m[0]), int(j)))
                basis_of.setdefault(int(m[0]), "group")
                basis_of.setdefault(int(j), "group")
    if eq:
        comp = _union(len(ids), eq)
        sizes = np.bincount(comp, minlength=len(ids))
        for i in np.flatnonzero(sizes[comp] >= 2):
            links.brand[ids[i]] = int(comp[i])
            links.brand_basis[ids[i]] = basis_of.get(int(i), "name")
    # --- shared doctor roster and frequent transfers (pairwise links beyond a null)
    if adm is None:
        adm = store.projection("inpatient_admissions")
    docs = store.table("doctors", ["doctor_id", "institution_id"])
    di = pd.concat([
        pd.DataFrame({"d": docs["doctor_id"].astype(str).to_numpy(object), "i": docs["institution_id"].to_numpy(dtype=object, na_value=None)}),
        pd.DataFrame({"d": adm["doctor_id"].to_numpy(dtype=object, na_value=None), "i": adm["institution_id"].astype(str).to_numpy(object)}),
    ], ignore_index=True).dropna().drop_duplicates()
    multi = di[di.groupby("d")["i"].transform("size").between(2, 10)]
    if len(multi):
        pr = multi.merge(multi, on="d")
        pr = pr[pr["i_x"] < pr["i_y"]]
        if len(pr):
            cnt = pr.groupby(["i_x", "i_y"]).size()
            tot = multi.groupby("i").size()
            s = _pair_surprise(cnt, tot)
            for a, b, o, sv in zip(s["a"], s["b"], s["observed"], s["surprise"]):
                if o >= 2 and sv > 0:
                    links.pairs[(str(a), str(b))] = "roster"
    tr = _transfer_pairs(store, adm)
    if len(tr):
        tot = pd.concat([tr.groupby("a")["patients"].sum(), tr.groupby("b")["patients"].sum()]).groupby(level=0).sum()
        s = _pair_surprise(tr.set_index(["a", "b"])["patients"], tot)
        for a, b, o, sv in zip(s["a"], s["b"], s["observed"], s["surprise"]):
            if o >= min_patients and sv > 0:
                links.pairs.setdefault((str(a), str(b)), "transfers")
    return links


def _transfer_pairs(store: Store, adm: pd.DataFrame) -> pd.DataFrame:
    """Unordered institution pairs (a < b) with the distinct patients moved between them: direct
    transfers (discharge, then admission elsewhere the same or the next day) and referrals."""
    parts = []
    if len(adm) > 1:
        a = adm[adm["end_time"].notna()].sort_values(["patient_id", "start_time"], kind="stable")
        p = a["patient_id"].astype(str).to_numpy(object)
        inst = a["institution_id"].astype(str).to_numpy(object)
        d0 = a["start_time"].to_numpy("datetime64[s]").astype("datetime64[D]").astype(np.int64)
        d1 = a["end_time"].to_numpy("datetime64[s]").astype("datetime64[D]").astype(np.int64)
        nxt = (p[1:] == p[:-1]) & (inst[1:] != inst[:-1]) & (d0[1:] - d1[:-1] >= 0) & (d0[1:] - d1[:-1] <= 1)
        k = np.flatnonzero(nxt)
        parts.append(pd.DataFrame({"x": inst[k], "y": inst[k + 1], "p": p[k]}))
    ref = store.table("referrals", ["patient_id", "from_institution_id", "to_institution_id"]).dropna()
    if len(ref):
        parts.append(pd.DataFrame({"x": ref["from_institution_id"].astype(str).to_numpy(object),
                                   "y": ref["to_institution_id"].astype(str).to_numpy(object),
                                   "p": ref["patient_id"].astype(str).to_numpy(object)}))
    if not parts:
        return pd.DataFrame({"a": [], "b": [], "patients": []})
    t = pd.concat(parts, ignore_index=True)
    t = t[t["x"] != t["y"]]
    lo = np.where(t["x"] < t["y"], t["x"], t["y"])
    hi = np.where(t["x"] < t["y"], t["y"], t["x"])
    t = pd.DataFrame({"a": lo, "b": hi, "p": t["p"].to_numpy(object)}).drop_duplicates()
    return t.groupby(["a", "b"]).size().rename("patients").reset_index()
