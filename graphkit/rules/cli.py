"""``graphkit rules``: run or check a rule pack (registered by :func:`add_parser` in graphkit.cli).

``graphkit rules run --store DIR [--pack FILE] [--kb FILE] [--rules ID,…] [--out DIR]`` prints
the per-rule hit counts and 违规金额 and, with ``--out``, writes ``findings.json`` (kind
``rule_violation``, with ``rule_summary``) and ``rule_hits.csv`` (one row per violating item
line). ``graphkit rules check [--pack FILE] [--kb FILE]`` validates the files and runs nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "format_summary"]


def add_parser(sub: Any) -> None:
    """Add the ``rules`` subcommand to graphkit's subparsers."""
    r = sub.add_parser("rules", help="规则库（两库）：运行或校验 / run or check the rule pack",
                       description="运行或校验规则库 / run or check a rule pack (knowledge base + rules)")
    r.add_argument("action", choices=("run", "check", "list"), help="运行 run（在存储上执行规则）| 校验 check（检查规则包与知识库）| 列出 list / run the pack on a store, check the files, or list the rules")
    r.add_argument("--store", metavar="DIR", help="嵌入式存储目录（run 必需）/ embedded store folder (required with run; default: none)")
    r.add_argument("--pack", help="规则包 / rule pack TOML (default: the shipped pack)")
    r.add_argument("--kb", help="知识库 / knowledge base TOML (default: the one the pack names)")
    r.add_argument("--rules", metavar="ID,…", help="只运行这些规则 / only these rule ids, comma separated (default: every rule of the pack)")
    r.add_argument("--threads", type=int, metavar="N", help="同时运行的规则数 / rules evaluated at once while their estimated memory fits "
                   "beside the item frame (default: 1, one at a time; 2 is quicker on two cores but takes more memory)")
    r.add_argument("--out", metavar="DIR", help="输出目录 / write findings.json and rule_hits.csv here (default: print the summary only)")
    r.set_defaults(func=cmd_rules)


def format_summary(summary: dict[str, dict[str, Any]]) -> str:
    """The per-rule table (id, level, category, hits, claims, 违规金额 or why it did not run)."""
    lines = [f"{'规则 rule':<9} {'等级':<3} {'类别':<6} {'明细 hits':>9} {'结算 claims':>11} {'违规金额 deduct':>16}  名称 name"]
    for rid, s in summary.items():
        if s["status"] == "ran":
            lines.append(f"{rid:<9} {s['level']:<3} {s['category']:<6} {s['hits']:>9,} {s['claims']:>11,} "
                         f"{s['deduct_amount']:>16,.2f}  {s['name']}"
                         + (f" — {s['reason']}" if s.get("leads") is False else ""))
        else:
            lines.append(f"{rid:<9} {s['level']:<3} {s['category']:<6} {'未运行 not run':>38}  {s['name']} — {s['reason']}")
    return "\n".join(lines)


def cmd_rules(a: argparse.Namespace) -> int:
    from ..errors import GraphkitError
    from .library import load_pack

    pack = load_pack(a.pack, kb=a.kb)
    if a.action == "check":
        print(f"规则包有效 / pack valid: {pack.source} ({pack.name} v{pack.version}, {len(pack.rules)} 条规则 rules); "
              f"知识库 / kb: {pack.kb.source} ({pack.kb.name} v{pack.kb.version}, {len(pack.kb.items)} 个项目 items)")
        return 0
    if a.action == "list":
        for r in pack.rules:
            print(f"{r.id:<9} {r.level} {r.category:<6} {r.window:<4} {r.shape:<18} {r.name}")
        return 0
    if not a.store:
        raise GraphkitError("give --store DIR")
    from ..store import open_store
    from .engine import common_practice, rule_findings, run_rules

    store = open_store(a.store)
    run = run_rules(store, pack, rules=a.rules.split(",") if a.rules else None, threads=a.threads)
    common_practice(run)
    print(format_summary(run.summary))
    t = run.totals()
    print(f"合计 / total: {t['ran']} 条规则运行 ran, {t['skipped']} 条未运行 skipped, {t['hits']:,} 条明细 hits, "
          f"违规金额 {t['deduct_amount']:,.2f} 元")
    if a.out:
        from ..findings import FindingsReport, sort_findings, write_findings
        from ..outputs import claim_output_dir, write_csv

        out = claim_output_dir(a.out, "scan")
        out.mkdir(parents=True, exist_ok=True)
        found = sort_findings(rule_findings(run, store=store))
        rep = FindingsReport(found, store.fingerprint, {"rule_violation": {"pack": a.pack or "", "kb": a.kb or ""}},
                             extra={"rule_summary": {"totals": t, "rules": run.summary}})
        write_findings(out / "findings.json", rep)
        if run.frame is not None and len(run.hits):
            cols = ["claim_id", "item_code", "provider_type", "provider_id", "month", "amount"]
            hits = run.frame.take(cols, run.hits["row"].to_numpy()).reset_index(drop=True)
            hits.insert(0, "rule_id", run.hits["rule_id"].to_numpy())
            hits["deduct"] = run.hits["deduct"].round(2).to_numpy()
        else:
            hits = None
        if hits is not None:
            write_csv(hits, Path(out) / "rule_hits.csv")
        print(f"已写出 / written: {out / 'findings.json'} ({len(found)} 条线索 findings)"
              + (f", {out / 'rule_hits.csv'}" if hits is not None else ""))
    return 0
