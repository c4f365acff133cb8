"""Card detectors: ``shared_card`` (冒用/盗用医保卡) and ``deceased_card_use`` (死亡人员医保结算).

``shared_card`` looks for three patterns, outside registered family sharing (家庭共济):

* a card settled for people other than its holder (card lent or sold; 一卡多人),
* one person settled on several other people's cards (一人多卡, 人证不符),
* a lost/cancelled card used after its holder was issued a replacement (盗刷).

Family sharing is legal when the two people are in the same *family group*: the connected
components of the registered ``family`` contacts (so grandparent → grandchild counts even
when only parent links are registered). Other legal sharing is tested claim by claim
(:mod:`graphkit.detectors._card_checks`): newborns and small children on a parent's card and
dependants on a guardian's are left out; an unregistered household or a care home's residents
lower the score. Only a newer *physical* card replaces a lost one (an e-voucher never does).

Scores are surprises against this bundle's background (``evidence["null"]``): a card's distinct
foreign users (Poisson at the city's rate of foreign users per claim) Fisher-combined with its
foreign-claim count among all foreign-used cards; the same for a person's foreign cards; a
replaced card's later claims against the city's rate of old-card use per day after a
replacement; post-death settlement days against the city's rate per deceased person-day.
See ``docs/detectors-cards.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..findings import Entity, Finding
from ..params import Param
from . import register
from ..projections import card_replacements
from ._card_checks import INFANT_AGE, candidate_checks, label_foreign_use
from ._common import benign_check, benign_factor, log_amount, rows_finding, span, surprise, surprise_score, venue_entities, yuan
from ._nulls import binom_log10_sf, empirical_log10_tail, fisher_log10, poisson_log10_sf
from ._people import card_kinds

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["shared_cards", "deceased_card_uses"]


def _not_family(rows: pd.DataFrame, fam: pd.Series, a: str, b: str) -> np.ndarray:
    fa = rows[a].map(fam).to_numpy(dtype="float64", na_value=np.nan)
    fb = rows[b].map(fam).to_numpy(dtype="float64", na_value=np.nan)
    return ~((fa == fb) & ~np.isnan(fa))


def _finding(key: tuple, rows: pd.DataFrame, **kw: Any) -> Finding:
    return _finding_scored("shared_card", key, rows, **kw)


def _finding_scored(kind: str, key: tuple, rows: pd.DataFrame, *, log10_p: float, n_tests: int, null: dict, checks: list[dict],
             entities: list[Entity], summary: str, evidence: dict) -> Finding:
    s = float(surprise(log10_p, n_tests))
    factor = benign_factor(checks)
    null = {**null, "log10_p": round(float(log10_p), 3), "n_tests": int(n_tests), "surprise": round(s, 3)}
    return scored_finding(kind, key, rows, score=float(surprise_score(s)) * factor, entities=entities,
                          summary=summary,
                          evidence={**evidence, "null": null, "benign_checks": checks, "benign_factor": round(factor, 4)})


def scored_finding(kind: str, key: tuple, rows: pd.DataFrame, *, score: float, entities: list[Entity], summary: str,
                   evidence: dict) -> Finding:
    """Like :func:`rows_finding`, with the score given (a calibrated surprise) instead of a strength."""
    start, end = span(rows["start_time"])
    return Finding.create(kind, key=key, score=score, amount_at_risk=float(rows["fund_amount"].sum()), start=start,
                          end=end, entities=entities + venue_entities(rows), claims=rows["claim_id"], summary=summary,
                          evidence=evidence)


@register(
    "shared_card",
    [
        Param("min_foreign_claims", 2, "int", low=1, doc="a card needs at least this many non-family foreign claims"),
        Param("min_cards_per_person", 2, "int", low=2, doc="a person settled on at least this many others' cards"),
        Param("replacement_grace_days", 1, "int", low=0, high=30, doc="days after a replacement card before old-card use counts"),
        Param("household_weight", 0.5, "float", low=0.0, high=1.0, doc="score factor when holder and user share a household phone/address"),
        Param("institution_weight", 0.2, "float", low=0.0, high=1.0, doc="score factor when the users are residents of one collective address"),
        Param("infant_age", INFANT_AGE, "float", low=0.0, high=6.0, doc="below this age, settling on a parent's card before an own card exists is legal"),
    ],
    prefers={
        "contacts": "household, guardian and care-home checks reported as not_testable",
        "card_kind": "without cards.kind every card counts as physical: an e-voucher may be read as a replacement",
    },
)
def shared_cards(
    store: Store,
    *,
    min_foreign_claims: int = 2,
    min_cards_per_person: int = 2,
    replacement_grace_days: int = 1,
    household_weight: float = 0.5,
    institution_weight: float = 0.2,
    infant_age: float = 2.0,
) -> list[Finding]:
    """Cards used by several people, people behind several cards, and replaced cards still in use.

    Scores are surprises against this data's own background (see ``docs/detectors-cards.md``):
    distinct users of a card against the city's rate of new foreign users per claim (Poisson),
    combined (Fisher) with the card's foreign-claim count against all foreign-used cards;
    replaced cards against the city's rate of old-card use per day after a replacement.

    Examples
    --------
    >>> from graphkit.store import open_store           # doctest: +SKIP
    >>> shared_cards(open_store("store"))[0].summary    # doctest: +SKIP
    """
    findings: list[Finding] = []
    fam = store.projection("family_groups")
    fam_of = pd.Series(fam["family"].to_numpy(), index=fam["patient_id"])
    cards = card_kinds(store)
    kind_of = pd.Series(cards["kind"].to_numpy(dtype=object), index=cards["card_id"].to_numpy(dtype=object))
    counts = store.projection("card_patient_counts")
    n_card = counts.groupby("card_id")["claims"].sum()
    n_person = counts.groupby("patient_id")["claims"].sum()
    use_all = store.projection("foreign_card_use")
    use_all = use_all[_not_family(use_all, fam_of, "holder_id", "patient_id")]
    use, ctx = label_foreign_use(store, use_all, cards, infant_age=infant_age)
    strong = (use["infant"] | use["dependant"]).to_numpy(dtype=bool)
    kept, gone = use[~strong], use[strong]
    gone_by_card = dict(tuple(gone.groupby("card_id", sort=False)))
    gone_by_person = dict(tuple(gone.groupby("patient_id", sort=False)))

    # the city's background of non-family foreign use (before any benign explanation)
    users_per_card = use_all.groupby("card_id")["patient_id"].nunique()
    claims_per_card = use_all.groupby("card_id").size()
    cards_per_person = use_all.groupby("patient_id")["card_id"].nunique()
    claims_per_person = use_all.groupby("patient_id").size()
    tot_claims = float(n_card.sum()) or 1.0
    rho_users = float(users_per_card.sum()) / tot_claims
    rho_cards = float(cards_per_person.sum()) / tot_claims
    empty = use.iloc[:0]

    covered: set[str] = set()
    # (b) one person, several other people's cards
    per_person = kept.groupby("patient_id")["card_id"].nunique()
    many = kept[kept["patient_id"].isin(per_person[per_person >= min_cards_per_person].index)]
    for pid, rows in many.groupby("patient_id", sort=True):
        cards_used = sorted(rows["card_id"].unique())
        m, k, n = len(cards_used), len(rows), int(n_person.get(pid, len(rows)))
        lp_cards = poisson_log10_sf(m, n * rho_cards)
        lp_claims = empirical_log10_tail(claims_per_person.to_numpy(), k)
        null = {"method": "Poisson tail of distinct other people's cards vs. the city's rate of foreign cards per claim, "
                          "Fisher-combined with the share of foreign-card users with as many foreign claims",
                "rate_cards_per_claim": round(rho_cards, 6), "person_claims": n, "expected_cards": round(n * rho_cards, 4),
                "observed_cards": m, "observed_claims": k, "log10_p_cards": round(float(lp_cards), 3),
                "log10_p_claims": round(float(lp_claims), 3), "population": int(len(claims_per_person))}
        checks = candidate_checks(rows, gone_by_person.get(pid, empty), ctx, pattern="one_person_many_cards",
                                  household_weight=household_weight, institution_weight=institution_weight)
        fund = float(rows["fund_amount"].sum())
        ents = [Entity("patient", pid, "user")]
        ents += [Entity("card", c, "used_card") for c in cards_used]
        ents += [Entity("patient", h, "card_holder") for h in sorted(rows["holder_id"].unique())]
        findings.append(_finding(
            ("person", pid), rows, log10_p=fisher_log10([lp_cards, lp_claims]), n_tests=len(n_person), null=null,
            checks=checks, entities=ents,
            summary=(f"参保人{pid}使用{m}张他人医保卡结算{k}次，基金{yuan(fund)}（非登记家庭共济）"
                     f" / person {pid} settled {k} claims on {m} other people's cards"),
            evidence={"pattern": "one_person_many_cards", "cards": cards_used, "claims_count": k, "fund": fund,
                      "card_kinds": {c: kind_of.get(c) for c in cards_used}},
        ))
        covered.update(rows["claim_id"])
    # (a) one card, several people
    rest = kept[~kept["claim_id"].isin(covered)]
    per_card = rest.groupby("card_id")["claim_id"].count()
    lent = rest[rest["card_id"].isin(per_card[per_card >= min_foreign_claims].index)]
    for card, rows in lent.groupby("card_id", sort=True):
        holder = rows["holder_id"].iloc[0]
        users = sorted(rows["patient_id"].unique())
        u, k, n = len(users), len(rows), int(n_card.get(card, len(rows)))
        lp_users = poisson_log10_sf(u, n * rho_users)
        lp_claims = empirical_log10_tail(claims_per_card.to_numpy(), k)
        null = {"method": "Poisson tail of distinct non-family users vs. the city's rate of foreign users per claim, "
                          "Fisher-combined with the share of foreign-used cards with as many foreign claims",
                "rate_users_per_claim": round(rho_users, 6), "card_claims": n, "expected_users": round(n * rho_users, 4),
                "observed_users": u, "observed_claims": k, "log10_p_users": round(float(lp_users), 3),
                "log10_p_claims": round(float(lp_claims), 3), "population": int(len(claims_per_card))}
        checks = candidate_checks(rows, gone_by_card.get(card, empty), ctx, pattern="one_card_many_people",
                                  household_weight=household_weight, institution_weight=institution_weight)
        fund = float(rows["fund_amount"].sum())
        same_house = sorted(rows.loc[rows["household"], "patient_id"].unique())
        ents = [Entity("card", card, "card"), Entity("patient", holder, "card_holder")]
        ents += [Entity("patient", x, "user") for x in users]
        note = "（与持卡人同址/同电话，疑似未登记的家庭共济）" if same_house else ""
        findings.append(_finding(
            ("card", card), rows, log10_p=fisher_log10([lp_users, lp_claims]), n_tests=len(n_card), null=null,
            checks=checks, entities=ents,
            summary=(f"医保卡{card}（持卡人{holder}）被{u}名非家庭成员使用结算{k}次，基金{yuan(fund)}{note}"
                     f" / card {card} settled {k} claims for {u} people outside the holder's family"),
            evidence={"pattern": "one_card_many_people", "holder": holder, "users": users, "same_household_users": same_house,
                      "claims_count": k, "fund": fund, "card_kind": kind_of.get(card)},
        ))
    findings += _replaced(store, cards, replacement_grace_days)
    return findings


def _replaced(store: Store, cards: pd.DataFrame, grace_days: int) -> list[Finding]:
    """(c) a lost/cancelled physical card used after its physical replacement."""
    repl = card_replacements(cards)
    if repl.empty:
        return []
    rows_all = store.projection("replaced_card_use", grace_days=grace_days)
    end = store.projection("latest_claim_time")["latest"].iloc[0]
    kinds_known = bool(cards["kind"].notna().any())
    # exposure: days each replaced card could have been used after its replacement (+ grace)
    t0 = repl["replaced_on"] + pd.Timedelta(days=grace_days)
    days = ((pd.Timestamp(end) - t0).dt.total_seconds() / 86400.0).clip(lower=0.0) if pd.notna(end) else t0 * 0
    exposure = pd.Series(days.to_numpy(dtype="float64"), index=repl["card_id"].to_numpy())
    n_use = rows_all.groupby("card_id").size()
    rate = float(n_use.sum()) / max(float(exposure.sum()), 1.0)
    findings = []
    for card, rows in rows_all.groupby("card_id", sort=True):
        holder = rows["holder_id"].iloc[0]
        fund = float(rows["fund_amount"].sum())
        days_after = float((rows["start_time"] - rows["replaced_on"]).dt.days.max())
        first_after = float((rows["start_time"] - rows["replaced_on"]).dt.days.min())
        replaced_on = pd.Timestamp(rows["replaced_on"].iloc[0])
        k, lam = len(rows), float(exposure.get(card, 0.0)) * rate
        lp = poisson_log10_sf(k, lam)
        null = {"method": "Poisson tail of old-card claims vs. the city's rate of old-card claims per day after a replacement",
                "rate_per_day": round(rate, 6), "exposure_days": round(float(exposure.get(card, 0.0)), 1),
                "expected": round(lam, 4), "observed": k, "population": int(len(repl))}
        checks = [
            benign_check("e_voucher_read_as_replacement", "电子凭证误作补卡", "ruled_out",
                         f"the replacement is a physical card issued {replaced_on:%Y-%m-%d} (e-vouchers never replace a card)")
            if kinds_known else
            benign_check("e_voucher_read_as_replacement", "电子凭证误作补卡", "not_testable",
                         "the bundle does not say which cards are e-vouchers (cards.kind): a newer e-voucher may have been read as the replacement"),
            benign_check("use_before_replacement", "补卡前使用旧卡", "ruled_out",
                         f"every claim starts more than {grace_days} day(s) after the replacement (first {first_after:.0f} days after)"),
        ]
        findings.append(_finding(
            ("replaced_card", card), rows, log10_p=lp, n_tests=len(repl), null=null, checks=checks,
            entities=[Entity("card", card, "lost_card"), Entity("patient", holder, "card_holder")]
            + [Entity("patient", x, "user") for x in sorted(set(rows["patient_id"]) - {holder})],
            summary=(f"已挂失医保卡{card}在{replaced_on:%Y-%m-%d}补卡后仍被结算{k}次，基金{yuan(fund)}"
                     f" / lost card {card} settled {k} times after its replacement on {replaced_on:%Y-%m-%d}"),
            evidence={"pattern": "replaced_card_in_use", "replaced_on": replaced_on, "max_days_after": days_after, "fund": fund},
        ))
    return findings


@register(
    "deceased_card_use",
    [
        Param("grace_days", 0, "int", low=0, high=30, doc="days after the death date that are still tolerated"),
        Param("lag_days", 3, "int", low=0, high=30,
              doc="a claim this many days after death at a provider that treated the person in the same span before death may be a final bill"),
        Param("lag_weight", 0.3, "float", low=0.0, high=1.0, doc="score factor for claims explained as a final bill"),
    ],
    needs=("death_dates",),
    prefers={"item_times": "without claim_items.item_time a delayed settlement of care given before death is not testable; "
                           "final bills are inferred from the provider alone"},
)
def deceased_card_uses(store: Store, *, grace_days: int = 0, lag_days: int = 3, lag_weight: float = 0.3) -> list[Finding]:
    """Settlements that start after the death date of the person or of the card holder.

    A stay admitted before death and discharged on or after the death date is normal and
    not reported; claims on the death date itself are tolerated. Claims whose items were
    all given before death (``claim_items.item_time``) are delayed settlements and dropped.
    The score is the surprise of the person's post-death settlement days against the city's
    own rate of post-death settlement days per deceased person-day (binomial).

    Examples
    --------
    >>> from graphkit.store import open_store              # doctest: +SKIP
    >>> deceased_card_uses(open_store("store"))[0].kind    # doctest: +SKIP
    'deceased_card_use'
    """
    # each projection reads only its rows (post-death claims, the people's own claims) or columns
    # (the data's end): lighter than one read of every claim's columns for all of them
    rows_all = store.projection("post_death_claims", grace_days=grace_days)
    pats = store.table("patients", ["patient_id", "death_date"])
    dead = pats[pats["death_date"].notna()]
    if dead.empty:
        return []
    end = store.projection("latest_claim_time")["latest"].iloc[0]
    # exposure: days each deceased person could be settled after death + grace, within the data
    t0 = dead["death_date"] + pd.Timedelta(days=grace_days + 1)
    expo = ((pd.Timestamp(end).normalize() - t0).dt.days + 1).clip(lower=0) if pd.notna(end) else t0.dt.day * 0
    exposure = pd.Series(expo.to_numpy(dtype="int64"), index=dead["patient_id"].to_numpy())
    if rows_all.empty:
        return []
    rows_all = rows_all.assign(day=rows_all["start_time"].dt.floor("D"))
    delayed = _delayed_settlements(store, rows_all)
    days_per = rows_all.groupby("deceased_id")["day"].nunique()
    q = float(days_per.sum()) / max(float(exposure.sum()), 1.0)
    before = _claims_before_death(store, rows_all, lag_days)
    findings = []
    for pid, rows in rows_all.groupby("deceased_id", sort=True):
        death = pd.Timestamp(rows["death_date"].iloc[0])
        checks = [benign_check("stay_admitted_before_death", "死亡前入院的住院结算", "ruled_out",
                               "every claim starts after the death date (stays admitted before death are not counted)")]
        gone = rows["claim_id"].isin(delayed) if delayed is not None else pd.Series(False, index=rows.index)
        if delayed is None:
            checks.append(benign_check("delayed_settlement", "死亡前服务延迟结算", "not_testable",
                                       "no claim_items.item_time: when the care was given is unknown"))
        elif gone.any():
            checks.append(benign_check("delayed_settlement", "死亡前服务延迟结算", "explains" if gone.all() else "partial",
                                       f"{int(gone.sum())}/{len(rows)} claims have every item given before death: left out"))
        else:
            checks.append(benign_check("delayed_settlement", "死亡前服务延迟结算", "ruled_out",
                                       "the claims' items were given after the death date"))
        rows = rows[~gone.to_numpy()]
        if rows.empty:
            continue
        days = (rows["start_time"] - death).dt.days
        near = (days <= lag_days) & rows["provider_id"].isin(before.get(pid, ()))
        if near.any():
            share = float(near.mean())
            checks.append(benign_check("final_bill", "临终就诊机构的末次结算", "explains" if near.all() else "partial",
                                       f"{int(near.sum())}/{len(rows)} claims within {lag_days} days of death at a provider that "
                                       f"treated the person in the {lag_days} days before", (1 - share) + share * lag_weight))
        else:
            checks.append(benign_check("final_bill", "临终就诊机构的末次结算", "ruled_out",
                                       f"no claim within {lag_days} days of death at a provider that treated the person just before"))
        fund = float(rows["fund_amount"].sum())
        cards = sorted(rows["card_id"].unique())
        others = sorted(set(rows["patient_id"]) - {pid})
        k = int(rows["day"].nunique())
        n = int(max(exposure.get(pid, k), k))
        lp = binom_log10_sf(k, n, q)
        null = {"method": "binomial tail of post-death settlement days vs. the city's rate of post-death settlement days "
                          "per deceased person-day",
                "rate_per_day": round(q, 6), "exposure_days": n, "expected": round(n * q, 4), "observed_days": k,
                "population": int(len(dead))}
        f = _finding_scored("deceased_card_use", ("patient", pid), rows, log10_p=lp, n_tests=len(dead), null=null,
                            checks=checks,
                            entities=[Entity("patient", pid, "deceased")] + [Entity("card", c, "card") for c in cards]
                            + [Entity("patient", o, "user") for o in others],
                            summary=(f"参保人{pid}于{death:%Y-%m-%d}死亡后仍发生{len(rows)}笔结算（最晚死亡后{int(days.max())}天），基金{yuan(fund)}"
                                     f" / {len(rows)} settlements after {pid}'s death on {death:%Y-%m-%d} (up to {int(days.max())} days later)"),
                            evidence={"death_date": death, "claims_count": int(len(rows)), "max_days_after_death": int(days.max()),
                                      "via": sorted(rows["via"].unique()), "fund": fund})
        findings.append(f)
    return findings


def _delayed_settlements(store: Store, rows: pd.DataFrame) -> set[str] | None:
    """Post-death claims whose every item was given on or before the death date (None: not testable)."""
    if not _supports(store, "item_times"):
        return None
    items = store.items_by_claim(rows["claim_id"], ["item_time"])
    if items.empty or items["item_time"].isna().all():
        return None
    death = pd.Series(rows["death_date"].to_numpy(), index=rows["claim_id"].to_numpy())
    d = items["claim_id"].map(death[~death.index.duplicated()])
    t = pd.to_datetime(items["item_time"])
    before = (t.dt.floor("D") <= d) & t.notna()
    per = before.groupby(items["claim_id"]).all()
    return set(per[per].index)


def _supports(store: Store, need: str) -> bool:
    """What the data profile says the bundle supports (``item_times``, ``card_kind`` …)."""
    prof = store.profile() if callable(getattr(store, "profile", None)) else None
    sup = (prof or {}).get("supports") or {}
    if need in sup:
        return bool(sup[need])
    if need == "item_times":  # a store without a profile: its columns
        return store.has_table("claim_items") and "item_time" in store.columns("claim_items")
    return False


def _claims_before_death(store: Store, rows: pd.DataFrame, lag_days: int) -> dict[str, set[str]]:
    """Providers that treated each deceased person in the ``lag_days`` days up to death."""
    if lag_days <= 0 or rows.empty:
        return {}
    ids = pd.unique(rows["deceased_id"])
    pc = store.projection("patient_claims", patient_ids=list(ids))
    if pc.empty:
        return {}
    death = rows.drop_duplicates("deceased_id").set_index("deceased_id")["death_date"]
    d = pc["patient_id"].map(death)
    day = pc["start_time"].dt.floor("D")
    hit = pc[(day <= d) & (day >= d - pd.Timedelta(days=lag_days))]
    return {p: set(g["provider_id"]) for p, g in hit.groupby("patient_id")}
