"""Subcommands that make, check and load bundles: ``demo``, ``generate``, ``validate``,
``load``, ``adapt``."""

from __future__ import annotations

import argparse
import codecs
import json
import os
from pathlib import Path
from typing import Any

from ._common import (
    HelpFormatter,
    UsageError,
    audit,
    err,
    float_at_least,
    int_at_least,
    neo4j_args,
    neo4j_conn,
    progress_bar,
    wants_neo4j,
)

__all__ = ["register"]


def encoding_name(text: str) -> str:
    """An argparse type: a codec Python knows (its canonical name is checked, the given one kept)."""
    try:
        codecs.lookup(text)
    except LookupError:
        raise argparse.ArgumentTypeError(f"未知的编码 / unknown encoding {text!r} (e.g. utf-8, gb18030)") from None
    return text


def cmd_demo(a: argparse.Namespace) -> int:
    from ..pipeline import run_demo

    bar = progress_bar("扫描 / scan")
    try:
        run_demo(a.out, patients=a.patients, seed=a.seed, months=a.months,
                 progress=lambda k: (bar.set_postfix_str(k), bar.update(1)))
    finally:
        bar.close()
    return 0


def cmd_generate(a: argparse.Namespace) -> int:
    from ..demo import generate_city

    info = generate_city(a.out, patients=a.patients, seed=a.seed, fmt=a.format, months=a.months,
                         variant=a.variant, quirks=a.quirk, fraud_rate=a.fraud_rate)
    print(json.dumps(info, ensure_ascii=False, indent=1, default=str))
    return 0


def cmd_validate(a: argparse.Namespace) -> int:
    from loaders import validate_bundle

    from ..profile import ProfileSink, format_profile

    sink = ProfileSink()
    report = validate_bundle(a.bundle, mapping=a.mapping, encoding=a.encoding, store=a.store, sink=sink)
    print(report.format(limit=a.limit))
    if sink.builder.rows and not report.structural_issues().shape[0]:
        print(format_profile(sink.result()))
    if a.report:
        report.to_csv(a.report)  # CSV-injection safe
        print(f"问题清单 / issue list: {a.report}")
    return 0 if report.ok else 1


def _check_personal(a: argparse.Namespace) -> None:
    """``--keep-personal`` needs ``--reason`` (and ``--reason`` needs ``--keep-personal``)."""
    reason = (a.reason or "").strip()
    if a.keep_personal and not reason:
        raise UsageError("--keep-personal 需要 --reason TEXT（为何保存明文个人信息，记入审计日志）/ "
                         "--keep-personal needs --reason TEXT (why personal data is kept in clear; written to the audit log)")
    if a.reason is not None and not a.keep_personal:
        raise UsageError("--reason 只与 --keep-personal 一起使用 / --reason is only used with --keep-personal")


def _warn_personal(a: argparse.Namespace) -> None:
    """Warn on stderr that personal data will be kept in clear (after the guard allowed it)."""
    reason = (a.reason or "").strip()
    if a.keep_personal:
        err("警告：不做假名化，姓名、身份证号等个人信息将以明文写入存储；原因已记入审计日志 / "
            f"warning: personal fields (name, id number, …) are stored in clear, not pseudonymised; reason recorded in the audit log: {reason}")


def cmd_load_neo4j(a: argparse.Namespace) -> int:
    from ..neo4jstore import load_bundle_neo4j

    bar = progress_bar("写入图数据库 / writing to Neo4j", unit="batch")

    def step(name: str, done: int, total: int) -> None:
        bar.total = total
        bar.set_postfix_str(name)
        bar.update(done - bar.n)

    with neo4j_conn(a) as conn:
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

    _check_personal(a)
    if a.keep_personal:  # needs clear_data in the guard's roles file, recorded by the guard first
        from ..guard.cli import authorise_keep_personal

        authorise_keep_personal(a.bundle, a.store or a.neo4j or os.environ.get("NEO4J_URI", ""), a.reason.strip())
        _warn_personal(a)
    if wants_neo4j(a):
        return cmd_load_neo4j(a)
    if not a.store:
        raise UsageError("请给出 --store DIR（嵌入式存储）或 --neo4j URI / give --store DIR (embedded store) or --neo4j URI")
    bar = progress_bar("加载 / load")

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
    personal: dict[str, Any] = {"personal_data": "clear", "reason": a.reason.strip()} if a.keep_personal else {}
    audit("load", bundle=str(Path(a.bundle).resolve()), **where, fingerprint=res.store_fingerprint,
          bundle_fingerprint=res.bundle_fingerprint, rows=res.rows, lenient=a.lenient, pseudonymised=not a.keep_personal,
          **personal)
    print(f"已加载 / loaded {a.bundle} → {target}")
    for t, n in res.rows.items():
        print(f"  {t}: {n}")
    print(f"数据指纹 / data fingerprint: {res.store_fingerprint}")
    if a.keep_personal:
        print("个人信息：明文保存（未假名化）/ personal data: kept in clear (not pseudonymised)")
    if getattr(res, "profile", None):
        from ..profile import format_profile

        print(format_profile(res.profile))
    print(f"用时 / time: {res.seconds:.1f}s ({rate})")
    return 0


def cmd_adapt(a: argparse.Namespace) -> int:
    from loaders.synthea import synthea_to_bundle

    counts = synthea_to_bundle(a.src, a.out, fmt=a.format)
    print(f"已转换 / converted {a.src} → {a.out}")
    for t, n in counts.items():
        print(f"  {t}: {n}")
    return 0


def _read_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mapping", metavar="TOML",
                   help="外部表名/列名/取值的映射文件 / TOML mapping file for foreign table, column and value names "
                        "(default: none, the spec's names)")
    p.add_argument("--encoding", type=encoding_name, metavar="CODEC",
                   help="CSV 文件的编码，如 gb18030 / the CSV files' encoding, e.g. gb18030 (default: detect UTF-8, "
                        "else GB18030); a codec that would turn UTF-8 text into mojibake is refused")


def register(sub: Any) -> None:
    """Add ``demo``, ``generate``, ``validate``, ``load`` and ``adapt`` to the subparsers."""
    from ..demo.city import FORMATS, MIN_MONTHS, MIN_PATIENTS
    from ..demo.config import VARIANTS
    from ..demo.quirks import QUIRKS

    patients = int_at_least(MIN_PATIENTS, "参保人数 / insured people")
    months = int_at_least(MIN_MONTHS, "月数 / months")
    seed_help = "随机种子（同一种子得到同一城市）/ random seed (the same seed gives the same city)"

    d = sub.add_parser("demo", help="生成示范城市→加载→扫描→汇总 / demo city end to end", formatter_class=HelpFormatter,
                       description="生成示范城市、加载、扫描并汇总 / Generate a demo city, load it into the embedded store, "
                                   "scan it, print a summary, and write findings.json, scores.csv, a dossier draft and an "
                                   "evaluation to --out.")
    d.add_argument("--out", default="demo-out", metavar="DIR", help="输出目录 / output folder")
    d.add_argument("--patients", type=patients, default=20000, metavar="N",
                   help=f"城市参保人数 / insured people in the city (at least {MIN_PATIENTS})")
    d.add_argument("--months", type=months, default=12, metavar="N", help=f"数据月数 / months of data (at least {MIN_MONTHS})")
    d.add_argument("--seed", type=int, default=0, help=seed_help)
    d.set_defaults(func=cmd_demo)

    g = sub.add_parser("generate", help="只生成示范城市数据包 / write a demo-city bundle with truth.json", formatter_class=HelpFormatter,
                       description="生成含预置欺诈与真值文件的示范数据包 / Write a demo-city claims bundle (with planted fraud "
                                   "and truth.json) to OUT.")
    g.add_argument("out", metavar="OUT", help="数据包输出目录（空目录或旧数据包）/ bundle folder to write (empty, or an older bundle)")
    g.add_argument("--patients", type=patients, default=20000, metavar="N",
                   help=f"城市参保人数 / insured people in the city (at least {MIN_PATIENTS})")
    g.add_argument("--seed", type=int, default=0, help=seed_help)
    g.add_argument("--months", type=months, default=12, metavar="N", help=f"数据月数 / months of data (at least {MIN_MONTHS})")
    g.add_argument("--format", choices=list(FORMATS), default="parquet", help="文件格式 / file format")
    g.add_argument("--fraud-rate", type=float_at_least(0.0, "欺诈比例 / fraud rate"), default=1.0, metavar="X",
                   help="预置欺诈的倍数：每类约 人数/2500×X 起（至少3起）/ planted fraud scale: about patients/2500 × X "
                        "instances per kind (at least 3); e.g. 0.02 plants a handful in a city of 1M insured, a "
                        "needle-in-a-haystack test")
    g.add_argument("--variant", choices=list(VARIANTS), metavar="NAME",
                   help="城市变体（结构、合规相似者、导出怪癖）/ a named city family (structure, look-alikes, export quirks): "
                        + ", ".join(VARIANTS) + " (default: the typical city)")
    g.add_argument("--quirk", action="append", choices=list(QUIRKS), metavar="QUIRK",
                   help="导出怪癖，可重复，替换变体自带的 / an export quirk (repeatable; replaces the variant's): "
                        + ", ".join(QUIRKS) + " (default: the variant's)")
    g.set_defaults(func=cmd_generate)

    v = sub.add_parser("validate", help="校验数据包 / validate a claims bundle", formatter_class=HelpFormatter,
                       description="按数据包规范校验，逐条列出表、行、列、值 / Validate BUNDLE against the claims-bundle spec; "
                                   "print a report naming table, row, column and value of every problem (structural "
                                   "problems first). Exit 1 when there are problems. Writes nothing.")
    v.add_argument("bundle", metavar="BUNDLE", help="数据包目录 / the bundle folder")
    _read_options(v)
    v.add_argument("--store", metavar="DIR", help="数据包可引用的现有存储 / an existing store the bundle may refer to (default: none)")
    v.add_argument("--report", metavar="CSV", help="把全部问题写入此 CSV 文件 / write every issue to this CSV file (default: none)")
    v.add_argument("--limit", type=int_at_least(0, "条数 / count"), default=20, metavar="N", help="显示的问题条数 / issues printed")
    v.set_defaults(func=cmd_validate)

    ld = sub.add_parser("load", help="加载数据包到存储 / load a bundle into the embedded store or Neo4j", formatter_class=HelpFormatter,
                        description="校验并写入嵌入式存储（原子、幂等，后来的数据包合并进来）/ Validate BUNDLE and write it into "
                                    "the embedded store DIR (atomic, idempotent; a later bundle is merged in). Strict by "
                                    "default: any problem → nothing written, exit 1. Personal fields are pseudonymised with "
                                    "the key from GRAPHKIT_PSEUDO_KEY (or GRAPHKIT_PSEUDO_KEY_FILE); the built-in demo key "
                                    "serves generated demo bundles only.")
    ld.add_argument("bundle", metavar="BUNDLE", help="数据包目录 / the bundle folder")
    ld.add_argument("--store", metavar="DIR", help="嵌入式存储目录 / embedded store folder (default: none; --store or --neo4j is required)")
    neo4j_args(ld)
    ld.add_argument("--batch-size", type=int_at_least(1, "行数 / rows"), default=2000, metavar="N",
                    help="每个 Neo4j 事务的行数 / rows per Neo4j transaction")
    ld.add_argument("--lenient", action="store_true",
                    help="隔离问题行（附原因）并加载其余 / quarantine bad rows (with reasons) and load the rest")
    _read_options(ld)
    ld.add_argument("--keep-personal", action="store_true",
                    help="不做假名化（须同时给出 --reason；会警告并记入审计日志）/ do NOT pseudonymise personal fields "
                         "(needs --reason; warns and is written to the audit log)")
    ld.add_argument("--reason", metavar="TEXT",
                    help="保存明文个人信息的理由（与 --keep-personal 同用）/ why personal data is kept in clear (required with --keep-personal; default: none)")
    ld.add_argument("--chunk-rows", type=int_at_least(0, "行数 / rows"), default=None, metavar="N",
                    help="每次读取、校验、写入的行数 / rows read, validated and written at a time "
                         "(default 1000000; 0 = whole tables). Bounds memory for bundles larger than RAM")
    ld.add_argument("--limit", type=int_at_least(0, "条数 / count"), default=20, metavar="N",
                    help="显示的问题条数 / issues printed")
    ld.set_defaults(func=cmd_load)

    ad = sub.add_parser("adapt", help="外部导出→数据包 / convert a foreign export into a bundle", formatter_class=HelpFormatter,
                        description="把外部导出转换为数据包 / Convert a foreign export into a claims bundle. "
                                    "Sources: synthea (CSV export).")
    ad.add_argument("source", choices=["synthea"], help="来源格式 / source format")
    ad.add_argument("src", metavar="SRC", help="外部导出目录 / the export folder")
    ad.add_argument("out", metavar="OUT", help="数据包输出目录 / bundle folder to write")
    ad.add_argument("--format", choices=["csv", "parquet"], default="csv", help="文件格式 / file format")
    ad.set_defaults(func=cmd_adapt)
