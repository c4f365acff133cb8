"""The ``graphkit`` command line (Chinese first, English alongside).

Exit codes: 0 ok; 1 failure (bad input, validation failed); 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from .errors import GraphkitError

__all__ = ["main"]


def _progress(desc: str):
    """A tqdm bar over named steps (shown on stderr; quiet when not a terminal unless forced)."""
    from tqdm import tqdm

    return tqdm(desc=desc, unit="step", file=sys.stderr, disable=None, leave=False)


def _audit(action: str, **details: Any) -> None:
    from .guard.client import record

    record(action, **details)  # through the guard where one runs (actor: the OS account)


def _err(msg: str) -> None:
    print(msg, file=sys.stderr)


def _parse_params(items: Sequence[str] | None) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in items or []:
        try:
            lhs, value = item.split("=", 1)
            kind, name = lhs.split(".", 1)
        except ValueError:
            raise GraphkitError(f"--param must look like kind.name=value; got {item!r}") from None
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        out.setdefault(kind, {})[name] = parsed
    return out


def cmd_validate(a: argparse.Namespace) -> int:
    from loaders import validate_bundle

    from .profile import ProfileSink, format_profile

    sink = ProfileSink()
    report = validate_bundle(a.bundle, mapping=a.mapping, encoding=a.encoding, store=a.store, sink=sink)
    print(report.format(limit=a.limit))
    if sink.builder.rows:
        print(format_profile(sink.result()))
    if a.report:
        report.to_csv(a.report)  # CSV-injection safe
        print(f"问题清单 / issue list: {a.report}")
    return 0 if report.ok else 1


def _neo4j_conn(a: argparse.Namespace):
    from .neo4jstore import connection_from_env

    return connection_from_env(a.neo4j, user=a.neo4j_user, password=a.neo4j_password, database=a.neo4j_database)


def cmd_load_neo4j(a: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .neo4jstore import load_bundle_neo4j

    bar = tqdm(desc="写入图数据库 / writing to Neo4j", unit="batch", file=sys.stderr, disable=None, leave=False)

    def step(name: str, done: int, total: int) -> None:
        bar.total = total
        bar.set_postfix_str(name)
        bar.update(done - bar.n)

    with _neo4j_conn(a) as conn:
        try:
            res = load_bundle_neo4j(
                a.bundle, conn, lenient=a.lenient, mapping=a.mapping, encoding=a.encoding,
                pseudonymise=not a.keep_personal, batch_size=a.batch_size, progress=step,
            )
        finally:
            bar.close()
    if not res.report.ok:
        print(res.report.format(limit=a.limit))
    if res.skipped:
        print(f"该数据包已加载过，未作改动 / this bundle was loaded before; nothing changed ({res.bundle_fingerprint[:12]})")
    elif res.resumed_from:
        print(f"从中断处继续 / resumed after step {res.resumed_from[0]} batch {res.resumed_from[1]}")
    return _report_load(a, res, conn.uri, f"{res.rows_per_second:,.0f} rows/s", neo4j=conn.uri)


def cmd_load(a: argparse.Namespace) -> int:
    from loaders import load_bundle

    if a.keep_personal:  # needs clear_data in the guard's roles file and a reason, recorded first
        from .guard.cli import authorise_keep_personal

        authorise_keep_personal(a.bundle, a.store or a.neo4j or os.environ.get("NEO4J_URI", ""), a.reason)
    if _wants_neo4j(a):
        return cmd_load_neo4j(a)
    if not a.store:
        raise GraphkitError("give --store DIR (embedded store) or --neo4j URI")

    bar = _progress("加载 / load")

    def step(msg: str) -> None:
        bar.set_postfix_str(msg)
        bar.update(1)

    try:
        res = load_bundle(
            a.bundle, a.store, lenient=a.lenient, mapping=a.mapping, encoding=a.encoding,
            pseudonymise=not a.keep_personal, progress=step, chunk_rows=a.chunk_rows,
        )
    finally:
        bar.close()
    if not res.report.ok:
        print(res.report.format(limit=a.limit))
        print(f"已隔离的行 / quarantined rows: {res.quarantine_dir}")
    claims = res.rows.get("claims", 0)
    return _report_load(a, res, a.store, f"{claims / max(res.seconds, 1e-9):,.0f} claims/s", store=str(Path(a.store).resolve()))


def _report_load(a: argparse.Namespace, res: Any, target: str, rate: str, **where: str) -> int:
    """Audit a finished load and print its summary (embedded and Neo4j alike)."""
    _audit("load", bundle=str(Path(a.bundle).resolve()), **where, fingerprint=res.store_fingerprint,
           bundle_fingerprint=res.bundle_fingerprint, rows=res.rows, lenient=a.lenient, pseudonymised=not a.keep_personal)
    print(f"已加载 / loaded {a.bundle} → {target}")
    for t, n in res.rows.items():
        print(f"  {t}: {n}")
    print(f"数据指纹 / data fingerprint: {res.store_fingerprint}")
    if getattr(res, "profile", None):
        from .profile import format_profile

        print(format_profile(res.profile))
    print(f"用时 / time: {res.seconds:.1f}s ({rate})")
    return 0


def _summary(result, top: int = 5) -> str:
    from .findings import KINDS

    lines = ["扫描结果 / Scan summary", "  类型 kind                       线索 leads   涉及基金 fund at risk (元)"]
    by = result.by_kind()
    total = 0.0
    for kind in KINDS:
        fs = by.get(kind, [])
        if not fs and kind not in result.parameters:
            continue
        amt = sum(f.amount_at_risk for f in fs)
        total += amt
        lines.append(f"  {KINDS[kind][0]} {kind:<24} {len(fs):>6}   {amt:>16,.2f}")
    lines.append(f"  合计 total {'':<22} {len(result.findings):>6}   {total:>16,.2f}")
    for kind, why in getattr(result, "skipped", {}).items():
        lines.append(f"  未运行 skipped {kind}: {why}")
    for kind, whys in getattr(result, "degraded", {}).items():
        for why in whys:
            lines.append(f"  降级运行 degraded {kind}: {why}")
    lines.append(f"重点线索 / top {top} leads:")
    for f in result.findings[:top]:
        lines.append(f"  [{f.score:.3f}] {f.id}  {f.summary}")
    if result.referral_clusters:
        lines.append(f"转诊异常集群 / referral-abuse clusters: {len(result.referral_clusters)}")
        for c in result.referral_clusters[:3]:
            lines.append(f"  {c['cluster_id']}: {c['summary']}")
    prov = result.scores[result.scores["score"] > 0].head(top)
    if len(prov):
        lines.append(f"高风险机构 / top {top} providers:")
        for r in prov.itertuples(index=False):
            lines.append(f"  [{r.score:.3f}] {r.entity_type} {r.entity_id}: {r.finding_count} 条线索, {r.amount_at_risk:,.2f} 元 ({r.top_kinds})")
    return "\n".join(lines)


def _run_scan(store, out: Path, kinds, params, *, check_out: bool = True) -> Any:
    from .scan import scan, write_scan

    bar = _progress("扫描 / scan")
    try:
        result = scan(store, kinds=kinds, params=params, progress=lambda k: (bar.set_postfix_str(k), bar.update(1)))
    finally:
        bar.close()
    paths = write_scan(result, out, check_out=check_out)
    _audit("scan", fingerprint=result.data_fingerprint, kinds=sorted(result.parameters), findings=len(result.findings),
           out=str(Path(out).resolve()))
    return result, paths


def cmd_scan(a: argparse.Namespace) -> int:
    kinds = a.kinds.split(",") if a.kinds else None
    store = _open_any_store(a)
    try:
        result, paths = _run_scan(store, Path(a.out), kinds, _parse_params(a.param))
    finally:
        if getattr(store, "conn", None) is not None:
            store.conn.close()
    print(_summary(result))
    print(f"已写出 / written: {paths['findings']}, {paths['scores']}")
    return 0


def cmd_demo(a: argparse.Namespace) -> int:
    from loaders import load_bundle

    from .demo import generate_city
    from .dossier import draft_dossier
    from .dossier.render import chromium_path
    from .evaluate import evaluate, format_evaluation
    from .store import open_store

    from .outputs import claim_output_dir

    out = claim_output_dir(a.out, "demo")
    bundle, store_dir = out / "bundle", out / "store"
    t0 = time.perf_counter()
    print(f"生成示范城市 / generating a demo city: {a.patients} 参保人/patients, seed {a.seed}")
    info = generate_city(bundle, patients=a.patients, seed=a.seed, fmt="parquet")
    print(f"  {info['rows']['claims']:,} 笔结算/claims in {time.perf_counter() - t0:.1f}s")
    t1 = time.perf_counter()
    res = load_bundle(bundle, store_dir)
    _audit("load", bundle=str(Path(bundle).resolve()), store=str(Path(store_dir).resolve()), fingerprint=res.store_fingerprint,
           bundle_fingerprint=res.bundle_fingerprint, rows=res.rows, lenient=False, pseudonymised=True)
    print(f"加载 / loaded into {store_dir} in {time.perf_counter() - t1:.1f}s")
    store = open_store(store_dir)
    result, paths = _run_scan(store, out, None, {}, check_out=False)
    print(_summary(result))
    if result.findings:
        top = result.findings[0]
        d = draft_dossier(store, top, out / "dossier", parameters=result.parameters.get(top.kind), pdf=chromium_path() is not None)
        print(f"案件材料草稿 / dossier draft: {d['html']}" + (f" + {d['pdf'].name}" if "pdf" in d else " (PDF: install chromium)"))
    ev = evaluate(bundle / "truth.json", paths["findings"], paths["scores"])
    (out / "evaluation.json").write_text(json.dumps(ev, ensure_ascii=False, indent=1), "utf-8")
    print("对照真值评估 / evaluation against the planted truth:")
    print(format_evaluation(ev))
    print(f"已写出 / written: {paths['findings']}, {paths['scores']}, {out / 'evaluation.json'}")
    print(f"总用时 / total: {time.perf_counter() - t0:.1f}s")
    return 0


def cmd_generate(a: argparse.Namespace) -> int:
    from .demo import generate_city

    info = generate_city(a.out, patients=a.patients, seed=a.seed, fmt=a.format, months=a.months,
                         variant=a.variant, quirks=a.quirk)
    print(json.dumps(info, ensure_ascii=False, indent=1, default=str))
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    from .evaluate import evaluate, format_evaluation

    for path in (a.truth, a.findings, a.scores):
        if path and not Path(path).is_file():
            raise GraphkitError(f"file not found: {path}")
    store = None
    if getattr(a, "store", None):
        from .store import open_store

        store = open_store(a.store)
    ev = evaluate(a.truth, a.findings, a.scores, store=store)
    print(format_evaluation(ev))
    if a.json:
        Path(a.json).write_text(json.dumps(ev, ensure_ascii=False, indent=1), "utf-8")
    return 0


def cmd_explain(a: argparse.Namespace) -> int:
    from .findings import read_findings
    from .risk import provider_risk
    from .risk.explain import explain_provider, format_explanation

    findings = []
    if a.findings:
        if not Path(a.findings).is_file():
            raise GraphkitError(f"file not found: {a.findings}")
        findings = read_findings(a.findings).findings
    store = _open_any_store(a)
    try:
        res = provider_risk(store, findings)
    finally:
        if getattr(store, "conn", None) is not None:
            store.conn.close()
    d = explain_provider(res, a.provider, entity_type=a.type, findings=findings)
    if not a.findings:
        d["notes"].insert(0, "未提供 findings.json：检测线索分项为 0 / no findings.json given: the findings part is 0")
    print(format_explanation(d))
    if a.json:
        Path(a.json).write_text(json.dumps(d, ensure_ascii=False, indent=1), "utf-8")
    return 0


def cmd_adapt(a: argparse.Namespace) -> int:
    from loaders.synthea import synthea_to_bundle

    counts = synthea_to_bundle(a.src, a.out, fmt=a.format)
    print(f"已转换 / converted {a.src} → {a.out}")
    for t, n in counts.items():
        print(f"  {t}: {n}")
    return 0


def cmd_dossier(a: argparse.Namespace) -> int:
    from .audit import default_log
    from .dossier import ClearSource, verify_dossier, write_dossier
    from .findings import read_findings

    if a.target == "verify":
        if not a.path:
            raise GraphkitError("usage: graphkit dossier verify DIR")
        v = verify_dossier(a.path, audit=None if a.no_audit_check else default_log(), public_key=a.public_key)
        print(v)
        return 0 if v.ok else 1
    if a.target == "sign-off":
        return _dossier_sign_off(a)
    if not a.findings or not a.out:
        raise GraphkitError("give --findings findings.json and --out DIR (and --store DIR or --neo4j URI)")
    rep = read_findings(a.findings)
    m_case = re.fullmatch(r"(?i)case[:#-]?0*(\d+)", a.target)
    if m_case:
        return _dossier_for_case(a, int(m_case.group(1)), rep)
    wanted = [t for t in a.target.split(",") if t]
    found = [f for f in rep.findings if f.id in set(wanted)]
    missing = sorted(set(wanted) - {f.id for f in found})
    if missing:
        raise GraphkitError(f"no such finding(s) in {a.findings}: {missing}")
    case = None
    clear = _clear_source(a)
    store = _open_any_store(a)
    m = write_dossier(store, found, a.out, case=case, parameters=rep.parameters, rulebook=a.rulebook,
                      profile=a.profile, clear_source=clear, pdf=not a.no_pdf, reviewer=a.reviewer,
                      legal_basis=a.legal_basis, refer=a.refer)
    print(f"案件材料 / dossier: {m['path']} ({len(m['files'])} files, manifest sha256 {m['manifest_sha256'][:16]}…)")
    if m["clear_data"]:
        print("注意：本材料含明文个人信息，已记入审计日志 / contains clear personal data; recorded in the audit log")
    return 0


def _clear_source(a: argparse.Namespace):
    from .dossier import ClearSource

    if a.clear:
        if not a.clear_source:
            raise GraphkitError("--clear needs --clear-source BUNDLE (the original export holding the clear values)")
        return ClearSource(a.clear_source)  # the guard resolves the values (with its key), never this process
    if a.clear_source:
        raise GraphkitError("--clear-source is only used with --clear (clear data needs an explicit option)")
    return None


def _case_store(a: argparse.Namespace, store: Any = None) -> Any:
    from .workbench.cases import CaseStore, default_cases_path

    if store is not None and getattr(store, "conn", None) is not None and not a.cases:  # Neo4j: the cases live in the graph
        from .neo4jstore.cases import GraphCaseStore

        return GraphCaseStore(store.conn)
    if a.store or a.cases:
        return CaseStore(a.cases or default_cases_path(a.store))
    raise GraphkitError("a case needs --store DIR (its case database sits beside it), --cases FILE or --neo4j URI")


def _dossier_sign_off(a: argparse.Namespace) -> int:
    """``graphkit dossier sign-off case:N --reviewer NAME --decision approve --level 违规``."""
    from .dossier import sign_off

    m = re.fullmatch(r"(?i)case[:#-]?0*(\d+)", a.path or "")
    if not m or not a.reviewer or not a.decision or not a.level:
        raise GraphkitError("usage: graphkit dossier sign-off case:N --reviewer NAME --decision approve|return --level 违规|骗取 "
                            "[--date YYYY-MM-DD] [--note TEXT] (--store DIR | --cases FILE)")
    rec = sign_off(_case_store(a, _open_any_store(a) if _wants_neo4j(a) else None), int(m.group(1)), reviewer=a.reviewer,
                   decision=a.decision, level=a.level, date=a.date, note=a.note)
    print(f"已签核 / signed off: {rec['case_id']} 审核人 {rec['reviewer']} {rec['date']} {rec['decision']} {rec['level']}")
    return 0


def _dossier_for_case(a: argparse.Namespace, case_id: int, rep) -> int:
    """``graphkit dossier case:N``: the investigators' case (its findings, evidence edits, audit trail)."""
    from .audit import current_actor
    from .workbench.cases import CaseStore, default_cases_path, export_case

    store = _open_any_store(a)
    if getattr(store, "conn", None) is not None and not a.cases:  # Neo4j: the cases live in the graph
        from .neo4jstore.cases import GraphCaseStore

        cases: Any = GraphCaseStore(store.conn)
    elif a.store or a.cases:
        cases = CaseStore(a.cases or default_cases_path(a.store))
    else:
        raise GraphkitError("a case dossier needs --store DIR (its case database sits beside it), --cases FILE or --neo4j URI")
    out = export_case(cases, case_id, store, a.out, actor=current_actor(), parameters=rep.parameters,
                      pdf=not a.no_pdf, profile=a.profile, clear_source=_clear_source(a), reviewer=a.reviewer,
                      legal_basis=a.legal_basis, refer=a.refer)
    print(f"案件材料 / dossier: {out['html'].parent}")
    return 0


def _wants_neo4j(a: argparse.Namespace) -> bool:
    """--neo4j given, or no --store and NEO4J_URI set."""
    return bool(getattr(a, "neo4j", None) or (not getattr(a, "store", None) and os.environ.get("NEO4J_URI")))


def _open_any_store(a: argparse.Namespace):
    from .store import open_store

    if _wants_neo4j(a):
        from .neo4jstore import Neo4jStore

        return Neo4jStore(_neo4j_conn(a))
    if not a.store:
        raise GraphkitError("give --store DIR (embedded store) or --neo4j URI")
    from ._failpoints import failpoint

    store = open_store(a.store)  # pins the store's live generation for as long as it is used
    failpoint("reader_opened")
    return store


def cmd_audit(a: argparse.Namespace) -> int:
    from .audit import AuditLog, default_log

    from .audit import current_actor
    from .roles import require

    require(current_actor(), "audit", what="read the audit log")
    log = AuditLog(a.log) if a.log else default_log()
    if a.action == "verify":
        from .dossier.seal import local_key_note

        v = log.verify()
        print(f"{log.path}: {v}")
        note = local_key_note(log.verifier()) if v.status != "no_key" else ""
        if note:
            print(f"  注意 / note: {note}")
        bad = not v.ok
        if a.cases:
            from .workbench.cases import CaseStore

            if not Path(a.cases).is_file():
                raise GraphkitError(f"no case database {a.cases}")
            problems = CaseStore(a.cases, audit=log).verify()
            print(f"{a.cases}: " + ("案件记录与审计日志一致 / every case change is in the audit log" if not problems
                                    else "案件记录被改动 / case database TAMPERED:\n  " + "\n  ".join(problems)))
            bad = bad or bool(problems)
        return 1 if bad else 0
    for e in list(log.entries())[-a.tail:]:
        print(f"{e['seq']:>6} {e['at']} {e['actor']:<12} {e['action']:<16} {json.dumps(e['details'], ensure_ascii=False)[:160]}")
    return 0


def cmd_lab(a: argparse.Namespace) -> int:
    from .workbench.lab import main as lab_main

    return lab_main(a)


def cmd_detectors(a: argparse.Namespace) -> int:
    from .detectors import REGISTRY
    from .findings import KINDS

    for kind, det in REGISTRY.items():
        opt = "" if det.default else "  [按需 / opt-in: --kinds]"
        print(f"{kind} — {KINDS[kind][0]} / {KINDS[kind][1]}{opt}: {det.doc}")
        for p in det.params:
            print(f"    {p.name} = {p.default!r}  ({p.describe()}) {p.doc}")
    return 0


def _neo4j_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--neo4j", metavar="URI", help="use a Neo4j server instead (bolt://… or neo4j://…; env NEO4J_URI)")
    p.add_argument("--neo4j-user", help="user (env NEO4J_USER)")
    p.add_argument("--neo4j-password", help="password (env NEO4J_PASSWORD; prefer the environment)")
    p.add_argument("--neo4j-database", help="database (env NEO4J_DATABASE; default: the server's default)")


def _variant_names() -> list[str]:
    from .demo.config import VARIANTS

    return list(VARIANTS)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="graphkit",
        description="医保基金监管图分析工作台 / graph workbench for medical-insurance fund supervision",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("demo", help="生成示范城市→加载→扫描→汇总 / demo city end to end",
                       description="Generate a demo city, load it into the embedded store, scan it, print a summary, "
                                   "and write findings.json, scores.csv, a dossier draft and an evaluation to --out.")
    d.add_argument("--out", default="demo-out", help="output folder (default: demo-out)")
    d.add_argument("--patients", type=int, default=20000, help="insured people in the city (default 20000)")
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=cmd_demo)

    g = sub.add_parser("generate", help="只生成示范城市数据包 / write a demo-city bundle with truth.json",
                       description="Write a demo-city claims bundle (with planted fraud and truth.json) to OUT.")
    g.add_argument("out")
    g.add_argument("--patients", type=int, default=20000)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--months", type=int, default=12)
    g.add_argument("--format", choices=["parquet", "csv", "csv.gz"], default="parquet")
    g.add_argument("--variant", help="城市变体 / a named city family (structure, look-alikes, export quirks): "
                                     + ", ".join(_variant_names()))
    g.add_argument("--quirk", action="append", help="导出怪癖 / an export quirk (repeatable; replaces the variant's), "
                                                     "e.g. dates_only, ids_numeric, csv_gb18030")
    g.set_defaults(func=cmd_generate)

    v = sub.add_parser("validate", help="校验数据包 / validate a claims bundle",
                       description="Validate BUNDLE against the claims-bundle spec; print a report naming table, row, "
                                   "column and value of every problem. Exit 1 when there are problems. Writes nothing.")
    v.add_argument("bundle")
    v.add_argument("--mapping", help="TOML mapping file for foreign table/column/value names")
    v.add_argument("--encoding", help="force an encoding, e.g. gb18030 (default: detect UTF-8 / GB18030)")
    v.add_argument("--store", help="an existing store the bundle may refer to")
    v.add_argument("--report", help="write every issue to this CSV file")
    v.add_argument("--limit", type=int, default=20, help="issues printed (default 20)")
    v.set_defaults(func=cmd_validate)

    ld = sub.add_parser("load", help="加载数据包到嵌入式存储 / load a bundle into the embedded store",
                        description="Validate BUNDLE and write it into the embedded store DIR (atomic, idempotent; "
                                    "a later bundle is merged in). Strict by default: any problem → nothing written, "
                                    "exit 1. Personal fields are pseudonymised with the key from GRAPHKIT_PSEUDO_KEY "
                                    "(or GRAPHKIT_PSEUDO_KEY_FILE); the built-in demo key serves generated demo bundles only.")
    ld.add_argument("bundle")
    ld.add_argument("--store", help="embedded store folder")
    _neo4j_args(ld)
    ld.add_argument("--batch-size", type=int, default=2000, help="rows per Neo4j transaction (default 2000)")
    ld.add_argument("--lenient", action="store_true", help="quarantine bad rows (with reasons) and load the rest")
    ld.add_argument("--mapping")
    ld.add_argument("--encoding")
    ld.add_argument("--keep-personal", action="store_true", help="do NOT pseudonymise personal fields (needs clear_data via the guard and --reason)")
    ld.add_argument("--reason", help="with --keep-personal: why clear data is kept (recorded by the guard)")
    ld.add_argument("--chunk-rows", type=int, default=None, metavar="N",
                    help="每次读取、校验、写入的行数 / rows read, validated and written at a time "
                         "(default 1000000; 0 = whole tables). Bounds memory for bundles larger than RAM")
    ld.add_argument("--limit", type=int, default=20)
    ld.set_defaults(func=cmd_load)

    s = sub.add_parser("scan", help="运行检测器 / run the detectors",
                       description="Run detectors on the store and write findings.json and scores.csv to --out.")
    s.add_argument("--store", help="embedded store folder")
    _neo4j_args(s)
    s.add_argument("--out", required=True)
    s.add_argument("--kinds", help="comma-separated kinds (default: the default battery, all but rule_violation); see `graphkit detectors`")
    s.add_argument("--param", action="append", metavar="KIND.NAME=VALUE", help="override a detector parameter")
    s.set_defaults(func=cmd_scan)

    e = sub.add_parser("evaluate", help="对照真值评估 / measure findings against a truth file",
                       description="Recall and precision at k per kind, provider ROC-AUC and average precision.")
    e.add_argument("--truth", required=True)
    e.add_argument("--findings", required=True)
    e.add_argument("--scores", help="scores.csv (default: next to findings.json)")
    e.add_argument("--json", help="also write the figures as JSON")
    e.add_argument("--store", help="store for the volume baselines when scores.csv lacks claims/fund_total columns")
    e.set_defaults(func=cmd_evaluate)

    ex = sub.add_parser("explain", help="解释机构风险排名 / why a provider ranks where it does",
                        description="Rank, score parts, indicators against peers, findings and network neighbours "
                                    "of one institution, pharmacy, doctor or terminal (risk model of scores.csv).")
    ex.add_argument("provider", help="institution_id, pharmacy_id, doctor_id or terminal_id")
    ex.add_argument("--store", help="embedded store folder")
    _neo4j_args(ex)
    ex.add_argument("--findings", help="findings.json of a scan of the same store (without it the findings part is 0)")
    ex.add_argument("--type", choices=["institution", "pharmacy", "doctor", "terminal"], help="entity type when the id is ambiguous")
    ex.add_argument("--json", help="also write the explanation as JSON")
    ex.set_defaults(func=cmd_explain)

    ad = sub.add_parser("adapt", help="外部导出→数据包 / convert a foreign export into a bundle",
                        description="Convert a foreign export into a claims bundle. Sources: synthea (CSV export).")
    ad.add_argument("source", choices=["synthea"])
    ad.add_argument("src")
    ad.add_argument("out")
    ad.add_argument("--format", choices=["csv", "parquet"], default="csv")
    ad.set_defaults(func=cmd_adapt)

    do = sub.add_parser("dossier", help="案件材料 / write or verify a case dossier",
                        description="graphkit dossier FINDING_OR_CASE --findings F --store DIR --out DIR: write a dossier "
                                    "(HTML, PDF, evidence CSVs, JSON, statutory packages, manifest.json with SHA-256). "
                                    "graphkit dossier verify DIR: detect any changed, missing or added file.")
    do.add_argument("target", metavar="FINDING_ID[,FINDING_ID…]|case:N|verify")
    do.add_argument("path", nargs="?", help="with verify: the dossier folder")
    do.add_argument("--findings", help="findings.json holding the finding(s)")
    do.add_argument("--store", help="embedded store folder")
    _neo4j_args(do)
    do.add_argument("--cases", help="case database for case:N (default: beside the store, STORE.cases.sqlite)")
    do.add_argument("--out", help="dossier folder to write (empty or an older dossier)")
    do.add_argument("--profile", default="internal", help="redaction profile: police, discipline, internal (default)")
    do.add_argument("--clear", action="store_true", help="show personal data in clear/masked per the profile (audited)")
    do.add_argument("--clear-source", metavar="BUNDLE", help="the original bundle holding the clear values (with --clear)")
    do.add_argument("--rulebook", help="TOML rulebook (default: graphkit/data/rulebook.toml)")
    do.add_argument("--no-pdf", action="store_true", help="skip the PDF files (no Chromium needed)")
    do.add_argument("--no-audit-check", action="store_true", help="with verify: do not look the manifest up in the audit log")
    do.add_argument("--reviewer", help="审核人: the person the draft is for (shown on every paper)")
    do.add_argument("--legal-basis", help="TOML legal-basis table (default: graphkit/data/legal_basis.toml)")
    do.add_argument("--refer", action="append", choices=["police", "discipline"], default=[],
                    help="add a referral package the rulebook's routing did not call for (the reviewer decides)")
    do.add_argument("--decision", choices=["approve", "return"], help="with sign-off: 同意 (approve) or 退回补充调查 (return)")
    do.add_argument("--level", choices=["违规", "骗取", "可疑"], help="with sign-off: what the investigation established")
    do.add_argument("--date", help="with sign-off: YYYY-MM-DD (default today)")
    do.add_argument("--note", default="", help="with sign-off: the reviewer's note")
    do.add_argument("--public-key", help="with verify: the signer's public key (PEM) to trust (default GRAPHKIT_AUDIT_PUBKEY or the local key)")
    do.set_defaults(func=cmd_dossier)

    au = sub.add_parser("audit", help="审计日志 / verify or show the audit log",
                        description="graphkit audit verify: check the hash chain of the append-only audit log "
                                    "(GRAPHKIT_AUDIT_LOG or ~/.local/share/graphkit/audit.jsonl). graphkit audit show: last entries.")
    au.add_argument("action", choices=["verify", "show"])
    au.add_argument("--log", help="audit log file (default: GRAPHKIT_AUDIT_LOG or ~/.local/share/graphkit/audit.jsonl)")
    au.add_argument("--cases", help="with verify: also check a case database (<store>.cases.sqlite) against the log")
    au.add_argument("--tail", type=int, default=20)
    au.set_defaults(func=cmd_audit)

    lb = sub.add_parser("lab", help="调查工作台（JupyterLab）/ investigation workbench in JupyterLab",
                        description="Start JupyterLab on the workbench notebooks (01_triage, 02_explore, 03_case, 04_monitoring), "
                                    "pointed at --store/--findings, GRAPHKIT_STORE/GRAPHKIT_FINDINGS or NEO4J_URI, else the demo "
                                    "city in demo-out/ (made on first use). Offline: no news feed, no update check, no extension downloads.")
    from .workbench.lab import add_arguments as _lab_arguments

    _lab_arguments(lb)
    lb.set_defaults(func=cmd_lab)

    from .guard.cli import add_guard_parser

    add_guard_parser(sub)

    dt = sub.add_parser("detectors", help="列出检测器及参数 / list detectors and parameters")
    dt.set_defaults(func=cmd_detectors)
    from .rules.cli import add_parser as _add_rules_parser

    _add_rules_parser(sub)  # graphkit rules run|check|list (graphkit/rules/cli.py)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    try:
        return a.func(a)
    except GraphkitError as exc:
        _err(f"错误 / error: {exc}")
        return 1
    except KeyboardInterrupt:
        _err("已中断 / interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
