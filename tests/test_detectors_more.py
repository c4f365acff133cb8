"""card_burst, identity_ring, phantom_stay, split_stay, referral_loop, referral_concentration and
the referral-abuse clusters: exact findings on hand-made bundles (hard negatives included),
then recall / precision at k on a small demo city."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from graphkit.detectors import REGISTRY, run_detector
from graphkit.detectors.bursts import card_bursts
from graphkit.detectors.identity import identity_rings
from graphkit.detectors.referrals import referral_clusters, referral_concentrations, referral_loops
from graphkit.detectors.stays import phantom_stays, split_stays
from graphkit.evaluate import evaluate
from graphkit.store import open_store
from loaders import load_bundle

from conftest import tiny_tables, write_bundle

MY_KINDS = ("card_burst", "phantom_stay", "split_stay", "referral_loop", "referral_concentration", "identity_ring")


# ------------------------------------------------------------------------------------------------
# bundle helpers
# ------------------------------------------------------------------------------------------------
def _claim(cid, pid, when, *, inst="", pharm="", ctype="outpatient", fund=100.0, total=None, end="", dx="",
           term="", ref="", card=None, doc=""):
    total = fund * 1.25 if total is None else total
    return {
        "claim_id": cid, "card_id": card or f"K-{pid}", "patient_id": pid, "claim_type": ctype,
        "institution_id": inst if ctype != "pharmacy" else "", "pharmacy_id": pharm if ctype == "pharmacy" else "",
        "doctor_id": doc, "department": "", "start_time": when, "end_time": end, "diagnosis_code": dx,
        "total_amount": f"{total:.2f}", "fund_amount": f"{fund:.2f}", "self_amount": f"{total - fund:.2f}",
        "referral_id": ref, "terminal_id": term,
    }


def _people(t: dict, ids, *, birth="1970-01-01", region="370102") -> None:
    base = dict(t["patients"][0])
    for pid in ids:
        t["patients"].append({**base, "patient_id": pid, "name": f"人{pid}", "id_number": "", "birth_date": birth,
                              "region": region, "death_date": ""})
        t["cards"].append({"card_id": f"K-{pid}", "patient_id": pid, "issued_date": "2020-01-01", "status": "active"})


def _inst(iid, level, kind, ownership="private", region="370102", lat="36.66", lon="117.02"):
    return {"institution_id": iid, "name": f"医院{iid}", "level": str(level), "ownership": ownership, "kind": kind,
            "region": region, "lat": lat, "lon": lon}


def _ref(rid, pid, a, b, when, doc="", ooa="false"):
    return {"referral_id": rid, "patient_id": pid, "from_institution_id": a, "from_doctor_id": doc,
            "to_institution_id": b, "referred_at": when, "out_of_area": ooa, "reason": ""}


def _store(tmp_path: Path, t: dict, name: str = "s"):
    load_bundle(write_bundle(tmp_path / f"{name}-bundle", t), tmp_path / name)
    return open_store(tmp_path / name)


def _day(i: int) -> pd.Timestamp:
    return pd.Timestamp("2024-01-01") + pd.Timedelta(days=i)


# ------------------------------------------------------------------------------------------------
# card_burst
# ------------------------------------------------------------------------------------------------
def burst_tables() -> tuple[dict, list[str]]:
    """A busy chain pharmacy (Y0001, terminal T-BUSY) with a noon rush every day, a small pharmacy
    (Y0002, terminal T-SMALL) with a few daytime sales, and three night bursts at Y0002."""
    t = tiny_tables()
    t["pharmacies"].append({"pharmacy_id": "Y0002", "name": "小药房", "chain": "", "region": "370102", "lat": "36.67", "lon": "117.02"})
    pids = [f"Q{i:04d}" for i in range(60)]
    _people(t, pids)
    c = t["claims"]
    n = 0
    for d in range(56):
        day = _day(d)
        rush = 18 if d == 30 else 12  # one extra-busy day: still the pharmacy's normal
        for k in range(rush):
            n += 1
            c.append(_claim(f"CB{n:05d}", pids[(d + k) % 60], str(day + pd.Timedelta(minutes=11 * 60 + 30 + 3 * k)),
                            ctype="pharmacy", pharm="Y0001", term="T-BUSY", fund=40 + 7 * k))
        for k in range(3):
            n += 1
            c.append(_claim(f"CB{n:05d}", pids[(d * 3 + k) % 60], str(day + pd.Timedelta(hours=9 + 3 * k)),
                            ctype="pharmacy", pharm="Y0002", term="T-SMALL", fund=30 + 11 * k))
    burst = []
    for night, d in enumerate((9, 23, 41)):
        start = _day(d) + pd.Timedelta(hours=22, minutes=40)
        for k in range(15):
            n += 1
            cid = f"CB{n:05d}"
            burst.append(cid)
            c.append(_claim(cid, pids[(7 * night + k) % 60], str(start + pd.Timedelta(minutes=2 * k)), ctype="pharmacy",
                            pharm="Y0002", term="T-SMALL", fund=158.0 + (k % 3) * 0.5, total=198.0 + (k % 3) * 0.5))
    items = t["claim_items"]
    for cid in burst:
        items.append({"claim_id": cid, "item_code": "N001", "item_name": "洗发水", "category": "non_medical",
                      "quantity": "1", "unit_price": "150", "amount": "150"})
        items.append({"claim_id": cid, "item_code": "Y001", "item_name": "阿莫西林", "category": "drug",
                      "quantity": "1", "unit_price": "48", "amount": "48"})
    return t, burst


def test_card_burst_flags_the_night_bursts_not_the_busy_noon_pharmacy(tmp_path):
    t, burst = burst_tables()
    fs = card_bursts(_store(tmp_path, t))
    assert len(fs) == 1
    f = fs[0]
    assert f.entity_ids("terminal") == ["T-SMALL"] and f.entity_ids("pharmacy", "venue") == ["Y0002"]
    assert f.claims == sorted(burst)
    assert f.evidence["episodes"] == 3 and f.evidence["distinct_cards"] == len({c for c in f.entity_ids("card")})
    assert [b["claims"] for b in f.evidence["bursts"]] == [15, 15, 15]
    assert f.evidence["odd_hour_share"] > 0.9 and f.evidence["amount_cv"] < 0.01
    assert f.evidence["non_medical_share"] == pytest.approx(150 / 198, abs=0.01)
    assert f.score > 0.9 and " / " in f.summary
    # the busy pharmacy's rush (12-18 cards an hour, every day) is its own normal
    assert not any("T-BUSY" in x.entity_ids("terminal") for x in fs)


def test_card_burst_without_terminals_keys_on_the_provider(tmp_path):
    t, burst = burst_tables()
    for row in t["claims"]:
        row["terminal_id"] = ""
    fs = card_bursts(_store(tmp_path, t))
    assert [(f.entity_ids("pharmacy"), f.evidence["unit_type"], f.claims) for f in fs] == [(["Y0002"], "pharmacy", sorted(burst))]


def test_card_burst_regular_weekly_cohort_is_not_a_burst(tmp_path):
    """A nursing home's weekly group visit (20 residents every Tuesday 9:00-10:00) is normal."""
    t, _ = burst_tables()
    t["claims"] = [r for r in t["claims"] if not (r["terminal_id"] == "T-SMALL" and r["start_time"][11:13] in ("22", "23"))]
    kept = {r["claim_id"] for r in t["claims"]}
    t["claim_items"] = [r for r in t["claim_items"] if r["claim_id"] in kept]
    t["institutions"].append(_inst("H0006", 1, "community", "public"))
    residents = [f"R{i:04d}" for i in range(20)]
    _people(t, residents, birth="1935-01-01")
    n = 0
    for w in range(8):
        day = _day(1 + 7 * w)  # 2024-01-02 is a Tuesday
        for k, pid in enumerate(residents):
            n += 1
            t["claims"].append(_claim(f"CN{n:05d}", pid, str(day + pd.Timedelta(hours=9, minutes=2 * k)),
                                      inst="H0006", term="T-COMM", fund=80 + k))
    assert card_bursts(_store(tmp_path, t)) == []


# ------------------------------------------------------------------------------------------------
# phantom_stay
# ------------------------------------------------------------------------------------------------
def stay_tables() -> dict:
    t = tiny_tables()
    _people(t, ["S0001", "S0002", "S0003", "S0004", "S0005"])
    # S0001 and S0002 are registered family
    t["contacts"] += [{"patient_id": "S0001", "kind": "family", "value": "S0002"},
                      {"patient_id": "S0002", "kind": "family", "value": "S0001"}]
    c = t["claims"]
    # S0003: in H0001 10-20 May; settled at the pharmacy on 12 May and in Beijing on 15 May
    c += [_claim("CS001", "S0003", "2024-05-10 10:00:00", inst="H0001", ctype="inpatient", end="2024-05-20 09:00:00", fund=8000, dx="I63.9"),
          _claim("CS002", "S0003", "2024-05-12 15:00:00", ctype="pharmacy", pharm="Y0001", fund=120),
          _claim("CS003", "S0003", "2024-05-15 10:00:00", inst="H0003", fund=300),
          # tolerated: admission day and discharge day, and a visit at the stay's own hospital
          _claim("CS004", "S0003", "2024-05-10 08:00:00", ctype="pharmacy", pharm="Y0001", fund=50),
          _claim("CS005", "S0003", "2024-05-20 08:00:00", ctype="pharmacy", pharm="Y0001", fund=50),
          _claim("CS006", "S0003", "2024-05-14 10:00:00", inst="H0001", fund=60)]
    # S0001 in hospital; registered family S0002 uses S0001's card at the pharmacy: legal
    c += [_claim("CS010", "S0001", "2024-06-01 10:00:00", inst="H0002", ctype="inpatient", end="2024-06-09 09:00:00", fund=5000),
          _claim("CS011", "S0002", "2024-06-04 10:00:00", ctype="pharmacy", pharm="Y0001", fund=90, card="K-S0001")]
    # S0004 in hospital; S0005 (no family link) uses S0004's card
    c += [_claim("CS020", "S0004", "2024-07-01 10:00:00", inst="H0002", ctype="inpatient", end="2024-07-08 09:00:00", fund=4000),
          _claim("CS021", "S0005", "2024-07-03 10:00:00", ctype="pharmacy", pharm="Y0001", fund=70, card="K-S0004")]
    return t


def test_phantom_stay_exact_findings(tmp_path):
    fs = sorted(phantom_stays(_store(tmp_path, stay_tables())), key=lambda f: -f.score)
    assert [(f.evidence["stay"]["claim_id"], f.claims) for f in fs] == [
        ("CS001", ["CS001", "CS002", "CS003"]),
        ("CS020", ["CS020", "CS021"]),
    ]
    top = fs[0]
    assert top.entity_ids("patient", "patient") == ["S0003"] and top.entity_ids("institution", "venue") == ["H0001"]
    assert {"pharmacy:Y0001", "institution:H0003"} == {f"{e.type}:{e.id}" for e in top.entities if e.role == "elsewhere"}
    assert top.evidence["max_distance_km"] > 300 and top.evidence["claims_far"] == 1
    assert top.amount_at_risk == pytest.approx(8420.0)
    card = fs[1]
    assert card.evidence["overlaps"][0]["via"] == "card" and card.entity_ids("patient", "card_user") == ["S0005"]
    # the registered family member's purchase on the hospitalised holder's card is legal
    assert not any("CS011" in f.claims for f in fs)


def test_phantom_stay_without_edge_tolerance_counts_the_admission_day(tmp_path):
    fs = phantom_stays(_store(tmp_path, stay_tables()), edge_days=0)
    s3 = next(f for f in fs if f.evidence["stay"]["claim_id"] == "CS001")
    # 08:00 on the discharge day is before the 09:00 discharge; 08:00 on the admission day is before it
    assert "CS005" in s3.claims and "CS004" not in s3.claims


# ------------------------------------------------------------------------------------------------
# split_stay
# ------------------------------------------------------------------------------------------------
def split_tables() -> dict:
    t = tiny_tables()
    _people(t, ["U0001", "U0002", "U0003", "U0004"])
    c = t["claims"]

    def stay(cid, pid, inst, d0, los, dx, fund=3000):
        c.append(_claim(cid, pid, str(_day(d0) + pd.Timedelta(hours=9)), inst=inst, ctype="inpatient",
                        end=str(_day(d0 + los) + pd.Timedelta(hours=10)), dx=dx, fund=fund))

    # U0001: split stay at H0002, one diagnosis group (M54), irregular gaps of 3 and 6 days
    stay("CU01", "U0001", "H0002", 100, 6, "M54.5")
    stay("CU02", "U0001", "H0002", 109, 4, "M54.4")
    stay("CU03", "U0001", "H0002", 119, 8, "M54.2")
    # U0002: chemotherapy cycles every 14 days (2-day stays), C34: planned
    for k in range(5):
        stay(f"CU1{k}", "U0002", "H0001", 20 + 14 * k, 2, "C34.9", fund=12000)
    # U0003: one legitimate readmission only
    stay("CU20", "U0003", "H0001", 200, 5, "J18.9")
    stay("CU21", "U0003", "H0001", 210, 5, "J18.9")
    # U0004: alternates H0001 / H0005, its branch (…东院区: linked by the name)
    t["institutions"].append({**t["institutions"][0], "institution_id": "H0005", "name": "第一人民医院东院区",
                              "region": "370103"})
    stay("CU30", "U0004", "H0001", 250, 5, "I63.9")
    stay("CU31", "U0004", "H0005", 257, 5, "I63.5")
    stay("CU32", "U0004", "H0001", 264, 5, "I63.9")
    # different diagnosis groups never chain
    stay("CU40", "U0003", "H0002", 300, 3, "K29.7")
    stay("CU41", "U0003", "H0002", 305, 3, "J44.9")
    stay("CU42", "U0003", "H0002", 310, 3, "M17.9")
    return t


def test_split_stay_exact_findings_and_chemo_ranks_below(tmp_path):
    fs = sorted(split_stays(_store(tmp_path, split_tables())), key=lambda f: (-f.score, f.id))
    got = {f.entity_ids("patient")[0]: f for f in fs}
    assert {p: f.claims for p, f in got.items()} == {
        "U0001": ["CU01", "CU02", "CU03"],
        "U0004": ["CU30", "CU31", "CU32"],
        "U0002": ["CU10", "CU11", "CU12", "CU13", "CU14"],
    }
    # the chemotherapy cycles (more stays, more money) rank below both splits
    chemo = fs[-1]
    assert chemo.entity_ids("patient") == ["U0002"] and chemo.amount_at_risk > got["U0001"].amount_at_risk
    planned = {c["check"]: c for c in chemo.evidence["benign_checks"]}["planned_cycle"]
    assert chemo.evidence["planned_cycle"] and planned["outcome"] == "explains"
    assert got["U0001"].evidence["relations"] == {"same": 2} and got["U0001"].evidence["diagnosis_groups"] == ["M54"]
    assert [s["gap_days"] for s in got["U0001"].evidence["steps"]] == [3, 6]
    assert got["U0001"].evidence["null"]["log10_p"] < 0 and got["U0001"].evidence["benign_checks"]
    # H0005 is H0001's branch (name stem)
    assert got["U0004"].evidence["relations"] == {"linked": 2} and got["U0004"].evidence["link_basis"] == ["name"]
    assert got["U0004"].entity_ids("institution") == ["H0001", "H0005"]
    # a single readmission is not a split stay unless asked for
    two = split_stays(_store(tmp_path, split_tables(), "s2"), min_stays=2)
    assert any(f.claims == ["CU20", "CU21"] for f in two)


def test_split_stay_unlinked_institutions(tmp_path):
    t = split_tables()
    next(i for i in t["institutions"] if i["institution_id"] == "H0005")["name"] = "仁和医院"
    fs = split_stays(_store(tmp_path, t))
    u4 = next(f for f in fs if f.entity_ids("patient") == ["U0004"])
    assert u4.evidence["relations"] == {"other": 2}
    assert not any(f.entity_ids("patient") == ["U0004"] for f in split_stays(_store(tmp_path, t, "s2"), chain_unlinked=False))


# ------------------------------------------------------------------------------------------------
# referrals
# ------------------------------------------------------------------------------------------------
def referral_tables() -> dict:
    """H0004/H0005: private level-1 hospitals bouncing patients; H0006: a community centre with
    legitimate up/down round trips to the level-3 H0001; clinics H0007-H0009 whose doctors refer
    normally, except D00010 who steers to H0005."""
    t = tiny_tables()
    t["institutions"] += [_inst("H0004", 1, "hospital"), _inst("H0005", 1, "hospital"),
                          _inst("H0006", 1, "community", "public"), _inst("H0007", 1, "clinic"),
                          _inst("H0008", 1, "clinic"), _inst("H0009", 1, "clinic")]
    t["doctors"] += [{"doctor_id": f"D000{10 + k}", "name": "", "institution_id": i, "department": "全科", "title": ""}
                     for k, i in enumerate(("H0007", "H0008", "H0009", "H0007"))]
    t["doctors"] += [{"doctor_id": "D00020", "name": "", "institution_id": "H0004", "department": "内科", "title": ""},
                     {"doctor_id": "D00021", "name": "", "institution_id": "H0005", "department": "内科", "title": ""}]
    loopers = ["L0001", "L0002", "L0003"]
    trippers = ["W0001", "W0002", "W0003"]
    referred = [f"V{i:04d}" for i in range(60)]
    _people(t, loopers + trippers + referred)
    c, r = t["claims"], t["referrals"]
    # loop: each looper H0004 -> H0005 -> H0004 -> H0005, stays of 5 days, next admission next day
    n = 0
    for p, pid in enumerate(loopers):
        d = 10 + 40 * p
        c.append(_claim(f"CL{n:03d}", pid, str(_day(d) + pd.Timedelta(hours=9)), inst="H0004", ctype="inpatient",
                        end=str(_day(d + 5) + pd.Timedelta(hours=10)), dx="M54.5", fund=2000))
        n += 1
        here, there = "H0004", "H0005"
        for hop in range(3):
            rid = f"RL{p}{hop}"
            r.append(_ref(rid, pid, here, there, str(_day(d + 5) + pd.Timedelta(hours=8)), doc="D00020" if here == "H0004" else "D00021"))
            d += 6
            c.append(_claim(f"CL{n:03d}", pid, str(_day(d) + pd.Timedelta(hours=9)), inst=there, ctype="inpatient",
                            end=str(_day(d + 5) + pd.Timedelta(hours=10)), dx=["I63.9", "K29.7", "E11.9"][hop], fund=2000, ref=rid))
            n += 1
            here, there = there, here
    # legitimate up/down round trips: community H0006 -> hub H0001 -> back to H0006, once each
    for p, pid in enumerate(trippers):
        d = 100 + 30 * p
        r.append(_ref(f"RW{p}a", pid, "H0006", "H0001", str(_day(d) + pd.Timedelta(hours=10))))
        c.append(_claim(f"CW{p}a", pid, str(_day(d + 2) + pd.Timedelta(hours=9)), inst="H0001", ctype="inpatient",
                        end=str(_day(d + 12) + pd.Timedelta(hours=10)), dx="S72.0", fund=9000, ref=f"RW{p}a"))
        r.append(_ref(f"RW{p}b", pid, "H0001", "H0006", str(_day(d + 12) + pd.Timedelta(hours=8))))
        c.append(_claim(f"CW{p}b", pid, str(_day(d + 15) + pd.Timedelta(hours=14)), inst="H0006", fund=150, ref=f"RW{p}b"))
    # clinic referrals: peers D00011/D00012/D00013 send to H0001 / H0003; D00010 steers to H0005
    k = 0
    for doc, inst, dests in (("D00011", "H0008", ["H0001", "H0003"] * 6), ("D00012", "H0009", ["H0001", "H0001", "H0003"] * 4),
                             ("D00013", "H0007", ["H0001", "H0003", "H0001"] * 4), ("D00010", "H0007", ["H0005"] * 12 + ["H0001"])):
        for j, dest in enumerate(dests):
            pid = referred[k % len(referred)]
            rid = f"RC{k:03d}"
            when = _day(5 + 5 * j) + pd.Timedelta(hours=10, minutes=k)
            r.append(_ref(rid, pid, inst, dest, str(when), doc=doc))
            c.append(_claim(f"CC{k:03d}", pid, str(when + pd.Timedelta(days=3)), inst=dest, fund=400, ref=rid))
            k += 1
    return t


def test_referral_loop_exact_finding_and_round_trips_are_not_loops(tmp_path):
    store = _store(tmp_path, referral_tables())
    fs = referral_loops(store)
    assert len(fs) == 1
    f = fs[0]
    assert f.evidence["cycle"] == ["H0004", "H0005"] and f.entity_ids("institution") == ["H0004", "H0005"]
    assert f.evidence["patients"] == 3 and f.evidence["returns"] == 6 and f.evidence["counted_returns"] == 6
    assert f.evidence["median_bounce_days"] == pytest.approx(6.0)
    assert f.claims == sorted(f"CL{i:03d}" for i in range(12))  # every stay of the loop, origins included
    assert set(f.entity_ids("patient")) == {"L0001", "L0002", "L0003"}
    # the community <-> hub up/down round trips (three patients, once each) are not a loop
    assert not any("H0006" in x.entity_ids("institution") for x in fs)


def test_a_single_lateral_round_trip_is_not_a_loop(tmp_path):
    t = referral_tables()
    keep = {"RL00", "RL01"}  # one patient, H0004 -> H0005 -> H0004 once
    t["referrals"] = [r for r in t["referrals"] if not r["referral_id"].startswith("RL") or r["referral_id"] in keep]
    t["claims"] = [c for c in t["claims"] if not c["referral_id"].startswith("RL") or c["referral_id"] in keep]
    assert referral_loops(_store(tmp_path, t)) == []


def test_referral_concentration_exact_finding(tmp_path):
    fs = referral_concentrations(_store(tmp_path, referral_tables()))
    assert [(f.entity_ids("doctor"), f.evidence["pattern"], f.evidence["destination"]) for f in fs] == [
        (["D00010"], "destination", "H0005")
    ]
    f = fs[0]
    assert f.evidence["referrals_total"] == 13 and f.evidence["referrals_steered"] == 12
    assert f.evidence["peer_share"] < 0.05
    assert f.claims == sorted(f"CC{k:03d}" for k in range(36, 48))
    assert f.amount_at_risk == pytest.approx(12 * 400.0)
    assert f.entity_ids("institution", "source") == ["H0007"] and f.entity_ids("institution", "destination") == ["H0005"]


def test_referral_concentration_out_of_area(tmp_path):
    t = referral_tables()
    for row in t["referrals"]:
        if row["from_doctor_id"] == "D00010":
            row["to_institution_id"] = ["H0003", "H0001"][int(row["referral_id"][2:]) % 2]
            row["out_of_area"] = "true"
    fs = referral_concentrations(_store(tmp_path, t))
    assert [(f.entity_ids("doctor"), f.evidence["pattern"]) for f in fs] == [(["D00010"], "out_of_area")]
    assert f"{fs[0].evidence['share']:.2f}" == "1.00"


def test_referral_clusters(tmp_path):
    t = referral_tables()
    # a split stay at the loop's hospitals joins the cluster
    _people(t, ["X0001"])
    for k, d0 in enumerate((200, 210, 221)):
        t["claims"].append(_claim(f"CX{k}", "X0001", str(_day(d0) + pd.Timedelta(hours=9)), inst="H0004", ctype="inpatient",
                                  end=str(_day(d0 + 6) + pd.Timedelta(hours=9)), dx="J44.9", fund=2500))
    store = _store(tmp_path, t)
    fs = referral_loops(store) + referral_concentrations(store) + split_stays(store)
    assert {f.kind for f in fs} == {"referral_loop", "referral_concentration", "split_stay"}
    clusters = referral_clusters(store, fs, seed=0)
    assert len(clusters) == 1
    cl = clusters[0]
    assert cl["kinds"] == ["referral_concentration", "referral_loop", "split_stay"]
    assert {"H0004", "H0005"} <= set(cl["institutions"])
    assert all(f.evidence["referral_cluster"] == cl["cluster_id"] for f in fs)
    again = referral_clusters(store, referral_loops(store) + referral_concentrations(store) + split_stays(store), seed=0)
    assert again[0]["cluster_id"] == cl["cluster_id"]  # deterministic


# ------------------------------------------------------------------------------------------------
# identity_ring
# ------------------------------------------------------------------------------------------------
def identity_tables() -> dict:
    t = tiny_tables()
    ring = ["I0001", "I0002", "I0003", "I0004"]
    fam = ["F0001", "F0002", "F0003"]
    house = ["G0001", "G0002", "G0003"]
    home = [f"N{i:04d}" for i in range(12)]
    _people(t, ring + fam + house)
    _people(t, home, birth="1938-05-01")
    ct = t["contacts"]
    for k, p in enumerate(ring):  # four unrelated households, one bank account
        ct += [{"patient_id": p, "kind": "address", "value": f"历下区{k}号"}, {"patient_id": p, "kind": "bank_account", "value": "6222000011112222"}]
    for p in fam:  # a registered family sharing a phone
        ct += [{"patient_id": p, "kind": "phone", "value": "13900000001"}]
        ct += [{"patient_id": p, "kind": "family", "value": q} for q in fam if q != p]
    for p in house:  # an unregistered household: same address, one device
        ct += [{"patient_id": p, "kind": "address", "value": "市中区和平路8号"}, {"patient_id": p, "kind": "device", "value": "dev-house"}]
    for p in home:  # a nursing home: one address, the home's phone
        ct += [{"patient_id": p, "kind": "address", "value": "槐荫区幸福养老院"}, {"patient_id": p, "kind": "phone", "value": "053188880000"}]
    for k, p in enumerate(ring):
        t["claims"].append(_claim(f"CI{k}", p, f"2024-04-0{k + 1} 10:00:00", ctype="pharmacy", pharm="Y0001", fund=100 + k))
    return t


def test_identity_ring_exact_findings(tmp_path):
    fs = sorted(identity_rings(_store(tmp_path, identity_tables())), key=lambda f: -f.score)
    ring, care = fs[0], fs[1]
    assert len(fs) == 2
    assert sorted(ring.entity_ids("patient", "member")) == ["I0001", "I0002", "I0003", "I0004"]
    assert [d["kind"] for d in ring.evidence["identifiers"]] == ["bank_account"]
    assert ring.evidence["identifiers"][0]["households"] == 4
    assert ring.evidence["identifiers"][0]["token"] != "6222000011112222"  # pseudonymised on load
    assert ring.claims == ["CI0", "CI1", "CI2", "CI3"] and ring.evidence["claims_basis"] == "shared_venues"
    assert ring.entity_ids("pharmacy", "shared_venue") == ["Y0001"]
    # the nursing home's address is reported as a likely care home, far below; its shared phone
    # is explained by the address, the family's phone and the household's device are not reported
    assert care.evidence["care_home"] and [d["kind"] for d in care.evidence["identifiers"]] == ["address"]
    assert care.score < ring.score
    assert {c["check"]: c["outcome"] for c in care.evidence["benign_checks"]}["collective_household"] == "explains"
    assert care.entity_ids("patient") == [f"N{i:04d}" for i in range(12)]


def test_identity_ring_without_care_homes_addresses_need_more_people(tmp_path):
    fs = identity_rings(_store(tmp_path, identity_tables()), min_address_members=13)
    assert [sorted(f.entity_ids("patient")) for f in fs] == [["I0001", "I0002", "I0003", "I0004"]]


# ------------------------------------------------------------------------------------------------
# common checks and the demo city
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", MY_KINDS)
def test_registered_with_declared_params(kind, tmp_path):
    det = REGISTRY[kind]
    assert det.params and det.doc
    store = _store(tmp_path, referral_tables())
    a, used = run_detector(kind, store)
    b, _ = run_detector(kind, store)
    assert [f.to_dict() for f in a] == [f.to_dict() for f in b] and used == det.defaults()
    for f in a:
        assert f.kind == kind and 0 <= f.score < 1 and f.claims and " / " in f.summary


@pytest.fixture(scope="module")
def demo_city(tmp_path_factory):
    from graphkit.demo import generate_city

    out = tmp_path_factory.mktemp("demo3k")
    generate_city(out / "bundle", patients=3000, seed=0, fmt="parquet")
    load_bundle(out / "bundle", out / "store")
    return open_store(out / "store"), out / "bundle" / "truth.json"


def test_demo_city_recall_and_precision(demo_city):
    store, truth = demo_city
    findings = []
    for kind in MY_KINDS:
        fs, _ = run_detector(kind, store)
        findings += fs
    ev = evaluate(truth, findings)["kinds"]
    for kind in MY_KINDS:
        r = ev[kind]
        assert r["recall"] >= 0.9, (kind, r)
        assert r["precision_at_k"] >= 0.9, (kind, r)
    clusters = referral_clusters(store, findings)
    assert clusters and all(len(c["kinds"]) >= 2 for c in clusters)
    assert json.dumps(clusters, ensure_ascii=False, default=str)
