"""split_stay, phantom_stay, referral_concentration, referral_loop and collusion_ring on planted
fixtures: each benign look-alike is not reported (or ranks below the true case beside it), the
misses of the independent benchmark are found (splits across a hospital's branch, steering out of
the pooling region), and each score comes from a null computed on the data (the same pattern scores
lower in a city where it is common)."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from graphkit.detectors._links import institution_links, name_stem, pool_of_code
from graphkit.detectors.concentration import referral_concentrations
from graphkit.detectors.referrals import referral_loops
from graphkit.detectors.rings import collusion_rings
from graphkit.detectors.splits import split_stays
from graphkit.detectors.stays import phantom_stays

from conftest import tiny_tables
from test_detectors_more import _claim, _day, _inst, _people, _ref, _store


@pytest.fixture(scope="module", autouse=True)
def _demo_key():
    """Hand-made bundles load with the built-in demo pseudonymisation key (tests only)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAPHKIT_ALLOW_DEMO_KEY", "1")
        yield


def _stay(c: list, cid: str, pid: str, inst: str, d0: int, los: int, dx: str, *, fund: float = 3000.0, ref: str = "",
          doc: str = "") -> None:
    c.append(_claim(cid, pid, str(_day(d0) + pd.Timedelta(hours=9)), inst=inst, ctype="inpatient",
                    end=str(_day(d0 + los) + pd.Timedelta(hours=10)), dx=dx, fund=fund, ref=ref, doc=doc))


def _checks(f) -> dict[str, dict]:
    return {c["check"]: c for c in f.evidence["benign_checks"]}


def _background(t: dict, insts: list[str], *, n: int = 240, seed: int = 1, dx=("J18.9", "K29.7", "I10", "M17.9", "S72.0"),
                readmit: float = 0.05, readmit_dx: str | None = None, prefix: str = "B") -> None:
    """``n`` ordinary inpatients (one to three stays, weeks apart); a share ``readmit`` is re-admitted
    4-6 days after discharge (for ``readmit_dx`` when given)."""
    rnd = random.Random(seed)
    pids = [f"{prefix}{i:04d}" for i in range(n)]
    _people(t, pids)
    c = t["claims"]
    for i, pid in enumerate(pids):
        d = rnd.randrange(0, 300)
        for k in range(rnd.choice((1, 1, 2, 3))):
            _stay(c, f"C{prefix}{i:04d}{k}", pid, rnd.choice(insts), d, rnd.randrange(3, 9), rnd.choice(dx))
            d += rnd.randrange(40, 90)
        if rnd.random() < readmit:
            g = readmit_dx or rnd.choice(dx)
            _stay(c, f"C{prefix}{i:04d}r0", pid, insts[0], 320, 5, g)
            _stay(c, f"C{prefix}{i:04d}r1", pid, insts[0], 325 + rnd.randrange(4, 7), 5, g)


# ------------------------------------------------------------------------------------------------
# institution links and pooling regions
# ------------------------------------------------------------------------------------------------
def test_name_stems_and_pools():
    assert name_stem("济南市第一人民医院东院区") == ("济南市第一人民医院", True)
    assert name_stem("仁和医院分院") == ("仁和医院", True)
    assert name_stem("仁和医院（南院）") == ("仁和医院", True)
    assert name_stem("市中区仁爱医院")[0] != name_stem("历城区仁爱医院")[0]  # one brand word is not one hospital
    assert name_stem("中心医院") == ("中心医院", False)
    assert pool_of_code("370102") == pool_of_code("370112") == "3701"
    assert pool_of_code("110105") == "1101" and pool_of_code("JN-LX") is None and pool_of_code("990000") is None


def test_links_from_group_column_and_shared_roster(tmp_path):
    t = tiny_tables()
    t["institutions"] += [_inst("H0011", 2, "hospital"), _inst("H0012", 2, "hospital"), _inst("H0013", 2, "hospital"),
                          _inst("H0014", 2, "hospital")]
    for row in t["institutions"]:
        row["group"] = {"H0011": "康泰医疗集团", "H0012": "康泰医疗集团"}.get(row["institution_id"], "")
    # D0X1, D0X2 registered at H0013 treat inpatients at H0014 too (a shared roster)
    t["doctors"] += [{"doctor_id": d, "name": "", "institution_id": "H0013", "department": "内科", "title": ""}
                     for d in ("D0X1", "D0X2")]
    t["doctors"] += [{"doctor_id": f"D0Y{k}", "name": "", "institution_id": i, "department": "内科", "title": ""}
                     for k, i in enumerate(("H0001", "H0002", "H0011", "H0012"))]
    _people(t, ["R0001", "R0002", "R0003", "R0004"])
    for k, (pid, doc) in enumerate((("R0001", "D0X1"), ("R0002", "D0X2"), ("R0003", "D0X1"), ("R0004", "D0X2"))):
        _stay(t["claims"], f"CR{k}", pid, "H0014", 10 + 9 * k, 4, "I10", doc=doc)
    links = institution_links(_store(tmp_path, t))
    assert links.basis("H0011", "H0012") == "group" and links.basis("H0013", "H0014") == "roster"
    assert links.basis("H0011", "H0013") is None and links.basis("H0001", "H0001") is None


# ------------------------------------------------------------------------------------------------
# split_stay
# ------------------------------------------------------------------------------------------------
def split_city(readmit: float = 0.02, readmit_dx: str | None = None) -> dict:
    """A city of ordinary inpatients, a hospital H0020 and its branch H0021 (…东院区), and:
    U1 split across H0020/H0021 (three stays of J44, 2-4 days apart); U2 a single split at the
    branch the next day; U3 chemotherapy cycles (C34, every 14 days); U4 transferred the same day to
    a higher level with a referral; U5 re-admitted for unrelated diagnoses; U6 a split at H0022."""
    t = tiny_tables()
    t["institutions"] += [{**_inst("H0020", 2, "hospital", "public"), "name": "济南市仁和医院"},
                          {**_inst("H0021", 2, "hospital", "public"), "name": "济南市仁和医院东院区"},
                          _inst("H0022", 1, "hospital"), _inst("H0023", 3, "hospital", "public")]
    _background(t, ["H0022", "H0020", "H0023", "H0001"], readmit=readmit, readmit_dx=readmit_dx)
    _people(t, ["U0001", "U0002", "U0003", "U0004", "U0005", "U0006"])
    c = t["claims"]
    _stay(c, "CU11", "U0001", "H0020", 30, 6, "J44.1")
    _stay(c, "CU12", "U0001", "H0021", 38, 5, "J44.0")
    _stay(c, "CU13", "U0001", "H0020", 47, 6, "J44.9")
    _stay(c, "CU21", "U0002", "H0020", 100, 7, "I63.9")
    _stay(c, "CU22", "U0002", "H0021", 108, 6, "I63.9")
    for k in range(5):
        _stay(c, f"CU3{k}", "U0003", "H0023", 20 + 14 * k, 2, "C34.9", fund=9000)
    t["referrals"].append(_ref("RU41", "U0004", "H0022", "H0023", str(_day(150) + pd.Timedelta(hours=8))))
    _stay(c, "CU41", "U0004", "H0022", 140, 10, "I21.9")
    _stay(c, "CU42", "U0004", "H0023", 150, 8, "I21.9", ref="RU41")
    _stay(c, "CU43", "U0004", "H0023", 160, 5, "I21.9")
    for k, dx in enumerate(("K35.8", "J18.9", "S72.0")):
        _stay(c, f"CU5{k}", "U0005", "H0022", 200 + 8 * k, 5, dx)
    for k, d0 in enumerate((60, 70, 78)):
        _stay(c, f"CU6{k}", "U0006", "H0022", d0, 6, "M54.5")
    return t


@pytest.fixture(scope="module")
def split_findings(tmp_path_factory):
    store = _store(tmp_path_factory.mktemp("split"), split_city())
    return {f.entity_ids("patient")[0]: f for f in split_stays(store)}


def test_split_across_a_branch_is_found(split_findings):
    f = split_findings["U0001"]
    assert f.claims == ["CU11", "CU12", "CU13"] and f.entity_ids("institution") == ["H0020", "H0021"]
    assert f.evidence["relations"] == {"linked": 2} and f.evidence["link_basis"] == ["name"]
    assert f.score > 0.5 and f.evidence["null"]["log10_p"] < -f.evidence["null"]["city_bar"]
    # a single re-admission at the branch the next day is reported too (beyond the city-wide bar)
    one = split_findings["U0002"]
    assert one.claims == ["CU21", "CU22"] and one.evidence["null"]["beyond_city_bar"]


def test_split_look_alikes_are_explained_or_not_chained(split_findings):
    true_scores = [split_findings[p].score for p in ("U0001", "U0006")]
    chemo = split_findings.get("U0003")
    assert chemo is None or (_checks(chemo)["planned_cycle"]["outcome"] == "explains" and chemo.score < min(true_scores))
    assert "U0005" not in split_findings  # unrelated diagnoses never chain
    # the same-day transfer with a referral to a higher level is not evidence: one step left, not reported
    assert "U0004" not in split_findings
    assert all("null" in f.evidence and f.evidence["benign_checks"] for f in split_findings.values())
    # nothing of the background population
    assert not any(p.startswith("B") for p in split_findings)


def test_split_null_same_pattern_scores_lower_where_readmissions_are_common(tmp_path):
    rare = {f.entity_ids("patient")[0]: f for f in split_stays(_store(tmp_path, split_city(), "rare"))}
    common_t = split_city(readmit=0.4, readmit_dx="M54.5")
    common = {f.entity_ids("patient")[0]: f for f in split_stays(_store(tmp_path, common_t, "common"))}
    assert "U0006" in rare
    assert "U0006" not in common or common["U0006"].score < rare["U0006"].score
    if "U0006" in common:
        assert common["U0006"].evidence["null"]["log10_p"] > rare["U0006"].evidence["null"]["log10_p"]


# ------------------------------------------------------------------------------------------------
# referral_concentration
# ------------------------------------------------------------------------------------------------
def referral_city(*, ooa_peers: float = 0.05, seed: int = 2) -> dict:
    """Clinics of district 370102 whose doctors refer to the city's hubs (H0001, H0030), a few out of
    area; D0090 sends most of his patients out of the prefecture (Beijing H0003, Shanghai H0031,
    Guangzhou H0032) — no referral is flagged: out of area comes from the region codes. D0091 sends
    his patients out of area too, but they live there (going home). D0092 at the branch H0041 sends
    to its main campus H0040."""
    rnd = random.Random(seed)
    t = tiny_tables()
    t["institutions"] += [_inst("H0030", 3, "hospital", "public"),
                          _inst("H0031", 3, "hospital", "public", region="310101"),
                          _inst("H0032", 3, "hospital", "public", region="440106"),
                          {**_inst("H0040", 3, "hospital", "public"), "name": "济南市中心医院"},
                          {**_inst("H0041", 2, "hospital", "public"), "name": "济南市中心医院东院区"}]
    clinics = [f"H05{k:02d}" for k in range(8)]
    t["institutions"] += [_inst(i, 1, "clinic") for i in clinics]
    docs = [(f"D05{k:02d}", clinics[k % len(clinics)]) for k in range(16)]
    docs += [("D0090", clinics[0]), ("D0091", clinics[1]), ("D0092", "H0041"), ("D0093", "H0041")]
    t["doctors"] += [{"doctor_id": d, "name": "", "institution_id": i, "department": "全科", "title": ""} for d, i in docs]
    pats = [f"V{i:04d}" for i in range(600)]
    _people(t, pats)
    home = [f"W{i:04d}" for i in range(30)]
    _people(t, home, region="440106")
    r, c = t["referrals"], t["claims"]
    k = 0

    def send(doc, src, dest, pid):
        nonlocal k
        when = _day(5 + k % 300) + pd.Timedelta(hours=10)
        r.append({**_ref(f"RF{k:05d}", pid, src, dest, str(when), doc=doc), "out_of_area": ""})
        c.append(_claim(f"CF{k:05d}", pid, str(when + pd.Timedelta(days=2)), inst=dest, fund=800, ref=f"RF{k:05d}"))
        k += 1

    far = ["H0003", "H0031", "H0032"]
    for d, src in docs[:16]:
        for _ in range(25):
            u = rnd.random()
            send(d, src, rnd.choice(far) if u < ooa_peers else ("H0001" if u < 0.6 else "H0030"), rnd.choice(pats))
    for j in range(24):  # D0090: 20 of 24 out of area, spread over three hospitals
        send("D0090", clinics[0], far[j % 3] if j < 20 else "H0001", rnd.choice(pats))
    for j in range(24):  # D0091: 20 of 24 to Guangzhou, each patient going home
        send("D0091", clinics[1], "H0032" if j < 20 else "H0001", home[j] if j < 20 else rnd.choice(pats))
    for j in range(20):  # D0092 at the branch sends to its main campus; his colleague D0093 does not
        send("D0092", "H0041", "H0040" if j < 17 else "H0001", rnd.choice(pats))
        send("D0093", "H0041", "H0001" if j % 2 else "H0030", rnd.choice(pats))
    return t


@pytest.fixture(scope="module")
def conc_findings(tmp_path_factory):
    store = _store(tmp_path_factory.mktemp("conc"), referral_city())
    return {f.entity_ids("doctor", "referrer")[0]: f for f in referral_concentrations(store)}


def test_out_of_area_steering_spread_over_several_hospitals_is_found(conc_findings):
    f = conc_findings["D0090"]
    assert f.evidence["pattern"] == "out_of_area" and f.evidence["out_of_area_basis"] == "region"
    assert set(f.entity_ids("institution", "destination")) == {"H0003", "H0031", "H0032"}
    assert f.evidence["referrals_steered"] == 20 and f.score > 0.5
    assert f.evidence["null"]["log10_p"] < -3


def test_concentration_look_alikes_rank_below(conc_findings):
    top = conc_findings["D0090"].score
    going_home = conc_findings.get("D0091")
    assert going_home is None or (_checks(going_home)["home_region"]["outcome"] == "explains" and going_home.score < top)
    campus = conc_findings.get("D0092")
    assert campus is None or (_checks(campus)["same_group"]["outcome"] == "explains" and campus.score < top)
    assert not any(d.startswith("D05") and f.score >= top for d, f in conc_findings.items())


def test_concentration_null_same_pattern_scores_lower_where_peers_do_it(tmp_path):
    rare = referral_concentrations(_store(tmp_path, referral_city(ooa_peers=0.05), "rare"))
    common = referral_concentrations(_store(tmp_path, referral_city(ooa_peers=0.6), "common"))
    s_rare = next(f.score for f in rare if f.entity_ids("doctor", "referrer") == ["D0090"])
    s_common = next((f.score for f in common if f.entity_ids("doctor", "referrer") == ["D0090"]), 0.0)
    assert s_common < s_rare


# ------------------------------------------------------------------------------------------------
# phantom_stay
# ------------------------------------------------------------------------------------------------
def phantom_city(*, elsewhere: float = 0.0, seed: int = 3) -> dict:
    """Ordinary stays at H0020 (a share ``elsewhere`` of their interior days with a pharmacy
    purchase), and: S1 settled at pharmacies and a Beijing hospital during a stay (true); S2 seen at
    the hospital's branch H0021 during the stay (a consultation); S3's card used by someone sharing
    their address (an unregistered household)."""
    rnd = random.Random(seed)
    t = tiny_tables()
    t["institutions"] += [{**_inst("H0020", 2, "hospital", "public"), "name": "济南市仁和医院"},
                          {**_inst("H0021", 2, "hospital", "public"), "name": "济南市仁和医院东院区"}]
    pids = [f"B{i:04d}" for i in range(200)]
    _people(t, pids)
    c = t["claims"]
    for i, pid in enumerate(pids):
        d0 = rnd.randrange(0, 300)
        los = rnd.randrange(5, 12)
        _stay(c, f"CB{i:04d}", pid, "H0020", d0, los, "J18.9")
        for d in range(d0 + 1, d0 + los):
            if rnd.random() < elsewhere:
                c.append(_claim(f"CBP{i:04d}{d}", pid, str(_day(d) + pd.Timedelta(hours=15)), ctype="pharmacy",
                                pharm="Y0001", fund=40))
    _people(t, ["S0001", "S0002", "S0003", "S0004"])
    _stay(c, "CS1", "S0001", "H0020", 100, 9, "I63.9")
    c += [_claim("CS1a", "S0001", str(_day(102) + pd.Timedelta(hours=15)), ctype="pharmacy", pharm="Y0001", fund=90),
          _claim("CS1b", "S0001", str(_day(104) + pd.Timedelta(hours=10)), inst="H0003", fund=300),
          _claim("CS1c", "S0001", str(_day(106) + pd.Timedelta(hours=15)), ctype="pharmacy", pharm="Y0001", fund=60)]
    _stay(c, "CS2", "S0002", "H0020", 120, 9, "I63.9")
    c += [_claim("CS2a", "S0002", str(_day(122) + pd.Timedelta(hours=10)), inst="H0021", fund=200),
          _claim("CS2b", "S0002", str(_day(124) + pd.Timedelta(hours=10)), inst="H0021", fund=200)]
    _stay(c, "CS3", "S0003", "H0020", 140, 9, "I63.9")
    t["contacts"] += [{"patient_id": p, "kind": "address", "value": "历下区文化东路9号"} for p in ("S0003", "S0004")]
    c += [_claim(f"CS3{'abc'[k // 2]}", "S0004", str(_day(142 + k) + pd.Timedelta(hours=15)), ctype="pharmacy", pharm="Y0001",
                 fund=50, card="K-S0003") for k in range(0, 6, 2)]
    return t


def test_phantom_stay_true_case_and_look_alikes(tmp_path):
    fs = {f.evidence["stay"]["claim_id"]: f for f in phantom_stays(_store(tmp_path, phantom_city()))}
    f = fs["CS1"]
    assert f.claims == ["CS1", "CS1a", "CS1b", "CS1c"] and f.score > 0.5
    assert set(f.evidence["null"]["rate"]) == {"near", "far", "inpatient", "card"}
    # the branch visits are consultations: not counted, no finding
    assert "CS2" not in fs
    # the household's purchases on the card count, but partly explained, below the true case
    hh = fs.get("CS3")
    assert hh is None or (_checks(hh)["household_card_use"]["outcome"] == "partial" and hh.score < f.score)


def test_phantom_stay_does_not_count_a_newborn_settled_on_the_parent_card(tmp_path):
    """新生儿随父母结算: during S0005's stay, a three-month-old with no card of its own is seen three
    times at a clinic on the mother's card — not a sign the mother left the ward; the same three
    claims by an adult stranger on S0008's card are counted."""
    t = phantom_city()
    c = t["claims"]
    _people(t, ["S0005", "S0007", "S0008"])
    _people(t, ["N0001"], birth=str((_day(160) - pd.Timedelta(days=90)).date()))
    t["cards"] = [r for r in t["cards"] if r["patient_id"] != "N0001"]
    for stay, holder, user in (("CS5", "S0005", "N0001"), ("CS8", "S0008", "S0007")):
        d0 = 160 if stay == "CS5" else 200
        _stay(c, stay, holder, "H0020", d0, 9, "O80")
        c += [_claim(f"{stay}{'abc'[k]}", user, str(_day(d0 + 2 + 2 * k) + pd.Timedelta(hours=10)), inst="H0003",
                     fund=120, card=f"K-{holder}") for k in range(3)]
    fs = {f.evidence["stay"]["claim_id"]: f for f in phantom_stays(_store(tmp_path, t))}
    assert "CS8" in fs and fs["CS8"].claims == ["CS8", "CS8a", "CS8b", "CS8c"]
    assert "CS5" not in fs  # nothing left once the newborn's claims are not counted
    assert _checks(fs["CS8"])["newborn_on_parent_card"]["detail"] == "no claim by an infant on the card"


def test_phantom_stay_null_same_pattern_scores_lower_where_purchases_are_common(tmp_path):
    rare = {f.evidence["stay"]["claim_id"]: f for f in phantom_stays(_store(tmp_path, phantom_city(), "rare"))}
    common = {f.evidence["stay"]["claim_id"]: f
              for f in phantom_stays(_store(tmp_path, phantom_city(elsewhere=0.25), "common"))}
    assert common.get("CS1") is None or common["CS1"].score < rare["CS1"].score
    assert common["CS1"].evidence["null"]["rate"]["near"] > rare["CS1"].evidence["null"]["rate"]["near"]


def test_phantom_stay_dates_only_never_counts_admission_or_discharge_day(tmp_path):
    t = phantom_city()
    for row in t["claims"]:
        for col in ("start_time", "end_time"):
            if row[col]:
                row[col] = row[col][:10]
    c = t["claims"]
    c.append(_claim("CS1z", "S0001", "2024-04-10", ctype="pharmacy", pharm="Y0001", fund=30))  # admission day
    fs = {f.evidence["stay"]["claim_id"]: f for f in phantom_stays(_store(tmp_path, t), edge_days=0)}
    f = fs["CS1"]
    assert "CS1z" not in f.claims and f.evidence["time_precision"] == "day"
    assert f.evidence["null"]["edge_days_raised_for_dates_only"]
    assert _checks(f)["dates_only"]["outcome"] == "not_testable"


def service_city(*, dual_patients: int = 4) -> dict:
    """Ordinary stays at H0020 and a city's outpatient visits (I10, J06, K29, E11: the chance of a
    diagnosis group), and: D1..Dn (cancer stays, C34) each buy once at the dual-channel pharmacy
    Y0003 for C34 during the stay (legal: 双通道); E1 (stroke, I63) is sent for an exam at H0003
    for I63 (legal: 院外检查); P1 (a true phantom stay) buys once at Y0004 for gastritis and P2 is
    seen once at H0003 for a cold — each in a longer stay than the look-alikes', so their raw
    surprise is lower; L1 buys once for the stay's own condition at a pharmacy nobody else uses
    that way (Y0005: partly explained)."""
    rnd = random.Random(5)
    t = tiny_tables()
    t["institutions"] += [{**_inst("H0020", 2, "hospital", "public"), "name": "济南市仁和医院"}]
    t["pharmacies"] += [{"pharmacy_id": y, "name": f"药房{y}", "chain": "", "region": "370102", "lat": "36.67",
                         "lon": "117.01"} for y in ("Y0003", "Y0004", "Y0005")]
    pids = [f"B{i:04d}" for i in range(200)]
    _people(t, pids)
    c = t["claims"]
    for i, pid in enumerate(pids):
        d0 = rnd.randrange(0, 300)
        _stay(c, f"CB{i:04d}", pid, "H0020", d0, rnd.randrange(5, 12), "J18.9")
        for k in range(3):  # life outside hospital: the city's outpatient diagnoses
            d = (d0 + 20 + 30 * k) % 360
            c.append(_claim(f"CBO{i:04d}{k}", pid, str(_day(d) + pd.Timedelta(hours=10)), inst="H0001",
                            dx=rnd.choice(("I10", "I10", "J06.9", "K29.7", "E11.9")), fund=80))
    dual = [f"D{i:04d}" for i in range(dual_patients)]
    _people(t, [*dual, "E0001", "P0001", "P0002", "L0001"])
    for i, pid in enumerate(dual):
        _stay(c, f"CD{i}", pid, "H0020", 20 + 40 * i, 6, "C34.9", fund=9000)
        c.append(_claim(f"CD{i}a", pid, str(_day(23 + 40 * i) + pd.Timedelta(hours=10)), ctype="pharmacy", pharm="Y0003",
                        dx="C34.9", fund=6000))
    _stay(c, "CE1", "E0001", "H0020", 30, 6, "I63.9")
    c.append(_claim("CE1a", "E0001", str(_day(33) + pd.Timedelta(hours=10)), inst="H0003", dx="I63.9", fund=900))
    for pid, cid in (("E0002", "CE2"), ("E0003", "CE3")):  # other inpatients sent to H0003 for their stay's condition
        _people(t, [pid])
        _stay(c, cid, pid, "H0020", 60 if cid == "CE2" else 90, 6, "N18.5")
        c.append(_claim(f"{cid}a", pid, str(_day(63 if cid == "CE2" else 93) + pd.Timedelta(hours=10)), inst="H0003",
                        dx="N18.5", fund=700))
    _stay(c, "CP1", "P0001", "H0020", 150, 8, "M54.5")
    c.append(_claim("CP1a", "P0001", str(_day(154) + pd.Timedelta(hours=15)), ctype="pharmacy", pharm="Y0004",
                    dx="K29.7", fund=60))
    _stay(c, "CP2", "P0002", "H0020", 170, 8, "I63.9")
    c.append(_claim("CP2a", "P0002", str(_day(174) + pd.Timedelta(hours=15)), inst="H0003", dx="J06.9", fund=60))
    _stay(c, "CL1", "L0001", "H0020", 200, 6, "C50.9")
    c.append(_claim("CL1a", "L0001", str(_day(203) + pd.Timedelta(hours=10)), ctype="pharmacy", pharm="Y0005",
                    dx="C50.9", fund=5000))
    return t


@pytest.fixture(scope="module")
def service_findings(tmp_path_factory):
    store = _store(tmp_path_factory.mktemp("service"), service_city())
    return {f.evidence["stay"]["claim_id"]: f for f in phantom_stays(store)}


def test_phantom_stay_outside_care_for_the_stay_ranks_below_a_true_phantom(service_findings):
    fs = service_findings
    # the true phantom stays next to the look-alikes: one claim each, for another condition
    for cid in ("CP1", "CP2"):
        assert _checks(fs[cid])["stay_outside_service"]["outcome"] == "ruled_out", cid
        assert fs[cid].evidence["overlaps"][0]["same_condition"] is False
    true_low = min(fs["CP1"].score, fs["CP2"].score)
    # raw surprise: the look-alikes' single claims in shorter stays are more surprising ...
    assert fs["CD0"].evidence["null"]["log10_p"] < fs["CP1"].evidence["null"]["log10_p"]
    # ... but the dual-channel purchases and the outside exam are explained, and rank below
    for cid in ("CD0", "CD1", "CD2", "CD3", "CE1"):
        chk = _checks(fs[cid])["stay_outside_service"]
        assert chk["outcome"] == "explains" and chk["factor"] < 0.3, (cid, chk)
        assert fs[cid].score < true_low, cid
        assert fs[cid].evidence["overlaps"][0]["provider_serves_stays"] is True
    # same condition, at a pharmacy no other inpatient uses that way: partly explained, still below
    chk = _checks(fs["CL1"])["stay_outside_service"]
    assert chk["outcome"] == "partial" and chk["factor"] < 0.3
    assert fs["CL1"].score < true_low
    assert fs["CL1"].evidence["overlaps"][0]["provider_serves_stays"] is False
    # every finding still carries its null and the check
    assert all("null" in f.evidence and "stay_outside_service" in _checks(f) for f in fs.values())


def test_phantom_stay_outside_care_needs_other_inpatients_for_the_provider(tmp_path):
    """With a single dual-channel patient, nothing shows the pharmacy serves stays: partial only; and
    a purchase without a diagnosis at a pharmacy that does serve stays is not explained by that alone."""
    fs = {f.evidence["stay"]["claim_id"]: f for f in phantom_stays(_store(tmp_path, service_city(dual_patients=1)))}
    chk = _checks(fs["CD0"])["stay_outside_service"]
    assert chk["outcome"] == "partial" and fs["CD0"].evidence["overlaps"][0]["provider_serves_stays"] is False
    t = service_city()
    _people(t, ["P0003"])
    _stay(t["claims"], "CP3", "P0003", "H0020", 230, 6, "C34.9")
    t["claims"].append(_claim("CP3a", "P0003", str(_day(233) + pd.Timedelta(hours=10)), ctype="pharmacy", pharm="Y0003",
                              fund=50))
    fs = {f.evidence["stay"]["claim_id"]: f for f in phantom_stays(_store(tmp_path, t, "nodx"))}
    chk = _checks(fs["CP3"])["stay_outside_service"]
    assert chk["outcome"] == "not_testable" and fs["CP3"].evidence["overlaps"][0]["provider_serves_stays"] is True
    assert fs["CP3"].score > max(fs[f"CD{i}"].score for i in range(4))


def test_city_dx_chance_and_condition_evidence(tmp_path):
    from graphkit.detectors._stayservice import city_dx_chance, stay_condition_evidence

    # the city's counts leave inpatient stays and claims without a diagnosis out
    t = tiny_tables()
    t["claims"] += [_claim(f"CX{i}", "PT0001", "2024-01-05 09:00:00", inst="H0001", dx=dx, ctype=ct, card="K0001")
                   for i, (dx, ct) in enumerate((("I10", "outpatient"), ("I10.9", "outpatient"), ("J06.9", "outpatient"),
                                                 ("", "outpatient"), ("I10", "outpatient"), ("C34.9", "inpatient")))]
    counts = _store(tmp_path, t).projection("diagnosis_counts")
    mine = counts.set_index("diagnosis_code")["claims"]
    assert mine["I10"] == 2 and mine["I10.9"] == 1 and "C34.9" not in mine and "" not in mine  # +tiny's own claims
    assert counts["diagnosis_code"].is_monotonic_increasing

    ch = city_dx_chance(pd.DataFrame({"diagnosis_code": ["I10", "I10.9", "J06.9"], "claims": [2, 1, 1]}))
    assert ch.round(3).to_dict() == {"I10": 0.75, "J06": 0.25}
    ov = pd.DataFrame({"stay_claim": ["S1", "S2", "S3", "S4"], "claim_id": ["A", "B", "C", "D"],
                       "stay_patient": ["p1", "p2", "p3", "p4"], "provider_type": "pharmacy",
                       "provider_id": ["Y1", "Y1", "Y1", "Y2"], "explained": None})
    dx = pd.Series({"S1": "C34.9", "A": "C34.1", "S2": "C34.9", "B": "C34.0", "S3": "I10", "C": "J06.9", "S4": "I10"})
    ev = stay_condition_evidence(ov, dx, ch)
    assert ev["same_condition"].tolist() == [True, True, False, None]
    assert ev["dx_chance"].iloc[2] == 0.75 and ev["dx_chance"].iloc[0] == pytest.approx(1 / 5)  # unseen group: 1/(n+1)
    # at Y1, p1 sees one other patient (p2) for their own stay's condition among two with a diagnosis
    assert ev[["service_k", "service_m"]].iloc[0].tolist() == [1, 2] and ev["service_m"].iloc[3] == 0


# ------------------------------------------------------------------------------------------------
# referral_loop
# ------------------------------------------------------------------------------------------------
def test_referral_loop_between_campuses_ranks_below_a_lateral_loop(tmp_path):
    from test_detectors_more import referral_tables

    t = referral_tables()
    # the same bouncing between a hospital and its own branch
    t["institutions"] += [{**_inst("H0060", 2, "hospital"), "name": "仁和医院"},
                          {**_inst("H0061", 2, "hospital"), "name": "仁和医院分院"}]
    _people(t, ["L0101", "L0102", "L0103"])
    n = 0
    for p, pid in enumerate(("L0101", "L0102", "L0103")):
        d = 30 + 40 * p
        here, there = "H0060", "H0061"
        for hop in range(3):
            rid = f"RC6{p}{hop}"
            t["referrals"].append(_ref(rid, pid, here, there, str(_day(d + 5) + pd.Timedelta(hours=8))))
            d += 6
            t["claims"].append(_claim(f"CL6{n:03d}", pid, str(_day(d) + pd.Timedelta(hours=9)), inst=there,
                                      ctype="inpatient", end=str(_day(d + 5) + pd.Timedelta(hours=10)), dx="M54.5",
                                      fund=2000, ref=rid))
            n += 1
            here, there = there, here
    fs = {tuple(f.evidence["cycle"]): f for f in referral_loops(_store(tmp_path, t))}
    lateral, campus = fs[("H0004", "H0005")], fs.get(("H0060", "H0061"))
    assert lateral.evidence["null"]["log10_p_returns"] < 0 and lateral.evidence["benign_checks"]
    assert campus is None or (_checks(campus)["same_organisation"]["outcome"] == "partial" and campus.score < lateral.score)


# ------------------------------------------------------------------------------------------------
# collusion_ring
# ------------------------------------------------------------------------------------------------
def ring_city(*, wave: bool = True) -> dict:
    """A regional hospital H0020 with ordinary admissions; a ring admitted together to private H0022
    on six occasions; a group of neighbours admitted together to H0020 on three days of a regional
    influenza wave (when every hospital of the region is full); a group examined on three days at the
    hub (Z00 codes)."""
    rnd = random.Random(5)
    t = tiny_tables()
    t["institutions"] += [_inst("H0020", 2, "hospital", "public"), _inst("H0022", 1, "hospital"),
                          _inst("H0023", 2, "hospital", "public")]
    bg = [f"B{i:04d}" for i in range(400)]
    ring = [f"R{i:03d}" for i in range(8)]
    flu = [f"F{i:03d}" for i in range(8)]
    _people(t, bg + ring + flu)
    c = t["claims"]
    wave_days = range(40, 55)
    for i, pid in enumerate(bg):
        d = rnd.choice(list(wave_days)) if (wave and rnd.random() < 0.5) else rnd.randrange(0, 360)
        _stay(c, f"CB{i:04d}", pid, rnd.choice(("H0020", "H0023")), d, 5, "J10.1" if d in wave_days else "K29.7")
    for k, d in enumerate((20, 70, 120, 170, 220, 270)):
        for j, pid in enumerate(ring):
            if (j + k) % 5 == 0:
                continue
            _stay(c, f"CR{k}{j}", pid, "H0022", d + (j % 2), 5, "M54.5", doc="D00002")
    for k, d in enumerate((42, 46, 50)):
        for j, pid in enumerate(flu):
            if (j + k) % 4 == 0:
                continue
            _stay(c, f"CF{k}{j}", pid, "H0020", d, 5, "J10.1")
    return t


def test_ring_beside_an_outbreak_group(tmp_path):
    fs = collusion_rings(_store(tmp_path, ring_city()), min_score=0.0)
    ring = next(f for f in fs if set(f.evidence["members"]) <= {f"R{i:03d}" for i in range(8)})
    assert ring.score > 0.5 and ring.evidence["null"]["log10_p"] < -10
    flu = [f for f in fs if set(f.evidence["members"]) & {f"F{i:03d}" for i in range(8)}]
    for f in flu:
        assert f.score < ring.score
        assert f.evidence["null"]["calendar_concentration"] > 1.0  # the wave concentrates the region's admissions
        assert _checks(f)["outbreak"]["outcome"] in ("partial", "ruled_out")


def test_ring_null_same_group_scores_lower_in_a_wave(tmp_path):
    """The neighbours admitted together score lower when the region is in an influenza wave on those
    days than when the region is quiet: the null follows the regional calendar."""
    def flu_score(t, name):
        fs = collusion_rings(_store(tmp_path, t, name), min_score=0.0)
        f = [f for f in fs if set(f.evidence["members"]) & {f"F{i:03d}" for i in range(8)}]
        return max((x.evidence["null"]["surprise"] for x in f), default=0.0)

    assert flu_score(ring_city(wave=True), "wave") < flu_score(ring_city(wave=False), "quiet")
