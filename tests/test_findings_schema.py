"""docs/findings.schema.json: generated from the findings model, and a real scan validates against it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from graphkit.detectors import REGISTRY, default_kinds
from graphkit.findings import KINDS
from graphkit.findings_schema import SCAN_KEYS, findings_schema, render_json

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "docs" / "findings.schema.json"


@pytest.fixture(scope="module")
def scans(tmp_path_factory) -> dict[str, dict]:
    """findings.json of a 3,000-person demo city: the default scan, and one of the opt-in kinds."""
    from graphkit.scan import scan, write_scan
    from graphkit.store import open_store
    from graphkit.workbench.testing import make_demo

    root = tmp_path_factory.mktemp("schema-demo")
    with pytest.MonkeyPatch.context() as mp:  # module scope: the autouse audit fixtures are not active yet
        mp.setenv("GRAPHKIT_AUDIT_LOG", str(root / "audit.jsonl"))
        mp.setenv("GRAPHKIT_AUDIT_KEY", str(root / "keys" / "audit-ed25519.pem"))
        mp.setenv("GRAPHKIT_ALLOW_DEMO_KEY", "1")
        paths = make_demo(root / "city", patients=3000)
        opt_in = [k for k in REGISTRY if k not in default_kinds()]
        write_scan(scan(open_store(paths["store"]), kinds=opt_in), root / "opt-in")
    return {"default": json.loads(paths["findings"].read_text("utf-8")),
            "opt-in": json.loads((root / "opt-in" / "findings.json").read_text("utf-8"))}


def test_committed_schema_is_generated_from_the_model():
    assert SCHEMA.read_text("utf-8") == render_json(), \
        "docs/findings.schema.json is stale: run `python -m graphkit.findings_schema > docs/findings.schema.json`"


def test_schema_is_draft_2020_12_and_covers_the_model():
    s = findings_schema()
    jsonschema.Draft202012Validator.check_schema(s)
    assert s["$defs"]["kind"]["enum"] == list(KINDS)
    assert set(s["properties"]["parameters"]["properties"]) == set(REGISTRY)
    for key in SCAN_KEYS:
        assert key in s["properties"] and key not in s["required"]
    assert "docs/findings.schema.json" in (ROOT / "docs" / "findings.md").read_text("utf-8")


@pytest.mark.parametrize("which", ["default", "opt-in"])
def test_a_real_scan_validates(scans, which):
    doc = scans[which]
    s = findings_schema()
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in jsonschema.Draft202012Validator(s).iter_errors(doc)]
    assert not errors, "\n".join(errors[:20])
    kinds = {f["kind"] for f in doc["findings"]}
    assert kinds == (set(default_kinds()) if which == "default" else set(REGISTRY) - set(default_kinds()))
    # the schema accepts keys it does not know (fields are only added), so check here that it declares all we write
    assert set(doc) <= set(s["properties"]), set(doc) - set(s["properties"])
    declared = set(s["$defs"]["finding"]["properties"])
    assert all(set(f) == declared for f in doc["findings"])
    if which == "default":
        assert doc["referral_clusters"] and set(doc["referral_clusters"][0]) == set(s["$defs"]["referral_cluster"]["properties"])
        assert "rule_summary" in doc  # the rule pack runs in a plain scan


def test_the_schema_rejects_what_the_contract_forbids(scans):
    v = jsonschema.Draft202012Validator(findings_schema())
    good = scans["default"]
    kind = good["findings"][0]["kind"]

    def broken(change) -> list[str]:
        doc = copy.deepcopy(good)
        change(doc)
        return [e.message for e in v.iter_errors(doc)]

    assert not broken(lambda d: d.update(new_top_level_key=1))  # fields are only added
    assert broken(lambda d: d["findings"][0].update(kind="no_such_kind"))
    assert broken(lambda d: d["findings"][0].pop("claims"))
    assert broken(lambda d: d["findings"][0]["evidence"].pop("benign_checks"))
    assert broken(lambda d: d["findings"][0]["evidence"]["benign_checks"].append({"check": "x", "zh": "x", "outcome": "maybe",
                                                                                   "detail": "", "factor": 1.0}))
    assert broken(lambda d: d["findings"][0]["entities"].append({"type": "hospital", "id": "H1", "role": ""}))
    assert broken(lambda d: d["findings"][0]["period"].update(start="2024-01-05 09:00"))
    assert broken(lambda d: d.update(schema="graphkit.findings/v0"))
    assert broken(lambda d: d["parameters"]["shared_card"].update(min_foreign_claims=0))  # declared low=1
    assert broken(lambda d: d["parameters"][kind].update(no_such_param=1))
    assert broken(lambda d: d["skipped"].update(no_such_kind="x"))
