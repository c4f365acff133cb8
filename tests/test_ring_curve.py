"""The ring-curve benchmark's planting (bench/ring_curve.py) on a small ring-free city."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("ring_curve", ROOT / "bench" / "ring_curve.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("ring_curve", mod)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    rc = _bench()
    cache = tmp_path_factory.mktemp("ring-curve")
    b = rc.make_base(cache, 1500, 5)
    import json

    exclude = set(json.loads((b / "base.json").read_text("utf-8"))["excluded_people"])
    return rc, b, rc.read_tables(b), exclude


def _write(rc, b, tables, out: Path) -> Path:
    import shutil

    out.mkdir(parents=True)
    for p in b.glob("*.parquet"):
        if p.stem != "claims":
            shutil.copy(p, out / p.name)
    tables["claims"].to_parquet(out / "claims.parquet", index=False)
    return out


def test_base_is_ring_free(base):
    rc, b, tables, _ = base
    # every planted row of the generator is gone; claim items only refer to kept claims
    assert tables["claim_items"]["claim_id"].isin(tables["claims"]["claim_id"]).all()


def test_planted_rows_validate_and_match_density(base, tmp_path):
    from loaders import validate_bundle

    rc, b, tables, exclude = base
    new, inst = rc.plant_rings(tables, rings=3, density=0.5, camouflage=1.0, seed=7, exclude=exclude)
    rep = validate_bundle(_write(rc, b, new, tmp_path / "bundle"))
    assert rep.ok, rep.format()
    cl = new["claims"]
    assert cl["claim_id"].is_unique
    added = len(cl) - len(tables["claims"])
    ring = sum(len(i["claims"]) for i in inst)
    camo = sum(len(i["camouflage_claims"]) for i in inst)
    assert added == ring + camo
    cells = sum(i["members"] * i["episodes"] for i in inst)
    assert ring / cells == pytest.approx(0.5, abs=0.08)
    for i in inst:
        inc = np.array(i["incidence"])
        assert 10 <= i["members"] <= 15 and inc.shape == (i["members"], 12)
        assert len(i["claims"]) == inc.sum()
        # camouflage: round(c * 3 * ring claims) per member
        assert len(i["camouflage_claims"]) == sum(int(round(3 * k)) for k in inc.sum(axis=1))
    rows = cl.set_index("claim_id")
    ring_rows = rows.loc[[c for i in inst for c in i["claims"]]]
    assert (ring_rows["claim_type"] == "inpatient").all()
    assert (ring_rows["end_time"] >= ring_rows["start_time"]).all()
    assert ring_rows["doctor_id"].notna().all() and ring_rows["pharmacy_id"].isna().all()
    camo_rows = rows.loc[[c for i in inst for c in i["camouflage_claims"]]]
    venues = {e["id"] for i in inst for e in i["entities"] if e["role"] == "venue"}
    assert (camo_rows["claim_type"] == "outpatient").all()
    assert not camo_rows["institution_id"].isin(venues).any()
    # members are unrelated: no family link between two members of any ring
    fam = tables["contacts"][tables["contacts"]["kind"] == "family"]
    members = {e["id"] for i in inst for e in i["entities"] if e["type"] == "patient"}
    assert not (fam["patient_id"].isin(members) & fam["value"].isin(members)).any()
    # no camouflage: only the ring claims are added, the rings themselves are the same
    new0, inst0 = rc.plant_rings(tables, rings=3, density=0.5, camouflage=0.0, seed=7, exclude=exclude)
    assert len(new0["claims"]) - len(tables["claims"]) == ring
    assert [i["incidence"] for i in inst0] == [i["incidence"] for i in inst]


def test_dense_rings_are_found(base, tmp_path):
    from graphkit import open_store
    from graphkit.detectors.rings import collusion_rings
    from loaders import load_bundle

    rc, b, tables, exclude = base
    new, inst = rc.plant_rings(tables, rings=3, density=1.0, camouflage=0.0, seed=11, exclude=exclude)
    bundle = _write(rc, b, new, tmp_path / "bundle")
    load_bundle(bundle, tmp_path / "store", allow_demo_key=True)
    findings = collusion_rings(open_store(tmp_path / "store"))
    res = rc.score_cell(inst, findings)
    assert res["ring_recall"] == 1.0
    assert all(r["member_f1"] >= 0.95 for r in res["rings"]), res["rings"]


def test_fraudar_shaped_thin_block_is_found(base, tmp_path):
    """FRAUDAR's shape scaled to a small city: 40 people × 150 admission days at density 0.06
    (each person ~9 stays, a pair admitted together ~0.5 times): scattered episode days, no
    person in two stays at once, found by the dense-block stage alone."""
    from graphkit import open_store
    from graphkit.detectors.rings import collusion_rings
    from loaders import load_bundle

    rc, b, tables, exclude = base
    new, inst = rc.plant_rings(tables, rings=1, density=0.06, camouflage=1.0, episodes=150, size=(40, 40),
                               seed=5, exclude=exclude)
    (i,) = inst
    inc = np.array(i["incidence"])
    assert inc.shape == (40, 150) and 0.03 < inc.mean() <= 0.06 and len(i["claims"]) == inc.sum()
    rows = new["claims"].set_index("claim_id").loc[i["claims"]]
    for _, g in rows.sort_values("start_time").groupby("patient_id"):  # stays of one person never overlap
        assert (g["start_time"].to_numpy()[1:] > g["end_time"].to_numpy()[:-1]).all()
    load_bundle(_write(rc, b, new, tmp_path / "bundle"), tmp_path / "store", allow_demo_key=True)
    findings = collusion_rings(open_store(tmp_path / "store"))
    assert findings and findings[0].evidence["method"] == "dense_block"
    res = rc.score_cell(inst, findings)
    assert res["ring_recall"] == 1.0 and res["ring_precision"] == 1.0
    assert res["rings"][0]["member_f1_active"] >= 0.9, res["rings"]
