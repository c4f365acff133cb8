"""Case dossiers: a demo ring case rendered to HTML and PDF, facts found in the PDF text,
manifest verified, tampering detected, redaction profiles and the audit log."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

import graphkit
from graphkit.audit import AuditLog, default_log
from graphkit.identity import os_account
from graphkit.dossier import ClearSource, Rulebook, handling, verify_dossier, write_dossier
from graphkit.dossier.render import chromium_path
from graphkit.findings import Entity, Finding
from loaders import load_bundle

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    from graphkit.demo import generate_city

    root = tmp_path_factory.mktemp("dossier-city")
    generate_city(root / "bundle", patients=2000, seed=3)
    load_bundle(root / "bundle", root / "store")
    truth = json.loads((root / "bundle" / "truth.json").read_text("utf-8"))
    return root, graphkit.open_store(root / "store"), truth


def ring_finding(store, truth) -> Finding:
    """The planted ring with the largest amount, as the ring detector reports one."""
    inst = max((i for i in truth["instances"] if i["kind"] == "collusion_ring"), key=lambda i: i["amount"])
    ents = [Entity(e["type"], e["id"], e["role"]) for e in inst["entities"]]
    members = [e.id for e in ents if e.type == "patient"]
    return Finding.create(
        "collusion_ring", key=("ring", inst["id"]), score=0.97, amount_at_risk=inst["amount"], entities=ents,
        claims=inst["claims"], summary=f"{len(members)}名参保人集中住院 / {len(members)} people admitted together",
        evidence={"members": members},
    )


def test_ring_dossier_html_pdf_manifest(city, tmp_path):
    root, store, truth = city
    f = ring_finding(store, truth)
    pdf = chromium_path() is not None
    m = write_dossier(store, [f], tmp_path / "d", parameters={"collusion_ring": {"min_members": 4}}, pdf=pdf,
                      found_on="2024-07-05")
    out = tmp_path / "d"
    for rel in ("dossier.html", "dossier.json", "dossier.md", "evidence/claims.csv", "evidence/items.csv",
                "evidence/entities.csv", "evidence/timeline.csv", "manifest.json"):
        assert (out / rel).is_file(), rel
    html = (out / "dossier.html").read_text("utf-8")
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html  # self-contained
    assert "<svg" in html and "发现过程" in html and "数据显示的问题" in html and "处理意见（建议）及依据" in html
    assert "三、违法违规事实" not in html and "待核实事项" in html and "class='watermark'>草稿" in html  # a draft until signed off
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["data_fingerprint"] == store.fingerprint
    assert manifest["parameters"] == {"collusion_ring": {"min_members": 4}}
    assert manifest["software_version"].startswith("graphkit")
    assert set(manifest["files"]) >= {"dossier.html", "evidence/claims.csv"}
    v = verify_dossier(out, audit=default_log())
    assert v.ok and v.logged, str(v)
    claims = pd.read_csv(out / "evidence" / "claims.csv", dtype=str)
    assert sorted(claims["claim_id"]) == sorted(f.claims)
    # a ring of inpatient stays: over 50,000 yuan, crime kind → police, report upward within 2 working days
    doc = json.loads((out / "dossier.json").read_text("utf-8"))
    h = doc["handling"]
    amount = round(float(pd.to_numeric(claims["fund_amount"]).sum()), 2)
    assert doc["totals"]["fund_amount"] == pytest.approx(amount)
    assert "police" in [r["to_en"] for r in h["routes"]]
    if amount > 50000:
        assert h["report_upward"] and h["report_deadline"] == "2024-07-09"
    assert (out / "packages" / "police" / "01_涉嫌犯罪案件移送书.html").is_file()
    assert {p.name for p in (out / "packages" / "police").glob("*.html")} == {
        "01_涉嫌犯罪案件移送书.html", "02_案件调查报告.html", "03_涉案物品清单.html", "04_证据目录.html", "05_移送案件回执.html"}
    members = [e.id for e in f.entities if e.type == "patient"]
    if not pdf:
        pytest.skip("Chromium is not installed: PDF not rendered (CI installs it)")
    pdfium = pytest.importorskip("pypdfium2")
    doc_pdf = pdfium.PdfDocument(str(out / "dossier.pdf"))
    text = "\n".join(doc_pdf[i].get_textpage().get_text_range() for i in range(len(doc_pdf)))
    assert f"{amount:,.2f}" in text
    assert all(mem in text for mem in members[:5])
    assert "公安" in text and ("省医疗保障局" in text or amount <= 50000)
    ARTIFACTS.mkdir(exist_ok=True)
    doc_pdf[0].render(scale=1.2).to_pil().save(ARTIFACTS / "dossier-ring-page1.png")
    assert (ARTIFACTS / "dossier-ring-page1.png").stat().st_size > 10_000
    police = pdfium.PdfDocument(str(out / "packages" / "police" / "01_涉嫌犯罪案件移送书.pdf"))
    assert "涉嫌犯罪案件移送书" in police[0].get_textpage().get_text_range()


def test_verify_detects_any_change(city, tmp_path):
    root, store, truth = city
    out = tmp_path / "d"
    write_dossier(store, [ring_finding(store, truth)], out, pdf=False)
    assert verify_dossier(out).ok
    (out / "evidence" / "claims.csv").write_text((out / "evidence" / "claims.csv").read_text("utf-8") + "x\n", "utf-8")
    v = verify_dossier(out)
    assert not v.ok and v.changed == ["evidence/claims.csv"]
    (out / "extra.txt").write_text("x")
    (out / "dossier.md").unlink()
    v = verify_dossier(out)
    assert v.missing == ["dossier.md"] and v.added == ["extra.txt"]
    from graphkit.cli import main

    assert main(["dossier", "verify", str(out)]) == 1


def test_manifest_edit_is_caught_by_the_audit_log(city, tmp_path):
    root, store, truth = city
    out = tmp_path / "d"
    write_dossier(store, [ring_finding(store, truth)], out, pdf=False)
    (out / "evidence" / "claims.csv").write_text("claim_id\nC1\n", "utf-8")
    m = json.loads((out / "manifest.json").read_text("utf-8"))
    import hashlib

    m["files"]["evidence/claims.csv"] = hashlib.sha256((out / "evidence" / "claims.csv").read_bytes()).hexdigest()
    (out / "manifest.json").write_text(json.dumps(m), "utf-8")
    v = verify_dossier(out)  # hashes re-computed by the forger, but the manifest no longer matches its signature…
    assert not v.ok and v.signed is False and not v.changed and "signature" in v.problem
    (out / "manifest.sig").unlink()
    v = verify_dossier(out)
    assert not v.ok and v.signed is False and "unsigned" in v.problem
    v = verify_dossier(out, audit=default_log())
    assert not v.ok and v.logged is False  # …and the export record in the audit log does not match


def test_default_is_pseudonymised_and_clear_data_is_audited(city, tmp_path, guard):
    root, store, truth = city
    f = ring_finding(store, truth)
    pats = pd.read_parquet(root / "bundle" / "patients.parquet")
    members = pats[pats["patient_id"].isin([e.id for e in f.entities if e.type == "patient"])]
    write_dossier(store, [f], tmp_path / "pseudo", pdf=False)
    blob = b"".join(p.read_bytes() for p in (tmp_path / "pseudo").rglob("*") if p.is_file()).decode("utf-8")
    assert not any(n in blob for n in members["name"]) and not any(i in blob for i in members["id_number"])
    cs = ClearSource.from_bundle(root / "bundle")
    write_dossier(store, [f], tmp_path / "police", pdf=False, profile="police", clear_source=cs, actor="investigator-li")
    ents = pd.read_csv(tmp_path / "police" / "evidence" / "entities.csv", dtype=str)
    row = ents[ents["id"] == members.iloc[0]["patient_id"]].iloc[0]
    assert row["name"] == members.iloc[0]["name"] and row["id_number"] == members.iloc[0]["id_number"]
    write_dossier(store, [f], tmp_path / "disc", pdf=False, profile="discipline", clear_source=cs)
    ents = pd.read_csv(tmp_path / "disc" / "evidence" / "entities.csv", dtype=str)
    idn = members.iloc[0]["id_number"]
    assert ents[ents["id"] == members.iloc[0]["patient_id"]].iloc[0]["id_number"] == idn[:3] + "*" * 11 + idn[-4:]
    log = default_log()
    exports = log.find("dossier_export")
    assert [e["details"]["profile"] for e in exports] == ["internal", "police", "discipline"]
    assert exports[0]["details"]["clear_data"] == {} and exports[1]["details"]["clear_data"]["name:clear"] >= 1
    assert exports[1]["actor"] == os_account()  # the OS account acts; the name given is recorded as a display name
    assert exports[1]["details"]["display_name"] == "investigator-li"
    released = log.find("clear_release")  # the guard recorded each release before the values left it
    assert [e["seq"] < x["seq"] for e, x in zip(released, exports[1:])] == [True, True]
    assert released[0]["details"]["released"] == released[0]["details"]["requested"] >= len(members)
    assert log.verify().ok


def test_audit_log_tampering_detected(tmp_path):
    log = AuditLog(tmp_path / "a.jsonl")
    for i in range(3):
        log.append("scan", actor="a", n=i)
    assert log.verify().ok and log.verify().entries == 3
    lines = (tmp_path / "a.jsonl").read_text("utf-8").splitlines()
    lines[1] = lines[1].replace('"n": 1', '"n": 7')
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    v = log.verify()
    assert not v.ok and v.line == 2
    (tmp_path / "b.jsonl").write_text("\n".join([lines[0], lines[2]]) + "\n", "utf-8")  # an entry deleted
    assert not AuditLog(tmp_path / "b.jsonl").verify().ok
    from graphkit.cli import main

    assert main(["audit", "verify", "--log", str(tmp_path / "a.jsonl")]) == 1


def test_handling_tiers_routing_deadline(tmp_path):
    assert handling(8000.0, public_staff=False, found_on="2024-07-05", kinds=["shared_card"])["penalty_multiple"] == 2
    assert handling(30000.0, public_staff=False, found_on="2024-07-05")["penalty_multiple"] == 3
    assert handling(80000.0, public_staff=False, found_on="2024-07-05")["penalty_multiple"] == 4
    h = handling(200000.0, public_staff=True, found_on="2024-07-05")
    assert h["penalty_multiple"] == 5 and h["penalty_amount"] == 1_000_000.0
    assert [r["to_en"] for r in h["routes"]] == ["police", "discipline inspection"]
    assert h["report_deadline"] == "2024-07-09"  # Friday + 2 working days
    assert [r["to_en"] for r in handling(3000.0, public_staff=False, found_on="2024-07-05")["routes"]] == []  # under the police threshold
    assert [r["to_en"] for r in handling(90000.0, public_staff=False, found_on="2024-07-05", kinds=["split_stay"])["routes"]] == []
    # a rulebook of the province: other tiers and holidays
    text = Rulebook.load().data
    custom = tmp_path / "rb.toml"
    src = (Path(graphkit.__file__).parent / "data" / "rulebook.toml").read_text("utf-8")
    custom.write_text(src.replace("holidays = []", 'holidays = ["2024-07-08"]').replace("upto = 10000.0", "upto = 20000.0"), "utf-8")
    rb = Rulebook.load(custom)
    assert rb.penalty_multiple(15000.0) == 2 and text["thresholds"]["report_working_days"] == 2
    assert rb.handling(60000.0, kinds=["collusion_ring"], public_staff=False, found_on="2024-07-05")["report_deadline"] == "2024-07-10"


def test_roles_decide_exports_and_clear_data(city, tmp_path, monkeypatch, guard):
    """The guard's roles file and the OS account decide; a name in the environment or a roles file
    of the caller's own decides nothing (#16 attacks 1 and 2)."""
    from graphkit.roles import PermissionDenied

    root, store, truth = city
    f = ring_finding(store, truth)
    cs = ClearSource(str(root / "bundle"))
    me = os_account()
    roles = Path(guard.config.roles)
    text = roles.read_text("utf-8")
    roles.write_text(text + f'[users]\n"{me}" = "analyst"\n', "utf-8")  # the administrator makes this account an analyst
    mine = tmp_path / "mine.toml"  # the analyst's own roles file
    mine.write_text('default_role = "boss"\n[roles.boss]\npermissions = ["export", "clear_data", "audit", "load"]\n', "utf-8")
    monkeypatch.setenv("GRAPHKIT_ROLES", str(mine))
    monkeypatch.setenv("GRAPHKIT_USER", "zhang.wei")
    write_dossier(store, [f], tmp_path / "a", pdf=False, actor="zhang.wei")  # an analyst may export pseudonymised
    with pytest.raises(PermissionDenied, match=f"{me} .*analyst.*clear_data"):
        write_dossier(store, [f], tmp_path / "b", pdf=False, actor="zhang.wei", clear_source=cs, profile="police")
    roles.write_text(text + f'[users]\n"{me}" = "auditor"\n', "utf-8")
    with pytest.raises(PermissionDenied, match="auditor"):
        write_dossier(store, [f], tmp_path / "c", pdf=False)
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()
    exp = default_log().find("dossier_export")
    assert [(e["actor"], e["details"]["display_name"]) for e in exp] == [(me, "zhang.wei")]
    assert default_log().find("clear_release") == []  # nothing was released


def test_clear_export_needs_the_guard(city, tmp_path, monkeypatch):
    """Without a guard no clear export happens, whatever the roles file or the user name says."""
    from graphkit.guard import GuardUnavailable

    root, store, truth = city
    monkeypatch.setenv("GRAPHKIT_GUARD", "off")
    monkeypatch.setenv("GRAPHKIT_USER", "zhang.wei")
    with pytest.raises(GuardUnavailable, match="guard"):
        write_dossier(store, [ring_finding(store, truth)], tmp_path / "b", pdf=False, clear_source=ClearSource.from_bundle(root / "bundle"))
    assert not (tmp_path / "b").exists() and default_log().find("dossier_export") == []


def test_audit_read_role_follows_the_os_account(monkeypatch, tmp_path):
    from graphkit.cli import main

    monkeypatch.setenv("GRAPHKIT_USER", "ana")  # an analyst's name in the roles file: only a display name now
    assert main(["audit", "verify"]) == 0  # this account is an investigator (default role of the test roles file)
    mine = tmp_path / "r.toml"
    mine.write_text(f'default_role = "auditor"\n[roles.auditor]\npermissions = ["audit"]\n[roles.analyst]\npermissions = []\n'
                    f'[users]\n"{os_account()}" = "analyst"\n', "utf-8")
    monkeypatch.setenv("GRAPHKIT_ROLES", str(mine))
    monkeypatch.setenv("GRAPHKIT_USER", "aud")
    assert main(["audit", "verify"]) == 1


def test_cli_dossier_for_an_investigators_case(city, tmp_path):
    from graphkit.cli import main
    from graphkit.findings import FindingsReport, write_findings
    from graphkit.workbench.cases import CaseStore, default_cases_path

    root, store, truth = city
    f = ring_finding(store, truth)
    write_findings(tmp_path / "findings.json", FindingsReport([f], store.fingerprint, {"collusion_ring": {}}))
    cases = CaseStore(default_cases_path(root / "store"))
    case = cases.create("同和医院结伴住院", actor="investigator-li", findings=[f], assignee="li")
    cases.remove_claims(case.id, f.claims[:2], actor="investigator-li")
    cases.update(case.id, actor="investigator-li", status="confirmed", notes="核实：同批入院")
    out = tmp_path / "out"
    assert main(["dossier", f"case:{case.id}", "--store", str(root / "store"), "--findings", str(tmp_path / "findings.json"),
                 "--out", str(out), "--no-pdf"]) == 0
    folder = out / f"case-{case.id:06d}"
    doc = json.loads((folder / "dossier.json").read_text("utf-8"))
    assert doc["case"]["status"] == "confirmed" and doc["case"]["title"] == "同和医院结伴住院"
    assert sorted(doc["claims"]) == sorted(f.claims[2:])  # the investigator's removals hold
    assert {"create", "update"} <= {e["action"] for e in doc["audit_trail"]}
    assert "核实：同批入院" in (folder / "dossier.html").read_text("utf-8") or doc["case"]["notes"] == "核实：同批入院"
    assert verify_dossier(folder).ok


def test_dossier_states_the_null_and_the_legal_explanations_tested(city, tmp_path):
    """发现过程 says what the pattern was compared with and which legal explanations were tested."""
    root, store, truth = city
    found = [f for f in graphkit.scan(store, kinds=["shared_card"]).findings if f.evidence.get("benign_checks")]
    assert found, "shared_card findings carry their benign checks"
    f = found[0]
    write_dossier(store, [f], tmp_path / "d", pdf=False, found_on="2024-07-05")
    html = (tmp_path / "d" / "dossier.html").read_text("utf-8")
    assert "合法情形核查" in html and "比较基准" in html
    for check in f.evidence["benign_checks"]:
        assert check["check"] in html
    md = (tmp_path / "d" / "dossier.md").read_text("utf-8")
    assert "合法情形核查" in md and f.evidence["benign_checks"][0]["check"] in md
