"""Rule-pack and knowledge-base files: a bureau's own rule written only in a temp file runs; a
malformed rule or catalogue gets a clear error naming file, entry and field, and nothing runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_bundle
from graphkit.rules import RuleFileError, load_kb, load_pack, run_rules
from rules_cases import build, hits_by_rule

KB = """
[meta]
name = "某市目录"
version = "2025.2"

[[item]]
code = "250101001"
name = "血常规"
category = "exam"
ceiling = { l1 = 15.0, l2 = 16.0, l3 = 17.0 }
source = "某市物价文件"
date = "2025-02-01"
"""

RULE = """
[pack]
name = "某市规则"
version = "0.1"
kb = "kb.toml"

[[rule]]
id = "CITY-001"
name = "血常规超本市限价"
category = "超支付标准"
shape = "price_ceiling"
params = {{ tolerance = 0.0 }}
level = "违规"
window = "当次"
settings = ["门诊"]
stage = "事后"
basis = "某市医疗服务价格文件"
version = "0.1"
{extra}
"""


def _write(tmp: Path, rule_extra: str = "", kb: str = KB) -> Path:
    (tmp / "kb.toml").write_text(kb, "utf-8")
    (tmp / "pack.toml").write_text(RULE.format(extra=rule_extra), "utf-8")
    return tmp / "pack.toml"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from loaders import load_bundle

    from graphkit.store import open_store

    root = tmp_path_factory.mktemp("rf")
    os.environ.setdefault("GRAPHKIT_AUDIT_LOG", str(root / "audit.jsonl"))
    load_bundle(write_bundle(root / "b", build().tables()), root / "s", allow_demo_key=True)
    return open_store(root / "s")


def test_a_rule_written_only_in_a_file_runs(store, tmp_path):
    pack = load_pack(_write(tmp_path))
    assert [r.id for r in pack.rules] == ["CITY-001"] and pack.kb.version == "2025.2"
    hits = hits_by_rule(run_rules(store, pack))["CITY-001"]
    # this city's ceilings (l1 15.00, l2 16.00): the 18.00 / 18.50 at level 1 and the 20.00 at level 2 are over
    assert {"CF3B", "CF3G1", "CF3G2", "BZ1B", "BZ1G"} <= hits
    assert all(c.startswith(("CF3", "BZ1", "DB1")) for c in hits), hits


def test_code_rule_from_a_bureau_module(store, tmp_path, monkeypatch):
    (tmp_path / "bureau_rules.py").write_text(
        "import pandas as pd\n"
        "def night_exams(sub, rule, ctx):\n"
        "    s = sub[(sub['category'] == 'exam') & (sub['claim_id'].str.startswith('CF1'))]\n"
        "    return pd.DataFrame({'row': s.index.to_numpy(), 'deduct': s['amount'].to_numpy()})\n", "utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    p = _write(tmp_path)
    p.write_text(p.read_text("utf-8").replace('shape = "price_ceiling"\nparams = { tolerance = 0.0 }',
                                              'shape = "code"\nfunction = "bureau_rules:night_exams"'), "utf-8")
    run = run_rules(store, load_pack(p))
    assert hits_by_rule(run)["CITY-001"] == {"CF1B", "CF1G1", "CF1G2"}


@pytest.mark.parametrize("extra,message", [
    ('level = "严重"', "rule 'CITY-001' field 'level'"),
])
def test_bad_enum_in_rule(tmp_path, extra, message):
    p = _write(tmp_path)
    p.write_text(p.read_text("utf-8").replace('level = "违规"', extra), "utf-8")
    with pytest.raises(RuleFileError) as e:
        load_pack(p)
    assert str(p) in str(e.value) and message in str(e.value)


@pytest.mark.parametrize("edit,message", [
    (('params = { tolerance = 0.0 }', 'params = { tolerence = 0.0 }'), "field 'params.tolerence': unknown parameter"),
    (('params = { tolerance = 0.0 }', 'params = { tolerance = -1.0 }'), "field 'params.tolerance': -1.0 must be >= 0"),
    (('basis = "某市医疗服务价格文件"\n', ''), "rule 'CITY-001' field 'basis'"),
    (('window = "当次"', 'window = "每周"'), "rule 'CITY-001' field 'window'"),
    (('shape = "price_ceiling"', 'shape = "code"\nfunction = "no_such_mod:fn"'), "field 'function': cannot import"),
    (('id = "CITY-001"', 'id = "CITY 001"'), "field 'id'"),
    (('basis = "某市医疗服务价格文件"\n', 'basis = "某市医疗服务价格文件"\ncolour = "red"\n'), "field 'colour': unknown field"),
])
def test_malformed_rule_names_file_rule_and_field(tmp_path, edit, message):
    p = _write(tmp_path)
    text = p.read_text("utf-8")
    assert edit[0] in text
    p.write_text(text.replace(*edit), "utf-8")
    with pytest.raises(RuleFileError) as e:
        load_pack(p)
    assert str(p) in str(e.value) and message in str(e.value), str(e.value)


@pytest.mark.parametrize("edit,message", [
    (('category = "exam"', 'category = "food"'), "item '250101001' field 'category'"),
    (('l1 = 15.0', 'l1 = -15.0'), "item '250101001' field 'ceiling'"),
    (('date = "2025-02-01"', 'date = "1 Feb 2025"'), "item '250101001' field 'date'"),
    (('source = "某市物价文件"\n', ''), "item '250101001' field 'source'"),
    (('category = "exam"', 'category = "exam"\nincludes = ["999"]'), "item '250101001' field 'includes': unknown code '999'"),
])
def test_malformed_catalogue_names_file_item_and_field(tmp_path, edit, message):
    p = _write(tmp_path, kb=KB.replace(*edit))
    with pytest.raises(RuleFileError) as e:
        load_pack(p)
    assert str(tmp_path / "kb.toml") in str(e.value) and message in str(e.value), str(e.value)


def test_duplicate_ids_and_bad_toml(tmp_path):
    with pytest.raises(RuleFileError, match="item '250101001' field 'code': duplicate code"):
        load_pack(_write(tmp_path, kb=KB + KB.split("\n[meta]")[1].split("\n\n", 1)[1].replace('version = "2025.2"', "")))
    p = tmp_path / "broken.toml"
    p.write_text("[pack\nname=", "utf-8")
    with pytest.raises(RuleFileError, match="broken.toml: not valid TOML"):
        load_pack(p)


def test_shipped_catalogue_says_its_prices_are_not_real():
    kb = load_kb()
    assert "非真实" in kb.meta["note"] and kb.items["source"].notna().all() and kb.items["date"].notna().all()


def test_cli_check_refuses_a_bad_pack_and_run_writes_findings(store, tmp_path):
    p = _write(tmp_path)
    p.write_text(p.read_text("utf-8").replace('stage = "事后"', 'stage = "later"'), "utf-8")
    env = {**os.environ, "GRAPHKIT_ALLOW_DEMO_KEY": "1"}
    r = subprocess.run([sys.executable, "-m", "graphkit.cli", "rules", "check", "--pack", str(p)],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "rule 'CITY-001' field 'stage'" in r.stderr
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "graphkit.cli", "rules", "run", "--store", str(store.path),
                        "--rules", "BZ-001,CL-001", "--threads", "1", "--out", str(out)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "BZ-001" in r.stdout and "违规金额" in r.stdout
    assert (out / "findings.json").exists()
    assert (out / "rule_hits.csv").read_text("utf-8").splitlines()[1].startswith("BZ-001,BZ1B,250101001,institution,H1,2024-03")


def test_rule_pack_runs_in_a_plain_scan():
    """A plain scan runs the rule pack; whether it ran (items or none) leaves the provider
    model's blind share as it is — it measures what the graph detectors saw."""
    from graphkit.detectors import REGISTRY, default_kinds
    from graphkit.scan import blind_share

    assert "rule_violation" in REGISTRY and "rule_violation" in default_kinds()
    ran = [k for k in default_kinds() if k != "rule_violation"]
    assert blind_share(ran, {}) == blind_share(default_kinds(), {})
    assert blind_share(["shared_card"], {}) > blind_share(default_kinds(), {})


def test_a_scan_skips_the_rule_pack_that_would_not_fit_in_memory(small_rule_city, monkeypatch):
    """The scan estimates the pack's peak from its item lines and, when it exceeds what the
    process may take, skips it and says why — the other kinds' findings are kept."""
    from graphkit.scan import scan
    from graphkit.store import open_store

    store = open_store(small_rule_city / "s")
    monkeypatch.setenv("GRAPHKIT_RULES_MEMORY_GB", "0.000001")
    res = scan(store, kinds=["rule_violation", "shared_card"])
    assert "rule_violation" in res.skipped and "GRAPHKIT_RULES_MEMORY_GB" in res.skipped["rule_violation"]
    assert "item lines" in res.skipped["rule_violation"] and "shared_card" in res.parameters
    assert not any(f.kind == "rule_violation" for f in res.findings)
    monkeypatch.setenv("GRAPHKIT_RULES_MEMORY_GB", "64")
    assert any(f.kind == "rule_violation" for f in scan(store, kinds=["rule_violation"]).findings)
