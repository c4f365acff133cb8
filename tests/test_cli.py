"""The command line as a user meets it: exit codes 0 / 1 / 2, messages, never a traceback,
help for every option with its default, and docs/cli.md generated from the parser."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import tiny_tables, write_bundle
from graphkit.cli import build_parser
from graphkit.cli.reference import render_markdown

ROOT = Path(__file__).resolve().parents[1]
GRAPHKIT = str(Path(sys.executable).parent / "graphkit")


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run([GRAPHKIT, *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env={**os.environ, **(env or {})})
    assert "Traceback" not in r.stderr + r.stdout, r.stderr[-3000:]
    return r


# --- usage errors: exit 2, the option named, nothing done ---------------------------------------

USAGE = [
    (["demo", "--patients", "500"], "--patients", "at least 1000; got 500"),
    (["demo", "--months", "0"], "--months", "at least 2; got 0"),
    (["generate", "{tmp}/g", "--months", "1"], "--months", "at least 2; got 1"),
    (["generate", "{tmp}/g", "--quirk", "nope"], "--quirk", "invalid choice: 'nope'"),
    (["generate", "{tmp}/g", "--fraud-rate", "-1"], "--fraud-rate", "at least 0.0; got -1.0"),
    (["validate", "{bundle}", "--encoding", "nope"], "--encoding", "unknown encoding 'nope'"),
    (["validate", "{bundle}", "--limit", "-1"], "--limit", "at least 0; got -1"),
    (["load", "{bundle}"], "usage error", "give --store DIR (embedded store) or --neo4j URI"),
    (["load", "{bundle}", "--store", "{tmp}/s", "--keep-personal"], "usage error", "--keep-personal needs --reason TEXT"),
    (["load", "{bundle}", "--store", "{tmp}/s", "--reason", "audit"], "usage error", "--reason is only used with --keep-personal"),
    (["load", "{bundle}", "--store", "{tmp}/s", "--chunk-rows", "-5"], "--chunk-rows", "at least 0; got -5"),
    (["scan", "--out", "{tmp}/f"], "usage error", "give --store DIR (embedded store) or --neo4j URI"),
    (["scan", "--store", "{tmp}/s"], "--out", "the following arguments are required: --out"),
    (["scan", "--store", "{tmp}/s", "--out", "{tmp}/f", "--kinds", "shared_card,bogus"], "usage error", "unknown kind(s) ['bogus']"),
    (["scan", "--store", "{tmp}/s", "--out", "{tmp}/f", "--param", "nodot"], "usage error", "--param must look like kind.name=value"),
    (["evaluate", "--findings", "{tmp}/f.json"], "--truth", "the following arguments are required: --truth"),
    (["explain", "H0001"], "usage error", "give --store DIR (embedded store) or --neo4j URI"),
    (["dossier", "X1", "--store", "{tmp}/s"], "usage error", "give --findings findings.json and --out DIR"),
    (["dossier", "verify"], "usage error", "graphkit dossier verify DIR"),
    (["dossier", "X1", "--findings", "{tmp}/f.json", "--out", "{tmp}/d", "--clear"], "usage error", "--clear needs --clear-source BUNDLE"),
    (["audit", "show", "--tail", "-1"], "--tail", "at least 0; got -1"),
    (["lab", "--port", "0", "--dry-run"], "--port", "at least 1; got 0"),
    (["lab", "--demo-patients", "10", "--dry-run"], "--demo-patients", "at least 1000; got 10"),
    (["nosuch"], "COMMAND", "invalid choice: 'nosuch'"),
]


@pytest.mark.parametrize("args,named,message", USAGE, ids=[" ".join(a[:2]) + "…" + m[:18] for a, _, m in USAGE])
def test_usage_errors_exit_2_with_a_message(args, named, message, tmp_path, tiny_bundle):
    args = [a.format(tmp=tmp_path, bundle=tiny_bundle) for a in args]
    r = run(*args)
    assert r.returncode == 2, (args, r.stdout[-500:], r.stderr[-1500:])
    assert named in r.stderr and message in r.stderr, r.stderr
    assert not (tmp_path / "s").exists() and not (tmp_path / "g").exists()  # nothing was done


# --- data and run errors: exit 1 ---------------------------------------------------------------

def test_data_errors_exit_1(tmp_path):
    r = run("scan", "--store", str(tmp_path / "none"), "--out", str(tmp_path / "f"))
    assert r.returncode == 1 and "no store at" in r.stderr
    r = run("validate", str(tmp_path / "nobundle"))
    assert r.returncode == 1 and "does not exist or is not a folder" in r.stderr
    r = run("evaluate", "--truth", str(tmp_path / "t.json"), "--findings", str(tmp_path / "f.json"))
    assert r.returncode == 1 and "file not found" in r.stderr


def test_structural_error_reported_first_and_alone(tmp_path):
    tables = tiny_tables()
    for row in tables["claims"]:
        del row["fund_amount"]
    bundle = write_bundle(tmp_path / "b", tables)
    n_items = len(tables["claim_items"])  # every item refers to a claim, and no claim can be kept
    r = run("validate", str(bundle))
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith("结构问题"))
    assert lines[i + 1] == "  claims.fund_amount: 缺少必需的列 / required column missing"
    assert f"{n_items} follow-on issue(s) caused by them (claim_items.claim_id: reference to an unknown record)" in lines[i + 2]
    assert "claim_items 行/row" not in r.stdout  # the follow-on issues are not listed one by one
    r = run("load", str(bundle), "--store", str(tmp_path / "s"))
    assert r.returncode == 1 and not (tmp_path / "s").exists()
    assert (r.stdout + r.stderr).count("校验报告 / Validation report") == 1  # the report once, not twice
    assert f"另有 {n_items} 个后续问题" in r.stderr


def test_declared_encoding_that_makes_mojibake_is_refused(tmp_path, tiny_bundle):
    r = run("validate", str(tiny_bundle), "--encoding", "latin9")
    assert r.returncode == 1
    assert "the file is UTF-8 text" in r.stderr and "--encoding latin9 (iso8859-15)" in r.stderr
    r = run("load", str(tiny_bundle), "--store", str(tmp_path / "s"), "--encoding", "gb18030")
    assert r.returncode == 1 and "--encoding gb18030" in r.stderr and not (tmp_path / "s").exists()
    gb = write_bundle(tmp_path / "gb", tiny_tables(), encoding="gb18030")  # a true GB18030 export is fine
    assert run("validate", str(gb), "--encoding", "gb18030").returncode == 0
    assert run("validate", str(tiny_bundle), "--encoding", "utf-8").returncode == 0


def test_missing_tables_are_reported_before_the_key(tmp_path, tiny_bundle):
    no_key = {"GRAPHKIT_ALLOW_DEMO_KEY": "", "GRAPHKIT_PSEUDO_KEY": "", "GRAPHKIT_PSEUDO_KEY_FILE": ""}
    part = write_bundle(tmp_path / "part", {t: rows for t, rows in tiny_tables().items() if t in ("institutions", "doctors")})
    r = run("load", str(part), "--store", str(tmp_path / "s"), env=no_key)
    assert r.returncode == 1
    assert "the bundle lacks required table(s): patients, cards, claims" in r.stderr
    assert "GRAPHKIT_PSEUDO_KEY" not in r.stderr and not (tmp_path / "s").exists()
    r = run("load", str(tiny_bundle), "--store", str(tmp_path / "s"), env=no_key)  # complete: now the key
    assert r.returncode == 1 and "GRAPHKIT_PSEUDO_KEY" in r.stderr


def test_keep_personal_without_a_guard_is_refused_before_anything_is_written(tmp_path, tiny_bundle):
    r = run("load", str(tiny_bundle), "--store", str(tmp_path / "s"), "--keep-personal", "--reason", "公安协查 2024-17",
            env={"GRAPHKIT_GUARD": ""})
    assert r.returncode == 1 and "goes through the guard" in r.stderr
    assert "stored in clear" not in r.stderr and not (tmp_path / "s").exists()


def test_keep_personal_needs_a_reason_warns_and_is_audited(tmp_path, tiny_bundle, guard):
    log = Path(os.environ["GRAPHKIT_AUDIT_LOG"])  # the guard's log (conftest: this test's own)
    store = tmp_path / "s"
    r = run("load", str(tiny_bundle), "--store", str(store), "--keep-personal", "--reason", "公安协查 2024-17")
    assert r.returncode == 0, r.stderr
    assert "warning: personal fields (name, id number, …) are stored in clear" in r.stderr
    assert "personal data: kept in clear (not pseudonymised)" in r.stdout
    entry = [json.loads(line) for line in log.read_text("utf-8").splitlines()][-1]
    assert entry["action"] == "load"
    assert entry["details"]["reason"] == "公安协查 2024-17" and entry["details"]["pseudonymised"] is False
    assert entry["details"]["personal_data"] == "clear"
    assert json.loads((store / "manifest.json").read_text("utf-8"))["pseudonymised"] is False


# --- help and the generated reference ----------------------------------------------------------

def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_every_option_has_bilingual_help_and_its_default():
    missing = []
    for name, sp in _subparsers(build_parser()).items():
        fmt = sp._get_formatter()
        for a in sp._actions:
            text = fmt._expand_help(a) if a.help else ""
            bilingual = re.search(r"[\u4e00-\u9fff]", text) and re.search(r"[A-Za-z]{3}", text)
            wants_default = a.option_strings and not a.required and a.nargs != 0
            if not bilingual or (wants_default and "default" not in text):
                missing.append((name, a.option_strings or a.dest, text))
            if wants_default and a.default not in (None, [], argparse.SUPPRESS):
                assert str(a.default) in text, (name, a.option_strings, text)
    assert missing == []


def test_generate_scales_the_planted_fraud(tmp_path):
    r = run("generate", str(tmp_path / "g"), "--patients", "20000", "--months", "2", "--fraud-rate", "0.5")
    assert r.returncode == 0, r.stderr[-2000:]
    truth = json.loads((tmp_path / "g" / "truth.json").read_text("utf-8"))
    assert truth["fraud_rate"] == 0.5
    per_kind = {k: sum(i["kind"] == k for i in truth["instances"]) for k in ("shared_card", "phantom_stay")}
    assert per_kind == {"shared_card": 4, "phantom_stay": 4}, per_kind  # round(20000 / 2500 × 0.5); 8 at the default rate


def test_docs_cli_md_is_generated_from_the_parser():
    doc = (ROOT / "docs" / "cli.md").read_text("utf-8")
    assert doc == render_markdown(), "docs/cli.md is stale: run `python -m graphkit.cli.reference > docs/cli.md`"
    for name in _subparsers(build_parser()):
        assert f"## graphkit {name}\n" in doc


def test_dev_runs_graphkit():
    r = subprocess.run([str(ROOT / "dev"), "graphkit", "scan", "--out", "x"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 2 and "give --store DIR" in r.stderr
    r = subprocess.run([str(ROOT / "dev"), "setup"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and '.venv/bin:$PATH"' in r.stdout


def test_opt_in_kinds_named_by_the_cli_are_the_registry_s():
    from graphkit.detectors import REGISTRY
    from graphkit.findings import OPT_IN_KINDS

    assert set(OPT_IN_KINDS) == {k for k, d in REGISTRY.items() if not d.default}
