"""Guarded verify and case changes through a signing guard (in-process: the test's account is the
guard's service account). The same attacks across OS accounts: ``test_sec_guard.py``."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from graphkit.audit import AuditLog
from graphkit.cli import main
from graphkit.guard import Guard, GuardClient, GuardConfig, GuardDenied, GuardRefused
from graphkit.guard.auditlog import GuardAuditLog, active_log, trusted_key
from graphkit.identity import os_account
from graphkit.signing import Signer, generate_keypair


@pytest.fixture
def signed_guard(tmp_path, monkeypatch):
    d = tmp_path / "guard"
    d.mkdir(mode=0o700)
    (d / "roles.toml").write_text('default_role = "analyst"\n[roles.analyst]\npermissions = ["export"]\n', "utf-8")
    kid = generate_keypair(d / "signing.pem")
    g = Guard(GuardConfig(socket=d / "g.sock", roles=d / "roles.toml", audit_log=d / "audit.jsonl", allow_demo_key=True,
                          signing_key=d / "signing.pem", anchor_dir=d / "anchors")).start()
    monkeypatch.setenv("GRAPHKIT_GUARD", str(g.socket_path))
    g.kid = kid
    yield g
    g.close()


def test_the_guards_log_is_signed_and_anchored(signed_guard):
    g = signed_guard
    log = active_log()
    assert isinstance(log, GuardAuditLog)
    v = log.verify()
    assert (v.ok, v.status, v.entries, v.signed_entries, v.key_id) == (True, "intact", 1, 1, g.kid)  # guard_start
    assert len(list((Path(g.config.anchor_dir)).glob("*.json"))) == 1
    assert log.verifier().key_id == g.kid
    with pytest.raises(GuardDenied, match="needs 'audit'"):
        list(log.entries())  # the verdict is for everyone, the entries for auditors


def test_case_changes_are_appended_through_the_guard(signed_guard, tmp_path):
    from graphkit.workbench.cases import CaseStore

    g = signed_guard
    cs = CaseStore(tmp_path / "cases.sqlite")
    assert isinstance(cs.audit_log, GuardAuditLog)
    c = cs.create("案 / case", actor="wang.fang")
    cs.update(c.id, actor=os_account(), status="reviewing")
    assert cs.verify() == []
    guard_log = AuditLog(g.config.audit_log)
    changes = guard_log.find("case_change", cases_db=cs.db_id)
    assert [(e["actor"], e["details"].get("display_name")) for e in changes] == [(os_account(), "wang.fang"), (os_account(), None)]
    assert AuditLog(os.environ["GRAPHKIT_AUDIT_LOG"]).find("case_change") == []  # nothing in the local log
    assert AuditLog(g.config.audit_log, public_key=g.signer.verifier, anchor_dir=g.config.anchor_dir).verify().status == "intact"
    # an audit row edited with sqlite3 is caught, and cannot be recorded again through the guard
    db = sqlite3.connect(cs.path)
    db.execute("UPDATE audit SET actor='zhang.wei' WHERE id=1")
    db.commit()
    from graphkit.workbench.case_chain import change_details

    forged = change_details(db, cs.db_id, c.id, [1])
    db.close()
    assert cs.verify() == ["case #1: audit row 1 was edited after it was recorded"]
    with GuardClient() as cl:
        with pytest.raises(GuardDenied, match=r"row\(s\) \[1\] .* recorded before"):
            cl.call("append", action="case_change", details=forged)
        with pytest.raises(GuardRefused, match="case_change needs exactly"):
            cl.call("append", action="case_change", details={**forged, "note": "x"})
        with pytest.raises(GuardRefused, match="32 hex"):
            cl.call("append", action="case_change", details={**forged, "rows": [[9, "nothex"]]})
    assert cs.verify() == ["case #1: audit row 1 was edited after it was recorded"]


def test_audit_verify_uses_the_guards_log_and_key(signed_guard, tmp_path, monkeypatch, capsys):
    g = signed_guard
    own = tmp_path / "own.pem"
    generate_keypair(own)
    monkeypatch.setenv("GRAPHKIT_AUDIT_PUBKEY", f"{own}.pub")  # the caller's own key: ignored in guarded mode
    monkeypatch.setenv("GRAPHKIT_ROLES", str(tmp_path / "nobody.toml"))  # a local roles file decides nothing here
    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert f"the guard's audit log ({g.socket_path}, guard account {os_account()}" in out
    assert f"audit log intact: 1 entries, head signed by key {g.kid}" in out
    assert main(["audit", "verify", "--public-key", f"{own}.pub"]) == 2  # the guard verifies its own log
    assert "use --public-key with --log FILE" in capsys.readouterr().err
    # a copy of the log checked with a key of one's own: said so, and it fails
    assert main(["audit", "verify", "--log", str(g.config.audit_log), "--public-key", f"{own}.pub"]) == 1
    out = capsys.readouterr().out
    assert f"--public-key {own}.pub（调用者指定 / given by the caller）" in out and "is not the guard's key" in out
    assert "REWRITTEN" in out and f"not the trusted key {Signer.from_file(own).key_id}" in out
    assert main(["audit", "show"]) == 1
    assert "needs 'audit'" in capsys.readouterr().err


def test_trusted_key_is_the_guards_and_an_explicit_key_is_reported(signed_guard, tmp_path, monkeypatch):
    g = signed_guard
    own = tmp_path / "own.pem"
    generate_keypair(own)
    monkeypatch.setenv("GRAPHKIT_AUDIT_PUBKEY", f"{own}.pub")
    k = trusted_key(None, active_log())
    assert (k.source, k.verifier.key_id) == ("guard", g.kid)
    assert "GRAPHKIT_AUDIT_PUBKEY ignored" in k.note and "runs as your own account" in k.note
    k = trusted_key(f"{own}.pub", active_log())
    assert k.source == "option" and k.verifier.key_id != g.kid and "is not the guard's key" in k.note
    monkeypatch.setenv("GRAPHKIT_GUARD", "off")
    k = trusted_key(None, active_log())
    assert (k.source, k.verifier.key_id, str(k).startswith(f"可信公钥 / trusted key {k.verifier.key_id}: GRAPHKIT_AUDIT_PUBKEY=")) == \
        ("environment", Signer.from_file(own).key_id, True)


def test_find_without_audit_needs_what_the_caller_holds(signed_guard):
    with GuardClient() as c:
        assert c.call("find", action="dossier_export", match={"manifest_sha256": "0" * 64})["entries"] == []
        with pytest.raises(GuardDenied, match="without naming cases_db"):
            c.call("find", action="case_change", match={})
        with pytest.raises(GuardDenied, match="read 'load_key_use' records"):
            c.call("find", action="load_key_use", match={})
        r = c.call("lookup_export", manifest_sha256="0" * 64)
        assert r["entries"] == [] and r["log"]["status"] == "intact"
        assert json.dumps(c.call("verify_log")["log"]["key_id"]) == json.dumps(signed_guard.kid)


def test_reveal_reads_only_the_personal_tables(tiny_bundle):
    """The guard's ``reveal`` rebuilds tokens from patients and contacts only: a claims file it
    cannot even parse does not matter (and on a 937k-claim city it takes 1.8 s / 0.42 GB instead
    of 4.3 s / 1.26 GB; docs/security.md)."""
    from graphkit.dossier.redact import ClearSource

    before = ClearSource.from_bundle(tiny_bundle, key=b"k" * 32).tokens
    assert before and {f for f, _ in before.values()} >= {"name", "id_number"}
    for p in tiny_bundle.glob("claim*"):
        p.write_bytes(b"\x00\xff not a table")
    assert ClearSource.from_bundle(tiny_bundle, key=b"k" * 32).tokens == before


def test_sign_off_is_the_guards_decision_for_the_os_account(signed_guard, tmp_path, monkeypatch):
    """#16, attacks 1 and 2 on the sign-off (what drops a dossier's draft mark): with a guard, a
    roles file of the user's own and a typed reviewer name decide nothing; the guard checks the OS
    account's ``sign_off`` in its roles file and records that account as the reviewer."""
    from graphkit.dossier import sign_off
    from graphkit.dossier.legal import LEVELS
    from graphkit.dossier.signoff import DECISIONS
    from graphkit.findings import Finding
    from graphkit.guard.server import _SIGN_OFF_VALUES
    from graphkit.roles import PermissionDenied
    from graphkit.workbench.cases import CaseStore

    # the guard checks the dossier package's own vocabulary (it does not import that package)
    assert _SIGN_OFF_VALUES == {"decision": tuple(DECISIONS), "level": LEVELS}
    g = signed_guard
    mine = tmp_path / "myroles.toml"  # the analyst's own roles file, granting everything
    mine.write_text('default_role = "boss"\n[roles.boss]\npermissions = ["export", "clear_data", "audit", "sign_off"]\n', "utf-8")
    monkeypatch.setenv("GRAPHKIT_ROLES", str(mine))
    monkeypatch.setenv("GRAPHKIT_USER", "zhao.min")
    f = Finding.create("collusion_ring", key=("r1",), score=0.9, amount_at_risk=100.0, start=None, end=None,
                       entities=[], claims=["C1"], summary="ring")
    cs = CaseStore(tmp_path / "cases.sqlite")
    case = cs.create("案 / case", actor="li.ming", findings=[f], assignee="li.ming")
    with pytest.raises(PermissionDenied, match="OS account .* may not sign off"):
        sign_off(cs, case.id, reviewer="赵敏", decision="approve", level="违规", date="2026-12-05")
    with GuardClient() as cl:  # nor can the record be appended by hand
        with pytest.raises(GuardDenied, match="written by the guard itself"):
            cl.call("append", action="dossier_sign_off", details={"case_id": f"CASE-{case.id:06d}", "reviewer": "赵敏"})
    roles = Path(g.config.roles)
    roles.write_text(roles.read_text("utf-8") + '[roles.reviewer]\npermissions = ["export", "sign_off"]\n'
                     f'[users]\n"{os_account()}" = "reviewer"\n', "utf-8")
    rec = sign_off(cs, case.id, reviewer="赵敏", decision="approve", level="违规", date="2026-12-05")
    assert rec["reviewer"] == os_account()
    logged = AuditLog(g.config.audit_log).find("dossier_sign_off", case_id=f"CASE-{case.id:06d}")
    assert [(e["actor"], e["details"]["reviewer"], e["details"]["display_name"]) for e in logged] == [
        (os_account(), os_account(), "赵敏")]
    # the export finds it through the guard (a caller without 'audit' names the case and digest)
    from graphkit.dossier.signoff import evidence_digest, find_sign_off
    from graphkit.workbench.cases import case_dossier_spec

    spec = case_dossier_spec(cs.get(case.id), cs.audit(case.id))
    digest = evidence_digest([f.id], f.claims, [])
    assert find_sign_off(spec["audit"], spec["id"], digest, active_log())["reviewer"] == os_account()
    other = cs.create("案 2", actor="li.ming", findings=[f], assignee=os_account())  # one's own case
    with pytest.raises(GuardDenied, match="assignee"):
        sign_off(cs, other.id, reviewer="赵敏", decision="approve", level="违规", date="2026-12-05")
