"""Card detectors: ``shared_card`` (冒用/盗用医保卡) and ``deceased_card_use`` (死亡后结算).

``shared_card`` looks for three patterns, outside registered family sharing (家庭共济):

* a card settled for people other than its holder (card lent or sold; 一卡多人),
* one person settled on several other people's cards (一人多卡, 人证不符),
* a lost/cancelled card used after its holder was issued a replacement (盗刷).

Family sharing is legal when the two people are in the same *family group*: the connected
components of the registered ``family`` contacts (so grandparent → grandchild counts even
when only parent links are registered). Unregistered sharing within one household (same
address or phone) is still reported, at a lower score, and labelled as such.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..findings import Entity, Finding
from ..params import Param
from . import register
from ._common import log_amount, rows_finding, yuan

__all__ = ["shared_cards", "deceased_card_uses"]


def _household_pairs(store: Any) -> set[tuple[str, str]]:
    """Unordered patient pairs sharing an address or phone (likely one household)."""
    contacts = store.table("contacts", ["patient_id", "kind", "value"])
    c = contacts[contacts["kind"].isin(["address", "phone"]).fillna(False)]
    if c.empty:
        return set()
    sizes = c.groupby(["kind", "value"])["patient_id"].transform("size")
    c = c[(sizes > 1) & (sizes <= 8)]  # a shared value used by dozens is not a household
    m = c.merge(c, on=["kind", "value"])
    m = m[m["patient_id_x"] < m["patient_id_y"]]
    return set(zip(m["patient_id_x"], m["patient_id_y"]))


def _not_family(rows: pd.DataFrame, fam: pd.Series, a: str, b: str) -> np.ndarray:
    fa = rows[a].map(fam).to_numpy(dtype="float64", na_value=np.nan)
    fb = rows[b].map(fam).to_numpy(dtype="float64", na_value=np.nan)
    return ~((fa == fb) & ~np.isnan(fa))


@register(
    "shared_card",
    [
        Param("min_foreign_claims", 2, "int", low=1, doc="a card needs at least this many non-family foreign claims"),
        Param("min_cards_per_person", 2, "int", low=2, doc="a person settled on at least this many others' cards"),
        Param("replacement_grace_days", 1, "int", low=0, high=30, doc="days after a replacement card before old-card use counts"),
        Param("household_weight", 0.5, "float", low=0.0, high=1.0, doc="score factor when holder and user share address/phone"),
    ],
)
def shared_cards(
    store: Any,
    *,
    min_foreign_claims: int = 2,
    min_cards_per_person: int = 2,
    replacement_grace_days: int = 1,
    household_weight: float = 0.5,
) -> list[Finding]:
    """Cards used by several people, people behind several cards, and replaced cards still in use.

    Examples
    --------
    >>> from graphkit.store import open_store           # doctest: +SKIP
    >>> shared_cards(open_store("store"))[0].summary    # doctest: +SKIP
    """
    findings: list[Finding] = []
    fam = store.projection("family_groups")
    fam_of = pd.Series(fam["family"].to_numpy(), index=fam["patient_id"])
    use = store.projection("foreign_card_use")
    use = use[_not_family(use, fam_of, "holder_id", "patient_id")]
    households = _household_pairs(store)

    covered: set[str] = set()
    # (b) one person, several other people's cards
    per_person = use.groupby("patient_id")["card_id"].nunique()
    many = use[use["patient_id"].isin(per_person[per_person >= min_cards_per_person].index)]
    for pid, rows in many.groupby("patient_id", sort=True):
        cards = sorted(rows["card_id"].unique())
        fund = float(rows["fund_amount"].sum())
        ents = [Entity("patient", pid, "user")]
        ents += [Entity("card", c, "used_card") for c in cards]
        ents += [Entity("patient", h, "card_holder") for h in sorted(rows["holder_id"].unique())]
        findings.append(
            rows_finding(
                "shared_card", ("person", pid), rows,
                strength=0.45 * len(cards) + 0.06 * len(rows) + 0.12 * log_amount(fund),
                entities=ents,
                summary=(
                    f"参保人{pid}使用{len(cards)}张他人医保卡结算{len(rows)}次，基金{yuan(fund)}（非登记家庭共济）"
                    f" / person {pid} settled {len(rows)} claims on {len(cards)} other people's cards"
                ),
                evidence={"pattern": "one_person_many_cards", "cards": cards, "claims_count": len(rows), "fund": fund},
            )
        )
        covered.update(rows["claim_id"])
    # (a) one card, several people
    rest = use[~use["claim_id"].isin(covered)]
    per_card = rest.groupby("card_id")["claim_id"].count()
    lent = rest[rest["card_id"].isin(per_card[per_card >= min_foreign_claims].index)]
    for card, rows in lent.groupby("card_id", sort=True):
        holder = rows["holder_id"].iloc[0]
        users = sorted(rows["patient_id"].unique())
        fund = float(rows["fund_amount"].sum())
        same_house = [u for u in users if (min(u, holder), max(u, holder)) in households]
        z = 0.4 * len(users) + 0.08 * len(rows) + 0.12 * log_amount(fund)
        if len(same_house) == len(users):
            z *= household_weight
        ents = [Entity("card", card, "card"), Entity("patient", holder, "card_holder")]
        ents += [Entity("patient", u, "user") for u in users]
        note = "（与持卡人同址/同电话，疑似未登记的家庭共济）" if same_house else ""
        findings.append(
            rows_finding(
                "shared_card", ("card", card), rows,
                strength=z,
                entities=ents,
                summary=(
                    f"医保卡{card}（持卡人{holder}）被{len(users)}名非家庭成员使用结算{len(rows)}次，基金{yuan(fund)}{note}"
                    f" / card {card} settled {len(rows)} claims for {len(users)} people outside the holder's family"
                ),
                evidence={
                    "pattern": "one_card_many_people",
                    "holder": holder,
                    "users": users,
                    "same_household_users": same_house,
                    "claims_count": len(rows),
                    "fund": fund,
                },
            )
        )
    # (c) replaced card still in use
    repl = store.projection("replaced_card_use", grace_days=replacement_grace_days)
    for card, rows in repl.groupby("card_id", sort=True):
        holder = rows["holder_id"].iloc[0]
        fund = float(rows["fund_amount"].sum())
        days_after = float((rows["start_time"] - rows["replaced_on"]).dt.days.max())
        replaced_on = pd.Timestamp(rows["replaced_on"].iloc[0])
        findings.append(
            rows_finding(
                "shared_card", ("replaced_card", card), rows,
                strength=0.9 + 0.12 * len(rows) + 0.12 * log_amount(fund),
                entities=[Entity("card", card, "lost_card"), Entity("patient", holder, "card_holder")]
                + [Entity("patient", u, "user") for u in sorted(set(rows["patient_id"]) - {holder})],
                summary=(
                    f"已挂失医保卡{card}在{replaced_on:%Y-%m-%d}补卡后仍被结算{len(rows)}次，基金{yuan(fund)}"
                    f" / lost card {card} settled {len(rows)} times after its replacement on {replaced_on:%Y-%m-%d}"
                ),
                evidence={"pattern": "replaced_card_in_use", "replaced_on": replaced_on, "max_days_after": days_after, "fund": fund},
            )
        )
    return findings


@register(
    "deceased_card_use",
    [Param("grace_days", 0, "int", low=0, high=30, doc="days after the death date that are still tolerated")],
)
def deceased_card_uses(store: Any, *, grace_days: int = 0) -> list[Finding]:
    """Settlements that start after the death date of the person or of the card holder.

    A stay admitted before death and discharged on or after the death date is normal and
    not reported; claims on the death date itself are tolerated.

    Examples
    --------
    >>> from graphkit.store import open_store              # doctest: +SKIP
    >>> deceased_card_uses(open_store("store"))[0].kind    # doctest: +SKIP
    'deceased_card_use'
    """
    rows_all = store.projection("post_death_claims", grace_days=grace_days)
    findings = []
    for pid, rows in rows_all.groupby("deceased_id", sort=True):
        death = pd.Timestamp(rows["death_date"].iloc[0])
        days = (rows["start_time"] - death).dt.days
        fund = float(rows["fund_amount"].sum())
        cards = sorted(rows["card_id"].unique())
        others = sorted(set(rows["patient_id"]) - {pid})
        findings.append(
            rows_finding(
                "deceased_card_use", ("patient", pid), rows,
                strength=0.8 + 0.15 * len(rows) + 0.1 * np.log1p(float(days.max())) + 0.1 * log_amount(fund),
                entities=[Entity("patient", pid, "deceased")]
                + [Entity("card", c, "card") for c in cards]
                + [Entity("patient", o, "user") for o in others],
                summary=(
                    f"参保人{pid}于{death:%Y-%m-%d}死亡后仍发生{len(rows)}笔结算（最晚死亡后{int(days.max())}天），基金{yuan(fund)}"
                    f" / {len(rows)} settlements after {pid}'s death on {death:%Y-%m-%d} (up to {int(days.max())} days later)"
                ),
                evidence={
                    "death_date": death,
                    "claims_count": len(rows),
                    "max_days_after_death": int(days.max()),
                    "via": sorted(rows["via"].unique()),
                    "fund": fund,
                },
            )
        )
    return findings
