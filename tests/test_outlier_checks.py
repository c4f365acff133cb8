"""indicator_outlier's benign checks on *who* and *when*: a care home's residents and a group-exam
day explain the indicators they raise (and only those); an over-biller beside them is not
explained and ranks above them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from graphkit.detectors import run_detector
from graphkit.detectors._outlier_checks import FLOOR, MIN_GROUP, group_event_check, mass_day_mask, residents_check
from graphkit.store.embedded import EmbeddedStore

DAY0 = np.datetime64("2024-01-01T09:00:00")  # a Monday


def _store(tmp_path):
    """24 clinics: 50 patients with two J06.9 visits on weekdays, 100 yuan each. H_CARE: the
    same, plus 30 residents of one care home seen weekly (10 visits each). H_EXAM: the same,
    plus 60 people examined on one Saturday. H_UP: the same patients, visits billed 4 times
    as often (8 visits each: phantom visits), at home addresses."""
    rows, pats, births, contacts, inst = [], [], [], [], []
    cid = pid = 0

    def person(addr: str | None = None, born: str = "1970-01-01") -> str:
        nonlocal pid
        pid += 1
        p = f"P{pid:05d}"
        pats.append(p)
        births.append(born)
        contacts.append({"patient_id": p, "kind": "address", "value": addr or f"家庭住址{pid}"})
        return p

    def visit(hid: str, p: str, day: int, dx: str = "J06.9") -> None:
        nonlocal cid
        cid += 1
        rows.append({"claim_id": f"C{cid:06d}", "card_id": "K" + p[1:], "patient_id": p, "claim_type": "outpatient",
                     "institution_id": hid, "pharmacy_id": None, "doctor_id": f"D_{hid}",
                     "start_time": DAY0 + np.timedelta64(day, "D"), "diagnosis_code": dx, "total_amount": 100.0,
                     "fund_amount": 70.0})

    def weekday(k: int) -> int:  # the k-th weekday after DAY0
        return 7 * (k // 5) + k % 5

    ids = [f"H{i:02d}" for i in range(24)] + ["H_CARE", "H_EXAM", "H_UP"]
    for hid in ids:
        inst.append({"institution_id": hid, "name": hid, "level": 1, "ownership": "private", "kind": "clinic", "region": "R1"})
        per = 8 if hid == "H_UP" else 2
        for j in range(50):
            p = person()
            for v in range(per):
                visit(hid, p, weekday((j * 7 + v * 11) % 120))
    for r in range(30):  # care home residents: weekly rounds on Wednesdays
        p = person("康泰养老院", "1938-05-01")
        for w in range(10):
            visit("H_CARE", p, 2 + 7 * w + 7 * (r % 3))
    for _ in range(60):  # one Saturday's group exam
        visit("H_EXAM", person(), 5 + 7 * 6, "Z00.0")
    patients = pd.DataFrame({"patient_id": pats, "sex": "F", "region": "R1", "birth_date": pd.to_datetime(births)})
    claims = pd.DataFrame(rows).assign(start_time=lambda d: pd.to_datetime(d["start_time"]))
    docs = pd.DataFrame({"doctor_id": [f"D_{h}" for h in ids], "institution_id": ids, "department": "全科", "name": None})
    EmbeddedStore.write(tmp_path, {"institutions": pd.DataFrame(inst), "doctors": docs, "patients": patients,
                                   "claims": claims, "contacts": pd.DataFrame(contacts)})
    return EmbeddedStore(tmp_path)


def test_residents_and_group_exam_are_explained_the_overbiller_is_not(tmp_path):
    fs, _ = run_detector("indicator_outlier", _store(tmp_path))
    by = {f.entity_ids("institution", "venue")[0]: f for f in fs}
    assert {"H_UP", "H_CARE", "H_EXAM"} <= set(by)
    checks = {h: {c["check"]: c for c in f.evidence["benign_checks"]} for h, f in by.items()}
    assert checks["H_UP"]["institution_residents"]["outcome"] == "ruled_out"
    assert checks["H_UP"]["group_event"]["outcome"] == "ruled_out"
    care = checks["H_CARE"]["institution_residents"]
    assert care["outcome"] == "explains" and care["factor"] < 0.5 and "care_home" in care["detail"]
    exam = checks["H_EXAM"]["group_event"]
    assert exam["outcome"] == "explains" and exam["factor"] == pytest.approx(FLOOR) and "weekend_share" in exam["detail"]
    # the over-biller leads; the explained look-alikes stay visible below it
    assert by["H_UP"].score > 2 * max(by["H_CARE"].score, by["H_EXAM"].score)
    assert fs[0] is by["H_UP"]


def test_mass_days_are_measured_against_the_providers_own_days():
    ordinary = np.repeat(np.arange(60), 4)
    assert not mass_day_mask(ordinary).any()
    spike = np.r_[ordinary, np.full(MIN_GROUP + 20, 30)]
    m = mass_day_mask(spike)
    assert m.sum() == MIN_GROUP + 24 and set(spike[m]) == {30}
    # a small clinic's busy day below MIN_GROUP is not a group event, nor are unknown days
    assert not mass_day_mask(np.r_[np.repeat(np.arange(30), 1), np.full(MIN_GROUP - 2, 5)]).any()
    assert not mass_day_mask(np.full(5, -1)).any()


def test_residents_explain_visits_not_stays():
    hr = pd.DataFrame({"indicator": ["visits_per_person", "length_of_stay"], "contribution": [3.0, 1.0]})
    res_type = np.array(["care_home"] * 8 + [""] * 2, dtype=object)
    chk, lost = residents_check(res_type, np.arange(10), hr)
    assert chk["outcome"] == "explains" and lost == pytest.approx(0.8 * 0.75) and chk["factor"] == pytest.approx(0.4)
    only_stay = hr[hr["indicator"] == "length_of_stay"]
    chk, lost = residents_check(res_type, np.arange(10), only_stay)
    assert chk["outcome"] == "ruled_out" and lost == 0.0  # 挂床 of residents is a fraud of its own
    chk, _ = residents_check(None, np.arange(10), hr)
    assert chk["outcome"] == "not_testable"


def test_group_event_recomputes_the_rate_and_keeps_what_it_cannot_explain():
    hr = pd.DataFrame({"indicator": ["weekend_share", "non_medical_share"], "contribution": [1.0, 1.0],
                       "peer_median": [0.28, 0.0], "peer_scale": [0.04, 0.01], "z": [6.0, 9.0], "fence": [3.3, 3.3]})
    on_mass = np.r_[np.zeros(100, bool), np.ones(40, bool)]
    weekend = np.r_[np.arange(100) % 7 >= 5, np.ones(40, bool)]
    chk, kept = group_event_check(hr, on_mass, {"weekend_share": (weekend, np.ones(140, bool))}, 0.3)
    assert kept["weekend_share"] == 0.0 and kept["non_medical_share"] == 1.0  # a day of swiped cards is no exam
    assert chk["outcome"] == "explains" and chk["factor"] == pytest.approx(0.5)
    chk, kept = group_event_check(hr, np.zeros(140, bool), {}, 0.0)
    assert chk["outcome"] == "ruled_out" and kept == {}


def test_night_service_explains_a_24_hour_pharmacy_not_a_night_burst():
    from graphkit.detectors._outlier_checks import night_service_check

    hr = pd.DataFrame({"indicator": ["night_share", "non_medical_share"], "contribution": [2.0, 2.0]})
    day = np.repeat(np.arange(100), 5)
    every_night = np.tile([True, False, False, False, False], 100)
    chk = night_service_check(hr, day, every_night)
    assert chk["outcome"] == "explains" and chk["factor"] == pytest.approx(0.5) and "on 100 nights" in chk["detail"]
    scattered = np.zeros(500, bool)
    scattered[::13] = True  # 39 night sales here and there: a 24-hour pharmacy
    assert night_service_check(hr, day, scattered)["outcome"] == "explains"
    burst = np.zeros(500, bool)
    burst[day < 4] = True  # four nights of swiped cards
    assert night_service_check(hr, day, burst)["outcome"] == "ruled_out"
    assert night_service_check(hr[hr["indicator"] != "night_share"], day, burst) is None


def test_one_deceased_card_is_a_persons_pattern_several_are_the_providers(tmp_path):
    """A clinic where one dead person's card is settled 15 times after the death: the post-death
    share is beyond its fence, but it is one card's misuse (deceased_card_use names its user) —
    explained, down to the floor. A clinic where five dead persons' cards are settled (留存医保卡)
    keeps most of it."""
    rows, pats, deaths, inst = [], [], [], []

    def visit(hid: str, p: str, day: int) -> None:
        rows.append({"claim_id": f"C{len(rows):06d}", "card_id": "K" + p[1:], "patient_id": p, "claim_type": "outpatient",
                     "institution_id": hid, "pharmacy_id": None, "doctor_id": f"D_{hid}",
                     "start_time": DAY0 + np.timedelta64(day, "D"), "diagnosis_code": "J06.9", "total_amount": 100.0,
                     "fund_amount": 70.0})

    def person(dead: str | None = None) -> str:
        pats.append(f"P{len(pats):05d}")
        deaths.append(dead)
        return pats[-1]

    ids = [f"H{i:02d}" for i in range(24)] + ["H_ONE", "H_FIVE"]
    for hid in ids:
        inst.append({"institution_id": hid, "name": hid, "level": 1, "ownership": "private", "kind": "clinic", "region": "R1"})
        for j in range(60):
            p = person()
            visit(hid, p, j)
            visit(hid, p, j + 40)
    for v in range(15):
        visit("H_ONE", person("2024-01-05") if v == 0 else pats[-1], 20 + 4 * v)
    for k in range(5):
        p = person("2024-01-03")
        for v in range(3):
            visit("H_FIVE", p, 20 + 9 * k + 3 * v)
    patients = pd.DataFrame({"patient_id": pats, "sex": "F", "region": "R1", "birth_date": pd.Timestamp("1950-01-01"),
                             "death_date": pd.to_datetime(deaths)})
    claims = pd.DataFrame(rows).assign(start_time=lambda d: pd.to_datetime(d["start_time"]))
    docs = pd.DataFrame({"doctor_id": [f"D_{h}" for h in ids], "institution_id": ids, "department": "全科", "name": None})
    EmbeddedStore.write(tmp_path, {"institutions": pd.DataFrame(inst), "doctors": docs, "patients": patients, "claims": claims})
    fs, _ = run_detector("indicator_outlier", EmbeddedStore(tmp_path))
    by = {f.entity_ids("institution", "venue")[0]: f for f in fs}
    assert {"H_ONE", "H_FIVE"} <= set(by)
    one = {c["check"]: c for c in by["H_ONE"].evidence["benign_checks"]}["one_person"]
    five = {c["check"]: c for c in by["H_FIVE"].evidence["benign_checks"]}["one_person"]
    assert one["outcome"] == "explains" and one["factor"] == pytest.approx(FLOOR) and "by 1 person" in one["detail"]
    # five cards in equal parts: only the largest one's fifth is one card's misuse
    assert five["outcome"] == "partial" and five["factor"] >= 0.8 and "by 5 person" in five["detail"]
    assert by["H_FIVE"].score > 2 * by["H_ONE"].score
