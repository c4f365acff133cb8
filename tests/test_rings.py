"""``collusion_ring``: one planted ring among hard negatives (dialysis cohort, nursing home,
rehabilitation group, registered family, a crowded hub hospital full of strangers)."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import graphkit
import graphkit.detectors.rings  # noqa: F401  (registers the detector)
from graphkit.detectors import REGISTRY
from graphkit.detectors.rings import _edges, collusion_rings, ring_lineage
from graphkit.errors import ParameterError
from graphkit.findings import ENTITY_TYPES, Finding
from graphkit.store import open_store
from loaders import load_bundle

from conftest import write_bundle

T0 = datetime(2024, 1, 1, 8, 0)  # a Monday
RING = [f"PR{i:03d}" for i in range(1, 11)]
DIALYSIS = [f"PD{i:03d}" for i in range(1, 9)]
NURSING = [f"PN{i:03d}" for i in range(1, 9)]
REHAB = [f"PB{i:03d}" for i in range(1, 7)]
FAMILY = [f"PF{i:03d}" for i in range(1, 5)]
STRANGERS = [f"PS{i:04d}" for i in range(1, 401)]
LOCALS = [f"PL{i:03d}" for i in range(1, 61)]  # ordinary inpatients of H0010 and H0050, all year
HUB_DOCS = [f"D01{i:02d}" for i in range(1, 6)]


def _ts(day: float, hour: float = 0) -> str:
    return (T0 + timedelta(days=day, hours=hour)).strftime("%Y-%m-%d %H:%M:%S")


class _Claims:
    def __init__(self) -> None:
        self.rows: list[dict[str, str]] = []

    def add(self, pid, day, *, inst="", pharm="", doc="", ctype="outpatient", stay=0, diag="J06.9", fund=100.0, hour=9.0):
        cid = f"C{len(self.rows) + 1:06d}"
        self.rows.append({
            "claim_id": cid, "card_id": "K" + pid[1:], "patient_id": pid, "claim_type": ctype,
            "institution_id": inst, "pharmacy_id": pharm, "doctor_id": doc, "department": "",
            "start_time": _ts(day, hour), "end_time": _ts(day + stay, hour + 1) if ctype == "inpatient" else "",
            "diagnosis_code": diag, "total_amount": f"{fund * 1.3:.2f}", "fund_amount": f"{fund:.2f}",
            "self_amount": f"{fund * 0.3:.2f}", "referral_id": "", "terminal_id": "",
        })
        return cid


def _person(t: dict, pid: str, sex: str) -> None:
    """A patient born 1960 in district 370102 with one active card ``K<id>``."""
    t["patients"].append({"patient_id": pid, "name": "", "id_number": "", "birth_date": "1960-01-01", "sex": sex,
                          "region": "370102", "insurance_type": "resident", "death_date": "", "low_income": ""})
    t["cards"].append({"card_id": "K" + pid[1:], "patient_id": pid, "issued_date": "2020-01-01", "status": "active"})


def ring_tables(seed: int = 7, *, drop_member: str | None = None) -> tuple[dict, set[str]]:
    """The bundle tables and the planted ring's co-admission claim ids."""
    rnd = random.Random(seed)
    inst = [
        ("H0001", "市第一人民医院", "3", "public", "hospital"),
        ("H0010", "康华医院", "1", "private", "hospital"),
        ("H0020", "仁心血透中心", "2", "private", "clinic"),
        ("H0030", "和平社区卫生服务中心", "1", "public", "community"),
        ("H0040", "康复医院", "2", "public", "hospital"),
        ("H0050", "区人民医院", "2", "public", "hospital"),
    ]
    t: dict[str, list[dict[str, str]]] = {
        "institutions": [{"institution_id": i, "name": n, "level": lv, "ownership": o, "kind": k, "region": "370102"}
                         for i, n, lv, o, k in inst],
        "pharmacies": [{"pharmacy_id": "Y0001", "name": "益丰大药房", "chain": "益丰", "region": "370102"}],
        "doctors": [],
        "patients": [],
        "cards": [],
        "contacts": [],
    }
    docs = [(d, "H0001") for d in HUB_DOCS] + [("D0201", "H0010"), ("D0202", "H0010"), ("D0203", "H0010"),
                                                ("D0301", "H0020"), ("D0401", "H0030"), ("D0501", "H0040"),
                                                ("D0601", "H0050")]
    t["doctors"] = [{"doctor_id": d, "name": "", "institution_id": i, "department": "", "title": ""} for d, i in docs]
    everyone = RING + DIALYSIS + NURSING + REHAB + FAMILY + STRANGERS + LOCALS
    for pid in everyone:
        _person(t, pid, "M")
    for pid in NURSING:
        t["contacts"].append({"patient_id": pid, "kind": "address", "value": "幸福里养老院1号"})
    for a, b in zip(FAMILY, FAMILY[1:]):
        t["contacts"].append({"patient_id": a, "kind": "family", "value": b})
    c = _Claims()
    ring_claims: set[str] = set()
    # the ring: admitted together to private H0010 every ~2 weeks (±1 day), D0201/D0202, 5-day stays
    for k in range(6):
        base = 7 + 14 * k
        for pid in RING:
            if pid == drop_member or rnd.random() < 0.15:
                continue
            doc = "D0201" if int(pid[2:]) % 2 else "D0202"
            ring_claims.add(c.add(pid, base + rnd.choice([0, 0, 1]), inst="H0010", doc=doc, ctype="inpatient",
                                  stay=5, diag=rnd.choice(["M54.5", "I69.3", "K29.7"]), fund=2800 + rnd.random() * 900))
    # camouflage: ring members' ordinary visits at the hub and the pharmacy
    for pid in RING:
        if pid == drop_member:
            continue
        for _ in range(4):
            c.add(pid, rnd.randrange(90), inst="H0001", doc=rnd.choice(HUB_DOCS), fund=80 + rnd.random() * 60)
        c.add(pid, rnd.randrange(90), pharm="Y0001", ctype="pharmacy", fund=40)
    # the ring hospital's ordinary patients: one admission each, on their own days, all year
    for i, pid in enumerate(LOCALS[:30]):
        c.add(pid, 12 * i + 2, inst="H0010", doc="D0203", ctype="inpatient", stay=4, diag="J18.9", fund=3000)
    for i, pid in enumerate(LOCALS[30:]):
        c.add(pid, 12 * i + 5, inst="H0050", doc="D0601", ctype="inpatient", stay=4, diag="J18.9", fund=3000)
    # dialysis cohort: outpatient 3x/week (Mon/Wed/Fri) at one clinic, N18.5
    for week in range(12):
        for dow in (0, 2, 4):
            for pid in DIALYSIS:
                c.add(pid, 7 * week + dow, inst="H0020", doc="D0301", diag="N18.5", fund=420)
    # nursing home (one address): weekly rounds at the community centre, and three joint admissions (flu)
    for week in range(12):
        for pid in NURSING:
            c.add(pid, 7 * week + 1, inst="H0030", doc="D0401", diag="I10", fund=60)
    for day in (20, 48, 76):
        for pid in NURSING[:6]:
            c.add(pid, day, inst="H0050", doc="D0601", ctype="inpatient", stay=6, diag="J18.9", fund=4200)
    # rehabilitation group: Tue/Fri sessions for 10 weeks
    for week in range(10):
        for dow in (1, 4):
            for pid in REHAB:
                c.add(pid, 7 * week + dow, inst="H0040", doc="D0501", diag="I69.3", fund=150)
    # a registered family: the same days at the hub's paediatrics, and two joint admissions
    for day in (5, 19, 33, 47, 61, 75):
        for pid in FAMILY:
            c.add(pid, day, inst="H0001", doc="D0101", fund=90)
    for day in (30, 70, 85):
        for pid in FAMILY[:3]:
            c.add(pid, day, inst="H0050", doc="D0601", ctype="inpatient", stay=3, diag="A09", fund=2500)
    # the hub: 400 strangers, ~8 visits each over 90 days (≈ 35 a day), some admissions
    for pid in STRANGERS:
        for _ in range(8):
            c.add(pid, rnd.randrange(90), inst="H0001", doc=rnd.choice(HUB_DOCS), fund=100 + rnd.random() * 200)
        if rnd.random() < 0.3:
            c.add(pid, rnd.randrange(90), inst="H0001", doc=rnd.choice(HUB_DOCS), ctype="inpatient", stay=5,
                  diag="I63.9", fund=9000)
    t["claims"] = c.rows
    return t, ring_claims


@pytest.fixture(scope="module", autouse=True)
def _demo_key():
    """Hand-made bundles load with the built-in demo pseudonymisation key (tests only)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAPHKIT_ALLOW_DEMO_KEY", "1")
        yield


def _loaded(tmp_path_factory, name: str, make) -> tuple:
    """``make()`` → (tables, planted claim ids): the tables loaded into a store, and the ids."""
    root = tmp_path_factory.mktemp(name)
    tables, planted = make()
    load_bundle(write_bundle(root / "bundle", tables), root / "store")
    return open_store(root / "store"), planted


@pytest.fixture(scope="module")
def ring_store(tmp_path_factory):
    return _loaded(tmp_path_factory, "rings", ring_tables)


def test_exactly_the_planted_ring(ring_store):
    store, planted = ring_store
    fs = collusion_rings(store)
    assert len(fs) == 1, [f.summary for f in fs]
    f = fs[0]
    assert f.kind == "collusion_ring" and 0.9 <= f.score < 1
    assert f.entity_ids("patient", "member") == RING
    assert sorted(f.entity_ids("doctor", "organiser")) == ["D0201", "D0202"]
    assert f.entity_ids("institution", "venue") == ["H0010"]
    assert set(f.claims) == planted
    assert f.amount_at_risk == pytest.approx(store.claims_by_id(planted, ["fund_amount"])["fund_amount"].sum(), abs=0.01)
    ev = f.evidence
    assert ev["member_count"] == 10 and ev["members"] == RING and ev["events"] == 6
    assert ev["lift"] > 10 and ev["inpatient_share"] == 1.0 and ev["joint_discharge_share"] > 0.5
    assert 0.5 < ev["camouflage_share"] < 1 and ev["synchrony"] == 1.0 and ev["related_share"] == 0
    days = ev["co_visit_days"]
    assert len(days) == 6 and all(d["provider"] == "H0010" and len(d["members"]) >= 3 for d in days)
    assert "10名参保人在H0010由" in f.summary and "admitted together 6 times at H0010" in f.summary


def test_hard_negatives_are_pairs_but_not_rings(ring_store):
    """The legitimate groups do co-occur (the pairs are found) but are explained away."""
    store, _ = ring_store
    pairs = store.projection("co_visit_pairs")
    pset = set(zip(pairs["patient_a"], pairs["patient_b"]))
    assert ("PD001", "PD002") in pset and ("PN001", "PN002") in pset and ("PB001", "PB002") in pset
    assert any(a.startswith("PS") and b.startswith("PS") for a, b in pset)  # strangers do meet at the hub...
    edges = _edges(pairs, REGISTRY["collusion_ring"].defaults())
    linked = set(zip(edges["a"], edges["b"]))
    chance = sum(1 for a, b in linked if a.startswith("PS") and b.startswith("PS"))
    assert chance < 0.25 * len(STRANGERS)  # ...rarely beyond chance: a sparse, ring-free random graph
    assert ("PD001", "PD002") not in linked  # a dialysis shift: lift ≈ 1 against the clinic's open days
    ring_links = {x for ab in linked if ab[0] in RING and ab[1] in RING for x in ab}
    assert ring_links == set(RING)
    low = collusion_rings(store, min_score=0.0)  # every candidate, however weak
    assert low[0].evidence["members"] == RING  # the ring ranks first...
    # strangers who met a few times at the 35-a-day hub may form a candidate, but the member sets
    # the hub's 400 regulars allow explain it completely
    hub = [f for f in low if any(m.startswith("PS") for m in f.evidence["members"])]
    assert all(f.score == 0 and f.evidence["null"]["member_pool"] >= 400 for f in hub)
    assert all(f.score < 0.4 for f in low[1:]), [f.summary for f in low[1:]]  # ...far above the rest
    explained = {frozenset(f.evidence["members"]): f for f in low[1:]}
    assert any(ms <= set(NURSING) for ms in explained) and any(ms <= set(FAMILY) for ms in explained)


def test_without_relations_the_nursing_home_ranks_higher(ring_store, tmp_path):
    """The shared address is what explains the nursing home's joint admissions away."""
    store, _ = ring_store
    tables, _ = ring_tables()
    tables["contacts"] = [r for r in tables["contacts"] if r["kind"] != "address"]
    load_bundle(write_bundle(tmp_path / "b", tables), tmp_path / "s")

    def nursing(st):  # the finding holding the six residents admitted together
        (f,) = [f for f in collusion_rings(st, min_score=0.0) if set(NURSING[:6]) <= set(f.evidence["members"])]
        return f

    with_address, without = nursing(store), nursing(open_store(tmp_path / "s"))
    assert with_address.evidence["members"] == without.evidence["members"] == NURSING[:6]
    assert with_address.evidence["related_share"] == 1.0 and without.evidence["related_share"] == 0.0
    assert without.score > with_address.score + 0.2


def test_registered_and_validated(ring_store):
    store, _ = ring_store
    assert "collusion_ring" in REGISTRY
    a, used = graphkit.run_detector("collusion_ring", store)
    b, _ = graphkit.run_detector("collusion_ring", store)
    assert [f.to_dict() for f in a] == [f.to_dict() for f in b]  # deterministic
    assert used == REGISTRY["collusion_ring"].defaults()
    for f in a:
        assert all(e.type in ENTITY_TYPES for e in f.entities) and " / " in f.summary
    with pytest.raises(ParameterError, match=r"The 'min_members' parameter of collusion_ring must be an int in \[2, inf\). Got 1 instead."):
        graphkit.run_detector("collusion_ring", store, {"min_members": 1})
    with pytest.raises(ParameterError, match="min_lift"):
        collusion_rings(store, min_lift=0.5)  # direct calls are checked too
    with pytest.raises(ParameterError, match="has no parameter"):
        graphkit.run_detector("collusion_ring", store, {"bogus": 1})


def test_stable_id_and_lineage(ring_store, tmp_path):
    store, _ = ring_store
    before = collusion_rings(store)
    tables, _ = ring_tables(drop_member="PR010")
    load_bundle(write_bundle(tmp_path / "b", tables), tmp_path / "s")
    after = collusion_rings(open_store(tmp_path / "s"))
    assert [f.id for f in after] == [f.id for f in before]  # one member less: same ring, same id
    assert after[0].evidence["fingerprint"] != before[0].evidence["fingerprint"]
    assert ring_lineage(before, after) == [(before[0].id, after[0].id, [], ["PR010"])]
    other = Finding.create("collusion_ring", key=("x",), evidence={"members": ["Q1", "Q2", "Q3"]})
    assert ring_lineage(before, [other]) == [(before[0].id, None, [], RING), (None, other.id, ["Q1", "Q2", "Q3"], [])]


# ------------------------------------------------------------------------------------------
# Dense blocks: rings admitted often but seldom together (FRAUDAR-style peel)
# ------------------------------------------------------------------------------------------
THIN = [f"PT{i:03d}" for i in range(1, 21)]
CHEMO = [f"PC{i:03d}" for i in range(1, 9)]


def thin_ring_tables() -> tuple[dict, set[str]]:
    """The ring fixture plus a *thin* ring at H0010 — 20 people admitted 4 times each on
    scattered days under D0203, rarely two on the same day (no pair is admitted together
    twice) — and a chemotherapy cohort at public H0050 (8 people, an admission every 3 weeks)."""
    t, _ = ring_tables()
    rnd = random.Random(3)
    c = _Claims()
    c.rows = t["claims"]
    for pid in THIN + CHEMO:
        _person(t, pid, "F")
    days = rnd.sample(range(0, 360, 4), 80)  # 80 distinct admission days, 4 per person
    thin: set[str] = set()
    for i, pid in enumerate(THIN):
        for d in sorted(days[4 * i: 4 * i + 4]):
            thin.add(c.add(pid, d, inst="H0010", doc="D0203", ctype="inpatient", stay=3, diag="M54.5", fund=3100))
        c.add(pid, rnd.randrange(360), inst="H0001", doc=rnd.choice(HUB_DOCS), fund=90)  # camouflage
    for j, pid in enumerate(CHEMO):
        for cycle in range(10):
            c.add(pid, 21 * cycle + 2 * j, inst="H0050", doc="D0601", ctype="inpatient", stay=2, diag="C50.9", fund=6000)
    t["claims"] = c.rows
    return t, thin


@pytest.fixture(scope="module")
def thin_store(tmp_path_factory):
    return _loaded(tmp_path_factory, "thin", thin_ring_tables)


def test_thin_ring_is_a_dense_block_not_a_lockstep_ring(thin_store):
    store, thin = thin_store
    pairs = store.projection("co_visit_pairs")
    assert not any(a in THIN and b in THIN for a, b in zip(pairs["patient_a"], pairs["patient_b"]))  # never together
    assert collusion_rings(store, dense=False)[0].evidence["members"] == RING  # the lock-step stage alone misses it
    fs = collusion_rings(store)
    assert [f.evidence["method"] for f in fs] == ["dense_block", "lockstep"] or \
        [f.evidence["method"] for f in fs] == ["lockstep", "dense_block"], [f.summary for f in fs]
    (f,) = [f for f in fs if f.evidence["method"] == "dense_block"]
    assert f.evidence["members"] == THIN and set(f.claims) == thin and 0.6 <= f.score < 1
    assert f.entity_ids("institution", "venue") == ["H0010"] and f.entity_ids("doctor", "organiser") == ["D0203"]
    assert f.evidence["block"]["heavy_users"] == 20 and f.evidence["block"]["heavy_users_expected"] < 2
    assert f.evidence["density"] == pytest.approx(80 / (20 * 80))  # one person per admission day
    assert "20名参保人在H0010由D0203等1名医师反复住院80次（人均4.0次）" in f.summary
    assert "20 people admitted 80 times (4.0 each) at H0010" in f.summary
    # the chemotherapy cohort is a dense block too, but a scheduled-therapy one: far below the bar
    low = [g for g in collusion_rings(store, min_score=0.0) if set(g.evidence["members"]) <= set(CHEMO)]
    assert low and all(g.evidence["therapy_share"] == 1.0 and g.score < 0.5 for g in low)


def test_heavy_user_expectation_ignores_the_rings(thin_store):
    from graphkit.detectors.rings import heavy_user_venues

    store, _ = thin_store
    venues, q = heavy_user_venues(store.projection("inpatient_admissions"), min_block_visits=3, min_surprise=2.0)
    assert venues.at["H0010", "heavy"] == 20 + 10  # the thin ring and the lock-step ring
    assert venues.at["H0050", "heavy"] == 8 + 6 + 3  # chemotherapy cohort, nursing home and family admissions
    # q comes from the institutions whose heavy users are not surprising: neither of those two
    unflagged = venues.drop(index=["H0010", "H0050"])
    assert q == pytest.approx(max(unflagged["heavy"].sum() / unflagged["n"].sum(), 0.5 / venues["n"].sum()))
    assert venues.at["H0010", "surprise"] > 10


def test_a_block_far_beyond_the_float_range_keeps_a_finite_surprise():
    """467 heavy users where 34 are expected: scipy's Poisson tail underflows to 0 (log −inf);
    the surprise must stay finite and ordered, or the finding's score becomes NaN (found on a city
    whose busiest hospital over-bills with unneeded admissions)."""
    import numpy as np
    import pandas as pd

    from graphkit.detectors.rings import heavy_user_venues

    rows = []
    for v, (heavy, light) in {"H1": (467, 200), **{f"H{i}": (2, 300) for i in range(2, 40)}}.items():
        for p in range(heavy + light):
            for d in range(3 if p < heavy else 1):
                rows.append((v, f"{v}P{p}", np.datetime64("2024-01-01T08:00") + np.timedelta64(7 * d + p % 5, "D")))
    adm = pd.DataFrame(rows, columns=["institution_id", "patient_id", "start_time"])
    venues, _ = heavy_user_venues(adm, min_block_visits=3, min_surprise=2.0)
    assert np.isfinite(venues["surprise"]).all()
    assert venues.at["H1", "surprise"] > 300 > venues.drop(index="H1")["surprise"].max()


def test_a_finding_refuses_a_score_that_is_not_a_number():
    with pytest.raises(ValueError, match="finite score"):
        Finding.create("collusion_ring", key=["x"], score=float("nan"))


# ------------------------------------------------------------------------------------------
# On the demo city (when the generator is present)
# ------------------------------------------------------------------------------------------
def _demo():
    try:
        from graphkit.demo import generate_city
    except ImportError:
        return None
    return generate_city


@pytest.mark.skipif(_demo() is None, reason="graphkit.demo.generate_city not available")
def test_demo_city_recall_and_precision(tmp_path):
    from graphkit.evaluate import evaluate

    t0 = time.perf_counter()
    info = _demo()(tmp_path / "city", patients=4000, seed=11, fmt="parquet")
    bundle = Path(info["out_dir"])
    load_bundle(bundle, tmp_path / "store")
    fs = collusion_rings(open_store(tmp_path / "store"))
    res = evaluate(bundle / "truth.json", fs)["kinds"]["collusion_ring"]
    assert res["instances"] >= 3  # inpatient, two-venue and outpatient rings are planted
    assert res["recall"] >= 0.9, res
    assert res["precision_at_k"] >= 0.9, res
    assert all(0.6 <= f.score < 1 and f.evidence["members"] for f in fs)
    assert time.perf_counter() - t0 < 90


# ------------------------------------------------------------------------------------------
# A small ring diluted by a chance venue: the null pools the venues of a candidate
# ------------------------------------------------------------------------------------------
QUIET = [f"PQ{i:03d}" for i in range(1, 5)]
OUTSIDER = "PX001"
SHOPPERS = [f"PY{i:03d}" for i in range(1, 41)]


def quiet_ring_tables() -> tuple[dict, set[str]]:
    """The ring fixture plus a small ring at a quiet private hospital H0060 (8 other admissions in
    the quarter): 4 people in 3 episodes, never all together (admitted up to two days apart), so
    only two pairs are admitted together twice; one member also shops at the pharmacy on the
    same three days as an outsider, among 40 regular shoppers."""
    t, _ = ring_tables()
    rnd = random.Random(5)
    c = _Claims()
    c.rows = t["claims"]
    t["institutions"].append({"institution_id": "H0060", "name": "安康医院", "level": "1", "ownership": "private",
                              "kind": "hospital", "region": "370102"})
    t["doctors"].append({"doctor_id": "D0701", "name": "", "institution_id": "H0060", "department": "", "title": ""})
    for pid in QUIET + [OUTSIDER] + SHOPPERS:
        _person(t, pid, "F")
    q1, q2, q3, q4 = QUIET
    planted = set()
    for pid, day in ((q1, 20), (q2, 20), (q3, 21), (q4, 44), (q2, 45), (q1, 58), (q2, 58), (q4, 59), (q3, 60)):
        planted.add(c.add(pid, day, inst="H0060", doc="D0701", ctype="inpatient", stay=5, diag="M54.5", fund=3500))
    for i in range(8):  # the hospital's ordinary patients, one admission each
        c.add(f"PY{i + 1:03d}", 10 * i + 3, inst="H0060", doc="D0701", ctype="inpatient", stay=4, diag="J18.9", fund=3000)
    for day in (30, 52, 75):
        for pid in (q2, OUTSIDER):
            c.add(pid, day, pharm="Y0001", ctype="pharmacy", fund=35)
    for pid in SHOPPERS:
        for day in rnd.sample(range(90), 3):
            c.add(pid, day, pharm="Y0001", ctype="pharmacy", fund=30)
    t["claims"] = c.rows
    return t, planted


@pytest.fixture(scope="module")
def quiet_store(tmp_path_factory):
    return _loaded(tmp_path_factory, "quiet", quiet_ring_tables)


def test_a_chance_venue_does_not_dilute_a_small_ring(quiet_store):
    store, planted = quiet_store
    fs = [f for f in collusion_rings(store) if set(f.evidence["members"]) & set(QUIET)]
    assert len(fs) == 1, [f.summary for f in collusion_rings(store, min_score=0.0)]
    (f,) = fs
    assert f.evidence["members"] == QUIET and set(f.claims) == planted  # no outsider, no pharmacy
    assert f.entity_ids("institution", "venue") == ["H0060"] and not f.entity_ids("pharmacy", "venue")
    assert f.evidence["null"]["venue_sets_tried"] == 2 and f.score >= 0.5
