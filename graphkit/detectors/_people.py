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

from typing import Any, Sequence

import numpy as np
import pandas as pd

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


def contact_values(store: Any, kinds: Sequence[str] = ("address", "phone")) -> pd.DataFrame:
    """Distinct (patient_id, kind, value) contacts of ``kinds`` with ``size`` = people on the value."""
    c = store.table("contacts", ["patient_id", "kind", "value"])
    c = c[c["kind"].isin(list(kinds)).fillna(False) & c["value"].notna() & c["patient_id"].notna()]
    c = c.drop_duplicates(["patient_id", "kind", "value"])
    c = c.assign(size=c.groupby(["kind", "value"])["patient_id"].transform("size").astype("int64"))
    return c.reset_index(drop=True)


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


def address_groups(store: Any, ref: pd.Timestamp | None = None) -> tuple[pd.DataFrame, pd.Series, int]:
    """Addresses with who lives there, and each person's address.

    Returns ``(groups, address_of, hh_max)``: ``groups`` indexed by address value with
    ``members``, ``elderly_share`` (aged ≥ :data:`ELDERLY_AGE` at ``ref``), ``young_share``
    (aged within :data:`YOUNG_ADULT`), ``collective`` (more members than :func:`household_max`)
    and ``type`` (``care_home`` when most are elderly, ``dormitory`` when most are young adults,
    ``collective`` otherwise, ``household`` when not collective); ``address_of`` maps a patient
    to one address value (the first registered); ``hh_max`` is the household-size bound.
    """
    vals = contact_values(store, ("address",))
    empty = pd.DataFrame({"members": pd.Series([], dtype="int64"), "elderly_share": pd.Series([], dtype="float64"),
                          "young_share": pd.Series([], dtype="float64"), "collective": pd.Series([], dtype=bool),
                          "type": pd.Series([], dtype=object)})
    if vals.empty:
        return empty, pd.Series([], dtype=object), HOUSEHOLD_FLOOR
    sizes = vals.drop_duplicates("value")["size"].to_numpy()
    hh_max = household_max(sizes)
    pats = store.table("patients", ["patient_id", "birth_date"])
    birth = vals["patient_id"].map(pd.Series(pats["birth_date"].to_numpy(), index=pats["patient_id"].to_numpy()))
    if ref is None:
        ref = pd.Timestamp.today().normalize()
    age = ages_at(birth, np.full(len(vals), np.datetime64(pd.Timestamp(ref), "s")))
    known = ~np.isnan(age)
    v = pd.DataFrame({"value": vals["value"].to_numpy(dtype=object), "known": known,
                      "old": known & (age >= ELDERLY_AGE),
                      "young": known & (age >= YOUNG_ADULT[0]) & (age <= YOUNG_ADULT[1])})
    g = v.groupby("value", sort=False).agg(members=("known", "size"), known=("known", "sum"), old=("old", "sum"),
                                          young=("young", "sum"))
    den = g["known"].where(g["known"] > 0)
    groups = pd.DataFrame({
        "members": g["members"].astype("int64"),
        "elderly_share": (g["old"] / den).fillna(0.0),
        "young_share": (g["young"] / den).fillna(0.0),
    })
    groups["collective"] = groups["members"] > hh_max
    groups["type"] = np.where(~groups["collective"], "household",
                              np.where(groups["elderly_share"] > 0.5, "care_home",
                                       np.where(groups["young_share"] > 0.5, "dormitory", "collective")))
    first = vals.drop_duplicates("patient_id")
    address_of = pd.Series(first["value"].to_numpy(dtype=object), index=first["patient_id"].to_numpy(dtype=object))
    return groups, address_of, hh_max


def card_kinds(store: Any) -> pd.DataFrame:
    """Cards with ``kind`` (``physical`` / ``e_voucher`` / null when the bundle does not say;
    bundles before v1.1 have no such column): card_id, patient_id, issued_date, status, kind."""
    cols = ["card_id", "patient_id", "issued_date", "status"]
    has_kind = "kind" in store.columns("cards")
    cards = store.table("cards", cols + (["kind"] if has_kind else []))
    if not has_kind:
        cards = cards.assign(kind=pd.Series(pd.NA, index=cards.index, dtype="string"))
    return cards
