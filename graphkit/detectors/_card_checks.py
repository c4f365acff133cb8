"""shared_card's benign checks and nulls, kept apart from the detector (see ``docs/detectors-cards.md``).

Each claim settled on someone else's card (outside registered family) is labelled with the
legal explanations the data supports:

* ``infant`` — 新生儿/婴幼儿随父母结算: the person settled was younger than ``infant_age``
  at the claim, had no card of their own yet (none, or issued after the claim), and the
  holder is plausibly a parent (same household value, or 16–50 years older);
* ``dependant`` — 监护人/赡养人代结算: a minor settled on the card of an adult at least 16 years
  older, or an elderly person (65+) on the card of someone at least 16 years younger,
  sharing a household phone or address;
* ``household`` — 同户未登记共济: holder and user share a household-sized phone or address
  (a weaker explanation: the score is multiplied, not the claim removed);
* ``collective`` — the holder and the user live at one collective address (care home,
  dormitory): an institution settling for its residents.

``infant`` and ``dependant`` claims are left out of a candidate (recorded); household and
institution explanations multiply its score.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._fast import isin
from ._common import benign_check
from ._people import CHILD_AGE, ELDERLY_AGE, address_groups, ages_at, contact_values, linked

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["label_foreign_use", "candidate_checks", "infants_without_card", "PARENT_GAP", "INFANT_AGE"]

#: plausible age gap between a parent and a child (years; a definition, not fitted)
PARENT_GAP = (16.0, 50.0)
#: below this age a child without a card of its own is settled on a parent's (新生儿随父母结算)
INFANT_AGE = 2.0


def _birth_dates(store: Store) -> pd.Series:
    """Each person's birth date, by patient id."""
    pats = store.table("patients", ["patient_id", "birth_date"])
    return pd.Series(pats["birth_date"].to_numpy(), index=pats["patient_id"].to_numpy())


def _no_card_yet(cards: pd.DataFrame, people: pd.Series, at: np.ndarray) -> np.ndarray:
    """Per row: whether ``people`` held no card of their own at ``at`` (none at all, or the first
    issued later; a card with no issue date counts as held)."""
    first_card = cards.groupby("patient_id")["issued_date"].min()
    has_card = isin(people, first_card.index)  # Arrow hash set (pandas' isin of strings is slow)
    issued = people.map(first_card).to_numpy("datetime64[s]")
    return ~has_card | (issued > at)


def infants_without_card(store: Store, people: pd.Series, when: pd.Series, infant_age: float = INFANT_AGE) -> np.ndarray:
    """Per row: whether ``people`` was younger than ``infant_age`` at ``when`` and held no card of
    their own yet (a newborn settled on a parent's card; False where the birth date is unknown)."""
    if len(people) == 0:
        return np.zeros(0, dtype=bool)
    people = pd.Series(people)
    at = pd.Series(when).to_numpy("datetime64[s]")
    age = ages_at(people.map(_birth_dates(store)), at)
    no_card_yet = _no_card_yet(store.table("cards", ["patient_id", "issued_date"]), people, at)
    with np.errstate(invalid="ignore"):
        return (age < infant_age) & no_card_yet


def label_foreign_use(store: Store, use: pd.DataFrame, cards: pd.DataFrame, *, infant_age: float) -> tuple[pd.DataFrame, dict]:
    """``use`` (foreign-card claims outside registered family) with benign labels and ages.

    Returns the labelled frame and a context dict (household bound, whether contacts and
    birth dates exist) for the checks' wording.
    """
    out = use.copy()
    birth = _birth_dates(store)
    when = out["start_time"].to_numpy("datetime64[s]")
    out["user_age"] = ages_at(out["patient_id"].map(birth), when)
    out["holder_age"] = ages_at(out["holder_id"].map(birth), when)
    no_card_yet = _no_card_yet(cards, out["patient_id"], when)
    ref = out["start_time"].max() if len(out) else None
    groups, address_of, hh_max = address_groups(store, ref)
    vals = contact_values(store, ("address", "phone"))
    link = linked(vals, out["holder_id"], out["patient_id"], hh_max)
    ua, ha = out["user_age"].to_numpy(), out["holder_age"].to_numpy()
    gap = ha - ua
    with np.errstate(invalid="ignore"):
        infant = (ua < infant_age) & no_card_yet & (link | ((gap >= PARENT_GAP[0]) & (gap <= PARENT_GAP[1])))
        dependant = ~infant & link & (((ua < CHILD_AGE) & (gap >= PARENT_GAP[0])) | ((ua >= ELDERLY_AGE) & (-gap >= PARENT_GAP[0])))
    out["infant"] = infant
    out["dependant"] = dependant
    out["household"] = link & ~infant & ~dependant
    ua_addr = out["patient_id"].map(address_of)
    ho_addr = out["holder_id"].map(address_of)
    out["user_address"] = ua_addr.astype(object)
    out["user_address_type"] = ua_addr.map(groups["type"]).astype(object) if len(groups) else None
    is_coll = ua_addr.map(groups["collective"].astype(object)) if len(groups) else pd.Series(False, index=out.index)
    out["collective"] = (ua_addr.notna() & (ua_addr == ho_addr) & (is_coll == True)).to_numpy(dtype=bool)  # noqa: E712
    ctx = {"hh_max": hh_max, "has_contacts": not vals.empty, "has_birth": bool(birth.notna().any()),
           "address_type": groups["type"] if len(groups) else pd.Series(dtype=object)}
    return out, ctx


def _share_text(n: int, total: int) -> str:
    return f"{n}/{total}"


def candidate_checks(rows: pd.DataFrame, removed: pd.DataFrame, ctx: dict, *, pattern: str,
                     household_weight: float, institution_weight: float) -> list[dict]:
    """The benign checks of one one-card-many-people / one-person-many-cards candidate.

    ``rows``: the candidate's claims that remain; ``removed``: its claims explained away
    (infants, dependants), already left out.
    """
    checks = [benign_check("registered_family", "登记家庭共济", "ruled_out",
                           "holder and users are not in one registered family group (those claims are excluded)")]
    total = len(rows) + len(removed)
    for col, name, zh in (("infant", "infant_on_parent_card", "婴幼儿随父母卡结算"),
                          ("dependant", "guardian_or_dependant", "监护人/赡养人代结算")):
        n = int(removed[col].sum()) if len(removed) else 0
        if not ctx["has_birth"]:
            checks.append(benign_check(name, zh, "not_testable", "no birth dates in the data"))
        elif n:
            who = sorted(removed.loc[removed[col], "patient_id"].astype(str).unique())
            checks.append(benign_check(name, zh, "partial",
                                       f"{_share_text(n, total)} claims ({', '.join(who[:5])}) explained and left out of the score"))
        else:
            checks.append(benign_check(name, zh, "ruled_out", "no settled person fits (age, own card, household)"))
    if not ctx["has_contacts"]:
        checks.append(benign_check("unregistered_household", "同户未登记共济", "not_testable", "no phone/address contacts"))
        checks.append(benign_check("institution_residents", "养老机构/集体户代结算", "not_testable", "no address contacts"))
        return checks
    h = float(rows["household"].mean()) if len(rows) else 0.0
    if h == 0:
        checks.append(benign_check("unregistered_household", "同户未登记共济", "ruled_out",
                                   f"no user shares a household phone/address (≤ {ctx['hh_max']} people) with the holder"))
    else:
        f = (1.0 - h) + h * household_weight
        checks.append(benign_check("unregistered_household", "同户未登记共济", "explains" if h >= 1.0 else "partial",
                                   f"{h:.0%} of the claims by people sharing a household phone/address with the holder", f))
    # institution settling for residents: holder and user at one collective address, or (a card
    # used for many) most claims by residents of one collective address
    same = float(rows["collective"].mean()) if len(rows) else 0.0
    top_share, top_type = 0.0, None
    if pattern == "one_card_many_people" and len(rows):
        at = rows["user_address"].where(rows["user_address_type"].isin(["care_home", "dormitory", "collective"]))
        if at.notna().any():
            vc = at.value_counts()
            top_share = float(vc.iloc[0] / len(rows))
            top_type = ctx["address_type"].get(vc.index[0])
    share = max(same, top_share)
    if share > 0.5:
        kind = top_type or "collective"
        f = (1.0 - share) + share * institution_weight
        checks.append(benign_check("institution_residents", "养老机构/集体户代结算", "explains",
                                   f"{share:.0%} of the claims by residents of one {kind} address", f))
    elif share > 0:
        checks.append(benign_check("institution_residents", "养老机构/集体户代结算", "partial",
                                   f"{share:.0%} of the claims by residents of one collective address",
                                   (1.0 - share) + share * institution_weight))
    else:
        checks.append(benign_check("institution_residents", "养老机构/集体户代结算", "ruled_out",
                                   "users do not live at one collective address (care home, dormitory)"))
    return checks
