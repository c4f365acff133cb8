"""Benign checks of ``indicator_outlier`` that look at *who* and *when*: institutional residents
and one-off group events.

Both ask how much of a provider's excess the legal explanation accounts for, from the data:

``institution_residents`` (养老机构/集体户入住人员)
    Care-home residents see the home's doctor every week; a dormitory's workers come in groups.
    Their visits per person, elderly share and fund per patient are those of a care home, not of
    over-billing. A patient is a *resident* when the address registered for them is collective
    (:func:`graphkit.detectors._people.address_groups`: more people than the data's own household
    bound, Q3 + 3·IQR of people per address, at least 6). The share of the provider's claims that
    drive its excess (see :mod:`.outliers`) settled for residents is the part explained — of the
    indicators a residents' population raises (:data:`RESIDENTS_EXPLAIN`: visits, elderly share,
    cost and fund per patient, weekend share); not of stays, admissions, readmissions or
    non-medical items (挂床 and 诱导住院 of residents are frauds of their own).

``group_event`` (集体体检/疫苗接种/义诊)
    A mass day — a day on which the provider settles more claims than its own daily counts allow
    (beyond Q3 + 3·IQR of its days with claims, and at least ``MIN_GROUP`` claims) — is a group
    exam, a vaccination campaign or a free-clinic day. It can explain only the rates it shifts and
    that a claim's day and patient decide (weekend and elderly share; exams are held by day, so
    not the night share): those are recomputed
    without the mass days and compared with the peers again. Costs, visits per person, non-medical
    items are not explained by it (a day of swiped cards is a mass day too: 套现, card_burst).

``one_person`` (单人所致)
    Settlements after a death are one card's by nature: a relative using the deceased's card
    (冒用), which ``deceased_card_use`` reports with its user. When the post-death settlements behind
    a provider's excess are one person's, that is a person-level pattern, not the provider's
    billing: the share carried by the one person with the most is the part of the post-death
    indicator explained — all of it for one card; five cards in equal parts (留存医保卡) leave 80 %.

Each check's factor is the share of the provider's excess it leaves (indicators weighted by their
contribution), at least :data:`FLOOR`: a pattern that is all care home or all campaign day stays
a visible lead at the bottom of the list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..risk.indicators import ELDERLY_AT, INDICATORS, after_death, claim_ages, night_mask, weekend_mask
from ._common import benign_check

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["who_and_when", "night_service_check", "one_person_check", "residents_of_patients", "residents_check", "mass_day_mask",
           "group_event_check", "MIN_GROUP", "FLOOR"]

#: fewest claims on one day that make a group (a definition: a group exam or campaign session)
MIN_GROUP = 10
#: least factor of a pattern fully explained (it stays a visible lead, at the bottom)
FLOOR = 0.1
#: rate indicators a claim's day and patient decide, recomputed without mass days
_RATE_MASKS = ("weekend_share", "elderly_share")
INDICATOR_ZH = {k: v.zh for k, v in INDICATORS.items()}
#: indicators a population of institutional residents legitimately raises
RESIDENTS_EXPLAIN = ("visits_per_person", "elderly_share", "fund_per_patient", "cost_outpatient", "cost_pharmacy",
                     "weekend_share")
_TYPE_ZH = {"care_home": "养老机构", "dormitory": "集体宿舍", "collective": "集体户"}


def residents_of_patients(store: Store, patients: pd.DataFrame, ref: pd.Timestamp | None = None) -> np.ndarray | None:
    """Per row of ``patients`` (column ``patient_id``): the type of the collective address the
    patient is registered at (``care_home`` / ``dormitory`` / ``collective``), ``""`` for a
    household; ``None`` when the bundle has no address contacts."""
    from ._people import address_groups

    if not store.has_table("contacts"):
        return None
    groups, address_of, _ = address_groups(store, ref)
    if groups.empty:
        return None
    coll = groups.loc[groups["collective"], "type"]
    addr = patients["patient_id"].astype(object).map(address_of)
    return addr.map(coll).astype(object).fillna("").astype(str).to_numpy(object)  # all-NaN maps are float


def residents_check(res_type: np.ndarray | None, pat_rows: np.ndarray, hr: pd.DataFrame) -> tuple[dict, float]:
    """``(check, explained share)`` for the driving claims' patient rows ``pat_rows`` and the
    provider's indicators beyond their fence ``hr``."""
    zh = "养老机构/集体户入住人员"
    if res_type is None:
        return benign_check("institution_residents", zh, "not_testable",
                            "无地址信息，无法判断集体居住 / no address contacts in the data"), 0.0
    if pat_rows.size == 0:
        return benign_check("institution_residents", zh, "ruled_out", "无驱动结算 / no driving claims"), 0.0
    t = res_type[pat_rows]
    share = float(np.mean(t != ""))
    if share == 0.0:
        return benign_check("institution_residents", zh, "ruled_out",
                            "驱动超出的结算均非集体地址居住人员 / none of the claims behind the excess are by residents "
                            "of a collective address"), 0.0
    top = pd.Series(t[t != ""]).value_counts().index[0]
    c = hr["contribution"].to_numpy(float)
    can = hr["indicator"].isin(RESIDENTS_EXPLAIN).to_numpy()
    lost = share * float(c[can].sum() / c.sum()) if c.sum() > 0 else 0.0
    detail = (f"{share:.0%}的驱动结算为{_TYPE_ZH.get(top, '集体户')}等集体地址居住人员，可解释其中就诊频次、老年占比、费用类指标"
              f" / {share:.0%} of the claims behind the excess are by residents of collective addresses (mostly {top}); "
              f"they explain visits, elderly share and cost indicators only")
    if lost <= 0.0:
        return benign_check("institution_residents", zh, "ruled_out", detail), 0.0
    return benign_check("institution_residents", zh, "explains" if lost >= 0.5 else "partial", detail,
                        factor=max(1.0 - lost, FLOOR)), lost


def mass_day_mask(days: np.ndarray) -> np.ndarray:
    """Per claim (its day ``days``): whether it falls on one of the provider's mass days.

    >>> d = np.r_[np.repeat(np.arange(30), 3), np.full(40, 7)]
    >>> int(mass_day_mask(d).sum())
    43
    """
    d = np.asarray(days)
    ok = d >= 0
    if not ok.any():
        return np.zeros(d.size, bool)
    u, inv, cnt = np.unique(d[ok], return_inverse=True, return_counts=True)
    q1, q3 = np.percentile(cnt, [25, 75])
    mass = (cnt > q3 + 3.0 * (q3 - q1)) & (cnt >= MIN_GROUP)
    out = np.zeros(d.size, bool)
    out[ok] = mass[inv]
    return out


def group_event_check(hr: pd.DataFrame, on_mass: np.ndarray, events: dict[str, tuple[np.ndarray, np.ndarray]],
                      sel_on_mass: float) -> tuple[dict, dict[str, float]]:
    """``(check, kept share per indicator)``.

    ``hr``: the provider's indicators beyond their fence; ``on_mass``: per claim of the provider,
    on a mass day; ``events``: per rate indicator of :data:`_RATE_MASKS` the provider's
    ``(event, counted)`` boolean masks over its claims; ``sel_on_mass``: share of the driving
    claims on mass days."""
    zh = "集体体检/疫苗接种/义诊"
    kept: dict[str, float] = {}
    if not on_mass.any():
        return benign_check("group_event", zh, "ruled_out",
                            "无单日集中结算 / no day with more claims than its own days allow"), kept
    parts = []
    for _, x in hr.iterrows():
        name = str(x["indicator"])
        if name in _RATE_MASKS and name in events:
            ev, counted = events[name]
            k, n = float((ev & counted & ~on_mass).sum()), float((counted & ~on_mass).sum())
            if n <= 0:
                kept[name] = FLOOR
                continue
            rate = k / n
            z = (rate - float(x["peer_median"])) / max(float(x["peer_scale"]), 1e-12)
            fence = float(x["fence"])
            kept[name] = float(np.clip((z - fence) / max(float(x["z"]) - fence, 1e-12), 0.0, 1.0))
            parts.append((name, float(x["z"]), z))
        else:  # a group event explains a rate it shifts, not costs, visits or non-medical items
            kept[name] = 1.0
    n_mass = int(on_mass.sum())
    share_all = float(on_mass.mean())
    zh_parts = "；".join(f"去除集中日后{INDICATOR_ZH.get(n, n)} z {zb:.1f} → {za:.1f}" for n, zb, za in parts)
    en_parts = "; ".join(f"{n} z {zb:.1f} → {za:.1f} without them" for n, zb, za in parts)
    detail = (f"{share_all:.0%}的结算（{n_mass}笔）在单日集中结算日，驱动结算中{sel_on_mass:.0%}在集中日"
              f"{'；' + zh_parts if zh_parts else ''} / {share_all:.0%} of its claims ({n_mass}) fall on mass days, "
              f"{sel_on_mass:.0%} of the claims behind the excess{'; ' + en_parts if en_parts else ''}")
    c = hr["contribution"].to_numpy(float)
    k = np.array([kept.get(str(n), 1.0) for n in hr["indicator"]])
    lost = 1.0 - float((c * k).sum() / c.sum()) if c.sum() > 0 else 0.0
    if lost <= 0.0:
        return benign_check("group_event", zh, "ruled_out", detail), kept
    return benign_check("group_event", zh, "explains" if lost >= 0.5 else "partial", detail,
                        factor=max(1.0 - lost, FLOOR)), kept


def night_service_check(hr: pd.DataFrame, day: np.ndarray, night: np.ndarray) -> dict | None:
    """The ``night_service`` check (``None`` when the night share is not beyond its fence):
    ``day`` per claim of the provider (days since 1970, -1 unknown), ``night`` whether it was
    settled 22:00–06:00."""
    if "night_share" not in set(hr["indicator"].astype(str)):
        return None
    zh = "24小时营业/夜间门诊"
    known = day >= 0
    days = np.unique(day[known])
    nights = np.unique(day[known & night])
    n_night = int((known & night).sum())
    # night claims scattered at random over its days would fall on D·(1 − e^(−N/D)) distinct nights
    expect = days.size * -np.expm1(-n_night / max(days.size, 1))
    ratio = nights.size / max(expect, 1e-9)
    detail = (f"{n_night}笔夜间结算分布在{nights.size}个夜晚（随机分散应约{expect:.0f}个，{ratio:.0%}） / {n_night} night "
              f"claims on {nights.size} nights (scattered at random: about {expect:.0f}, {ratio:.0%})")
    if ratio < 0.5:
        return benign_check("night_service", zh, "ruled_out", detail + "：集中在少数夜晚 / concentrated on few nights")
    c = hr["contribution"].to_numpy(float)
    lost = float(c[hr["indicator"].to_numpy() == "night_share"].sum() / c.sum()) if c.sum() > 0 else 0.0
    return benign_check("night_service", zh, "explains" if lost >= 0.5 else "partial",
                        detail + "：常规夜间服务 / regular night service", factor=max(1.0 - lost, FLOOR))


def one_person_check(hr: pd.DataFrame, pat: np.ndarray, after: np.ndarray) -> dict | None:
    """The ``one_person`` check (``None`` when the post-death share is not beyond its fence):
    ``pat`` the patient row of each of the provider's claims, ``after`` whether it was settled after
    that patient's death.

    >>> hr = pd.DataFrame({"indicator": ["post_death_share"], "contribution": [2.0]})
    >>> one_person_check(hr, np.array([1, 1, 1, 2]), np.array([True, True, True, False]))["factor"]
    0.1
    >>> round(one_person_check(hr, np.array([1, 2, 3, 4, 5]), np.array([True, True, True, True, True]))["factor"], 3)
    0.8
    """
    if "post_death_share" not in set(hr["indicator"].astype(str)):
        return None
    zh = "单人所致（冒用死亡人员医保卡）"
    who = pat[after]
    if who.size == 0:
        return benign_check("one_person", zh, "ruled_out", "无死亡后结算 / no settlements after death")
    _, cnt = np.unique(who, return_counts=True)
    top = float(cnt.max() / who.size)
    detail = (f"{who.size}笔死亡后结算来自{cnt.size}人，最多一人占{top:.0%} / {who.size} settlements after death by "
              f"{cnt.size} person(s), the most by one {top:.0%}")
    # the part one person's misuse accounts for: the largest share of one card (several deceased
    # persons' cards at one provider — 留存医保卡 — leave the rest to the provider)
    c = hr["contribution"].to_numpy(float)
    lost = top * float(c[hr["indicator"].to_numpy() == "post_death_share"].sum() / c.sum()) if c.sum() > 0 else 0.0
    one = cnt.size == 1
    why = ("：个人冒用，非机构结算模式 / one card's misuse, not the provider's billing" if one else
           "：多名死亡人员的卡，仅最多一人的部分视为个人冒用 / several deceased persons' cards: only the largest one's part "
           "is taken as one card's misuse")
    return benign_check("one_person", zh, "explains" if one and lost >= 0.5 else "partial", detail + why,
                        factor=max(1.0 - lost, FLOOR))


def who_and_when(act: Any, hr: pd.DataFrame, rows: np.ndarray, sel: np.ndarray, res_type: np.ndarray | None,
                 bday: np.ndarray, dday: np.ndarray) -> list[dict]:
    """The residents, group-event, (night share beyond its fence) night-service and (post-death share
    beyond its fence, ``dday`` death days per patient row) one-person checks for one
    provider: ``rows`` its claim rows in ``act``, ``sel`` a mask over ``rows``: those behind its excess, ``res_type``
    per patient row (:func:`residents_of_patients`), ``bday`` / ``dday`` birth / death days per patient
    row (:func:`graphkit.risk.indicators.birth_days`, :func:`~graphkit.risk.indicators.death_days`)."""
    res, _ = residents_check(res_type, act.pat[rows[sel]], hr)
    day = act.day[rows]
    on_mass = mass_day_mask(day)
    events: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    names = set(hr["indicator"].astype(str))
    known = day >= 0
    if "weekend_share" in names:
        events["weekend_share"] = (weekend_mask(day), known)
    if "elderly_share" in names:
        age = claim_ages(act, rows, bday)
        events["elderly_share"] = (np.nan_to_num(age, nan=0.0) >= ELDERLY_AT, ~np.isnan(age))
    sel_mass = on_mass[sel]
    grp, _ = group_event_check(hr, on_mass, events, float(sel_mass.mean()) if sel_mass.size else 0.0)
    night = night_service_check(hr, day, night_mask(act.sec[rows]))
    pat = act.pat[rows]
    one = one_person_check(hr, pat, known & after_death(day, pat, dday))
    return [res, grp] + [c for c in (night, one) if c is not None]
