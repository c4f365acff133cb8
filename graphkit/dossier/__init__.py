"""Case dossiers for the police (公安) and discipline inspection (纪检监察).

``write_dossier`` assembles a case from one or more findings and writes a self-contained
HTML file, a PDF (Chinese typesetting by headless Chromium), evidence CSVs, a JSON copy, the
statutory transfer packages the routing calls for, and ``manifest.json`` with the SHA-256 of
every file, the data fingerprint, the detector parameters and the software version.
The manifest is signed (``manifest.sig``, :mod:`graphkit.dossier.seal`) by the audit log's
signer — the guard's key, or a single-user install's local key. ``verify_dossier`` detects any
changed, missing or added file, a manifest that does not match its signature by the trusted
key, and (given the log) an export missing from the signed audit log. Exports are recorded in
the append-only audit log (who, when, what, which redaction profile, manifest hash, key id).

Examples
--------
>>> from graphkit.dossier import verify_dossier
>>> verify_dossier("/nonexistent").ok
False
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import pandas as pd

from .._failpoints import failpoint
from ..audit import AuditLog, require_intact
from ..errors import GraphkitError
from ..findings import Finding
from ..outputs import claim_output_dir, md_escape, write_csv
from .build import SOFTWARE_VERSION, DossierContent, assemble, holds_clear_values
from ..guard.auditlog import active_log
from ..guard.exports import tokens_in as _tokens_in
from .redact import ClearSource, profile_reveals
from .legal import LegalBasis
from .render import esc, graph_svg, html_to_pdf, page, table_html, timeline_svg
from .review import proposal_html, review_banner
from .rule_facts import rule_facts_html
from .rulebook import Rulebook
from .seal import SIGNATURE, check_signature, local_key_note, read_signature, signature_document, trusted_verifier
from .signoff import DECISIONS, sign_off
from .statutory import discipline_package, evidence_csvs, police_package, review_sheet
from .zh import zh_date

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["write_dossier", "verify_dossier", "draft_dossier", "Rulebook", "LegalBasis", "ClearSource", "DossierVerification",
           "handling", "sign_off"]

MANIFEST = "manifest.json"


def handling(amount: float, *, public_staff: bool, found_on: str, kinds: Sequence[str] = ("collusion_ring",),
             rulebook: Rulebook | None = None) -> dict[str, Any]:
    """Proposed handling for an amount under the (default) rulebook (see :class:`Rulebook`)."""
    return (rulebook or Rulebook.load()).handling(amount, kinds=kinds, public_staff=public_staff, found_on=found_on)


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _prov(ref: str) -> str:
    return f"<sup class='prov'><a href='#{ref}'>[{ref}]</a></sup>"


OUTCOME_ZH = {"ruled_out": "已排除 ruled out", "partial": "部分解释 partly explains", "explains": "可解释 explains",
              "not_testable": "数据不足无法检验 not testable"}


def checks_frame(findings: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The legal explanations each finding was tested against (``evidence.benign_checks``), one row
    per check: ref, 中文/English check, outcome, detail, score factor.

    >>> checks_frame([{"provenance": "P1", "evidence": {"benign_checks": [{"check": "care_home", "zh": "养老机构",
    ...     "outcome": "ruled_out", "detail": "no care home", "factor": 1.0}]}}])["outcome"].tolist()
    ['已排除 ruled out']
    """
    rows = [{"ref": f["provenance"], "check": f"{b.get('zh', '')} {b['check']}".strip(),
             "outcome": OUTCOME_ZH.get(b["outcome"], b["outcome"]), "detail": b.get("detail", ""), "factor": b.get("factor", 1.0)}
            for f in findings for b in (f.get("evidence") or {}).get("benign_checks", [])]
    return pd.DataFrame(rows, columns=["ref", "check", "outcome", "detail", "factor"])


def _nulls(findings: Sequence[dict[str, Any]]) -> str:
    out = []
    for f in findings:
        n = (f.get("evidence") or {}).get("null")
        if isinstance(n, dict) and n.get("method"):
            rest = {k: v for k, v in n.items() if k != "method" and not isinstance(v, (dict, list))}
            out.append(f"<p class='meta'>[{esc(f['provenance'])}] 比较基准 / compared with: {esc(n['method'])}"
                       + (f" — {esc(json.dumps(rest, ensure_ascii=False))}" if rest else "") + "</p>")
    return "".join(out)


def _verify_html(c: DossierContent, *, bilingual: bool) -> str:
    """待核实事项: what a person must verify before signing (the sign-off record once signed)."""
    head = "待核实事项 / To verify before signing" if bilingual else "待核实事项"
    rows = pd.DataFrame([{"no": i, **v} for i, v in enumerate(c.verify, 1)])
    s = c.signoff
    rec = ""
    if s:
        rec = (f"<p>审核记录：审核人{esc(s['reviewer'])}，{zh_date(s['date'])}，审核意见：{esc(DECISIONS[s['decision']])}"
               f"（认定层级：{esc(s['level'])}）{('，' + esc(s['note'])) if s.get('note') else ''}。</p>")
    intro = ("<p>本材料由数据分析生成，以下事项须由承办人核实、审核人确认后方可签发：</p>" if c.draft else
             "<p>以下事项已由承办人核实、审核人确认：</p>")
    return (f"<h2>{head}</h2>{intro}"
            + table_html(rows, {"no": "序号", "事项": "事项", "来源": "来源"}, zh=not bilingual, nowrap=("no",)) + rec)


def _main_html(c: DossierContent) -> str:
    t, h = c.totals, c.handling
    refs = "".join(_prov(p["ref"]) for p in c.provenance)
    findings_rows = pd.DataFrame([{"ref": f["provenance"], "id": f["id"], "kind": f"{f['kind_zh']} {f['kind']}", "score": f["score"],
                                   "amount": f["amount_at_risk"], "claims": len(f["claims"])} for f in c.findings])
    claims_headers = {"claim_id": "结算单号", "start_time": "时间", "patient_id": "参保人", "card_id": "医保卡", "claim_type": "类型",
                      "provider_id": "机构/药店", "doctor_id": "医师", "diagnosis_code": "诊断", "fund_amount": "基金支付", "total_amount": "总费用", "provenance": "来源"}
    party_headers = {"类别": "类别 type", "编号": "编号 id", "名称": "姓名/名称 name", "角色": "角色 role", "说明": "说明 detail"}
    audit = pd.DataFrame(c.audit_trail) if c.audit_trail else pd.DataFrame()
    checks = checks_frame(c.findings)
    body = f"""
<h1>{esc(c.case['title'])}<br>案件材料 / Case dossier</h1>
<p class='meta'>案件编号 case {esc(c.case['id'])} · 状态 status {esc(c.case.get('status', 'new'))} · 承办人 assignee {esc(c.case.get('assignee', ''))} ·
审核人 reviewer {esc(c.reviewer or '（未指定）')} · 生成 generated {esc(c.generated_at)} by {esc(c.actor)} · 脱敏方案 redaction profile: {esc(c.profile)} · {esc(SOFTWARE_VERSION)}</p>
<h2>一、案件概要 / Summary</h2>
<div class='box'>数据显示 / the data shows：涉及医保基金 fund <b>{t['fund_amount']:,.2f} 元</b>（总费用 total {t['total_amount']:,.2f} 元），
结算 {t['claims']} 笔 claims，参保人 {t['patients']} 名 people，机构/药店 {t['providers']} 家 providers，期间 period {t['period'][0]} — {t['period'][1]}{refs}。
以上为数据统计，不是调查认定的事实 / figures from the data, not facts established by investigation.</div>
{_verify_html(c, bilingual=True)}
<h2>二、发现过程 / How it was found</h2>
<p>由基金监管数据分析工具 graphkit 对医保结算数据快照（数据指纹 data fingerprint <code>{esc(c.data_fingerprint)}</code>）运行以下检测器发现，
每条结论的来源见下表（检测器、参数、数据指纹、软件版本）。/ Found by the detectors below on the data snapshot above; every statement links to its source.</p>
{table_html(findings_rows, {'ref': '来源 ref', 'id': '线索 finding', 'kind': '类型 kind', 'score': '评分', 'amount': '基金(元)', 'claims': '笔数'}, nowrap=('ref',))}
<h3>比较基准与合法情形核查 / What it was compared with, legal explanations tested</h3>
<p>评分来自与本数据自身背景的比较；下列合法情形已按数据逐一检验（“数据不足”表示数据不能回答，未作推测）。/ Each score compares the
pattern with this data's own background; the legal explanations below were tested against the data ("not testable": the data cannot tell, nothing was assumed).</p>
{_nulls(c.findings)}
{table_html(checks, {'ref': '来源 ref', 'check': '合法情形 explanation', 'outcome': '结论 outcome', 'detail': '依据 detail', 'factor': '评分系数 factor'}, nowrap=('ref',)) if len(checks) else "<p class='meta'>（该线索未记录合法情形核查 / no checks recorded for these findings）</p>"}
<h3 id='provenance'>来源 / Provenance</h3>
{''.join(f"<p id='{esc(p['ref'])}' class='meta'>[{esc(p['ref'])}] {esc(p['finding_id'])} · detector {esc(p['detector'])} · parameters {esc(json.dumps(p['parameters'], ensure_ascii=False))} · data {esc(p['data_fingerprint'][:16])}… · {esc(p['software_version'])} · {esc(p['generated_at'])}</p>" for p in c.provenance)}
<h2>三、数据显示的问题 / What the data shows</h2>
<p>以下为数据分析结果（疑似问题），须经调查核实方能认定为违法违规事实。/ Data findings (suspected), to be established by investigation.</p>
{''.join(f"<p>数据显示：{esc(f['summary'])}{_prov(f['provenance'])}</p>" for f in c.findings)}
{rule_facts_html(c.rules, bilingual=True)}
<div class='keep'><h3>按月份 / by month</h3>{table_html(c.by_month, {'month': '月份 month', 'claims': '笔数 claims', 'fund': '基金 fund', 'total': '总费用 total'}, nowrap=('month',))}</div>
<div class='keep'><h3>按机构 / by provider</h3>{table_html(c.by_entity, {'provider_type': '类型', 'provider_id': '编号', 'name': '名称', 'claims': '笔数', 'fund': '基金'}, nowrap=('provider_id',))}</div>
<div class='keep'><h3>关系图 / Evidence graph</h3>{graph_svg(c.graph)}</div>
<div class='keep'><h3>时间线 / Timeline</h3>{timeline_svg(c.timeline)}</div>
<h3>结算明细 / Claims</h3>{table_html(c.claims, claims_headers, limit=300, nowrap=('claim_id', 'start_time', 'provenance'))}
<h2>四、涉案主体 / Parties</h2>
<p>依线索类型确定的被反映人（涉案主体）/ parties, by the kind of pattern:</p>
{table_html(c.parties, party_headers) if len(c.parties) else "<p>数据未能确定被反映人，须调查查明 / no party can be named from the data.</p>"}
<h3>附表：涉及人员及其角色 / Annex: persons involved and their roles</h3>{table_html(c.persons, party_headers)}
<h2>五、处理意见（建议）及依据 / Proposed handling and basis</h2>
{proposal_html(c, bilingual=True)}
<h2>六、附件 / Attachments</h2>{table_html(pd.DataFrame(c.attachments), {'file': '文件 file', 'what': '内容 content'})}
<h2>七、案件处理记录 / Case audit trail</h2>{table_html(audit) if len(audit) else "<p class='meta'>（本材料直接由线索生成，尚无案件处理记录 / generated from findings; no case history yet）</p>"}
<p class='meta'>个人信息按“{esc(c.profile)}”方案处理：{esc(json.dumps(c.redaction['rules'], ensure_ascii=False))}；默认假名化。/ Personal data per profile; pseudonymised by default.</p>
"""
    return page(f"{c.case['title']} — {c.case['id']}", body, banner=review_banner(c), draft=c.draft)


def _markdown(c: DossierContent) -> str:
    """dossier.md; every value that comes from data, findings or the case is escaped (:func:`md_escape`),
    so a name or note cannot add HTML, links or Markdown structure."""
    t, h, e = c.totals, c.handling, md_escape
    from .review import review_banner as banner

    lines = [f"# {'【草稿】' if c.draft else ''}{e(c.case['title'])} — 案件材料 / Case dossier ({e(c.case['id'])})", "",
             f"> {e(banner(c))}", "",
             f"- 数据显示 / the data shows: {t['fund_amount']:,.2f} 元, {t['claims']} 笔, {t['patients']} 人, {e(t['period'][0])} — {e(t['period'][1])}",
             f"- 数据指纹 / data fingerprint: {e(c.data_fingerprint)}", f"- 生成 / generated: {e(c.generated_at)} by {e(c.actor)}", "",
             "## 待核实事项 / To verify before signing"]
    lines += [f"{i}. {e(v['事项'])}（{e(v['来源'])}）" for i, v in enumerate(c.verify, 1)]
    lines += ["", "## 发现过程 / How it was found"]
    lines += [f"- \\[{e(p['ref'])}\\] {e(p['finding_id'])} detector {e(p['detector'])} parameters "
              f"{e(json.dumps(p['parameters'], ensure_ascii=False))}" for p in c.provenance]
    lines += ["", "### 合法情形核查 / Legal explanations tested"]
    lines += [f"- \\[{e(r.ref)}\\] {e(r.check)}: {e(r.outcome)} — {e(r.detail)}" for r in checks_frame(c.findings).itertuples(index=False)]
    lines += ["", "## 数据显示的问题 / What the data shows"] + [f"- 数据显示：{e(f['summary'])} \\[{e(f['provenance'])}\\]" for f in c.findings]
    for r in c.rules:
        lines += [f"- \\[{e(r['provenance'])}\\] 规则 rule {e(r['rule_id'])} {e(r['rule_name'])}（{e(r['level'])}）"
                  f"违规金额 deduct {float(r['deduct_amount'] or 0):,.2f} 元:"]
        lines += [f"  - {e(x['claim_id'])} {e(x['date'])} {e(x['item_code'])} {e(x['item_name'])} × {e(x['quantity'])} @ "
                  f"{e(x['unit_price'])} = {e(x['amount'])}，违规金额 {e(x['deduct'])}" for x in r["lines"]]
    lines += ["", "## 处理意见（建议）/ Proposed handling", f"- 认定层级 / level: {e(c.legal['level'])}"]
    for o in c.legal["options"]:
        rng = f"{o['multiple'][0]}–{o['multiple'][1]}× = {o['amount'][0]:,.2f}–{o['amount'][1]:,.2f} 元" if o["multiple"] else "见条文"
        lines.append(f"- {e(o['level'])}: " + "、".join(e(a["no"]) for a in o["articles"]) + f"; {rng}")
    for r in c.legal.get("rules", []):
        lines.append(f"- 规则 {e(r['rule_id'])} 依据 basis: {e(r['basis'])}；{e(r['level'])}：{e(r['handling'])}；"
                     f"违规金额 {float(r['deduct_amount'] or 0):,.2f} 元")
    lines.append("- 以上为建议幅度，由审核人决定 / a proposal: the reviewer decides")
    lines += [f"- 移送 refer to {e(r['to'])} ({e(r['to_en'])}): {e(r['why'])}" for r in h["routes"]]
    if h["report_upward"]:
        lines.append(f"- 报告{e(h['report_to'])}，期限 deadline {e(h['report_deadline'])}")
    lines.append("")
    return "\n".join(lines)


def write_dossier(
    store: Store,
    findings: Sequence[Finding],
    out_dir: str | Path,
    *,
    case: dict[str, Any] | None = None,
    parameters: dict[str, dict[str, Any]] | None = None,
    rulebook: Rulebook | str | Path | None = None,
    profile: str = "internal",
    clear_source: ClearSource | None = None,
    pdf: bool = True,
    audit: AuditLog | None = None,
    actor: str | None = None,
    found_on: str | None = None,
    legal_basis: LegalBasis | str | Path | None = None,
    reviewer: str | None = None,
    refer: Sequence[str] = (),
    signer: Any = None,
) -> dict[str, Any]:
    """Write a complete dossier folder; return its manifest (see module docstring).

    Every paper is a draft (草稿 watermark, the reviewer's name, 待核实事项) unless the case carries a
    reviewer's approving sign-off (:func:`sign_off`) that the audit log confirms and that covers
    exactly these findings, claims and entities. ``signer`` signs the manifest where no guard runs
    (default: the audit log's signer; none on an unsigned log); with a guard, the guard signs it
    with its key."""
    from ..guard.exports import ExportGate
    from ..identity import actor_label

    rb = rulebook if isinstance(rulebook, Rulebook) else Rulebook.load(rulebook)
    lb = legal_basis if isinstance(legal_basis, LegalBasis) else LegalBasis.load(legal_basis)
    gate = ExportGate(audit)  # the guard (always for clear data) or the local log; the OS account acts
    log = gate.log if gate.log is not None else (audit or active_log())  # where sign-offs are looked up
    try:
        # a store loaded with --keep-personal holds clear values: a profile that shows any (clear or
        # masked) is a clear export, with the same role check and record as one through the guard
        shows_clear = clear_source is not None or (holds_clear_values(store) and profile_reveals(rb.profile(profile)))
        gate.check(clear=shows_clear)
        who = actor_label(gate.account, actor or gate.display)  # ``actor`` is a display name only
        opts = dict(legal=lb, reviewer=reviewer, audit=log, refer=refer)
        if clear_source is not None:  # the guard releases only the values this dossier shows, recorded first
            probe = assemble(store, findings, case=case, parameters=parameters, rulebook=rb, profile=profile,
                             found_on=found_on, actor=who, **opts)
            wanted = _tokens_in(probe.entities, probe.claims, probe.items, probe.timeline)
            clear_source = ClearSource(clear_source.bundle, gate.reveal(clear_source.bundle, wanted, case_id=probe.case["id"],
                                                                       profile=profile))
        c = assemble(store, findings, case=case, parameters=parameters, rulebook=rb, profile=profile,
                     clear_source=clear_source, found_on=found_on, actor=who, **opts)
        return _write_and_record(c, out_dir, rb, pdf, gate, actor, signer)
    finally:
        gate.close()


def _write_and_record(c: DossierContent, out_dir: str | Path, rb: Rulebook, pdf: bool, gate: Any, display: str | None,
                      signer: Any = None) -> dict[str, Any]:
    """Build the dossier aside, have it recorded (and signed), then swap it in."""
    final = claim_output_dir(out_dir, "dossier")  # never replace what is not an earlier dossier
    final.parent.mkdir(parents=True, exist_ok=True)
    out = final.parent / f".{final.name}.partial-{os.getpid()}"  # built aside, swapped in when complete
    shutil.rmtree(out, ignore_errors=True)
    try:
        manifest, routes = _write_files(c, out, rb, pdf)
        failpoint("dossier_files_written")  # crash tests: clear values on disk, export not yet recorded
        extra = {"display": display} if display else {}
        sgn = None if gate.guarded else (signer if signer is not None else gate.log.signer())
        rec = gate.record((out / MANIFEST).read_text("utf-8"), signer=sgn, case_id=c.case["id"], findings=manifest["findings"],
                          out=str(final.resolve()), profile=c.profile, clear_data=c.redaction["revealed"],
                          clear_source=c.redaction["clear_source"], routes=sorted(routes), draft=c.draft, reviewer=c.reviewer,
                          signoff_seq=(c.signoff or {}).get("audit_seq"), **extra)  # before release
        if rec.get("signature_document"):
            (out / SIGNATURE).write_text(json.dumps(rec["signature_document"], ensure_ascii=False, indent=1), "utf-8")
        claim_output_dir(final, "dossier")  # still ours (or empty) at the moment of the swap
        old = final.parent / f".{final.name}.old-{os.getpid()}"
        if final.exists():
            final.rename(old)
        out.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return {**manifest, "manifest_sha256": rec["manifest_sha256"], "signed_by": rec.get("key_id"), "path": str(final)}


def _write_files(c: DossierContent, out: Path, rb: Rulebook, pdf: bool) -> tuple[dict[str, Any], set[str]]:
    """Write every file of the dossier into ``out`` (a fresh folder); return the manifest and routes."""
    (out / "evidence").mkdir(parents=True)
    ev = out / "evidence"
    write_csv(c.claims, ev / "claims.csv")  # formula-like cells neutralised (CSV injection)
    write_csv(c.items, ev / "items.csv")
    write_csv(c.entities, ev / "entities.csv")
    write_csv(c.timeline, ev / "timeline.csv")
    evidence_files = [
        {"no": "1", "name": "医保结算单据 claims", "file": "evidence/claims.csv", "proves": "结算时间、地点、金额、医保凭证"},
        {"no": "2", "name": "费用明细 items", "file": "evidence/items.csv", "proves": "收费项目与金额"},
        {"no": "3", "name": "涉案主体 entities", "file": "evidence/entities.csv", "proves": "涉案人员、机构及其角色"},
        {"no": "4", "name": "时间线 timeline", "file": "evidence/timeline.csv", "proves": "就医、购药的时间顺序"},
    ]
    for e in evidence_files:
        e["sha256"] = _sha256(out / e["file"])
    c.attachments = [{"file": e["file"], "what": e["name"]} for e in evidence_files]
    routes = {r["to_en"] for r in c.handling["routes"]}
    packages: dict[str, dict[str, str]] = {}
    for pkg, route, build in (("police", "police", police_package), ("discipline", "discipline inspection", discipline_package)):
        if route in routes:
            # the recipient's evidence: Chinese headers and values, in the package's own folder
            pkg_ev = evidence_csvs(c, out / "packages" / pkg / "证据材料")
            for e in pkg_ev:
                e["sha256"] = _sha256(out / "packages" / pkg / e["file"])
            packages[pkg] = build(c, pkg_ev)
            c.attachments += [{"file": f"packages/{pkg}/{e['file']}", "what": e["name"]} for e in pkg_ev]
    for pkg, docs in packages.items():
        c.attachments += [{"file": f"packages/{pkg}/{name}", "what": name.split("_", 1)[1].rsplit(".", 1)[0]} for name in docs]
    if packages:
        packages[""] = {"00_审核单.html": review_sheet(c)}
        c.attachments.append({"file": "packages/00_审核单.html", "what": "审核单（待核实事项与审核记录）"})
    (out / "dossier.html").write_text(_main_html(c), "utf-8")
    (out / "dossier.md").write_text(_markdown(c), "utf-8")
    for pkg, docs in packages.items():
        (out / "packages" / pkg).mkdir(parents=True, exist_ok=True)
        for name, text in docs.items():
            (out / "packages" / pkg / name).write_text(text, "utf-8")
    content = {
        "schema": "graphkit.dossier/v1", "case": c.case, "findings": c.findings, "provenance": c.provenance, "totals": c.totals,
        "handling": c.handling, "entities": c.entities.to_dict("records"), "by_month": c.by_month.to_dict("records"),
        "by_provider": c.by_entity.to_dict("records"), "claims": c.claims["claim_id"].tolist(), "audit_trail": c.audit_trail,
        "redaction": c.redaction, "data_fingerprint": c.data_fingerprint, "generated_at": c.generated_at, "actor": c.actor,
        "attachments": c.attachments, "legal": c.legal, "rules": c.rules, "parties": c.parties.to_dict("records"), "persons": c.persons.to_dict("records"),
        "review": {"draft": c.draft, "reviewer": c.reviewer, "signoff": c.signoff, "digest": c.digest, "verify": c.verify},
    }
    (out / "dossier.json").write_text(json.dumps(content, ensure_ascii=False, indent=1, default=str), "utf-8")
    if pdf:
        html_to_pdf(out / "dossier.html", out / "dossier.pdf")
        for pkg, docs in packages.items():
            for name in docs:
                html_to_pdf(out / "packages" / pkg / name, out / "packages" / pkg / name.replace(".html", ".pdf"))
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != MANIFEST)
    manifest = {
        "schema": "graphkit.dossier-manifest/v1",
        "case_id": c.case["id"], "findings": [f["id"] for f in c.findings], "generated_at": c.generated_at, "actor": c.actor,
        "software_version": SOFTWARE_VERSION, "data_fingerprint": c.data_fingerprint,
        "parameters": {p["detector"]: p["parameters"] for p in c.provenance}, "rulebook": rb.source,
        "redaction_profile": c.profile, "clear_data": bool(c.redaction["revealed"]),
        "draft": c.draft, "reviewer": c.reviewer, "signoff": c.signoff,
        "files": {str(p.relative_to(out)): _sha256(p) for p in files},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
    return manifest, routes


@dataclass
class DossierVerification:
    ok: bool
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    problem: str = ""
    logged: bool | None = None  # manifest hash found in the signed audit log (None: not checked)
    signed: bool | None = None  # manifest signed by the trusted key (None: no trusted key to check with)
    key_id: str = ""
    note: str = ""

    def __str__(self) -> str:
        note = f"\n  注意 / note: {self.note}" if self.note else ""
        if self.ok:
            extra = f"；签名有效 / signature valid (key {self.key_id})" if self.signed else ""
            extra += "；审计日志有登记 / recorded in the audit log" if self.logged else ""
            return f"校验通过 / verified: every file matches manifest.json{extra}{note}"
        lines = ["校验失败 / verification FAILED" + (f": {self.problem}" if self.problem else "")]
        lines += [f"  已改动 changed: {p}" for p in self.changed] + [f"  缺失 missing: {p}" for p in self.missing]
        lines += [f"  多出 added: {p}" for p in self.added]
        return "\n".join(lines) + note


def verify_dossier(path: str | Path, *, audit: AuditLog | None = None, public_key: Any = None) -> DossierVerification:
    """Compare every file with the manifest's SHA-256, check the manifest's signature against the
    trusted key (``public_key``; default the log's key, else ``GRAPHKIT_AUDIT_PUBKEY`` / the local
    key), and, given a log, find the export record in the log's signed part."""
    root = Path(path)
    try:
        manifest = json.loads((root / MANIFEST).read_text("utf-8"))
        files = manifest["files"]
    except FileNotFoundError:
        return DossierVerification(False, problem=f"no {MANIFEST} in {root}")
    except (json.JSONDecodeError, KeyError) as exc:
        return DossierVerification(False, problem=f"{MANIFEST} unreadable: {exc}")
    v = DossierVerification(True)
    for rel, digest in sorted(files.items()):
        p = root / rel
        if not p.is_file():
            v.missing.append(rel)
        elif _sha256(p) != digest:
            v.changed.append(rel)
    present = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and str(p.relative_to(root)) not in (MANIFEST, SIGNATURE)}
    v.added = sorted(present - set(files))
    problems = []
    manifest_bytes = (root / MANIFEST).read_bytes()
    try:
        verifier = trusted_verifier(public_key) if public_key is not None or audit is None else audit.verifier()
        sig = read_signature(root)
    except (ValueError, GraphkitError) as exc:
        verifier, sig = None, None
        v.signed = False
        problems.append(f"{SIGNATURE} or the public key unreadable: {exc}")
    if v.signed is None and verifier is not None:
        v.key_id = verifier.key_id
        err = "unsigned: no manifest.sig, but a signing key is configured" if sig is None else check_signature(manifest_bytes, sig, verifier)
        v.signed = not err
        if err:
            problems.append(err)
        v.note = local_key_note(verifier)
    elif v.signed is None:
        v.note = "签名未核验：没有可信公钥 / signature not checked: no trusted public key (GRAPHKIT_AUDIT_PUBKEY)"
    if audit is not None:
        sha = hashlib.sha256(manifest_bytes).hexdigest()
        lv = audit.verify()
        records = audit.find("dossier_export", manifest_sha256=sha)
        if not lv.ok:
            v.logged = False
            problems.append(f"the audit log is not intact, so its records prove nothing: {lv}")
        else:
            limit = lv.signed_entries if lv.status == "intact" else lv.entries
            v.logged = any(int(e["seq"]) <= limit for e in records)
            if not v.logged:
                problems.append("manifest.json does not match any export recorded in the audit log")
    v.problem = "; ".join(problems)
    v.ok = not (v.changed or v.missing or v.added or v.logged is False or v.signed is False)
    return v


def draft_dossier(store: Store, finding: Finding, out_dir: str | Path, *, parameters: dict[str, Any] | None = None,
                  pdf: bool = False, **kwargs: Any) -> dict[str, Path]:
    """One finding → a dossier folder (no PDF unless asked); returns the main files' paths."""
    m = write_dossier(store, [finding], out_dir, parameters={finding.kind: parameters or {}}, pdf=pdf, **kwargs)
    out = Path(m["path"])
    paths = {"html": out / "dossier.html", "markdown": out / "dossier.md", "json": out / "dossier.json", "manifest": out / MANIFEST}
    if pdf:
        paths["pdf"] = out / "dossier.pdf"
    return paths
