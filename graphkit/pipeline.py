"""End-to-end steps shared by the command line and the workbench: scan-and-write with its
audit entry, the scan summary, and the demo city run (generate → load → scan → dossier →
evaluation).

They live here, not in :mod:`graphkit.cli`, so that :mod:`graphkit.workbench.lab` can make
the demo city without importing the command line (and the command line can start the lab).

>>> from graphkit.findings import kind_label
>>> kind_label("split_stay")
'分解住院 / split inpatient stay'
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .findings import KINDS

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["scan_to", "format_scan_summary", "run_demo"]


def _audit(action: str, **details: Any) -> None:
    from .guard.client import record

    record(action, **details)  # through the guard where one runs (actor: the OS account), else the local log


def scan_to(store: Store, out: str | Path, kinds: Iterable[str] | None = None, params: dict | None = None, *,
            progress: Callable[[str], None] | None = None, check_out: bool = True,
            workers: int | None = None, memory_gb: float | None = None) -> tuple[Any, dict[str, Path]]:
    """Scan ``store``, write ``findings.json`` and ``scores.csv`` to ``out``, record it in the
    audit log; return the :class:`~graphkit.scan.ScanResult` and the written paths.
    ``workers``, ``memory_gb``: see :func:`graphkit.scan.scan`."""
    from .scan import scan, write_scan

    result = scan(store, kinds=list(kinds) if kinds is not None else None, params=params or {}, progress=progress,
                  workers=workers, memory_gb=memory_gb)
    paths = write_scan(result, out, check_out=check_out)
    _audit("scan", fingerprint=result.data_fingerprint, kinds=sorted(result.parameters), findings=len(result.findings),
           out=str(Path(out).resolve()))
    return result, paths


def format_scan_summary(result: Any, top: int = 5) -> str:
    """The scan summary the CLI prints: leads and fund at risk per kind, skipped and degraded
    detectors, the top leads, referral clusters and the top providers."""
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
            lines.append(f"  [{r.score:.3f}] {r.entity_type} {r.entity_id}: {r.finding_count} 条线索, "
                         f"{r.amount_at_risk:,.2f} 元 ({r.top_kinds})")
    return "\n".join(lines)


def run_demo(out: str | Path, *, patients: int = 20_000, seed: int = 0, months: int = 12,
             say: Callable[[str], None] = print, progress: Callable[[str], None] | None = None) -> dict[str, Path]:
    """Generate a demo city under ``out/bundle``, load it into ``out/store``, scan it, draft a
    dossier for the top lead and evaluate against the planted truth; ``say`` gets each line
    of the report. Returns the written paths (``findings``, ``scores``, ``evaluation``)."""
    from loaders import load_bundle

    from .demo import generate_city
    from .dossier import draft_dossier
    from .dossier.render import chromium_path
    from .evaluate import evaluate, format_evaluation
    from .outputs import claim_output_dir
    from .store import open_store

    out = claim_output_dir(out, "demo")
    bundle, store_dir = out / "bundle", out / "store"
    t0 = time.perf_counter()
    say(f"生成示范城市 / generating a demo city: {patients} 参保人/patients, {months} 月/months, seed {seed}")
    info = generate_city(bundle, patients=patients, seed=seed, months=months, fmt="parquet")
    say(f"  {info['rows']['claims']:,} 笔结算/claims in {time.perf_counter() - t0:.1f}s")
    t1 = time.perf_counter()
    res = load_bundle(bundle, store_dir)
    _audit("load", bundle=str(Path(bundle).resolve()), store=str(Path(store_dir).resolve()), fingerprint=res.store_fingerprint,
           bundle_fingerprint=res.bundle_fingerprint, rows=res.rows, lenient=False, pseudonymised=True)
    say(f"加载 / loaded into {store_dir} in {time.perf_counter() - t1:.1f}s")
    store = open_store(store_dir)
    result, paths = scan_to(store, out, None, {}, progress=progress, check_out=False)
    say(format_scan_summary(result))
    if result.findings:
        top = result.findings[0]
        d = draft_dossier(store, top, out / "dossier", parameters=result.parameters.get(top.kind), pdf=chromium_path() is not None)
        say(f"案件材料草稿 / dossier draft: {d['html']}" + (f" + {d['pdf'].name}" if "pdf" in d else " (PDF: install chromium)"))
    ev = evaluate(bundle / "truth.json", paths["findings"], paths["scores"])
    paths["evaluation"] = out / "evaluation.json"
    paths["evaluation"].write_text(json.dumps(ev, ensure_ascii=False, indent=1), "utf-8")
    say("对照真值评估 / evaluation against the planted truth:")
    say(format_evaluation(ev))
    say(f"已写出 / written: {paths['findings']}, {paths['scores']}, {paths['evaluation']}")
    say(f"总用时 / total: {time.perf_counter() - t0:.1f}s")
    return paths
