"""``collusion_ring`` — what the stages after the pair projection read: the ``patient_claims``
and ``inpatient_admissions`` projections, the members' claims as one frame per candidate group
(:func:`_member_claims`), registered families and shared addresses and the household count they
give (:func:`_units`), referrals, the context every ring's null and checks share
(:func:`_context`: admission calendar, observation period, hubs, time precision) and
:class:`_Shared`, which computes each of these once per run for both the lock-step and the
dense-block stage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from ..projections import projection
from ._ringnull import AdmissionProfile

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store


@projection("patient_claims")
def patient_claims(store: Store, *, patient_ids: Sequence[str]) -> pd.DataFrame:
    """All claims of the given people, with ``provider_type`` / ``provider_id``."""
    from ..projections import provider_key

    cols = ["claim_id", "patient_id", "claim_type", "institution_id", "pharmacy_id", "doctor_id",
            "start_time", "end_time", "diagnosis_code", "fund_amount"]
    want = pd.unique(pd.Series(list(patient_ids), dtype="string").dropna())
    out = store.table_where("claims", cols, [("patient_id", "in", want)])
    out["provider_type"], out["provider_id"] = provider_key(out)
    return out.drop(columns=["institution_id", "pharmacy_id"]).reset_index(drop=True)


def _relation_tables(store: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Registered family groups and address contacts of everyone."""
    contacts = store.table("contacts", ["patient_id", "kind", "value"])
    addr = contacts[(contacts["kind"] == "address").fillna(False) & contacts["value"].notna()]
    return store.projection("family_groups"), addr


def _relations_of(fam: pd.DataFrame, addr: pd.DataFrame,
                  members: Sequence[str]) -> tuple[dict[str, int], dict[str, frozenset[str]]]:
    """Family group and address tokens of the given people (the only relations used)."""
    want = pd.Index(list(members), dtype="string")
    fam = fam[fam["patient_id"].isin(want)]
    family = dict(zip(fam["patient_id"].astype(str), fam["family"].astype(int)))
    addr = addr[addr["patient_id"].isin(want).fillna(False)]
    found: dict[str, set[str]] = {}
    for pid, val in zip(addr["patient_id"].astype(str).to_numpy(object), addr["value"].astype(str).to_numpy(object)):
        found.setdefault(pid, set()).add(val)
    address = {pid: frozenset(found[pid]) for pid in sorted(found)}
    return family, address


def _units(members: list[str], family: dict[str, int], address: dict[str, frozenset[str]]) -> int:
    """Number of connected components of the relation graph (family group, address) among members."""
    parent = {x: x for x in members}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first: dict[tuple[str, Any], str] = {}
    for x in members:
        keys = [("family", family[x])] if x in family else []
        keys += [("address", a) for a in sorted(address.get(x, ()))]
        for k in keys:
            if k in first:
                parent[find(x)] = find(first[k])
            else:
                first[k] = x
    return len({find(x) for x in members})


class _Shared:
    """What the lock-step and the dense stage both read, each computed once per run: the
    ``provider_activity`` and ``inpatient_admissions`` projections, the context of the nulls and
    checks, registered families and addresses. Each reads only the claims' columns (as codes where
    it can) or rows it needs: holding every claim's strings for the whole run cost 2.3 GB at 12.5M
    claims."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._memo: dict[str, Any] = {}

    def _get(self, name: str, fn) -> Any:
        if name not in self._memo:
            self._memo[name] = fn()
        return self._memo[name]

    def activity(self) -> pd.DataFrame:
        return self._get("activity", lambda: self.store.projection("provider_activity"))

    def adm(self) -> pd.DataFrame:
        return self._get("adm", lambda: self.store.projection("inpatient_admissions"))

    def context(self) -> dict[str, Any]:
        return self._get("context", lambda: _context(self.store, self.activity(), self.adm()))

    def relations(self, members: Sequence[str]) -> tuple[dict[str, int], dict[str, frozenset[str]]]:
        fam, addr = self._get("relations", lambda: _relation_tables(self.store))
        return _relations_of(fam, addr, members)


def _obj(x: pd.Series) -> pd.Series:
    """Strings as a plain object column (None for missing): fast for the small per-ring frames."""
    return pd.Series(x.to_numpy(dtype=object, na_value=None), index=x.index, dtype=object)


def _member_claims(store: Store, groups: list[list[str]]) -> pd.DataFrame:
    members = [m for g in groups for m in g]
    cl = store.projection("patient_claims", patient_ids=members).reset_index(drop=True)
    gid = pd.Series({m: i for i, g in enumerate(groups) for m in g})
    pid = _obj(cl["patient_id"])
    ptype, prov = _obj(cl["provider_type"]), _obj(cl["provider_id"])
    start = cl["start_time"].to_numpy("datetime64[s]")
    end = cl["end_time"].to_numpy("datetime64[s]")
    end_day = end.astype("datetime64[D]").astype(np.int64).astype(float)
    end_day[np.isnat(end)] = np.nan
    return pd.DataFrame({
        "claim_id": _obj(cl["claim_id"]),
        "patient_id": pid,
        "group": pid.map(gid).to_numpy(np.int64),
        "mode": pd.Series(np.where((cl["claim_type"] == "inpatient").to_numpy(bool), "inpatient", "ambulatory"), dtype=object),
        "provider_type": ptype,
        "provider_id": prov,
        "venue": pd.Series((ptype + ":" + prov).to_numpy(object), dtype=object),
        "doctor_id": _obj(cl["doctor_id"]),
        "day": start.astype("datetime64[D]").astype(np.int64),
        "start_time": cl["start_time"],
        "end_time": cl["end_time"],
        "end_day": end_day,
        "diagnosis_code": _obj(cl["diagnosis_code"]),
        "fund_amount": cl["fund_amount"].to_numpy(float),
    })


def _context(store: Store, activity: pd.DataFrame, adm: pd.DataFrame | None = None) -> dict[str, Any]:
    """What every ring's null and checks share: the admission calendar, the observation period, the
    hub institutions, the institutions tested for dense blocks, the time precision."""
    from ..profile import time_precision

    if adm is None:
        adm = store.projection("inpatient_admissions")
    inst = store.table("institutions", ["institution_id", "region"])
    act = activity[activity["mode"] == "inpatient"]
    period = float(max(act["last_day"].max() - act["first_day"].min() + 1, 28)) if len(act) else 365.0
    day0 = int(act["first_day"].min()) if len(act) else 0
    profile = AdmissionProfile(adm, inst, day0, int(period)) if len(adm) else None
    people = adm.groupby("institution_id")["patient_id"].nunique() if len(adm) else pd.Series(dtype=float)
    hubs = set(people.index[people >= people.quantile(0.9)].astype(str)) if len(people) >= 10 else set()
    prec = time_precision(adm["start_time"]) if len(adm) else None
    return {"profile": profile, "period": period, "hubs": hubs, "dates_only": prec == "day",
            "n_institutions": max(int(len(people)), 1)}


def _referrals_of(store: Store, people: Sequence[str]) -> dict[str, set[str]]:
    """Referral destinations of each of the given people (who has any)."""
    refs = store.table("referrals", ["patient_id", "to_institution_id"]).astype("string").astype(object)
    refs = refs[refs["patient_id"].isin(set(people))]
    out: dict[str, set[str]] = {}
    for pid, to in zip(refs["patient_id"], refs["to_institution_id"]):
        if isinstance(to, str):
            out.setdefault(pid, set()).add(to)
    return out


@projection("inpatient_admissions")
def inpatient_admissions(store: Store) -> pd.DataFrame:
    """Inpatient claims at institutions: who was admitted where, when, under whom, for how much, and
    the referral the admission follows (if any)."""
    cols = ["claim_id", "patient_id", "institution_id", "doctor_id", "start_time", "end_time",
            "diagnosis_code", "fund_amount", "referral_id"]
    # filtered as it is read: a few percent of the claims are inpatient stays
    return store.table_where("claims", cols, [("claim_type", "==", "inpatient"), ("institution_id", "notnull")])


def admission_days(adm: pd.DataFrame) -> pd.DataFrame:
    """Distinct (institution, person, admission day) of ``inpatient_admissions`` rows; days as
    day numbers."""
    day = adm["start_time"].to_numpy("datetime64[s]").astype("datetime64[D]").astype(np.int64)
    return pd.DataFrame({"institution_id": adm["institution_id"].astype(str).to_numpy(object),
                         "patient_id": adm["patient_id"].astype(str).to_numpy(object),
                         "day": day}).drop_duplicates(ignore_index=True)
