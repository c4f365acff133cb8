"""Subcommands for investigators: ``dossier``, ``audit``, ``lab``."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import GraphkitError
from ._common import HelpFormatter, UsageError, int_at_least, neo4j_args, open_any_store, wants_neo4j

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["register"]


def cmd_dossier(a: argparse.Namespace) -> int:
    from ..dossier import verify_dossier, write_dossier
    from ..findings import read_findings

    if a.target == "verify":
        if not a.path:
            raise UsageError("用法 / usage: graphkit dossier verify DIR")
        from ..guard.auditlog import active_log, trusted_key

        log = active_log()
        key = trusted_key(a.public_key, log)
        print(key)
        v = verify_dossier(a.path, audit=None if a.no_audit_check else log, public_key=key.verifier)
        print(v)
        return 0 if v.ok else 1
    if a.target == "sign-off":
        return _dossier_sign_off(a)
    if a.path:
        raise UsageError(f"多余的参数 / unexpected argument {a.path!r} (only `dossier verify DIR` takes a folder)")
    if not a.findings or not a.out:
        raise UsageError("请给出 --findings findings.json 与 --out DIR（以及 --store DIR 或 --neo4j URI）/ "
                         "give --findings findings.json and --out DIR (and --store DIR or --neo4j URI)")
    clear = _clear_source(a)
    rep = read_findings(a.findings)
    m_case = re.fullmatch(r"(?i)case[:#-]?0*(\d+)", a.target)
    if m_case:
        return _dossier_for_case(a, int(m_case.group(1)), rep, clear)
    wanted = [t for t in a.target.split(",") if t]
    found = [f for f in rep.findings if f.id in set(wanted)]
    missing = sorted(set(wanted) - {f.id for f in found})
    if missing:
        raise GraphkitError(f"{a.findings} 中没有这些线索 / no such finding(s) in {a.findings}: {missing}")
    store = open_any_store(a)
    m = write_dossier(store, found, a.out, case=None, parameters=rep.parameters, rulebook=a.rulebook,
                      profile=a.profile, clear_source=clear, pdf=not a.no_pdf, reviewer=a.reviewer,
                      legal_basis=a.legal_basis, refer=a.refer)
    print(f"案件材料 / dossier: {m['path']} ({len(m['files'])} files, manifest sha256 {m['manifest_sha256'][:16]}…)")
    if m["clear_data"]:
        print("注意：本材料含明文个人信息，已记入审计日志 / contains clear personal data; recorded in the audit log")
    return 0


def _clear_source(a: argparse.Namespace):
    from ..dossier import ClearSource

    if a.clear:
        if not a.clear_source:
            raise UsageError("--clear 需要 --clear-source BUNDLE（含明文的原始导出）/ "
                             "--clear needs --clear-source BUNDLE (the original export holding the clear values)")
        return ClearSource(a.clear_source)  # the guard resolves the values (with its key), never this process
    if a.clear_source:
        raise UsageError("--clear-source 只与 --clear 一起使用 / --clear-source is only used with --clear "
                         "(clear data needs an explicit option)")
    return None


def _case_store(a: argparse.Namespace, store: Store = None) -> Any:
    from ..workbench.cases import CaseStore, default_cases_path

    if store is not None and getattr(store, "conn", None) is not None and not a.cases:  # Neo4j: the cases live in the graph
        from ..neo4jstore.cases import GraphCaseStore

        return GraphCaseStore(store.conn)
    if a.store or a.cases:
        return CaseStore(a.cases or default_cases_path(a.store))
    raise UsageError("案件需要 --store DIR、--cases FILE 或 --neo4j URI / a case needs --store DIR (its case database "
                     "sits beside it), --cases FILE or --neo4j URI")


def _dossier_sign_off(a: argparse.Namespace) -> int:
    """``graphkit dossier sign-off case:N --reviewer NAME --decision approve --level 违规``."""
    from ..dossier import sign_off

    m = re.fullmatch(r"(?i)case[:#-]?0*(\d+)", a.path or "")
    if not m or not a.reviewer or not a.decision or not a.level:
        raise UsageError("用法 / usage: graphkit dossier sign-off case:N --reviewer NAME --decision approve|return "
                         "--level 违规|骗取 [--date YYYY-MM-DD] [--note TEXT] (--store DIR | --cases FILE)")
    rec = sign_off(_case_store(a, open_any_store(a) if wants_neo4j(a) else None), int(m.group(1)), reviewer=a.reviewer,
                   decision=a.decision, level=a.level, date=a.date, note=a.note)
    print(f"已签核 / signed off: {rec['case_id']} 审核人 {rec['reviewer']} {rec['date']} {rec['decision']} {rec['level']}")
    return 0


def _dossier_for_case(a: argparse.Namespace, case_id: int, rep: Any, clear: Any) -> int:
    """``graphkit dossier case:N``: the investigators' case (its findings, evidence edits, audit trail)."""
    from ..audit import current_actor
    from ..workbench.cases import CaseStore, default_cases_path, export_case

    if not (a.store or a.cases or a.neo4j):
        raise UsageError("案件材料需要 --store DIR、--cases FILE 或 --neo4j URI / a case dossier needs --store DIR "
                         "(its case database sits beside it), --cases FILE or --neo4j URI")
    store = open_any_store(a)
    cases = _case_store(a, store)
    out = export_case(cases, case_id, store, a.out, actor=current_actor(), parameters=rep.parameters,
                      pdf=not a.no_pdf, profile=a.profile, clear_source=clear, reviewer=a.reviewer,
                      legal_basis=a.legal_basis, refer=a.refer)
    print(f"案件材料 / dossier: {out['html'].parent}")
    return 0


def cmd_audit(a: argparse.Namespace) -> int:
    from ..audit import AuditLog, current_actor
    from ..guard.auditlog import GuardAuditLog, active_log, trusted_key

    active: Any = active_log()
    guarded = isinstance(active, GuardAuditLog)
    if not guarded:  # in guarded mode the guard's roles file decides (reading entries needs 'audit' there)
        from ..roles import require

        require(current_actor(), "audit", what="read the audit log")
    if a.public_key and guarded and not a.log:
        raise UsageError("守护进程的日志由守护进程核验；--public-key 需与 --log FILE（日志副本）同用 / the guard verifies "
                         "its own log: use --public-key with --log FILE (a copy of the log)")
    key = None
    log: Any = active
    if a.log or a.public_key:
        key = trusted_key(a.public_key, active)  # guarded: the guard's key unless --public-key
        log = AuditLog(a.log or active.path, public_key=key.verifier)
    if a.action == "verify":
        from ..dossier.seal import local_key_note

        if log is active and guarded:
            st = log.status()
            print(f"守护进程的审计日志 / the guard's audit log ({log.path}, guard account {st['peer_account']}, "
                  f"uid {st['peer_uid']})")
        else:
            print(key or trusted_key(None, active))
        v = log.verify()
        print(f"{log.path}: {v}")
        note = local_key_note(log.verifier()) if v.status != "no_key" and not isinstance(log, GuardAuditLog) else ""
        if note:
            print(f"  注意 / note: {note}")
        bad = not v.ok
        if a.cases:
            from ..workbench.cases import CaseStore

            if not Path(a.cases).is_file():
                raise GraphkitError(f"没有案件库 / no case database {a.cases}")
            problems = CaseStore(a.cases, audit=log).verify()
            print(f"{a.cases}: " + ("案件记录与审计日志一致 / every case change is in the audit log" if not problems
                                    else "案件记录被改动 / case database TAMPERED:\n  " + "\n  ".join(problems)))
            bad = bad or bool(problems)
        return 1 if bad else 0
    entries = list(log.entries(a.tail) if isinstance(log, GuardAuditLog) else log.entries()) if a.tail else []
    for e in entries[len(entries) - a.tail:] if a.tail else []:
        print(f"{e['seq']:>6} {e['at']} {e['actor']:<12} {e['action']:<16} {json.dumps(e['details'], ensure_ascii=False)[:160]}")
    return 0


def cmd_lab(a: argparse.Namespace) -> int:
    from ..workbench.lab import main as lab_main

    return lab_main(a)


def register(sub: Any) -> None:
    """Add ``dossier``, ``audit`` and ``lab`` to the subparsers."""
    do = sub.add_parser("dossier", help="案件材料 / write or verify a case dossier", formatter_class=HelpFormatter,
                        description="graphkit dossier FINDING_OR_CASE --findings F --store DIR --out DIR: 生成案件材料 / "
                                    "write a dossier (HTML, PDF, evidence CSVs, JSON, statutory packages, manifest.json "
                                    "with SHA-256).\ngraphkit dossier verify DIR: 校验材料 / detect any changed, missing "
                                    "or added file.")
    do.add_argument("target", metavar="FINDING_ID[,FINDING_ID…]|case:N|verify|sign-off",
                    help="线索编号、案件（case:N）、verify 或 sign-off / finding id(s), an investigators' case (case:N), "
                         "verify, or sign-off (then: case:N)")
    do.add_argument("path", nargs="?", metavar="DIR|case:N",
                    help="与 verify 同用：材料目录；与 sign-off 同用：case:N / with verify: the dossier folder; with sign-off: case:N")
    do.add_argument("--findings", metavar="JSON", help="含这些线索的 findings.json / findings.json holding the finding(s) (required, except with verify; default: none)")
    do.add_argument("--store", metavar="DIR", help="嵌入式存储目录 / embedded store folder (default: none; --store or --neo4j is required, except with verify)")
    neo4j_args(do)
    do.add_argument("--cases", metavar="FILE",
                    help="case:N 所用的案件库 / case database for case:N (default: beside the store, STORE.cases.sqlite)")
    do.add_argument("--out", metavar="DIR", help="材料输出目录（空目录或旧材料）/ dossier folder to write, empty or an older dossier (required, except with verify; default: none)")
    do.add_argument("--profile", default="internal", metavar="NAME",
                    help="脱敏方案（规则库 [profiles.NAME]）/ redaction profile of the rulebook: 内部 internal, 公安 police, "
                         "纪检监察 discipline")
    do.add_argument("--clear", action="store_true",
                    help="按方案显示明文/掩码个人信息（记入审计）/ show personal data in clear/masked per the profile (audited)")
    do.add_argument("--clear-source", metavar="BUNDLE",
                    help="含明文的原始数据包（与 --clear 同用）/ the original bundle holding the clear values (required with --clear; default: none)")
    do.add_argument("--rulebook", metavar="TOML", help="法规条款库 / TOML rulebook (default: graphkit/data/rulebook.toml)")
    do.add_argument("--no-pdf", action="store_true", help="不生成 PDF（无需 Chromium）/ skip the PDF files (no Chromium needed)")
    do.add_argument("--no-audit-check", action="store_true",
                    help="verify 时不在审计日志中核对清单 / with verify: do not look the manifest up in the audit log")
    do.add_argument("--reviewer", metavar="NAME", help="审核人：草稿供其审核（每页显示）/ the reviewer the draft is for (shown on every paper; default: none)")
    do.add_argument("--legal-basis", metavar="TOML", help="处理依据对照表 / legal-basis table (default: graphkit/data/legal_basis.toml)")
    do.add_argument("--refer", action="append", choices=["police", "discipline"], default=[],
                    help="增加规则库未要求的移送材料（由审核人决定）/ add a referral package the rulebook's routing did not call for "
                         "(the reviewer decides; repeatable; default: none)")
    do.add_argument("--decision", choices=["approve", "return"],
                    help="与 sign-off 同用：同意 approve 或 退回补充调查 return / with sign-off: the reviewer's decision (default: none)")
    do.add_argument("--level", choices=["违规", "骗取", "可疑"],
                    help="与 sign-off 同用：调查认定的性质 / with sign-off: what the investigation established (default: none)")
    do.add_argument("--date", metavar="YYYY-MM-DD", help="与 sign-off 同用：签核日期 / with sign-off: the date (default: today)")
    do.add_argument("--note", default="", metavar="TEXT", help="与 sign-off 同用：审核意见 / with sign-off: the reviewer's note")
    do.add_argument("--public-key", metavar="PEM",
                    help="与 verify 同用：信任的签名公钥（会注明为调用者指定）/ with verify: the signer's public key to trust, "
                         "reported as given by you (default: the guard's key where a guard runs, else GRAPHKIT_AUDIT_PUBKEY "
                         "or the local key)")
    do.set_defaults(func=cmd_dossier)

    au = sub.add_parser("audit", help="审计日志 / verify or show the audit log", formatter_class=HelpFormatter,
                        description="graphkit audit verify: 校验只追加审计日志的哈希链 / check the hash chain of the "
                                    "append-only audit log (GRAPHKIT_AUDIT_LOG or ~/.local/share/graphkit/audit.jsonl).\n"
                                    "graphkit audit show: 最近的条目 / the last entries.")
    au.add_argument("action", choices=["verify", "show"], help="verify 校验 / check; show 显示 / list")
    au.add_argument("--log", metavar="FILE",
                    help="审计日志文件 / audit log file (default: GRAPHKIT_AUDIT_LOG or ~/.local/share/graphkit/audit.jsonl)")
    au.add_argument("--public-key", metavar="PEM",
                    help="与 verify --log 同用：信任的签名公钥（会注明）/ with verify: the public key to trust, reported as given "
                         "(default: the guard's key where a guard runs, else GRAPHKIT_AUDIT_PUBKEY or the local key)")
    au.add_argument("--tail", type=int_at_least(0, "条数 / count"), default=20, metavar="N",
                    help="show 显示的最近条数 / entries shown by show")
    au.add_argument("--cases", metavar="FILE",
                    help="与 verify 同用：同时核对案件库 / with verify: also check a case database (<store>.cases.sqlite) "
                         "against the log (default: none)")
    au.set_defaults(func=cmd_audit)

    from ..workbench.lab import add_arguments as lab_arguments

    lb = sub.add_parser("lab", help="调查工作台（JupyterLab）/ investigation workbench in JupyterLab", formatter_class=HelpFormatter,
                        description="在工作台笔记本上启动 JupyterLab / Start JupyterLab on the workbench notebooks (01_triage, "
                                    "02_explore, 03_case, 04_monitoring), pointed at --store/--findings, "
                                    "GRAPHKIT_STORE/GRAPHKIT_FINDINGS or NEO4J_URI, else the demo city in demo-out/ (made on "
                                    "first use). Offline: no news feed, no update check, no extension downloads.")
    lab_arguments(lb)
    lb.set_defaults(func=cmd_lab)
