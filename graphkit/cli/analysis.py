"""Subcommands that analyse a store: ``scan``, ``evaluate``, ``explain``, ``detectors``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..errors import GraphkitError
from ._common import HelpFormatter, UsageError, close_store, neo4j_args, open_any_store, parse_params, progress_bar

__all__ = ["register"]


def cmd_scan(a: argparse.Namespace) -> int:
    from ..pipeline import format_scan_summary, scan_to

    from ..findings import KINDS

    kinds = [k for k in a.kinds.split(",") if k] if a.kinds else None
    unknown = sorted(set(kinds or ()) - set(KINDS))
    if unknown:
        raise UsageError(f"未知的检测类型 / unknown kind(s) {unknown}; known: {', '.join(KINDS)}")
    params = parse_params(a.param)
    store = open_any_store(a)
    bar = progress_bar("扫描 / scan")
    try:
        result, paths = scan_to(store, Path(a.out), kinds, params, progress=lambda k: (bar.set_postfix_str(k), bar.update(1)),
                                workers=a.workers, memory_gb=a.memory_gb)
    finally:
        bar.close()
        close_store(store)
    print(format_scan_summary(result))
    print(f"已写出 / written: {paths['findings']}, {paths['scores']}")
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    from ..evaluate import evaluate, format_evaluation

    for path in (a.truth, a.findings, a.scores):
        if path and not Path(path).is_file():
            raise GraphkitError(f"找不到文件 / file not found: {path}")
    store = None
    if a.store:
        from ..store import open_store

        store = open_store(a.store)
    ev = evaluate(a.truth, a.findings, a.scores, store=store)
    print(format_evaluation(ev))
    if a.json:
        Path(a.json).write_text(json.dumps(ev, ensure_ascii=False, indent=1), "utf-8")
    return 0


def cmd_explain(a: argparse.Namespace) -> int:
    from ..findings import read_findings
    from ..risk import provider_risk
    from ..risk.explain import explain_provider, format_explanation

    findings = []
    if a.findings:
        if not Path(a.findings).is_file():
            raise GraphkitError(f"找不到文件 / file not found: {a.findings}")
        findings = read_findings(a.findings).findings
    store = open_any_store(a)
    try:
        res = provider_risk(store, findings)
    finally:
        close_store(store)
    d = explain_provider(res, a.provider, entity_type=a.type, findings=findings)
    if not a.findings:
        d["notes"].insert(0, "未提供 findings.json：检测线索分项为 0 / no findings.json given: the findings part is 0")
    print(format_explanation(d))
    if a.json:
        Path(a.json).write_text(json.dumps(d, ensure_ascii=False, indent=1), "utf-8")
    return 0


def cmd_detectors(a: argparse.Namespace) -> int:
    from ..detectors import REGISTRY
    from ..findings import kind_label

    for kind, det in REGISTRY.items():
        opt = "" if det.default else "  [按需 / opt-in: --kinds]"
        print(f"{kind} — {kind_label(kind)}{opt}: {det.doc}")
        for p in det.params:
            print(f"    {p.name} = {p.default!r}  ({p.describe()}) {p.doc}")
    return 0


def register(sub: Any) -> None:
    """Add ``scan``, ``evaluate``, ``explain`` and ``detectors`` to the subparsers."""
    from ..findings import KINDS, OPT_IN_KINDS

    s = sub.add_parser("scan", help="运行检测器 / run the detectors", formatter_class=HelpFormatter,
                       description="在存储上运行检测器，写出 findings.json 与 scores.csv / Run detectors on the store and "
                                   "write findings.json and scores.csv to --out.")
    s.add_argument("--store", metavar="DIR", help="嵌入式存储目录 / embedded store folder (default: none; --store or --neo4j is required)")
    neo4j_args(s)
    s.add_argument("--out", required=True, metavar="DIR", help="结果输出目录 / folder for findings.json and scores.csv (required)")
    s.add_argument("--kinds", metavar="KIND,…",
                   help="逗号分隔的检测类型 / comma-separated kinds (default: the default battery, every kind but the "
                        "opt-in ones — " + ", ".join(k for k in KINDS if k in OPT_IN_KINDS) + "): " + ", ".join(KINDS))
    s.add_argument("--param", action="append", metavar="KIND.NAME=VALUE",
                   help="覆盖检测器参数，可重复 / override a detector parameter, repeatable (default: the declared "
                        "defaults, see `graphkit detectors`)")
    s.add_argument("--workers", type=int, metavar="N",
                   help="并行进程数 / processes running detectors side by side (default: env GRAPHKIT_SCAN_WORKERS, "
                        "else 1 below 1M claims or on Neo4j, else one per core, at most 4 and one per 6 GB of memory; "
                        "each adds its working set to the memory in use: 1 uses the least)")
    s.add_argument("--memory-gb", type=float, metavar="GB",
                   help="并行进程的内存预算 / memory budget of the processes together: a detector starts only when its "
                        "estimated peak fits beside what the running ones hold (their estimates or measured memory, "
                        "whichever is more); results pass through files in $TMPDIR, about 1 GB at 12M claims (default: "
                        "env GRAPHKIT_SCAN_MEMORY_GB, else 8 GB or half the machine's memory if less)")
    s.set_defaults(func=cmd_scan)

    e = sub.add_parser("evaluate", help="对照真值评估 / measure findings against a truth file", formatter_class=HelpFormatter,
                       description="各类型的召回率与前 k 精确率，机构 ROC-AUC 与平均精确率 / Recall and precision at k per "
                                   "kind, provider ROC-AUC and average precision.")
    e.add_argument("--truth", required=True, metavar="JSON", help="真值文件（示范城市的 truth.json）/ truth file (a demo city's truth.json; required)")
    e.add_argument("--findings", required=True, metavar="JSON", help="扫描结果 findings.json / a scan's findings.json (required)")
    e.add_argument("--scores", metavar="CSV", help="机构评分 scores.csv / scores.csv (default: next to findings.json)")
    e.add_argument("--json", metavar="FILE", help="同时把指标写为 JSON / also write the figures as JSON (default: none)")
    e.add_argument("--store", metavar="DIR",
                   help="用于体量基线的存储 / store for the volume baselines when scores.csv lacks claims/fund_total columns (default: none)")
    e.set_defaults(func=cmd_evaluate)

    ex = sub.add_parser("explain", help="解释机构风险排名 / why a provider ranks where it does", formatter_class=HelpFormatter,
                        description="一家机构、药店、医师或终端的排名、评分构成、同类比较、线索与网络邻居 / Rank, score "
                                    "parts, indicators against peers, findings and network neighbours of one institution, "
                                    "pharmacy, doctor or terminal (risk model of scores.csv).")
    ex.add_argument("provider", metavar="PROVIDER", help="机构/药店/医师/终端编号 / institution_id, pharmacy_id, doctor_id or terminal_id")
    ex.add_argument("--store", metavar="DIR", help="嵌入式存储目录 / embedded store folder (default: none; --store or --neo4j is required)")
    neo4j_args(ex)
    ex.add_argument("--findings", metavar="JSON",
                    help="同一存储的扫描结果 / findings.json of a scan of the same store (default: none, the findings part is 0)")
    ex.add_argument("--type", choices=["institution", "pharmacy", "doctor", "terminal"],
                    help="编号有歧义时的实体类型 / entity type when the id is ambiguous (default: the only match)")
    ex.add_argument("--json", metavar="FILE", help="同时把解释写为 JSON / also write the explanation as JSON (default: none)")
    ex.set_defaults(func=cmd_explain)

    dt = sub.add_parser("detectors", help="列出检测器及参数 / list detectors and parameters", formatter_class=HelpFormatter,
                        description="列出每个检测器、其参数、默认值与约束 / List every detector with its parameters, "
                                    "defaults and constraints.")
    dt.set_defaults(func=cmd_detectors)
