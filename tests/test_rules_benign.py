"""Legal look-alikes of rule hits (graphkit.rules.benign): each check on a case it explains and on a
just-not-explained twin, in one small hand-written bundle (one provider per case, so each case is
its own provider × rule × month finding)."""

from __future__ import annotations

import pytest

from conftest import write_bundle
from graphkit.detectors._common import benign_factor
from graphkit.rules import load_pack, rule_findings, run_rules
from graphkit.rules.benign import BENIGN_WEIGHT, COURSE_DAYS
from rules_cases import AMOX, BED, BED2, NURSE, Builder

PACK = load_pack()
# each case is one provider: CL-005's concentration filter (a provider-month flagged beyond its
# volume at the city's rate) is not what these tests are about
next(r for r in PACK.rules if r.id == "CL-005").params.pop("alpha", None)
ASPIRIN = ("XB01ACA011", "阿司匹林肠溶片", "drug")
REHAB = ("340200001", "康复训练", "treatment")
INSTITUTIONS = [("H1", 1), ("H2", 2), ("H3", 1), ("H4", 1), ("H5", 1), ("H6", 2), ("H7", 2)]
PHARMACIES = ["Y1", "Y2"]


def _bundle() -> tuple[Builder, list[dict]]:
    b = Builder()
    contacts: list[dict] = []
    n = 0

    def cid() -> str:
        nonlocal n
        n += 1
        return f"C{n:05d}"

    # peers of aspirin: 120 people, 3 units a month for three months, at H6, each in a household of one
    for i in range(120):
        p = b.person(f"BG{i:03d}", birth="1960-01-01")
        contacts.append({"patient_id": p, "kind": "address", "value": f"home-{i}"})
        for m in ("01", "02", "03"):
            b.claim(cid(), p, f"2024-{m}-{10 + i % 15:02d} 09:00", [ASPIRIN + (3, 10.0)], prov="H6", dx="J06.9")
    # institution batch: a care home of 10 (one address) whose residents all come to H1 on four
    # Mondays (3 units each: 12 a month); a second home of 10 at H3 comes 6 on Mondays and 4 on
    # Tuesdays — six is no more than a household holds
    for home, prov, split in (("care-A", "H1", 10), ("care-B", "H3", 6)):
        for r in range(10):
            p = b.person(f"{home}-{r}", birth="1938-05-01")
            contacts.append({"patient_id": p, "kind": "address", "value": home})
            for day in (4, 11, 18, 25):
                d = day if r < split else day + 1
                b.claim(cid(), p, f"2024-03-{d:02d} 09:{r:02d}", [ASPIRIN + (3, 10.0)], prov=prov, dx="I10")
    # treatment sessions: rehabilitation at 09:00 and 14:00 with a drug each session — on
    # COURSE_DAYS days at H4 (a course), on one day fewer at H5
    for prov, days in (("H4", COURSE_DAYS), ("H5", COURSE_DAYS - 1)):
        p = b.person(f"rehab-{prov}", birth="1965-03-01")
        for d in range(days):
            for hour in ("09:00", "14:00"):
                b.claim(cid(), p, f"2024-03-{5 + d:02d} {hour}", [REHAB + (1, 40.0), AMOX + (1, 12.0)], prov=prov,
                        dx="M54.5")
    # chronic refill day: a hypertensive buys aspirin at Y1 on the 5th of three months and more at H7
    # in March (15 units); the same pattern at Y2 for a person with no chronic diagnosis
    for who, ph, dx in (("chronic", "Y1", "I10"), ("acute", "Y2", "J06.9")):
        p = b.person(who, birth="1955-01-01")
        for m in ("01", "02", "03"):
            b.claim(cid(), p, f"2024-{m}-05 10:00", [ASPIRIN + (3, 10.0)], prov=ph, dx=dx, ctype="pharmacy")
        for d in (12, 19, 26, 28):
            b.claim(cid(), p, f"2024-03-{d} 10:00", [ASPIRIN + (3, 10.0)], prov="H7", dx=dx)
    # newborn: the mother's delivery stay and the baby's stay (P07.3) on her id, overlapping at H2
    # (two kinds of bed on one day); at H2 again in May the same two stays without a newborn diagnosis;
    # an infant's own two overlapping stays (aged 0) at H2 in April
    for tag, who, birth, dx2, m in (("nb", "mother", "1992-02-01", "P07.3", "03"), ("nn", "mother2", "1992-02-01", "J18.9", "05"),
                                    ("inf", "infant", "2024-03-20", "P59.9", "04")):
        p = b.person(who, birth=birth, sex="F")
        b.claim(cid(), p, f"2024-{m}-27 14:00", [BED + (4, 40.0), NURSE + (4, 30.0)], ctype="inpatient", prov="H2",
                end=f"2024-{m}-30 20:00", dx="O80" if tag != "inf" else "P07.3")
        b.claim(cid(), p, f"2024-{m}-27 22:00", [BED2 + (3, 80.0), NURSE + (3, 30.0)], ctype="inpatient", prov="H2",
                end=f"2024-{m}-29 08:00", dx=dx2)
    return b, contacts


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    from loaders import load_bundle

    from graphkit.store import open_store

    root = tmp_path_factory.mktemp("rules_benign")
    b, contacts = _bundle()
    t = b.tables()

    def s(rows):
        return [{k: ("" if v is None else str(v)) for k, v in r.items()} for r in rows]

    t["institutions"] = s([{"institution_id": h, "name": f"医院{h}", "level": lv, "region": "370102"} for h, lv in INSTITUTIONS])
    t["pharmacies"] = s([{"pharmacy_id": y, "name": f"药店{y}", "region": "370102"} for y in PHARMACIES])
    t["doctors"] = s([{"doctor_id": "D" + h, "institution_id": h} for h, _ in INSTITUTIONS])
    t["contacts"] = s(contacts)
    with pytest.MonkeyPatch.context() as mp:  # module scope: the per-test audit fixture does not reach here
        mp.setenv("GRAPHKIT_AUDIT_LOG", str(root / "audit.jsonl"))
        load_bundle(write_bundle(root / "bundle", t), root / "store", allow_demo_key=True)
    store = open_store(root / "store")
    run = run_rules(store, PACK)
    return store, run, rule_findings(run, store=store, max_provider_share=1.0)  # few providers: no common-practice gate


def _finding(found, rule: str, prov: str, month: str = "2024-03"):
    fs = [f for f in found[2] if f.evidence["rule_id"] == rule and f.entities[0].id == prov and f.evidence["month"] == month]
    assert len(fs) == 1, f"expected one {rule} finding at {prov} {month}, got {len(fs)}"
    return fs[0]


def _check(f, name: str) -> dict:
    return next(c for c in f.evidence["benign_checks"] if c["check"] == name)


def _demoted(f) -> bool:
    return f.evidence["benign_factor"] == pytest.approx(benign_factor(f.evidence["benign_checks"])) and f.evidence["benign_factor"] < 1


def test_care_home_batch_explains_a_months_quantity_and_six_a_day_do_not(found):
    f = _finding(found, "CL-005", "H1")
    c = _check(f, "institution_batch")
    assert c["outcome"] == "explains" and c["factor"] == BENIGN_WEIGHT
    assert "up to 10 residents" in c["detail"] and "> 6" in c["detail"]
    assert f.evidence["benign_factor"] == pytest.approx(BENIGN_WEIGHT)
    g = _finding(found, "CL-005", "H3")  # same home size, six (= a household's most) a day
    assert _check(g, "institution_batch")["outcome"] == "ruled_out"
    assert g.evidence["benign_factor"] == 1.0
    assert f.score < g.score  # same lines and amounts; the care home's is demoted


def test_institution_check_needs_the_contacts(found):
    store, run, _ = found
    found_all = rule_findings(run, max_provider_share=1.0)
    f = next(x for x in found_all if x.evidence["rule_id"] == "CL-005" and x.entities[0].id == "H1")
    assert _check(f, "institution_batch")["outcome"] == "not_testable"


def test_treatment_course_explains_a_drug_per_session_and_a_shorter_run_does_not(found):
    f = _finding(found, "FJ-001", "H4")
    assert _check(f, "treatment_sessions")["outcome"] == "explains" and _demoted(f)
    g = _finding(found, "FJ-001", "H5")  # one session day short of a course
    assert _check(g, "treatment_sessions")["outcome"] == "ruled_out" and g.evidence["benign_factor"] == 1.0


def test_chronic_refill_day_explains_the_regular_refill_not_the_excess(found):
    f = _finding(found, "CL-005", "Y1")
    assert _check(f, "chronic_refill_day")["outcome"] == "explains" and _demoted(f)
    g = _finding(found, "CL-005", "Y2")  # the same schedule, no chronic diagnosis
    assert _check(g, "chronic_refill_day")["outcome"] == "ruled_out" and g.evidence["benign_factor"] == 1.0
    h = _finding(found, "CL-005", "H7")  # where the excess was bought: not a schedule
    assert _check(h, "chronic_refill_day")["outcome"] == "ruled_out" and h.evidence["benign_factor"] == 1.0


def test_newborn_on_the_mothers_card_explains_two_beds_a_day(found):
    f = _finding(found, "CF-002", "H2", "2024-03")
    c = _check(f, "newborn_on_parent_card")
    assert c["outcome"] == "explains" and f.evidence["benign_factor"] == pytest.approx(BENIGN_WEIGHT)
    g = _finding(found, "CF-002", "H2", "2024-05")  # the second stay has no newborn diagnosis
    assert _check(g, "newborn_on_parent_card")["outcome"] == "ruled_out" and g.evidence["benign_factor"] == 1.0
    h = _finding(found, "CF-002", "H2", "2024-04")  # the infant's own card: one person, two beds
    assert _check(h, "newborn_on_parent_card")["outcome"] == "ruled_out"


def test_price_rules_are_not_weighed(found):
    for f in found[2]:
        if f.evidence["shape"] in ("price_ceiling", "not_payable", "code_mismatch", "setting_limit"):
            assert f.evidence.get("benign_checks", []) == []
