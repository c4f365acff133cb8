"""Dossiers a bureau can sign (#17): drafts for a named reviewer until a recorded sign-off, the legal
basis by kind and level, Chinese-only statutory papers, parties by kind with an annex of persons."""

from __future__ import annotations

import html as htmlmod
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

import graphkit
from graphkit.audit import AuditLog, default_log
from graphkit.detectors import REGISTRY
from graphkit.dossier import LegalBasis, sign_off, verify_dossier, write_dossier
from graphkit.dossier.render import chromium_path
from graphkit.dossier.zh import rmb_upper, zh_date
from graphkit.errors import GraphkitError
from graphkit.roles import PermissionDenied
from graphkit.workbench.cases import CaseStore, export_case

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
LEGAL = Path(graphkit.__file__).parent / "data" / "legal_basis.toml"
ENGLISH = re.compile(r"(?<![A-Za-z0-9_:.\-/])[A-Za-z]{3,}(?![A-Za-z0-9_:\-])")


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """A small demo city, scanned once: one finding of every kind (the highest-scoring)."""
    from graphkit.demo import generate_city
    from loaders import load_bundle

    root = tmp_path_factory.mktemp("review-city")
    generate_city(root / "bundle", patients=3000, months=3)
    load_bundle(root / "bundle", root / "store")
    store = graphkit.open_store(root / "store")
    rep = graphkit.scan(store, kinds=sorted(REGISTRY))  # opt-in kinds too: every kind gets a paper
    best = {}
    for f in rep.findings:
        if f.kind not in best or f.score > best[f.kind].score:
            best[f.kind] = f
    return root, store, rep, best


def paper_text(path: Path) -> str:
    """The visible text of an HTML paper (styles and tags removed)."""
    t = re.sub(r"<style.*?</style>", " ", path.read_text("utf-8"), flags=re.S)
    return re.sub(r"\s+", " ", htmlmod.unescape(re.sub(r"<[^>]+>", " ", t)))


def text_problems(text: str) -> list[str]:
    """What a Chinese-only statutory paper must not hold: <NA>, NaN, None, English words, ISO dates."""
    bad = [w for w in ("<NA>", "NaN", "nan", "None", "NaT") if re.search(rf"(?<![A-Za-z]){re.escape(w)}(?![A-Za-z])", text)]
    bad += sorted(set(ENGLISH.findall(text)))
    bad += re.findall(r"\b\d{4}-\d{2}-\d{2}\b", text)
    return bad


def test_text_check_catches_what_it_should():
    assert text_problems("涉案金额<NA>元，policy 2024-07-05") == ["<NA>", "policy", "2024-07-05"]
    assert text_problems("案件编号：CASE-ce98e6，文件 证据材料/01_结算单据.csv，SHA-256校验值 ab12，pz:f3a1") == []


def test_legal_table_covers_every_kind_with_sources():
    lb = LegalBasis.load()
    assert set(REGISTRY) <= set(lb.data["kinds"]), sorted(set(REGISTRY) - set(lb.data["kinds"]))
    for sec in ("articles", "levels", "referrals", "kinds"):
        for key, row in lb.data[sec].items():
            assert row["source"] in lb.data["sources"] and lb.data["sources"][row["source"]]["title"], (sec, key)
    # 违规 → 第三十八条 1–2×; 骗取 by an institution → 第四十条, by a person → 第四十一条, 2–5×
    assert lb.article("a38")["no"] == "第三十八条" and lb.article("a38")["multiple"] == [1, 2]
    assert lb.article("a40")["multiple"] == [2, 5] and lb.article("a41")["multiple"] == [2, 5]
    p = lb.proposal(["phantom_stay"], 10_000.0)
    assert [(o["level"], [a["no"] for a in o["articles"]], o["amount"]) for o in p["options"]] == [
        ("违规", ["第三十八条"], (10_000.0, 20_000.0)), ("骗取", ["第四十条"], (20_000.0, 50_000.0))]
    assert [o["level"] for o in lb.proposal(["shared_card"], 1.0, level="违规")["options"]] == ["违规"]


def test_a_kind_without_a_row_or_a_row_without_a_source_fails(tmp_path):
    text = LEGAL.read_text("utf-8")
    cut = tmp_path / "no-split.toml"
    start = text.index("[kinds.split_stay]")
    cut.write_text(text[:start] + text[text.index("[kinds.referral_loop]"):], "utf-8")
    with pytest.raises(GraphkitError, match="no row for finding kind 'split_stay'"):
        LegalBasis.load(cut).proposal(["split_stay"], 1.0)
    assert "split_stay" in set(REGISTRY) - set(LegalBasis.load(cut).data["kinds"])
    nosrc = tmp_path / "no-source.toml"
    nosrc.write_text(text.replace('note = "分解住院属第三十八条第（一）项；以骗取为目的的按第四十条第二款处理"\nsource = "tiaoli"',
                                  'note = "x"'), "utf-8")
    with pytest.raises(GraphkitError, match=r"\[kinds.split_stay\] needs a source"):
        LegalBasis.load(nosrc)


@pytest.mark.parametrize("amount,upper", [
    (1_000_000.0, "壹佰万元整"), (10_005.5, "壹万零伍元伍角整"), (0.07, "柒分"), (1_600.05, "壹仟陆佰元零伍分"),
    (100_010_000.0, "壹亿零壹万元整"), (143_354.93, "壹拾肆万叁仟叁佰伍拾肆元玖角叁分"), (10.0, "壹拾元整"),
    (1_000_100.0, "壹佰万零壹佰元整"), (0.0, "零元整"), (-3.2, "负叁元贰角整"),
])
def test_rmb_upper(amount, upper):
    assert rmb_upper(amount) == upper


KINDS = sorted(REGISTRY)


@pytest.mark.parametrize("kind", KINDS)
def test_statutory_papers_are_chinese_only_with_parties_by_kind(city, tmp_path, kind):
    root, store, rep, best = city
    assert kind in best, f"the demo city yields no {kind} finding"
    f = best[kind]
    m = write_dossier(store, [f], tmp_path / "d", parameters=rep.parameters, pdf=False, found_on="2026-12-05",
                      reviewer="赵审核", refer=["police", "discipline"])
    out = tmp_path / "d"
    assert m["draft"] is True and m["reviewer"] == "赵审核"
    papers = sorted((out / "packages").rglob("*.html"))
    assert {p.relative_to(out / "packages").as_posix() for p in papers} >= {
        "00_审核单.html", "police/01_涉嫌犯罪案件移送书.html", "police/02_案件调查报告.html", "police/05_移送案件回执.html",
        "discipline/01_问题线索移送函.html", "discipline/02_涉及人员附表.html"}
    for p in papers:
        text = paper_text(p)
        assert text_problems(text) == [], (p.name, text_problems(text))
        assert "草稿：供审核人赵审核审核" in text and "class='watermark'" in p.read_text("utf-8"), p.name
    for csv in sorted((out / "packages").rglob("*.csv")):
        df = pd.read_csv(csv, dtype=str, keep_default_na=False)
        blob = " ".join(df.columns) + " " + " ".join(df.astype(str).to_numpy().ravel())
        assert text_problems(blob) == [], (csv.name, text_problems(blob)[:5])
    letter = paper_text(out / "packages" / "police" / "01_涉嫌犯罪案件移送书.html")
    assert "2026年12月5日" in letter and "大写：" in letter and "数据显示" in letter
    assert "已达到刑事追诉标准" not in letter and "是否达到刑事追诉标准，由你局依法审查" in letter
    report = paper_text(out / "packages" / "police" / "02_案件调查报告.html")
    assert "核对参保人身份" not in report and "由承办人据实填写" in report
    assert "由审核人依据调查认定的事实决定" in report
    # parties follow the kind; everyone else is in the annex with a role
    doc = json.loads((out / "dossier.json").read_text("utf-8"))
    spec = LegalBasis.load().parties(kind)
    party_ids = {p["编号"] for p in doc["parties"]}
    roles = {s.split(":", 1)[1] for s in spec if s.startswith("role:")}
    expected = {e.id for e in f.entities if e.role in roles}
    if "provider" in spec:
        expected |= set(doc["by_provider"][i]["provider_id"] for i in range(len(doc["by_provider"])))
    assert party_ids == expected
    annex_ids = {p["编号"] for p in doc["persons"]}
    assert annex_ids == {e.id for e in f.entities} - party_ids
    assert all(p["角色"] for p in doc["persons"])  # every person involved carries a role name
    if kind == "collusion_ring":  # the members are persons involved, not parties in the letter
        members = {e.id for e in f.entities if e.role == "member"}
        assert members and members <= annex_ids and not members & party_ids
        assert not any(mid in letter for mid in members)


def _roles(tmp_path, monkeypatch):
    path = tmp_path / "roles.toml"
    path.write_text('default_role = "investigator"\n[roles.investigator]\npermissions = ["export", "clear_data", "audit"]\n'
                    '[roles.reviewer]\npermissions = ["export", "audit", "sign_off"]\n[roles.analyst]\npermissions = ["export"]\n'
                    '[users]\n"赵敏" = "reviewer"\n"李明" = "reviewer"\n"ana" = "analyst"\n', "utf-8")
    monkeypatch.setenv("GRAPHKIT_ROLES", str(path))


def test_sign_off_removes_the_draft_mark(city, tmp_path, monkeypatch):
    root, store, rep, best = city
    _roles(tmp_path, monkeypatch)
    f = best["collusion_ring"]
    cases = CaseStore(tmp_path / "cases.sqlite")
    case = cases.create("同和医院结伴住院", actor="李明", findings=[f], assignee="李明")
    pdf = chromium_path() is not None
    draft = export_case(cases, case.id, store, tmp_path / "draft", actor="李明", pdf=False, reviewer="赵敏")
    folder = draft["html"].parent
    letter = folder / "packages" / "police" / "01_涉嫌犯罪案件移送书.html"
    assert "class='watermark'>草稿" in letter.read_text("utf-8") and "草稿：供审核人赵敏审核" in paper_text(letter)
    assert json.loads((folder / "manifest.json").read_text("utf-8"))["draft"] is True
    # refused: no sign_off permission; the assignee signing their own case; an approval without a level
    with pytest.raises(PermissionDenied):
        sign_off(cases, case.id, reviewer="ana", decision="approve", level="骗取")
    with pytest.raises(GraphkitError, match="assignee"):
        sign_off(cases, case.id, reviewer="李明", decision="approve", level="骗取")
    with pytest.raises(GraphkitError, match="level"):
        sign_off(cases, case.id, reviewer="赵敏", decision="approve", level="可疑")
    rec = sign_off(cases, case.id, reviewer="赵敏", decision="approve", level="骗取", date="2026-12-05", note="证据已核实")
    assert [r["action"] for r in cases.audit(case.id).to_dict("records")][-1] == "sign_off"
    logged = default_log().find("dossier_sign_off", case_id=f"CASE-{case.id:06d}")
    assert [(e["details"]["reviewer"], e["details"]["date"], e["details"]["decision"]) for e in logged] == [("赵敏", "2026-12-05", "approve")]
    signed = export_case(cases, case.id, store, tmp_path / "signed", actor="李明", pdf=False)["html"].parent
    m = json.loads((signed / "manifest.json").read_text("utf-8"))
    assert m["draft"] is False and m["signoff"]["reviewer"] == "赵敏" and m["signoff"]["audit_seq"] == rec["audit_seq"]
    for p in sorted((signed / "packages").rglob("*.html")) + [signed / "dossier.html"]:
        raw, text = p.read_text("utf-8"), paper_text(p)
        assert "class='watermark'" not in raw and "草稿" not in text, p.name
        assert f"已审核：审核人赵敏，{zh_date('2026-12-05')}" in text, p.name
    assert verify_dossier(signed, audit=default_log()).ok
    if pdf:
        pdfium = pytest.importorskip("pypdfium2")
        ARTIFACTS.mkdir(exist_ok=True)
        from graphkit.dossier.render import html_to_pdf

        for name, folder_ in (("draft", folder), ("signed", signed)):
            target = tmp_path / f"{name}.pdf"  # rendered beside the dossier (the folder stays as its manifest says)
            html_to_pdf(folder_ / "packages" / "police" / "01_涉嫌犯罪案件移送书.html", target)
            doc = pdfium.PdfDocument(str(target))
            text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
            assert ("草稿" in text) == (name == "draft") and text_problems(text) == []
            doc[0].render(scale=1.2).to_pil().save(ARTIFACTS / f"dossier-police-letter-{name}.png")
    # the sign-off covers the evidence it saw: an edit after it makes the papers drafts again
    cases.remove_claims(case.id, f.claims[:1], actor="李明")
    again = export_case(cases, case.id, store, tmp_path / "edited", actor="李明", pdf=False)["html"].parent
    assert json.loads((again / "manifest.json").read_text("utf-8"))["draft"] is True


def test_a_sign_off_missing_from_the_audit_log_or_a_return_keeps_the_draft(city, tmp_path, monkeypatch):
    root, store, rep, best = city
    _roles(tmp_path, monkeypatch)
    f = best["phantom_stay"]
    cases = CaseStore(tmp_path / "cases.sqlite")
    case = cases.create("挂床住院", actor="李明", findings=[f], assignee="李明")
    other = AuditLog(tmp_path / "other.jsonl")
    sign_off(cases, case.id, reviewer="赵敏", decision="approve", level="违规", date="2026-12-05", audit=other)
    # the case says signed, but the audit log the export checks has no such record
    d = export_case(cases, case.id, store, tmp_path / "a", actor="李明", pdf=False, refer=["police"])["html"].parent
    assert json.loads((d / "manifest.json").read_text("utf-8"))["draft"] is True
    d = export_case(cases, case.id, store, tmp_path / "b", actor="李明", pdf=False, refer=["police"], audit=other)["html"].parent
    assert json.loads((d / "manifest.json").read_text("utf-8"))["draft"] is False
    assert "认定层级：违规" in paper_text(d / "packages" / "police" / "02_案件调查报告.html")
    sign_off(cases, case.id, reviewer="赵敏", decision="return", level="可疑", date="2026-12-06", audit=other)
    d = export_case(cases, case.id, store, tmp_path / "c", actor="李明", pdf=False, refer=["police"], audit=other)["html"].parent
    text = paper_text(d / "packages" / "police" / "01_涉嫌犯罪案件移送书.html")
    assert "退回补充调查" in text and "2026年12月6日" in text and "草稿" in text


@pytest.mark.skipif(chromium_path() is None, reason="Chromium is not installed: PDF not rendered (CI installs it)")
def test_police_and_discipline_pdfs_read_in_chinese(city, tmp_path):
    """The rendered PDFs (one kind, to keep the machine free): text has no <NA>/NaN/English; pages kept as artifacts."""
    pdfium = pytest.importorskip("pypdfium2")
    root, store, rep, best = city
    f = best["referral_concentration"]
    write_dossier(store, [f], tmp_path / "d", parameters=rep.parameters, found_on="2026-12-05", reviewer="赵审核",
                  refer=["police", "discipline"])
    ARTIFACTS.mkdir(exist_ok=True)
    for pdf in sorted((tmp_path / "d" / "packages").rglob("*.pdf")):
        doc = pdfium.PdfDocument(str(pdf))
        text = "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
        assert text_problems(text) == [], (pdf.name, text_problems(text))
        assert "草稿" in text
        if pdf.name.startswith("01_"):
            doc[0].render(scale=1.2).to_pil().save(ARTIFACTS / f"dossier-{pdf.parent.name}-{pdf.stem}.png")
    main = pdfium.PdfDocument(str(tmp_path / "d" / "dossier.pdf"))
    for i in range(len(main)):
        main[i].render(scale=1.0).to_pil().save(ARTIFACTS / f"dossier-main-page{i + 1}.png")
    shutil.rmtree(tmp_path / "d")


def _headings(html_path: Path) -> set[str]:
    """The visible text of the headings (h1–h4) of an HTML paper."""
    raw = html_path.read_text("utf-8") if html_path.is_file() else ""
    return {re.sub(r"\s+", " ", htmlmod.unescape(re.sub(r"<[^>]+>", "", m))).strip()
            for m in re.findall(r"<h[1-4][^>]*>(.*?)</h[1-4]>", raw, flags=re.S)} - {""}


def layout_problems(pdf_path: Path, headings: set[str]) -> list[str]:
    """Pages of a rendered PDF checked as paper: every page but the last filled at least halfway
    (the lowest ink below the middle of the page; the light 草稿 watermark is not ink), and no
    heading as the last line of a page (a heading stranded at the foot, its content overleaf)."""
    import numpy as np
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(pdf_path))
    out = []
    n = len(doc)
    for i in range(n):
        page = doc[i]
        img = np.asarray(page.render(scale=0.5, grayscale=True).to_pil().convert("L"))
        ink = np.flatnonzero((img < 160).any(axis=1))
        if i < n - 1 and (not ink.size or ink.max() < img.shape[0] / 2):
            out.append(f"{pdf_path.name} page {i + 1}/{n} more than half empty")
        tp = page.get_textpage()
        chars = [(tp.get_charbox(k), tp.get_text_range(k, 1)) for k in range(tp.count_chars())]
        chars = [(box, ch) for box, ch in chars if ch.strip()]
        if i < n - 1 and chars:
            # the last line: the characters whose boxes overlap, vertically, the lowest character's
            (_, low_b, _, low_t), _ = min(chars, key=lambda c: c[0][1])
            line = [c for c in chars if c[0][1] < low_t and c[0][3] > low_b]
            last = "".join(ch for _, ch in sorted(line, key=lambda c: c[0][0]))
            if any(h.replace(" ", "") == last.replace(" ", "") for h in headings):
                out.append(f"{pdf_path.name} page {i + 1}/{n} ends with the heading {last!r}")
    return out


def test_every_kinds_papers_are_laid_out_for_paper(city, tmp_path):
    """For every kind: the dossier and its police and discipline packages, rendered and checked as pages."""
    pytest.importorskip("pypdfium2")
    if chromium_path() is None:
        pytest.skip("no Chromium: PDFs are not rendered")
    root, store, rep, best = city
    problems = []
    for kind, f in sorted(best.items()):
        out = tmp_path / kind
        write_dossier(store, [f], out, parameters=rep.parameters.get(kind), found_on="2026-12-05", reviewer="赵审核",
                      refer=["police", "discipline"])
        pdfs = sorted(out.rglob("*.pdf"))
        assert any(p.name == "dossier.pdf" for p in pdfs) and len(pdfs) > 3, (kind, pdfs)
        for pdf in pdfs:
            problems += [f"{kind}: {p}" for p in layout_problems(pdf, _headings(pdf.with_suffix(".html")))]
        shutil.rmtree(out)
    assert problems == []


def test_layout_check_catches_a_half_empty_page_and_a_stranded_heading(tmp_path):
    pytest.importorskip("pypdfium2")
    if chromium_path() is None:
        pytest.skip("no Chromium: PDFs are not rendered")
    from graphkit.dossier.render import html_to_pdf

    body = ("<p>第一页只有一行 / one line on page one</p><div style='break-before:page'>第二页 / page two</div>"
            "<div style='height:215mm'></div><p>" + "正文。" * 40 + "</p>"
            "<h2 style='break-after:auto;page-break-after:auto'>三、处理意见</h2>"
            "<div style='break-before:page'>第四页 / page four</div>")
    (tmp_path / "bad.html").write_text(f"<html><meta charset='utf-8'><body>{body}</body></html>", "utf-8")
    html_to_pdf(tmp_path / "bad.html", tmp_path / "bad.pdf")
    problems = layout_problems(tmp_path / "bad.pdf", {"三、处理意见"})
    assert any("page 1/" in p and "half empty" in p for p in problems), problems
    assert any("ends with the heading '三、处理意见'" in p for p in problems), problems
