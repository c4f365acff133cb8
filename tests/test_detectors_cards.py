"""shared_card, identity_ring, card_burst and deceased_card_use on planted look-alikes.

Every legal look-alike is planted next to a true case: the look-alike is not reported or ranks
below, the true case is still found. The nulls are checked by planting the same pattern in a
city where it is common and in one where it is rare.
"""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest

from graphkit.detectors import REGISTRY
from graphkit.detectors.bursts import card_bursts
from graphkit.detectors.cards import deceased_card_uses, shared_cards
from graphkit.detectors.identity import identity_rings

from conftest import tiny_tables
from test_detectors_more import _claim, _day, _inst, _people, _store, burst_tables


def _contact(t: dict, pid: str, kind: str, value: str) -> None:
    t["contacts"].append({"patient_id": pid, "kind": kind, "value": value})


def _checks(f) -> dict[str, str]:
    return {c["check"]: c["outcome"] for c in f.evidence["benign_checks"]}


def city(n: int = 150, seed: int = 0, *, region: str = "370102") -> dict:
    """The tiny bundle plus ``n`` ordinary people (households of 1-3 at their own address, a
    phone each) with a few claims at two pharmacies and a clinic over five months."""
    t = tiny_tables()
    rng = random.Random(seed)
    t["pharmacies"].append({"pharmacy_id": "Y0002", "name": "惠民药房", "chain": "", "region": region,
                            "lat": "36.66", "lon": "117.02"})
    t["institutions"].append(_inst("H0010", 1, "community", "public", region=region))
    ids = [f"B{i:03d}" for i in range(n)]
    for i, pid in enumerate(ids):
        _people(t, [pid], birth=f"{1950 + rng.randrange(50)}-0{1 + rng.randrange(9)}-1{rng.randrange(9)}", region=region)
        _contact(t, pid, "address", f"历下区幸福路{i // 2}号")  # households of two
        _contact(t, pid, "phone", f"1390000{i:04d}")
        for k in range(rng.randrange(3, 7)):
            when = str(_day(rng.randrange(150)) + pd.Timedelta(hours=rng.randrange(8, 18)))
            where = rng.choice(["Y0001", "Y0002", "H0010"])
            kw = {"inst": where} if where.startswith("H") else {"ctype": "pharmacy", "pharm": where}
            t["claims"].append(_claim(f"CB{pid}-{k}", pid, when, fund=50.0 + rng.randrange(100), **kw))
    return t


def _lend(t: dict, holder: str, users: list[str], tag: str, claims_each: int = 3, start: int = 10) -> list[str]:
    out = []
    for j, u in enumerate(users):
        for k in range(claims_each):
            cid = f"CL{tag}-{j}-{k}"
            out.append(cid)
            t["claims"].append(_claim(cid, u, str(_day(start + 9 * k + j) + pd.Timedelta(hours=10)), ctype="pharmacy",
                                      pharm="Y0002", card=f"K-{holder}"))
    return out


def _lent_case(t: dict) -> list[str]:
    """The true case: B100's card settled for three strangers (other households)."""
    return _lend(t, "B100", ["B110", "B120", "B130"], "lent")


def _lent_finding(fs):
    return next(f for f in fs if f.evidence.get("pattern") == "one_card_many_people" and "K-B100" in f.entity_ids("card"))


# ------------------------------------------------------------------------------------------------
# shared_card
# ------------------------------------------------------------------------------------------------
def test_newborn_on_a_parents_card_is_not_reported_the_lent_card_is(tmp_path):
    t = city()
    lent = _lent_case(t)
    # a baby born 2024-01-10, no card until 2024-04-01, settled on her mother's (B010) card
    _people(t, ["BABY"], birth="2024-01-10")
    t["cards"][-1]["issued_date"] = "2024-04-01"
    _contact(t, "BABY", "address", "历下区幸福路5号")
    baby = [f"CN{k}" for k in range(4)]
    for k, cid in enumerate(baby):
        t["claims"].append(_claim(cid, "BABY", str(_day(20 + 15 * k) + pd.Timedelta(hours=9)), inst="H0010", card="K-B010"))
    # a toddler of unknown address, no card at all, on the card of a man 30 years older
    _people(t, ["TOD"], birth="2022-09-01")
    t["cards"].pop()
    toddler = [_claim(f"CT{k}", "TOD", str(_day(30 + 20 * k) + pd.Timedelta(hours=9)), inst="H0010", card="K-B020")
               for k in range(3)]
    t["patients"][-1]["birth_date"] = "2022-09-01"
    t["patients"] = [p if p["patient_id"] != "B020" else {**p, "birth_date": "1992-01-01"} for p in t["patients"]]
    t["claims"] += toddler
    fs = shared_cards(_store(tmp_path, t))
    reported = {c for f in fs for c in f.claims}
    assert not reported & set(baby) and not reported & {c["claim_id"] for c in toddler}
    assert set(_lent_finding(fs).claims) == set(lent)


def test_guardian_and_dependant_are_not_reported(tmp_path):
    t = city()
    lent = _lent_case(t)
    # a 10-year-old on his father's card (one household phone), an 85-year-old on her son's card (same address)
    _people(t, ["KID"], birth="2014-03-01")
    _contact(t, "KID", "phone", "13900000030")  # B030's phone
    _people(t, ["GRANNY"], birth="1939-03-01")
    _contact(t, "GRANNY", "address", "历下区幸福路20号")  # B040's and B041's address
    t["patients"] = [p if p["patient_id"] not in ("B030", "B040") else {**p, "birth_date": "1980-01-01"} for p in t["patients"]]
    dep = _lend(t, "B030", ["KID"], "kid") + _lend(t, "B040", ["GRANNY"], "granny")
    fs = shared_cards(_store(tmp_path, t))
    assert not {c for f in fs for c in f.claims} & set(dep)
    f = _lent_finding(fs)
    assert set(f.claims) == set(lent) and _checks(f)["guardian_or_dependant"] == "ruled_out"


def test_unregistered_household_and_care_home_rank_below_the_lent_card(tmp_path):
    t = city()
    _lent_case(t)
    # two adults of one household (B050, B051 share an address): B051 uses B050's card, often
    t["patients"] = [p if p["patient_id"] not in ("B050", "B051") else {**p, "birth_date": "1985-05-05"} for p in t["patients"]]
    _lend(t, "B050", ["B051"], "house", claims_each=6)
    # a care home: 14 elderly residents at one address; one resident's card settles for five others
    home = [f"N{i:02d}" for i in range(14)]
    _people(t, home, birth="1936-06-01")
    for p in home:
        _contact(t, p, "address", "槐荫区福寿养老院")
    _lend(t, "N00", home[1:6], "home", claims_each=2)
    fs = shared_cards(_store(tmp_path, t))
    true = _lent_finding(fs)
    house = next(f for f in fs if "K-B050" in f.entity_ids("card"))
    care = next(f for f in fs if "K-N00" in f.entity_ids("card"))
    assert _checks(house)["unregistered_household"] == "explains"
    assert _checks(care)["institution_residents"] == "explains"
    assert _checks(true)["unregistered_household"] == "ruled_out" and _checks(true)["institution_residents"] == "ruled_out"
    assert house.score < true.score and care.score < true.score
    for f in fs:
        assert {"method", "log10_p", "n_tests"} <= set(f.evidence["null"])


def test_an_e_voucher_is_never_a_replacement(tmp_path):
    t = city()
    for c in t["cards"]:  # the city's cards are physical, B060's and B070's 2020 cards are e-vouchers
        c["kind"] = "e_voucher" if c["card_id"] in ("K-B060", "K-B070") else "physical"
    # B060: old physical card (lost), an e-voucher from 2020, a new physical card on 2024-04-01;
    # the old card is used before the real replacement (legal), then after it (reported)
    t["cards"] += [
        {"card_id": "OLD-060", "patient_id": "B060", "issued_date": "2015-05-01", "status": "lost", "kind": "physical"},
        {"card_id": "EV-060", "patient_id": "B060", "issued_date": "2020-06-01", "status": "active", "kind": "e_voucher"},
        {"card_id": "NEW-060", "patient_id": "B060", "issued_date": "2024-04-01", "status": "active", "kind": "physical"},
        # B070: an old physical card and an e-voucher only; old card still in use
        {"card_id": "OLD-070", "patient_id": "B070", "issued_date": "2016-05-01", "status": "cancelled", "kind": "physical"},
        {"card_id": "EV-070", "patient_id": "B070", "issued_date": "2021-06-01", "status": "active", "kind": "e_voucher"},
    ]
    before = [_claim(f"CO{k}", "B060", str(_day(10 + 20 * k) + pd.Timedelta(hours=9)), inst="H0010", card="OLD-060") for k in range(4)]
    after = [_claim(f"CA{k}", "B060", str(_day(100 + 9 * k) + pd.Timedelta(hours=21)), ctype="pharmacy", pharm="Y0002",
                    card="OLD-060") for k in range(4)]
    other = [_claim(f"CE{k}", "B070", str(_day(5 + 30 * k) + pd.Timedelta(hours=9)), inst="H0010", card="OLD-070") for k in range(5)]
    ev = [_claim(f"CV{k}", "B060", str(_day(12 + 30 * k) + pd.Timedelta(hours=9)), inst="H0010", card="EV-060") for k in range(4)]
    t["claims"] += before + after + other + ev
    fs = [f for f in shared_cards(_store(tmp_path, t)) if f.evidence["pattern"] == "replaced_card_in_use"]
    assert [(f.entity_ids("card"), f.claims) for f in fs] == [(["OLD-060"], sorted(c["claim_id"] for c in after))]
    assert str(fs[0].evidence["replaced_on"])[:10] == "2024-04-01"
    assert _checks(fs[0])["e_voucher_read_as_replacement"] == "ruled_out"


def test_without_card_kinds_an_e_voucher_is_read_as_a_replacement_and_said_so(tmp_path):
    t = city()
    t["cards"] += [
        {"card_id": "OLD-070", "patient_id": "B070", "issued_date": "2016-05-01", "status": "lost"},
        {"card_id": "EV-070", "patient_id": "B070", "issued_date": "2021-06-01", "status": "active"},
    ]
    t["claims"] += [_claim(f"CE{k}", "B070", str(_day(5 + 30 * k) + pd.Timedelta(hours=9)), inst="H0010", card="OLD-070")
                    for k in range(3)]
    for c in t["cards"]:
        c.pop("kind", None)
    fs = [f for f in shared_cards(_store(tmp_path, t)) if f.evidence["pattern"] == "replaced_card_in_use"]
    assert len(fs) == 1 and _checks(fs[0])["e_voucher_read_as_replacement"] == "not_testable"


def test_a_lent_card_scores_lower_where_foreign_card_use_is_common(tmp_path):
    scores = {}
    for name, common in (("rare", False), ("common", True)):
        t = city(seed=1)
        _lent_case(t)
        if common:  # a third of the people also settle, now and then, on an unrelated neighbour's card
            for i in range(0, 90, 3):
                _lend(t, f"B{i:03d}", [f"B{(i + 37) % 150:03d}"], f"bg{i}", claims_each=2, start=40)
        scores[name] = _lent_finding(shared_cards(_store(tmp_path, t, name))).score
    assert scores["common"] < scores["rare"]


# ------------------------------------------------------------------------------------------------
# identity_ring
# ------------------------------------------------------------------------------------------------
def _ring(t: dict, members: list[str], kind: str, value: str, venue: str = "Y0009") -> list[str]:
    """True identity ring: strangers on one identifier, steered to one pharmacy."""
    if not any(p["pharmacy_id"] == venue for p in t["pharmacies"]):
        t["pharmacies"].append({"pharmacy_id": venue, "name": "某药房", "chain": "", "region": "370102", "lat": "", "lon": ""})
    out = []
    for j, p in enumerate(members):
        _contact(t, p, kind, value)
        for k in range(3):
            cid = f"CR{value[-4:]}-{j}-{k}"
            out.append(cid)
            t["claims"].append(_claim(cid, p, str(_day(5 + 17 * k + j) + pd.Timedelta(hours=15)), ctype="pharmacy",
                                      pharm=venue))
    return out


def _ring_finding(fs, members):
    return next(f for f in fs if set(members) <= set(f.entity_ids("patient", "member")))


def test_dormitory_and_care_home_rank_below_a_true_ring(tmp_path):
    t = city()
    ring = [f"B{i:03d}" for i in (101, 113, 125, 137, 149, 90)]
    _ring(t, ring, "bank_account", "6222000099990001")
    dorm = [f"D{i:02d}" for i in range(24)]
    _people(t, dorm, birth="2001-04-01")
    home = [f"N{i:02d}" for i in range(16)]
    _people(t, home, birth="1937-04-01")
    for p in dorm:
        _contact(t, p, "address", "高新区工业园宿舍3号楼")
    for p in home:
        _contact(t, p, "address", "槐荫区福寿养老院")
        _contact(t, p, "phone", "053188881234")
    fs = identity_rings(_store(tmp_path, t))
    true = _ring_finding(fs, ring)
    d = _ring_finding(fs, dorm)
    h = _ring_finding(fs, home)
    assert _checks(d)["collective_household"] == "explains" and _checks(h)["collective_household"] == "explains"
    assert h.evidence["care_home"] and not d.evidence["care_home"]
    assert max(d.score, h.score) < true.score
    assert true.evidence["null"]["venue"] == "pharmacy:Y0009"


def _village(t: dict, kind: str, value: str) -> list[str]:
    """30 elderly villagers (region 370124), each visiting the village clinic H0020 twice as every
    villager there does; ``kind`` = ``value`` on the records of the first 12. Returns the villagers."""
    t["institutions"].append(_inst("H0020", 1, "village", "public", region="370124"))
    vill = [f"V{i:02d}" for i in range(30)]
    _people(t, vill, birth="1948-02-01", region="370124")
    for i, p in enumerate(vill):
        _contact(t, p, "address", f"平阴县孔村{i}号")
        for k in range(2):
            t["claims"].append(_claim(f"CV{p}-{k}", p, str(_day(3 + 11 * k + i) + pd.Timedelta(hours=9)), inst="H0020"))
    for p in vill[:12]:
        _contact(t, p, kind, value)
    return vill


def test_village_agent_and_employer_number_rank_below_a_true_ring(tmp_path):
    t = city()
    ring = [f"B{i:03d}" for i in (101, 113, 125, 137, 149, 90)]
    _ring(t, ring, "phone", "13712340000")
    vill = _village(t, "phone", "13655550000")  # a village doctor's phone on 12 villagers' records
    # an employer's switchboard on 10 employees' records, each shopping where they like
    emp = [f"B{i:03d}" for i in range(2, 42, 4)]
    for p in emp:
        _contact(t, p, "phone", "053166660000")
    for r in t["patients"]:  # most people are residents (城乡居民); the employer's staff are employees
        r["insurance_type"] = "resident"
        if r["patient_id"] in emp:
            r["insurance_type"], r["birth_date"] = "employee", "1985-05-05"
    fs = identity_rings(_store(tmp_path, t))
    true = _ring_finding(fs, ring)
    agent = _ring_finding(fs, vill[:12])
    work = _ring_finding(fs, emp)
    assert _checks(agent)["village_agent"] == "explains" and _checks(work)["employer_number"] == "explains"
    assert _checks(true)["village_agent"] == "ruled_out"
    assert max(agent.score, work.score) < true.score


def test_a_shared_bank_account_is_not_a_village_agent(tmp_path):
    """The agents' look-alike fits a phone or device they registered, not an account that
    receives a dozen elderly villagers' reimbursements: same people, same clinic, the account
    is ruled out of that explanation (and of the provider's-number one) and ranks above the phone."""
    scores = {}
    for kind, value in (("phone", "13655550000"), ("bank_account", "6216610000000001")):
        t = city()
        vill = _village(t, kind, value)
        f = _ring_finding(identity_rings(_store(tmp_path, t, kind)), vill[:12])
        checks = _checks(f)
        assert checks["village_agent"] == ("explains" if kind == "phone" else "ruled_out"), checks
        assert kind == "phone" or "provider_number" not in checks
        scores[kind] = f.score
    assert scores["bank_account"] > 2 * scores["phone"]


def test_a_phone_on_four_households_scores_lower_where_agents_are_common(tmp_path):
    scores = {}
    ring = ["B101", "B113", "B125", "B137"]
    for name, common in (("rare", False), ("common", True)):
        t = city(seed=2)
        _ring(t, ring, "phone", "13712349999")
        if common:  # many phones each on the records of 3-5 households
            for j in range(20):
                for i in range(3 + j % 3):
                    _contact(t, f"B{(j * 5 + i * 2) % 100:03d}", "phone", f"1360000{j:04d}")
        scores[name] = _ring_finding(identity_rings(_store(tmp_path, t, name)), ring).score
    assert scores["common"] < scores["rare"]


# ------------------------------------------------------------------------------------------------
# card_burst
# ------------------------------------------------------------------------------------------------
def _night_burst(fs):
    return next(f for f in fs if f.entity_ids("terminal") == ["T-SMALL"])


def test_care_home_batch_and_group_exam_rank_below_the_night_bursts(tmp_path):
    t, burst = burst_tables()
    for i in range(60):  # the pharmacies' customers live in households of two
        _contact(t, f"Q{i:04d}", "address", f"历下区和平路{i // 2}号")
    # a care home (20 elderly residents at one address) settled in one afternoon at a clinic's terminal
    t["institutions"].append(_inst("H0030", 1, "clinic"))
    t["institutions"].append(_inst("H0040", 1, "community", "public"))
    home = [f"N{i:02d}" for i in range(20)]
    _people(t, home, birth="1936-01-01")
    exam = [f"E{i:02d}" for i in range(30)]
    _people(t, exam, birth="1955-01-01")
    n = 0
    for d in range(56):  # both clinics' ordinary days: two visits
        for k in range(2):
            for inst, term in (("H0030", "T-CARE"), ("H0040", "T-COMM")):
                n += 1
                t["claims"].append(_claim(f"CD{n:05d}", f"Q{(d + k) % 60:04d}", str(_day(d) + pd.Timedelta(hours=9 + 4 * k)),
                                          inst=inst, term=term, fund=30 + 5 * k))
    for k, p in enumerate(home):
        _contact(t, p, "address", "槐荫区福寿养老院")
        t["claims"].append(_claim(f"CH{k:03d}", p, str(_day(20) + pd.Timedelta(hours=14, minutes=2 * k)), inst="H0030",
                                  term="T-CARE", fund=80 + k))
    for k, p in enumerate(exam):  # a morning of physical exams at one price, diagnosis Z00.0
        t["claims"].append({**_claim(f"CX{k:03d}", p, str(_day(33) + pd.Timedelta(hours=8, minutes=30 + 3 * k)),
                                     inst="H0040", term="T-COMM", fund=48.0, total=60.0), "diagnosis_code": "Z00.0"})
    fs = card_bursts(_store(tmp_path, t))
    true = _night_burst(fs)
    assert true.claims == sorted(burst)
    care = next(f for f in fs if f.entity_ids("terminal") == ["T-CARE"])
    camp = next(f for f in fs if f.entity_ids("terminal") == ["T-COMM"])
    assert _checks(care)["institution_batch"] == "explains"
    assert _checks(camp)["group_exam_or_vaccination"] == "explains"
    assert _checks(true)["institution_batch"] == "ruled_out"
    assert max(care.score, camp.score) < true.score


def _district_burst(day_dx, burst_dx) -> dict:
    """80 people of district 370103 and its four clinics over 56 days (``day_dx(d, c)``: the
    diagnoses of clinic ``c``'s claims on day ``d``), then 30 cards in one afternoon at H0051's
    terminal (``burst_dx(k)``: the k-th claim's diagnosis)."""
    t = tiny_tables()
    pids = [f"Q{i:04d}" for i in range(80)]
    _people(t, pids, region="370103")
    clinics = ("H0051", "H0052", "H0053", "H0054")
    for c in clinics:
        t["institutions"].append(_inst(c, 1, "clinic", region="370103"))
    n = 0
    for d in range(56):
        for c in clinics:
            for k, dx in enumerate(day_dx(d, c)):
                n += 1
                t["claims"].append(_claim(f"CQ{n:05d}", pids[(d + 7 * k) % 80], str(_day(d) + pd.Timedelta(hours=8, minutes=17 * k % 540)),
                                          inst=c, term=f"T-{c}", fund=40 + k, dx=dx))
    for k in range(30):
        n += 1
        t["claims"].append(_claim(f"CQ{n:05d}", pids[k], str(_day(30) + pd.Timedelta(hours=14, minutes=3 * k)),
                                  inst="H0051", term="T-H0051", fund=40 + k, dx=burst_dx(k)))
    return t


def test_an_area_peak_lowers_a_burst(tmp_path):
    """The same afternoon burst at clinic H0051 scores lower when the area's other clinics are
    three times as busy that day (an outbreak) than when they are not."""
    scores = {}
    for name, outbreak in (("quiet", False), ("outbreak", True)):
        t = _district_burst(lambda d, c, o=outbreak: [""] * (18 if o and d == 30 and c != "H0051" else 6), lambda k: "")
        fs = card_bursts(_store(tmp_path, t, name))
        f = next(f for f in fs if f.entity_ids("terminal") == ["T-H0051"])
        scores[name] = (f.score, _checks(f)["outbreak_or_peak"])
    assert scores["outbreak"][1] in ("partial", "explains") and scores["quiet"][1] == "ruled_out"
    assert scores["outbreak"][0] < scores["quiet"][0]


def test_a_burst_of_one_diagnosis_while_it_goes_round_the_area_is_an_outbreak(tmp_path):
    """A school's influenza cluster: 30 pupils with J11 at clinic H0051 in one afternoon. Where the
    district's other clinics see J11 surge that week the burst is explained as an outbreak (and
    scores far lower); where they do not, or the burst's claims carry mixed diagnoses, it is not.
    A wave coded under several groups (J10, J11, J06 — none on half the claims) is an outbreak too."""
    found = {}
    usual = ("K29.7", "M54.5", "I10")
    mix = ("J11.1", "K29.7", "M54.5", "I10", "E11.9")
    wave = ("J10.0", "J11.1", "J06.9")
    for name, flu, burst_dx in (("flu", True, "J11"), ("quiet", False, "J11"), ("mixed", True, "mix"), ("wave", True, "wave")):
        def day_dx(d: int, c: str, flu: bool = flu, name: str = name) -> list[str]:
            sick = flu and 27 <= d <= 36 and c != "H0051"  # flu going round the district
            return [usual[k % 3] for k in range(6)] + ((list(wave) if name == "wave" else ["J11.1"] * 2) if sick else [])
        t = _district_burst(day_dx, lambda k, b=burst_dx: {"J11": "J11.1", "mix": mix[k % 5], "wave": wave[k % 3]}[b])
        fs = card_bursts(_store(tmp_path, t, name))
        found[name] = next(f for f in fs if f.entity_ids("terminal") == ["T-H0051"])
    check = {k: next(c for c in f.evidence["benign_checks"] if c["check"] == "outbreak_diagnosis") for k, f in found.items()}
    assert check["flu"]["outcome"] == "explains" and "J11" in check["flu"]["detail"], check["flu"]
    assert check["quiet"]["outcome"] == "ruled_out" and check["mixed"]["outcome"] == "ruled_out"
    assert "holds most of the claims" in check["mixed"]["detail"]
    assert check["wave"]["outcome"] == "explains" and "J06+J10+J11" in check["wave"]["detail"], check["wave"]
    assert found["flu"].score < 0.5 * min(found["quiet"].score, found["mixed"].score)
    assert found["wave"].score < 0.5 * min(found["quiet"].score, found["mixed"].score)


def test_a_terminal_whose_every_burst_has_a_legal_explanation_is_explained(tmp_path):
    """One clinic terminal, two bursts: a morning of physical exams (Z00.0) and an afternoon of
    influenza pupils while flu goes round the district. Each is explained by a different check; the
    unit is then weighed by both (each by its share of the episodes), not scored as unexplained."""
    def day_dx(d: int, c: str) -> list[str]:
        return ["K29.7", "M54.5", "I10"] * 2 + (["J11.1"] * 2 if 27 <= d <= 36 and c != "H0051" else [])

    t = _district_burst(day_dx, lambda k: "J11.1")
    pids = [f"Q{i:04d}" for i in range(80)]
    for k in range(30):  # the exam morning: 30 local people at one price, diagnosis Z00.0
        t["claims"].append(_claim(f"CX{k:03d}", pids[40 + k % 40], str(_day(44) + pd.Timedelta(hours=8, minutes=30 + 3 * k)),
                                  inst="H0051", term="T-H0051", fund=48.0, total=60.0, dx="Z00.0"))
    f = next(f for f in card_bursts(_store(tmp_path, t)) if f.entity_ids("terminal") == ["T-H0051"])
    checks = {c["check"]: c for c in f.evidence["benign_checks"]}
    assert checks["group_exam_or_vaccination"]["outcome"] == "partial" and checks["outbreak_diagnosis"]["outcome"] == "partial"
    assert f.evidence["benign_factor"] == pytest.approx(0.2, abs=0.01) and f.score < 0.2


@pytest.mark.parametrize("precision, fmt, unit_zh", [("day", "%Y-%m-%d", "同一天"), ("hour", "%Y-%m-%d %H:00:00", "小时")])
def test_coarse_times_give_coarse_bursts(tmp_path, precision, fmt, unit_zh):
    t, burst = burst_tables()
    for row in t["claims"]:
        row["start_time"] = pd.Timestamp(row["start_time"]).strftime(fmt)
    fs = card_bursts(_store(tmp_path, t))
    f = _night_burst(fs)
    # a coarser clock sees less: at least one night, never the pharmacy's ordinary days
    assert set(f.claims) & set(burst)
    nights = {pd.Timestamp(b["start"]).date() for b in f.evidence["bursts"]}
    assert nights <= {_day(d).date() for d in (9, 23, 41)}
    assert f.evidence["time_precision"] == precision and unit_zh in f.summary and "分钟" not in f.summary
    assert f.evidence["null"]["window_minutes"] == (24 * 60 if precision == "day" else 60)
    if precision == "day":
        assert f.evidence["odd_hour_share"] is None


# ------------------------------------------------------------------------------------------------
# deceased_card_use
# ------------------------------------------------------------------------------------------------
def test_delayed_settlement_and_final_bill(tmp_path):
    t = city()
    t["patients"] = [p if p["patient_id"] not in ("B011", "B021", "B031") else {**p, "death_date": "2024-03-01"}
                     for p in t["patients"]]
    t["claims"] = [c for c in t["claims"] if not (c["patient_id"] in ("B011", "B021", "B031") and c["start_time"] > "2024-03-01")]
    # B011: a claim settled three days after death for care given before death (items say so)
    t["claims"].append(_claim("CD1", "B011", "2024-03-04 10:00:00", inst="H0010"))
    t["claim_items"].append({"claim_id": "CD1", "item_code": "X1", "item_name": "输液", "category": "treatment",
                             "quantity": "1", "unit_price": "100", "amount": "125", "item_time": "2024-02-28 10:00:00",
                             "days_supply": "", "department": ""})
    # B021: treated at H0010 the day before death, a final bill there the day after
    t["claims"] += [_claim("CF0", "B021", "2024-02-29 16:00:00", inst="H0010"),
                    _claim("CF1", "B021", "2024-03-02 10:00:00", inst="H0010")]
    # B031: the true case, monthly purchases two to four months after death
    true = [_claim(f"CT{k}", "B031", str(pd.Timestamp("2024-04-20") + pd.Timedelta(days=25 * k, hours=10)),
                   ctype="pharmacy", pharm="Y0002") for k in range(3)]
    t["claims"] += true
    fs = deceased_card_uses(_store(tmp_path, t))
    by = {f.entity_ids("patient", "deceased")[0]: f for f in fs}
    assert "B011" not in by
    assert _checks(by["B021"])["final_bill"] == "explains" and _checks(by["B031"])["final_bill"] == "ruled_out"
    assert by["B021"].score < by["B031"].score
    assert by["B031"].claims == sorted(c["claim_id"] for c in true)
    assert by["B031"].evidence["null"]["observed_days"] == 3


def test_card_kinds_declare_what_they_need():
    assert REGISTRY["card_burst"].needs == ("time:day",)
    assert {"time:minute", "terminals"} <= dict(REGISTRY["card_burst"].prefers).keys()
    assert REGISTRY["deceased_card_use"].needs == ("death_dates",)
    assert REGISTRY["identity_ring"].needs == ("contacts",)
    assert "card_kind" in dict(REGISTRY["shared_card"].prefers)
    assert "item_times" in dict(REGISTRY["deceased_card_use"].prefers)


def test_every_card_kind_finding_records_its_null_and_checks(tmp_path):
    t, _ = burst_tables()
    store = _store(tmp_path, t)
    fs = card_bursts(store)
    assert fs
    for f in fs:
        assert f.evidence["null"]["method"] and f.evidence["benign_checks"]
        assert all(c["outcome"] in ("ruled_out", "partial", "explains", "not_testable") for c in f.evidence["benign_checks"])


@pytest.mark.parametrize("refill_days", [(5,), (5, 20)])
def test_a_monthly_refill_day_is_left_out_the_night_bursts_at_the_same_terminal_are_not(tmp_path, refill_days):
    """One pharmacy terminal: a few sales a day, a chronic-refill morning on the 5th of every
    month (25 regulars; a second programme's on the 20th too), and three night bursts. The refill
    mornings — of both days — are explained and left out; the finding rests on the nights."""
    t = tiny_tables()
    t["pharmacies"].append({"pharmacy_id": "Y0002", "name": "小药房", "chain": "", "region": "370102", "lat": "", "lon": ""})
    pids = [f"Q{i:04d}" for i in range(80)]
    _people(t, pids)
    c, n = t["claims"], 0
    for d in range(150):
        for k in range(3):
            n += 1
            c.append(_claim(f"CS{n:05d}", pids[(3 * d + k) % 80], str(_day(d) + pd.Timedelta(hours=9 + 2 * k)), ctype="pharmacy",
                            pharm="Y0002", term="T-SMALL", fund=30 + 11 * k))
    refill = []
    for m in range(1, 6):
        for j, dom in enumerate(refill_days):
            day = pd.Timestamp(f"2024-{m:02d}-{dom:02d} 08:30:00")
            for k in range(25):
                n += 1
                refill.append(f"CS{n:05d}")
                c.append({**_claim(f"CS{n:05d}", pids[(40 + k + 25 * j) % 80], str(day + pd.Timedelta(minutes=7 * k)),
                                   ctype="pharmacy", pharm="Y0002", term="T-SMALL", fund=90 + 3 * k), "diagnosis_code": "I10"})
    nights = []
    for d in (20, 70, 110):
        for k in range(15):
            n += 1
            nights.append(f"CS{n:05d}")
            c.append(_claim(f"CS{n:05d}", pids[k + (d % 7)], str(_day(d) + pd.Timedelta(hours=22, minutes=40 + 2 * k)),
                            ctype="pharmacy", pharm="Y0002", term="T-SMALL", fund=158.0, total=198.0))
    f = _night_burst(card_bursts(_store(tmp_path, t)))
    assert set(f.claims) == set(nights)
    assert _checks(f)["monthly_schedule"] == "partial"
    assert sum(b["explained_by"] == "monthly_schedule" for b in f.evidence["bursts"]) == 5 * len(refill_days)
