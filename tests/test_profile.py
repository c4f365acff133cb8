"""The data profile: measured at validate and load, stored with the store, honoured by the scan."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

import graphkit
from conftest import tiny_tables, write_bundle
from graphkit.cli import main as cli_main
from graphkit.detectors import REGISTRY, Detector
from graphkit.profile import ProfileSink, data_profile, unmet
from graphkit.scan import scan, write_scan
from graphkit.store import open_store
from loaders import load_bundle, validate_bundle


def _dates_only(t: dict) -> dict:
    for r in t["claims"]:
        r["start_time"] = r["start_time"][:10]
        r["end_time"] = r["end_time"][:10]
    return t


def test_tiny_bundle_profile(tiny_bundle, tmp_path):
    res = load_bundle(tiny_bundle, tmp_path / "s")
    p = res.profile
    assert p["time_precision"] == "hour"  # 4 of 5 claims on the hour: the column is known to the hour
    assert p["time"]["claims.start_time"]["share_not_midnight"] == 1.0
    assert p["time"]["claim_items.item_time"]["precision"] == "minute"
    assert p["terminals"] == {"claims_with": 2, "share": 0.4}
    assert p["doctors"]["all"] == 1.0 and p["doctors"]["pharmacy"] == 1.0
    assert p["items"]["claims_covered"] == 1 and p["items"]["coverage"] == 0.2
    assert p["contacts"]["by_kind"] == {"address": 1, "family": 2, "phone": 1}
    assert p["death_dates"]["patients"] == 1
    assert p["card_kind"]["by_kind"] == {"e_voucher": 1, "physical": 2}
    rg = p["regions"]
    assert (rg["codes_used"], rg["provider_codes"], rg["patient_codes"], rg["placeable"], rg["unknown"]) == (3, 3, 2, 3, 0)
    assert rg["by_source"] == {"regions_table": 3}
    assert p["coordinates"]["share"] == 1.0
    s = p["supports"]
    assert s["time:hour"] and not s["time:minute"] and s["terminals"] and s["places"] and s["family"]
    # stored in the manifest with the store's fingerprint; read back as is
    st = open_store(tmp_path / "s")
    assert st.manifest["data_profile"]["fingerprint"] == st.fingerprint
    assert st.profile() == p


def test_profile_streams_in_chunks_and_matches_validate(tiny_bundle, tmp_path):
    res = load_bundle(tiny_bundle, tmp_path / "s", chunk_rows=2)
    sink = ProfileSink()
    assert validate_bundle(tiny_bundle, sink=sink, chunk_rows=2).ok
    a, b = dict(res.profile), sink.result()
    a.pop("fingerprint")
    # the one difference: a pseudonymised store keeps birth dates to the month (#16), the bundle the day
    assert (a.pop("birth_dates"), b.pop("birth_dates")) == ({"present": True, "patients": 4, "precision": "month"},
                                                             {"present": True, "patients": 4, "precision": "day"})
    assert a == b
    assert data_profile(open_store(tmp_path / "s")) == res.profile


def test_old_manifest_without_profile_computes_it(tiny_bundle, tmp_path):
    load_bundle(tiny_bundle, tmp_path / "s")
    mf = tmp_path / "s" / "manifest.json"
    m = json.loads(mf.read_text("utf-8"))
    expected = m.pop("data_profile")
    mf.write_text(json.dumps(m), "utf-8")
    st = open_store(tmp_path / "s")
    assert st.profile() == expected
    assert "data_profile" not in json.loads(mf.read_text("utf-8"))  # reading never writes


def test_dates_only_unknown_codes_no_terminals(tmp_path):
    t = _dates_only(tiny_tables())
    for r in t["claims"]:
        r["terminal_id"] = ""
    for r in t["institutions"] + t["pharmacies"]:
        r["lat"], r["lon"], r["region"] = "", "", "X-" + r["region"]
    t.pop("regions")
    res = load_bundle(write_bundle(tmp_path / "b", t), tmp_path / "s")
    p = res.profile
    assert p["time_precision"] == "day" and p["time"]["claims.start_time"]["midnight_share"] == 1.0
    assert p["terminals"]["share"] == 0.0 and not p["supports"]["terminals"]
    assert p["regions"]["unknown"] == 3 and p["regions"]["unknown_examples"] == ["X-110105", "X-370102", "X-370103"]
    assert not p["supports"]["places"] and not p["supports"]["time:hour"] and p["supports"]["time:day"]
    assert unmet(p, ["time:day", "time:hour", "places"]) == ["time:hour", "places"]


def test_scan_skips_and_degrades_and_says_why(tmp_path, capsys):
    t = _dates_only(tiny_tables())
    for r in t["claims"]:
        r["terminal_id"] = ""
    load_bundle(write_bundle(tmp_path / "b", t), tmp_path / "s")
    st = open_store(tmp_path / "s")
    res = scan(st)
    assert "impossible_travel" in res.skipped
    assert res.skipped["impossible_travel"] == "结算时间只有日期 / times are dates only"
    assert not any(f.kind == "impossible_travel" for f in res.findings)
    doc = json.loads(write_scan(res, tmp_path / "f")["findings"].read_text("utf-8"))
    assert doc["skipped"] == res.skipped and doc["degraded"] == res.degraded
    assert doc["data_profile"]["time_precision"] == "day"
    assert cli_main(["scan", "--store", str(tmp_path / "s"), "--out", str(tmp_path / "f2")]) == 0
    out = capsys.readouterr().out
    assert "未运行 skipped impossible_travel: 结算时间只有日期 / times are dates only" in out


def test_prefers_are_reported_as_degraded(tmp_path, monkeypatch):
    t = tiny_tables()
    t.pop("contacts")
    load_bundle(write_bundle(tmp_path / "b", t), tmp_path / "s")
    det = REGISTRY["impossible_travel"]
    monkeypatch.setitem(REGISTRY, "impossible_travel", Detector(det.kind, det.func, det.params, det.needs,
                                                                 (("family", "家庭共济无法检验 / family sharing untested"),)))
    res = scan(open_store(tmp_path / "s"), kinds=["impossible_travel"])
    assert res.degraded == {"impossible_travel": ["缺少：有登记的家庭关系 / missing: registered family links present: "
                                                  "家庭共济无法检验 / family sharing untested"]}


def test_cli_validate_and_load_print_the_profile(tiny_bundle, tmp_path, capsys):
    assert cli_main(["validate", str(tiny_bundle)]) == 0
    out = capsys.readouterr().out
    assert "数据概况 / data profile:" in out and "时间精度 / time precision: 结算 claims 小时 hour" in out
    assert "终端 / terminals: 40%" in out
    assert cli_main(["load", str(tiny_bundle), "--store", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "行政区划 / region codes: 使用 used 3" in out and "未知 unknown 0" in out


def test_every_declared_need_is_a_known_requirement():
    from graphkit.profile import REQUIREMENTS

    for kind, det in REGISTRY.items():
        for need in list(det.needs) + [n for n, _ in det.prefers]:
            assert need in REQUIREMENTS, (kind, need)


def test_store_profile_on_a_plain_store_object(tiny_bundle, tmp_path):
    """Any Store computes (and caches) its profile through the read interface."""
    from graphkit.store.base import Store

    load_bundle(tiny_bundle, tmp_path / "s")
    emb = open_store(tmp_path / "s")

    class Plain(Store):
        fingerprint = emb.fingerprint

        def table(self, name, columns=None):
            return emb.table(name, columns)

        def has_table(self, name):
            return emb.has_table(name)

        def row_counts(self):
            return emb.row_counts()

        def columns(self, name):
            return emb.columns(name)

    p = Plain().profile()
    assert p == emb.profile()
    assert isinstance(pd.DataFrame(p["time"]).T, pd.DataFrame)
