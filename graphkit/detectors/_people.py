"""What the data says about people, for benign checks: ages, households, collective addresses.

Card, identity and burst detectors test the same legal explanations (a household sharing a
card, a care home's residents, a dormitory, a parent settling for a baby). The facts those
tests need come from the contacts and patients tables and are computed here, vectorised, on
the rows a detector asks about.

*Household-sized* is measured on the data: a phone or address value is a household's when
it is held by at most :func:`household_max` people — Tukey's far-out fence (Q3 + 3·IQR) of
the number of people per address in this bundle, never less than an ordinary large family
(:data:`HOUSEHOLD_FLOOR`). Larger address groups
are *collective* (care homes, dormitories, 集体户), classified by who lives there.

Examples
--------
>>> household_max(np.array([1, 2, 2, 3, 3, 4, 4, 5, 60]))
10
>>> household_max(np.array([2, 2, 2, 2, 3]))
6
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = [
    "household_max",
    "ages_at",
    "contact_values",
    "linked",
    "address_groups",
    "card_kinds",
    "CHILD_AGE",
    "ELDERLY_AGE",
    "YOUNG_ADULT",
]

#: ages used to describe who lives at an address or settles for whom (definitions, not fitted):
#: minors, the elderly (60+, 《老年人权益保障法》第二条), and young working adults (dormitories, 集体户)
CHILD_AGE = 18
ELDERLY_AGE = 60
YOUNG_ADULT = (16, 35)


#: a family household of this size is ordinary (2020 census: 6+ person 家庭户 are a few per cent), so
#: the data's fence is never taken below it (a city of two-person homes has an IQR of 0)
HOUSEHOLD_FLOOR = 6


def household_max(sizes: np.ndarray) -> int:
    """Most people a value can hold and still be one household: Q3 + 3·IQR of ``sizes``
    (people per address value), at least :data:`HOUSEHOLD_FLOOR`."""
    s = np.asarray(sizes, dtype="float64")
    s = s[s >= 1]
    if s.size == 0:
        return HOUSEHOLD_FLOOR
    q1, q3 = np.percentile(s, [25, 75])
    return int(max(HOUSEHOLD_FLOOR, np.floor(q3 + 3.0 * (q3 - q1))))


def ages_at(birth: pd.Series | np.ndarray, when: pd.Series | np.ndarray) -> np.ndarray:
    """Age in years (float; NaN when unknown) at ``when`` of people born on ``birth``.

    >>> ages_at(pd.Series(pd.to_datetime(["2020-01-01", None])), pd.Series(pd.to_datetime(["2021-07-01", "2021-07-01"]))).round(2).tolist()
    [1.5, nan]
    """
    b = pd.to_datetime(pd.Series(np.asarray(birth))).to_numpy("datetime64[s]")
    w = pd.to_datetime(pd.Series(np.asarray(when))).to_numpy("datetime64[s]")
    days = (w - b).astype("timedelta64[s]").astype("float64") / 86400.0
    nat = pd.isna(pd.Series(b)).to_numpy() | pd.isna(pd.Series(w)).to_numpy()
    days[nat] = np.nan
    return days / 365.25


def _first_of(key: np.ndarray) -> np.ndarray:
    """Mask of the first occurrence of each value of ``key`` (one stable sort).

    >>> _first_of(np.array([5, 3, 5, 3, 1])).tolist()
    [True, True, False, False, True]
    """
    o = np.argsort(key, kind="stable")
    ks = key[o]
    first = np.empty(key.size, dtype=bool)
    first[o] = np.r_[True, ks[1:] != ks[:-1]] if ks.size else np.zeros(0, bool)
    return first


def _contact_codes(store: Store, kinds: Sequence[str]) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """:func:`contact_values` and, per row, integer codes of its person and of its (kind, value)
    (codes in order of first appearance)."""
    c = store.table("contacts", ["patient_id", "kind", "value"])
    c = c[c["kind"].isin(list(kinds)).fillna(False) & c["value"].notna() & c["patient_id"].notna()]
    pcode = pd.factorize(c["patient_id"])[0].astype(np.int64)
    kcode = pd.factorize(c["kind"])[0].astype(np.int64)
    vcode = pd.factorize(c["value"])[0].astype(np.int64)
    nk, nv = int(kcode.max(initial=0)) + 1, int(vcode.max(initial=0)) + 1
    kv = kcode * nv + vcode
    # distinct (patient_id, kind, value), first occurrences kept in order (drop_duplicates)
    keep = _first_of(pcode * (nk * nv) + kv) if (int(pcode.max(initial=0)) + 1) * nk * nv < 2 ** 62 else \
        ~c.duplicated(["patient_id", "kind", "value"]).to_numpy()
    c, pcode, kv = c[keep], pcode[keep], kv[keep]
    kv = pd.factorize(kv)[0].astype(np.int64)
    c = c.assign(size=np.bincount(kv, minlength=int(kv.max(initial=-1)) + 1)[kv].astype("int64"))
    return c.reset_index(drop=True), pcode, kv


def contact_values(store: Store, kinds: Sequence[str] = ("address", "phone")) -> pd.DataFrame:
    """Distinct (patient_id, kind, value) contacts of ``kinds`` with ``size`` = people on the value."""
    return _contact_codes(store, kinds)[0]


def linked(vals: pd.DataFrame, a: pd.Series, b: pd.Series, max_size: int) -> np.ndarray:
    """For aligned people ``a[i]``, ``b[i]``: True when they share a value of ``vals`` (from
    :func:`contact_values`) held by at most ``max_size`` people (one household).

    >>> v = pd.DataFrame({"patient_id": ["x", "y", "z"], "kind": "address", "value": ["A", "A", "B"], "size": [2, 2, 1]})
    >>> linked(v, pd.Series(["x", "x"]), pd.Series(["y", "z"]), 8).tolist()
    [True, False]
    """
    n = len(a)
    if n == 0 or vals.empty:
        return np.zeros(n, dtype=bool)
    small = vals[vals["size"] <= max_size]
    key = small["kind"].astype(str) + "\x1f" + small["value"].astype(str)
    left = pd.DataFrame({"i": np.arange(n), "patient_id": np.asarray(a, dtype=object)})
    right = pd.DataFrame({"i": np.arange(n), "patient_id": np.asarray(b, dtype=object)})
    sv = pd.DataFrame({"patient_id": small["patient_id"].astype(object).to_numpy(), "key": key.to_numpy()})
    la = left.merge(sv, on="patient_id")[["i", "key"]]
    rb = right.merge(sv, on="patient_id")[["i", "key"]]
    hit = la.merge(rb, on=["i", "key"])["i"].unique()
    out = np.zeros(n, dtype=bool)
    out[hit] = True
    return out


def address_groups(store: Store, ref: pd.Timestamp | None = None) -> tuple[pd.DataFrame, pd.Series, int]:
    """Addresses with who lives there, and each person's address.

    Returns ``(groups, address_of, hh_max)``: ``groups`` indexed by address value with
    ``members``, ``elderly_share`` (aged ≥ :data:`ELDERLY_AGE` at ``ref``), ``young_share``
    (aged within :data:`YOUNG_ADULT`), ``collective`` (more members than :func:`household_max`)
    and ``type`` (``care_home`` when most are elderly, ``dormitory`` when most are young adults,
    ``collective`` otherwise, ``household`` when not collective); ``address_of`` maps a patient
    to one address value (the first registered); ``hh_max`` is the household-size bound.
    """
    vals, pcode, vcode = _contact_codes(store, ("address",))
    empty = pd.DataFrame({"members": pd.Series([], dtype="int64"), "elderly_share": pd.Series([], dtype="float64"),
                          "young_share": pd.Series([], dtype="float64"), "collective": pd.Series([], dtype=bool),
                          "type": pd.Series([], dtype=object)})
    if vals.empty:
        return empty, pd.Series([], dtype=object), HOUSEHOLD_FLOOR
    # vcode: the address values in order of first appearance (as a groupby without sorting)
    first_v = _first_of(vcode)
    sizes = vals["size"].to_numpy()[first_v]
    hh_max = household_max(sizes)
    pats = store.table("patients", ["patient_id", "birth_date"])
    ppos = pats["patient_id"].astype(object).pipe(pd.Index).get_indexer(vals["patient_id"].to_numpy(dtype=object)) \
        if pats["patient_id"].is_unique else None
    if ppos is None:  # as Series.map, which refuses a duplicated index
        birth = vals["patient_id"].map(pd.Series(pats["birth_date"].to_numpy(), index=pats["patient_id"].to_numpy()))
    else:
        bd = pats["birth_date"].to_numpy()
        birth = np.where(ppos >= 0, bd[np.maximum(ppos, 0)], np.datetime64("NaT")) if len(bd) else \
            np.full(len(ppos), np.datetime64("NaT"), dtype="datetime64[s]")
    if ref is None:
        ref = pd.Timestamp.today().normalize()
    age = ages_at(birth, np.full(len(vals), np.datetime64(pd.Timestamp(ref), "s")))
    known = ~np.isnan(age)
    old = known & (age >= ELDERLY_AGE)
    young = known & (age >= YOUNG_ADULT[0]) & (age <= YOUNG_ADULT[1])
    n = int(vcode.max()) + 1
    members = np.bincount(vcode, minlength=n).astype("int64")
    n_known = np.bincount(vcode, weights=known, minlength=n).astype("int64")
    n_old = np.bincount(vcode, weights=old, minlength=n).astype("int64")
    n_young = np.bincount(vcode, weights=young, minlength=n).astype("int64")
    den = pd.Series(n_known).where(n_known > 0)
    index = pd.Index(vals["value"].to_numpy(dtype=object)[first_v], name="value")
    groups = pd.DataFrame({
        "members": members,
        "elderly_share": (pd.Series(n_old) / den).fillna(0.0).to_numpy(),
        "young_share": (pd.Series(n_young) / den).fillna(0.0).to_numpy(),
    }, index=index)
    groups["collective"] = groups["members"] > hh_max
    groups["type"] = np.where(~groups["collective"], "household",
                              np.where(groups["elderly_share"] > 0.5, "care_home",
                                       np.where(groups["young_share"] > 0.5, "dormitory", "collective")))
    first = _first_of(pcode)
    address_of = pd.Series(vals["value"].to_numpy(dtype=object)[first], index=vals["patient_id"].to_numpy(dtype=object)[first])
    return groups, address_of, hh_max


def card_kinds(store: Store) -> pd.DataFrame:
    """Cards with ``kind`` (``physical`` / ``e_voucher`` / null when the bundle does not say;
    bundles before v1.1 have no such column): card_id, patient_id, issued_date, status, kind."""
    cols = ["card_id", "patient_id", "issued_date", "status"]
    has_kind = "kind" in store.columns("cards")
    cards = store.table("cards", cols + (["kind"] if has_kind else []))
    if not has_kind:
        cards = cards.assign(kind=pd.Series(pd.NA, index=cards.index, dtype="string"))
    return cards
