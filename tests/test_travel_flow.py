"""impossible_travel: a remote consultation filled near home (互联网医院复诊 + 就近药店取药) is
explained from the data (one flow, one diagnosis, the pharmacy at home), while a cloned card
next to it — far claims of a stranger, other diagnoses — is still reported above it."""

from __future__ import annotations

from pathlib import Path

import graphkit
from conftest import tiny_tables, write_bundle
from graphkit.detectors._travel_checks import dx_key
from graphkit.store import open_store
from loaders import load_bundle
from test_travel import JINAN, _claim, _inst

CODES = ["J06.9", "K29.7", "M54.5", "I10", "E11.9", "L02.9", "R05", "H25.9", "J31.0", "K30"]
PHARMACIES = [("Y0001", "370102"), ("Y0002", "370124"), ("Y0003", "370126")]


def _buy(cid: str, card: str, pat: str, ph: str, t: str, dx: str) -> dict:
    c = _claim(cid, card, pat, "", t)
    c.update(pharmacy_id=ph, claim_type="pharmacy", diagnosis_code=dx)
    return c


def _visit(cid: str, card: str, pat: str, inst: str, t: str, dx: str) -> dict:
    c = _claim(cid, card, pat, inst, t)
    c["diagnosis_code"] = dx
    return c


def _store(tmp_path: Path, claims: list[dict], homes: dict[str, str], *, diagnoses: bool = True) -> graphkit.Store:
    t = tiny_tables()
    t["institutions"] = [_inst("HB01", "370102", lat="36.668", lon="117.070"), _inst("HH01", "370102", name="省立医院")]
    t["pharmacies"] = [{"pharmacy_id": p, "name": f"{p}药房", "chain": "", "region": r, "lat": "", "lon": ""} for p, r in PHARMACIES]
    t["doctors"] = [{"doctor_id": "D00001", "name": "", "institution_id": "", "department": "", "title": ""}]
    base = dict(t["patients"][0])
    t["patients"] = [{**base, "patient_id": p, "name": p, "id_number": "", "death_date": "", "region": r} for p, r in homes.items()]
    t["cards"] = [{"card_id": "K" + p[1:], "patient_id": p, "issued_date": "2020-01-01", "status": "active", "kind": "physical"}
                  for p in homes]
    if not diagnoses:
        for c in claims:
            c["diagnosis_code"] = ""
    t["claims"] = claims
    for k in ("referrals", "claim_items", "budgets"):
        t.pop(k)
    t["contacts"] = [{"patient_id": "PX01", "kind": "phone", "value": "13800000000"}]
    t["regions"] = [{"region_code": c, "name": n, "parent_code": c[:4] + "00", "lat": str(la), "lon": str(lo)}
                    for c, (n, la, lo) in JINAN.items()]
    load_bundle(write_bundle(tmp_path / "bundle", t), tmp_path / "store")
    return open_store(tmp_path / "store")


def _city() -> tuple[list[dict], dict[str, str]]:
    """Thirty ordinary people: a visit in 历下 and the prescription filled next door an hour
    later (the data's own rate of a fill carrying the visit's diagnosis); a patient of 平阴 who
    has two online follow-ups at the provincial hospital, each filled at their local pharmacy
    12 minutes later; and a cloned card of another 平阴 patient: a stranger's visits at the same
    hospital, the holder's own purchases at home minutes later, other diagnoses."""
    claims, homes = [], {}
    for i in range(1, 31):
        p, k, dx = f"PX{i:02d}", f"KX{i:02d}", CODES[i % len(CODES)]
        homes[p] = "370102"
        day = f"2024-05-{1 + i % 28:02d}"
        claims += [_visit(f"CB{i:02d}a", k, p, "HB01", f"{day} 09:{i:02d}:00", dx),
                   _buy(f"CB{i:02d}b", k, p, "Y0001", f"{day} 10:{i:02d}:00", dx if i % 10 else "")]
    homes["PX31"] = homes["PX32"] = "370124"
    # the look-alike: online follow-up (the claim carries the hospital's place), fill at home
    claims += [_visit("CN1a", "KX31", "PX31", "HH01", "2024-06-03 19:01:00", "M17.9"),
               _buy("CN1b", "KX31", "PX31", "Y0002", "2024-06-03 19:13:00", "M17.9"),
               _visit("CN2a", "KX31", "PX31", "HH01", "2024-07-08 20:21:00", "M17.9"),
               _buy("CN2b", "KX31", "PX31", "Y0002", "2024-07-08 20:35:00", "M17.9"),
               _buy("CN3", "KX31", "PX31", "Y0002", "2024-08-01 10:00:00", "M17.9")]
    # the clone: the same shape (hospital first, home pharmacy after) but two people's conditions
    claims += [_visit("CT1a", "KX32", "PX32", "HH01", "2024-06-04 10:02:00", "J06.9"),
               _buy("CT1b", "KX32", "PX32", "Y0002", "2024-06-04 10:14:00", "E11.9"),
               _visit("CT2a", "KX32", "PX32", "HH01", "2024-07-09 15:40:00", "L02.9"),
               _buy("CT2b", "KX32", "PX32", "Y0002", "2024-07-09 15:52:00", "E11.9"),
               _buy("CT3", "KX32", "PX32", "Y0002", "2024-08-01 11:00:00", "E11.9")]
    return claims, homes


def _check(f, name: str) -> dict:
    return {c["check"]: c for c in f.evidence["benign_checks"]}[name]


def test_dx_key_compares_icd_categories():
    assert dx_key("E11.900x001") == dx_key("E11.9") == "E11"
    assert dx_key(float("nan")) is None


def test_remote_consult_filled_at_home_is_explained_and_the_clone_beside_it_reported_above(tmp_path):
    claims, homes = _city()
    fs = graphkit.impossible_travels(_store(tmp_path, claims, homes))
    by_card = {f.entity_ids("card")[0]: f for f in fs}
    assert {"KX31", "KX32"} <= set(by_card)
    flow = _check(by_card["KX31"], "remote_consult_fill")
    assert flow["outcome"] == "explains" and flow["factor"] < 0.2
    assert "2 of 2" in flow["detail"]
    clone = _check(by_card["KX32"], "remote_consult_fill")
    assert clone["outcome"] == "ruled_out"
    assert by_card["KX32"].score > 2 * by_card["KX31"].score
    assert max(by_card, key=lambda c: by_card[c].score) == "KX32"


def test_a_far_side_pharmacy_is_not_a_fill_near_home(tmp_path):
    """The same diagnosis but the pharmacy is the far side (the patient lives by the hospital):
    not a consultation filled at home — the check does not explain it."""
    claims, homes = _city()
    homes["PX31"] = "370102"  # now the hospital is the home side and the 平阴 pharmacy the far one
    fs = graphkit.impossible_travels(_store(tmp_path, claims, homes))
    f = next(f for f in fs if f.entity_ids("card")[0] == "KX31")
    assert _check(f, "remote_consult_fill")["outcome"] == "ruled_out"


def test_without_diagnoses_the_check_is_not_testable(tmp_path):
    claims, homes = _city()
    fs = graphkit.impossible_travels(_store(tmp_path, claims, homes, diagnoses=False))
    assert fs
    for f in fs:
        assert _check(f, "remote_consult_fill")["outcome"] == "not_testable"
