"""The rule pack (``rule_violation``) on Neo4j against the embedded store, on a real Bolt server
(ArcadeDB started by the fixtures, or ``NEO4J_URI``).

A small ``item_rules`` demo city — item lines that follow the knowledge base, with planted
violations of every category among legal look-alikes — is loaded into both stores; the scan's
rule findings (ids, claims, 违规金额, rule ids, 判断等级, evidence) and the per-rule summary must
be identical.
"""

from __future__ import annotations

import json

import pytest

import graphkit
from graphkit.neo4jstore import Connection, Neo4jStore, load_bundle_neo4j
from graphkit.neo4jstore.runner import run_in

from test_neo4j import bolt_server  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def rule_city(small_rule_city):
    """(bundle, embedded store, truth) of the small item_rules city."""
    truth = json.loads((small_rule_city / "b" / "truth.json").read_text("utf-8"))
    return small_rule_city / "b", graphkit.open_store(small_rule_city / "s"), truth


@pytest.fixture(scope="module")
def both(bolt_server, rule_city):  # noqa: F811
    """The rule_violation scans of the embedded store and of the same bundle on Neo4j."""
    bundle, emb, truth = rule_city
    c = Connection(bolt_server["uri"], bolt_server["user"], bolt_server["password"], bolt_server["database"])
    try:
        with pytest.MonkeyPatch.context() as mp:  # module scope: the per-test audit fixture does not reach here
            mp.setenv("GRAPHKIT_AUDIT_LOG", str(bundle.parent / "audit.jsonl"))
            c.write(lambda tx: run_in(tx, "admin/wipe"), name="wipe")
            load_bundle_neo4j(bundle, c, allow_demo_key=True)
            neo = Neo4jStore(c)
            assert neo.fingerprint == emb.fingerprint
            scans = graphkit.scan(emb, kinds=["rule_violation"]), graphkit.scan(neo, kinds=["rule_violation"])
    finally:
        c.close()
    return (truth, *scans)


def test_rule_violation_same_findings_on_neo4j(both):
    truth, want, got = both
    planted = sum(1 for i in truth["instances"] if i["kind"] == "rule_violation")
    assert planted >= 10, planted
    w, g = [f.to_dict() for f in want.findings], [f.to_dict() for f in got.findings]
    # a non-trivial run: at least a finding per planted violation, from many rules at both 判断等级
    assert len(w) >= planted, (len(w), planted)
    assert len({f["evidence"]["rule_id"] for f in w}) >= 8
    assert {f["evidence"]["level"] for f in w} == {"违规", "可疑"}
    # the headline fields first (a readable failure), then every field and the per-rule summary
    head = ("id", "claims", "amount_at_risk")
    assert [[f[k] for k in head] + [f["evidence"][k] for k in ("rule_id", "level", "deduct_amount")] for f in w] == \
        [[f[k] for k in head] + [f["evidence"][k] for k in ("rule_id", "level", "deduct_amount")] for f in g]
    assert w == g
    assert want.summaries["rule_violation"] == got.summaries["rule_violation"]
