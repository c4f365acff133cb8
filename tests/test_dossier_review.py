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
    # each fact with its source: the lead's number and its claims in the evidence file
    short = f.id.split(":", 1)[-1]
    assert f"（来源：线索{short}，结算{len(f.claims)}笔，见证据材料/01_医保结算单据.csv中线索编号为{short}的记录）" in report
    claims_csv = pd.read_csv(out / "packages" / "police" / "证据材料" / "01_医保结算单据.csv", dtype=str, keep_default_na=False)
    assert set(claims_csv["线索编号"]) == {short} and len(claims_csv) == len(set(f.claims))
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



def _paper_regions(pdf_path: Path) -> dict[tuple, list[tuple[str, float, float, float, float]]]:
    """The characters of a rendered PDF (``(char, left, bottom, right, top)``, in drawing order), by
    region: ``("cell", page, box)`` for each table cell, ``("body", page, None)`` for the rest.

    Cells are found from the drawn borders: the thin vertical segments of one row band (same top and
    bottom), three or more of them (a framed box such as the banner is not a table). The 草稿
    watermark (characters taller than 40pt) is left out."""
    import bisect

    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    doc = pdfium.PdfDocument(str(pdf_path))
    regions: dict[tuple, list[tuple[str, float, float, float, float]]] = {}
    for i in range(len(doc)):
        page = doc[i]
        bands: dict[tuple[float, float], list[float]] = {}
        for o in page.get_objects(max_depth=5):
            if o.type == pdfium_c.FPDF_PAGEOBJ_PATH:
                l, b, r, t = o.get_bounds()
                if r - l < 1.2 and t - b > 6:
                    bands.setdefault((round(b * 2) / 2, round(t * 2) / 2), []).append((l + r) / 2)
        rows = []  # (bottom, top, column borders)
        for (b, t), xs in bands.items():
            xs = sorted(xs)
            xs = [x for k, x in enumerate(xs) if k == 0 or x - xs[k - 1] > 1]
            if len(xs) >= 3:
                rows.append((b, t, xs))
        rows.sort()
        bottoms = [r[0] for r in rows]
        tp = page.get_textpage()
        n = tp.count_chars()
        text = tp.get_text_range(0, n)
        for k in range(n):
            ch = text[k] if len(text) == n else tp.get_text_range(k, 1)
            if not ch.strip():
                continue
            l, b, r, t = tp.get_charbox(k)
            if t - b > 40:  # the watermark
                continue
            cx, cy = (l + r) / 2, (b + t) / 2
            key: tuple = ("body", i, None)
            for rb, rt, xs in rows[max(bisect.bisect_right(bottoms, cy) - 3, 0):bisect.bisect_right(bottoms, cy)]:
                j = bisect.bisect_right(xs, cx)
                if rb <= cy <= rt and 0 < j < len(xs):
                    key = ("cell", i, (xs[j - 1], rb, xs[j], rt))
            regions.setdefault(key, []).append((ch, l, b, r, t))
    return regions


def _lines(chars: list[tuple[str, float, float, float, float]]) -> list[list[tuple[str, float, float, float, float]]]:
    """Characters in drawing order split into printed lines: a new line where the text goes back
    left or drops wholly below the previous character."""
    lines: list[list[tuple[str, float, float, float, float]]] = []
    for c in chars:
        if not lines or c[1] < lines[-1][-1][1] - 0.5 or c[4] < lines[-1][-1][2]:
            lines.append([])
        lines[-1].append(c)
    return lines


#: sentences a paper may repeat, each with the reason (none yet: add one only with a reason)
BOILERPLATE: dict[str, str] = {}
SENTENCE_END = re.compile(r"[。！？；\n]")


def repeated_sentences(pdf_path: Path, *, min_chars: int = 12, allowed: dict[str, str] = BOILERPLATE,
                       regions: dict[tuple, list] | None = None) -> list[str]:
    """Each fact stated once: sentences (split on 。！？； and hard line breaks; lines wrapped at the
    right edge are joined again) of at least ``min_chars`` characters that a rendered paper states
    more than once. Table cells are data and repeat legitimately (a date, a place, a role, the
    header row on every page) — except prose in a cell (a clause with "，", 20 characters or more,
    such as an article's gist or a penalty range), which counts like body text. No page headers or
    footers are printed; the watermark is left out; ``allowed`` sentences (with their reason) pass.
    ``regions``: :func:`_paper_regions` of the PDF when already read."""
    regions = regions if regions is not None else _paper_regions(pdf_path)
    body_right = max((c[3] for k, cs in regions.items() if k[0] == "body" for c in cs), default=0.0)
    seen: dict[str, int] = {}
    for key, chars in regions.items():
        right = key[2][2] - 4 if key[0] == "cell" else body_right
        text = ""
        for line in _lines(chars):
            text += "".join(c[0] for c in line)
            if max(c[3] for c in line) < right - 1.5 * max(c[4] - c[2] for c in line):
                text += "\n"  # ends short of the right edge: a hard break, not a wrap
        for s in SENTENCE_END.split(text):
            if len(s) >= min_chars and s not in allowed and (key[0] == "body" or ("，" in s and len(s) >= 20)):
                seen[s] = seen.get(s, 0) + 1
    return [f"{pdf_path.name}: stated {n} times: {s}" for s, n in seen.items() if n > 1]


def narrow_columns(pdf_path: Path, regions: dict[tuple, list] | None = None) -> list[str]:
    """Table columns too narrow for their content, measured on the rendered PDF: a cell whose text
    runs over two or more lines with two characters or fewer per line on average (a four-character
    role broken 3 + 1, a word set one character per line)."""
    out = []
    for key, chars in (regions if regions is not None else _paper_regions(pdf_path)).items():
        if key[0] == "cell":
            lines = _lines(chars)
            if len(lines) >= 2 and len(chars) <= 2 * len(lines):
                out.append(f"{pdf_path.name} page {key[1] + 1}: column {key[2][2] - key[2][0]:.0f}pt wide wraps "
                           + "|".join("".join(c[0] for c in line) for line in lines))
    return out


def test_every_kinds_papers_are_laid_out_for_paper(city, tmp_path):
    """For every kind: the dossier and its police and discipline packages, rendered and checked as pages:
    layout, each fact stated once, no column wrapping its content a character or two per line."""
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
            regions = _paper_regions(pdf)
            problems += [f"{kind}: {p}" for p in repeated_sentences(pdf, regions=regions) + narrow_columns(pdf, regions)]
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


def test_fact_and_column_checks_catch_a_repeated_sentence_and_a_squeezed_column(tmp_path):
    """A paper that states a sentence twice and squeezes a role column; the same rows through
    ``table_html`` (columns sized to content) and legitimately repeated cells pass."""
    pytest.importorskip("pypdfium2")
    if chromium_path() is None:
        pytest.skip("no Chromium: PDFs are not rendered")
    from graphkit.dossier.render import CSS, html_to_pdf, table_html

    fact = "数据显示参保人PT1于2024年2月25日死亡后仍发生7笔结算。"
    note = "结算12笔，基金支付3,456.00元；法定代表人、主要负责人须经调查核实后填写"
    rows = pd.DataFrame({"角色": ["结算机构", "转诊医师"], "时间": ["2024年2月25日22:19"] * 2, "说明": [note + "，甲", note + "，乙"]})
    squeezed = ("<table><thead><tr><th>角</th><th>说明</th></tr></thead><tbody>"
                + "".join(f"<tr><td style='width:1em'>{r}</td><td>{'甲乙丙丁戊己庚辛壬癸' * 9}</td></tr>" for r in rows["角色"])
                + "</tbody></table>")
    body = (f"<p>{fact}</p>{squeezed}<h2>三、数据显示的问题</h2><p>{fact}</p>"
            f"<p>详见上文。</p>{table_html(rows, zh=True)}")
    (tmp_path / "bad.html").write_text(f"<html><meta charset='utf-8'><style>{CSS}</style><body>{body}</body></html>", "utf-8")
    html_to_pdf(tmp_path / "bad.html", tmp_path / "bad.pdf")
    assert repeated_sentences(tmp_path / "bad.pdf") == [f"bad.pdf: stated 2 times: {fact[:-1]}"]
    narrow = narrow_columns(tmp_path / "bad.pdf")
    assert len(narrow) == 2 and all(p.startswith("bad.pdf page 1: column") for p in narrow), narrow
    assert {p.rsplit(" ", 1)[1] for p in narrow} == {"结|算|机|构", "转|诊|医|师"}, narrow
    assert repeated_sentences(tmp_path / "bad.pdf", allowed={fact[:-1]: "example"}) == []
