"""``collusion_ring`` on thin rings among normal sharing: a ring whose pairs meet at most twice
(found as a group, not as pairs), a ring that makes up most of a quiet clinic's business (its
busy days must not become the null it is measured against), next to friends, a registered
family and strangers at a busy hub who also share days."""

from __future__ import annotations

import itertools
import random

import pytest
from scipy.stats import binom

from graphkit.detectors import REGISTRY
from graphkit.detectors.rings import _edges, collusion_rings, provider_activity, schedule_days

from test_rings import HUB_DOCS, _Claims, _loaded, _person

THIN = ["PA01", "PA02", "PA03", "PA04"]  # thin ambulatory ring at quiet clinic H0060
MADE = [f"PM{i:02d}" for i in range(1, 9)]  # ring that is most of clinic H0070's business
FRIENDS = [(f"PQ{2 * i + 1:02d}", f"PQ{2 * i + 2:02d}") for i in range(8)]  # pairs who go together twice
FAMILY = ["PF01", "PF02", "PF03"]
LOCALS = [f"PL{i:03d}" for i in range(1, 81)]
STRANGERS = [f"PS{i:04d}" for i in range(1, 301)]
COMMUNITY = [f"H01{i:02d}" for i in range(1, 7)]


def thin_tables() -> tuple[dict, dict[str, set[str]]]:
    rnd = random.Random(5)
    inst = [("H0001", "市第一人民医院", "3", "public", "hospital"), ("H0060", "许氏诊所", "1", "private", "clinic"),
            ("H0070", "康宁诊所", "1", "private", "clinic")]
    inst += [(h, f"第{k}社区卫生服务中心", "1", "public", "community") for k, h in enumerate(COMMUNITY, 1)]
    t: dict[str, list[dict[str, str]]] = {
        "institutions": [{"institution_id": i, "name": n, "level": lv, "ownership": o, "kind": k, "region": "370102"}
                         for i, n, lv, o, k in inst],
        "pharmacies": [{"pharmacy_id": "Y0001", "name": "益丰大药房", "chain": "益丰", "region": "370102"}],
        "doctors": [{"doctor_id": d, "name": "", "institution_id": i, "department": "", "title": ""}
                    for d, i in [(d, "H0001") for d in HUB_DOCS] + [("D0601", "H0060"), ("D0602", "H0060"),
                                                                      ("D0701", "H0070")]
                    + [("D1" + h[1:], h) for h in COMMUNITY]],
        "patients": [], "cards": [], "contacts": [],
    }
    friends = [x for ab in FRIENDS for x in ab]
    for pid in THIN + MADE + friends + FAMILY + LOCALS + STRANGERS:
        _person(t, pid, "F")
    for a, b in zip(FAMILY, FAMILY[1:]):
        t["contacts"].append({"patient_id": a, "kind": "family", "value": b})
    c = _Claims()
    planted: dict[str, set[str]] = {"thin": set(), "made": set()}
    # the thin ring: four days at H0060, two or three of the four each time; no pair meets more than twice
    a, b, cc, d = THIN
    for day, who in ((12, (a, b, cc)), (47, (a, b, d)), (83, (cc, d)), (131, (a, cc, d))):
        for pid in who:
            planted["thin"].add(c.add(pid, day, inst="H0060", doc="D0601", hour=9 + rnd.random(), fund=180))
    # a ring that is most of H0070's business: eight people, eight days, six or seven of them each time
    for day in (9, 26, 44, 61, 80, 102, 125, 150):
        for pid in rnd.sample(MADE, rnd.choice([6, 7])):
            planted["made"].add(c.add(pid, day, inst="H0070", doc="D0701", hour=8 + rnd.random(), fund=160))
    # H0070's few ordinary patients: one visit each, on their own days over the half year
    for i, pid in enumerate(LOCALS[60:]):
        c.add(pid, 3 + 9 * i, inst="H0070", doc="D0701", fund=90)
    # H0060's ordinary patients: one or two visits each on their own days
    for i, pid in enumerate(LOCALS[:60]):
        for _ in range(rnd.choice([1, 2])):
            c.add(pid, rnd.randrange(180), inst="H0060", doc=rnd.choice(["D0601", "D0602"]), fund=80)
    # friends: pairs who go to H0060 together twice (normal sharing of two)
    for k, (x, y) in enumerate(FRIENDS):
        for day in (5 + 11 * k, 90 + 7 * k):
            c.add(x, day, inst="H0060", doc="D0602", fund=70)
            c.add(y, day, inst="H0060", doc="D0602", fund=70)
    # a registered family: together at H0060 and at the hub's paediatrics, again and again
    for day in (20, 55, 100, 140, 170):
        for pid in FAMILY:
            c.add(pid, day, inst="H0060", doc="D0602", fund=60)
            c.add(pid, day + 2, inst="H0001", doc=HUB_DOCS[0], fund=90)
    # camouflage: everyone's ordinary visits at the community centre near home (and the pharmacy
    # for all but the thin ring). A pair's synchrony and binomial tail count every unit both use:
    # where two members' own visits overlap, their two joint days weigh less — a ring this thin is
    # at the floor of the pair stage (the clinic's bar)
    for i, pid in enumerate(THIN + MADE + friends):
        h = COMMUNITY[i % len(COMMUNITY)]
        for _ in range(3):
            c.add(pid, rnd.randrange(180), inst=h, doc="D1" + h[1:], fund=120)
        if pid not in THIN:
            c.add(pid, rnd.randrange(180), pharm="Y0001", ctype="pharmacy", fund=40)
    # the hub: 300 strangers, ~8 visits each over the half year (≈ 13 a day)
    for pid in STRANGERS:
        for _ in range(8):
            c.add(pid, rnd.randrange(180), inst="H0001", doc=rnd.choice(HUB_DOCS), fund=100 + rnd.random() * 200)
    t["claims"] = c.rows
    return t, planted


@pytest.fixture(scope="module", autouse=True)
def _demo_key():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAPHKIT_ALLOW_DEMO_KEY", "1")
        yield


@pytest.fixture(scope="module")
def thin_store(tmp_path_factory):
    return _loaded(tmp_path_factory, "thin-rings", thin_tables)


def test_thin_ring_and_the_clinic_it_makes_are_found(thin_store):
    """At the defaults both rings are found: the thin ring's pairs meet twice at a quiet clinic,
    where two joint days beat the clinic's own bar (``thin_pairs``)."""
    store, planted = thin_store
    fs = collusion_rings(store)
    by_venue = {tuple(f.evidence["venues"]): f for f in fs}
    assert set(by_venue) == {("H0060",), ("H0070",)}, [f.summary for f in fs]
    thin, made = by_venue[("H0060",)], by_venue[("H0070",)]
    assert thin.evidence["members"] == THIN and set(thin.claims) == planted["thin"]
    assert made.evidence["members"] == MADE and set(made.claims) == planted["made"]
    for f in (thin, made):
        null = f.evidence["null"]
        # the score is judged against every member set the venue's regulars allow
        assert null["member_pool"] >= len(f.evidence["members"]) and null["log10_member_sets"] >= 0
        assert f.score >= 0.5 and {c["check"] for c in f.evidence["benign_checks"]} >= {"household_or_care_home"}


def test_normal_sharing_is_not_a_ring(thin_store):
    """Friends who went together twice, a registered family and strangers at the hub share days
    too; none of them is reported, and the family is explained when every candidate is listed."""
    store, _ = thin_store
    shared = {x for ab in FRIENDS for x in ab} | set(FAMILY) | set(STRANGERS)
    assert not any(set(f.evidence["members"]) & shared for f in collusion_rings(store))
    low = collusion_rings(store, min_score=0.0)
    fam = [f for f in low if set(f.evidence["members"]) & set(FAMILY)]
    assert all(f.score < 0.5 for f in fam)
    assert all(f.score == 0 for f in low if set(f.evidence["members"]) & set(STRANGERS))


def test_thin_pairs_only_where_two_days_can_beat_the_unit(thin_store):
    """No pair of the thin ring meets three times. Two joint days are counted only at units where
    a pair meeting twice can beat the unit's bar ``p*``: fewer than one pair of its regulars
    expected to meet twice by chance with ``p₂ ≤ p*`` (counted here by brute force over the pairs
    of H0060's regulars): the quiet clinic yields the ring's pairs, the busy hub (300 regulars,
    ~8 days each) none — its people are dropped before any pair is formed. Without ``thin_pairs``
    (three joint days asked of a pair) the ring is never a candidate."""
    store, _ = thin_store
    pairs = store.projection("co_visit_pairs")
    thin = pairs[pairs["bar_visits"].notna()]
    inside = thin[thin["patient_a"].isin(THIN) & thin["patient_b"].isin(THIN)]
    assert len(inside) >= 3 and (inside["co_visits"] == 2).all()
    act = provider_activity(store)
    row = act[(act["provider_id"] == "H0060") & (act["mode"] == "ambulatory")].iloc[0]
    D = float(schedule_days(row["span_first"], row["span_last"], row["open_days"], row["open_weekdays"]))
    cl = store.table("claims", ["patient_id", "institution_id", "start_time"])
    cl = cl[cl["institution_id"] == "H0060"]
    days = cl.groupby("patient_id")["start_time"].apply(lambda t: t.dt.date.nunique())
    n = days[days >= 2].to_numpy()
    assert len(n) == row["regulars"]
    p2 = sorted(binom.sf(1, min(x, y), max(x, y) / D) for x, y in itertools.combinations(n, 2))
    pstar = 10 ** -inside["bar_visits"].iloc[0]
    assert inside["bar_visits"].nunique() == 1 and inside["bar_visits"].iloc[0] > 0
    chance = sum(q for q in p2 if q <= pstar * (1 + 1e-9))
    assert chance <= 1.0 and (chance + sum(q for q in p2 if q > pstar * (1 + 1e-9)) > 1.0 or pstar * (1 + 1e-9) >= p2[-1])
    # the hub's strangers (7–8 days each) meet twice too often to pass its bar: no thin edge
    edges = {frozenset(ab) for ab in zip(*_edges(pairs, REGISTRY["collusion_ring"].defaults())[["a", "b"]].T.values)}
    thin_hub = thin[thin["patient_a"].isin(STRANGERS) | thin["patient_b"].isin(STRANGERS)]
    assert not edges & {frozenset(ab) for ab in zip(thin_hub["patient_a"], thin_hub["patient_b"])}
    assert edges >= {frozenset(ab) for ab in zip(inside["patient_a"], inside["patient_b"])}
    full = pairs[pairs["bar_visits"].isna()]
    assert full["co_visits"].ge(3).any() and not (full["co_visits"].between(1, 2)).any()
    fs = collusion_rings(store, thin_pairs=False)
    assert not any(set(f.evidence["members"]) & set(THIN) for f in fs)
    assert [f.evidence["members"] for f in fs] == [MADE]


def test_schedule_days_do_not_move_with_the_ring(thin_store):
    """H0070 settled on 8 ring days and on 20 of its few ordinary patients' days (one shared);
    its schedule is its half year on every weekday, not the 27 days it was seen open (a third
    of them made by the ring itself)."""
    store, _ = thin_store
    act = provider_activity(store)
    row = act[(act["provider_id"] == "H0070") & (act["mode"] == "ambulatory")].iloc[0]
    assert row["open_days"] == 27 and row["regulars"] == 8 and row["patients"] == 28
    D = schedule_days(row["span_first"], row["span_last"], row["open_days"], row["open_weekdays"])
    assert D > 4 * row["open_days"]
