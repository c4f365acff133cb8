"""Attacks 5, 6 and 11 of issue #16: the audit log cut, emptied, deleted or rewritten; a forged
dossier with a forged record; the case SQLite edited with sqlite3.

The "guard" here is a key pair in a folder of its own (the signer); the attacker may edit the
log, the dossier and the case database, and may use ``graphkit.audit`` and a key of their own,
but does not hold the guard's private key. Verifiers trust the guard's public key
(``GRAPHKIT_AUDIT_PUBKEY``) and find the anchor beside it. Real files, real keys, no mocks."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import graphkit
from graphkit.audit import AuditLog, canonical
from graphkit.dossier import verify_dossier, write_dossier
from graphkit.errors import GraphkitError
from graphkit.findings import Entity, Finding
from graphkit.signing import Signer, generate_keypair
from graphkit.workbench.cases import CaseError, CaseStore, export_case
from loaders import load_bundle

from conftest import tiny_tables, write_bundle

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def guard(tmp_path: Path, monkeypatch) -> dict:
    """The guard's key and log; verifiers trust its public key, the attacker holds a key of their own."""
    keys = tmp_path / "guard" / "keys"
    kid = generate_keypair(keys / "audit-ed25519.pem")
    monkeypatch.setenv("GRAPHKIT_AUDIT_PUBKEY", str(keys / "audit-ed25519.pem.pub"))
    monkeypatch.setenv("GRAPHKIT_AUDIT_KEY", str(tmp_path / "attacker" / "own.pem"))  # the attacker's local key
    monkeypatch.setenv("GRAPHKIT_AUDIT_LOG", str(tmp_path / "guard" / "audit.jsonl"))
    signer = Signer.from_file(keys / "audit-ed25519.pem")
    log = AuditLog(tmp_path / "guard" / "audit.jsonl", signer=signer)
    return {"log": log, "signer": signer, "kid": kid, "anchors": keys / "anchors", "path": log.path}


def reader(g: dict) -> AuditLog:
    """The log as an analyst's process opens it: no signer, the trusted public key from the environment."""
    return AuditLog(g["path"])


def fill(log: AuditLog, n: int = 5) -> None:
    for i in range(n):
        log.append("dossier_export" if i == 2 else "scan", actor="guard-test", n=i, clear_data=(i == 2))


def lines(p: Path) -> list[str]:
    return p.read_text("utf-8").splitlines()


def rechain(entries: list[dict]) -> str:
    """What the attacker of #16 did: renumber and recompute every hash from scratch (JSON lines)."""
    prev, out = "0" * 64, []
    for i, e in enumerate(entries, 1):
        body = {k: e[k] for k in ("seq", "at", "actor", "action", "details", "prev") if k in e}
        if "key" in e:
            body["key"] = e["key"]
        body["seq"], body["prev"] = i, prev
        h = hashlib.sha256(prev.encode() + canonical(body)).hexdigest()
        out.append(json.dumps({**body, "hash": h}, ensure_ascii=False))
        prev = h
    return "\n".join(out) + ("\n" if out else "")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "graphkit.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


# -- attack 5: the audit log ----------------------------------------------------------------
def test_signed_log_intact(guard):
    fill(guard["log"])
    v = reader(guard).verify()
    assert (v.ok, v.status, v.entries, v.signed_entries, v.key_id) == (True, "intact", 5, 5, guard["kid"])
    cp = json.loads(guard["log"].checkpoint_path.read_text("utf-8"))
    assert (cp["entries"], cp["key_id"]) == (5, guard["kid"])
    assert cp["head"] == json.loads(lines(guard["path"])[-1])["hash"]
    assert json.loads((guard["anchors"] / f"{guard['log'].log_id}.json").read_text("utf-8")) == cp
    r = cli("audit", "verify")
    assert r.returncode == 0 and "audit log intact: 5 entries" in r.stdout


def test_cut_tail_is_truncation(guard):
    fill(guard["log"])
    guard["path"].write_text("\n".join(lines(guard["path"])[:3]) + "\n", "utf-8")
    v = reader(guard).verify()
    assert (v.ok, v.status, v.entries, v.signed_entries) == (False, "truncated", 3, 3)
    assert "3 entries where the checkpoint" in v.problem and "covers 5" in v.problem
    r = cli("audit", "verify")
    assert r.returncode == 1 and "TRUNCATED" in r.stdout


def test_emptied_and_deleted_log(guard):
    fill(guard["log"])
    guard["path"].write_text("", "utf-8")
    v = reader(guard).verify()
    assert (v.ok, v.status, v.entries) == (False, "deleted", 0) and "is empty" in v.problem
    guard["path"].unlink()
    v = reader(guard).verify()
    assert (v.ok, v.status) == (False, "deleted") and "is missing" in v.problem
    guard["log"].checkpoint_path.unlink()  # the sidecar deleted too: the anchor beside the key remains
    v = reader(guard).verify()
    assert (v.ok, v.status) == (False, "deleted") and "covers 5 entries" in v.problem
    assert cli("audit", "verify").returncode == 1


def test_missing_log_after_anchored_setup(guard):
    """The guard anchors an empty log at set-up: the log deleted afterwards is no 'fresh install'."""
    cp = guard["log"].checkpoint()
    assert cp["entries"] == 0 and reader(guard).verify().status == "intact"
    guard["log"].append("load", actor="guard-test")
    guard["path"].unlink()
    assert reader(guard).verify().status == "deleted"


def test_dropped_entries_with_recomputed_chain_is_rewrite(guard):
    fill(guard["log"])
    entries = [json.loads(x) for x in lines(guard["path"])]
    kept = [e for e in entries if e["action"] != "dossier_export"]  # the clear export removed…
    guard["path"].write_text(rechain(kept), "utf-8")  # …and every hash recomputed
    v = reader(guard).verify()
    assert (v.ok, v.status, v.entries) == (False, "truncated", 4)  # 4 < 5 signed
    kept.append({**kept[-1], "details": {"n": 99}})  # padded back to 5 entries: a rewrite
    guard["path"].write_text(rechain(kept), "utf-8")
    v = reader(guard).verify()
    assert (v.ok, v.status, v.entries) == (False, "rewritten", 5) and "entry 5 does not match the head" in v.problem
    r = cli("audit", "verify")
    assert r.returncode == 1 and "REWRITTEN" in r.stdout


def test_forged_checkpoints(guard, tmp_path):
    fill(guard["log"])
    entries = [json.loads(x) for x in lines(guard["path"])][:3]
    guard["path"].write_text(rechain(entries), "utf-8")
    cpath, apath = guard["log"].checkpoint_path, guard["anchors"] / f"{guard['log'].log_id}.json"
    # 1. the counter edited in the signed checkpoint (both copies): the signature fails
    for p in (cpath, apath):
        cp = json.loads(p.read_text("utf-8"))
        cp["entries"] = 3
        cp["head"] = json.loads(lines(guard["path"])[-1])["hash"]
        p.write_text(json.dumps(cp), "utf-8")
    v = reader(guard).verify()
    assert (v.ok, v.status) == (False, "rewritten") and "signature does not verify" in v.problem
    # 2. re-signed with the attacker's own key: not the trusted key
    generate_keypair(tmp_path / "attacker" / "forge.pem")
    forged = AuditLog(tmp_path / "elsewhere.jsonl", signer=Signer.from_file(tmp_path / "attacker" / "forge.pem"))
    cp = forged._write_checkpoint(forged.signer(), 3, json.loads(lines(guard["path"])[-1])["hash"])
    for p in (cpath, apath):
        p.write_text(json.dumps(cp), "utf-8")
    v = reader(guard).verify()
    assert (v.ok, v.status) == (False, "rewritten") and "not the trusted key" in v.problem


def test_appends_without_the_key(guard):
    fill(guard["log"], 2)
    with pytest.raises(GraphkitError, match="need its signing key"):
        reader(guard).append("dossier_export", actor="mallory", manifest_sha256="0" * 64)
    entries = [json.loads(x) for x in lines(guard["path"])]
    entries.append({**entries[-1], "actor": "mallory", "details": {"manifest_sha256": "0" * 64}})
    guard["path"].write_text(rechain(entries), "utf-8")  # a well-chained entry appended by hand
    v = reader(guard).verify()
    assert (v.ok, v.status, v.entries, v.signed_entries) == (False, "unsigned_tail", 3, 2)
    with pytest.raises(GraphkitError, match="refusing to append"):  # the guard will not sign over it either
        guard["log"].append("scan", actor="guard-test")


def test_unsigned_log_says_it_gives_no_evidence(tmp_path):
    log = AuditLog(tmp_path / "plain.jsonl")
    log.append("scan", actor="a")
    v = log.verify()
    assert (v.ok, v.status, v.entries) == (True, "unsigned", 1)
    assert "UNSIGNED" in str(v) and "cannot be detected" in str(v)


def test_key_file_rules(tmp_path):
    kid = generate_keypair(tmp_path / "k.pem")
    assert (tmp_path / "k.pem").stat().st_mode & 0o777 == 0o600
    before = (tmp_path / "k.pem").read_bytes()
    with pytest.raises(FileExistsError):
        generate_keypair(tmp_path / "k.pem")
    assert (tmp_path / "k.pem").read_bytes() == before and Signer.from_file(tmp_path / "k.pem").key_id == kid
    (tmp_path / "k.pem").chmod(0o644)
    with pytest.raises(GraphkitError, match="readable by others"):
        Signer.from_file(tmp_path / "k.pem")


# -- attack 6: signed dossiers --------------------------------------------------------------
def _finding() -> Finding:
    return Finding.create("collusion_ring", key=("ring", "x"), score=0.9, amount_at_risk=210.5,
                          entities=[Entity("patient", "PT0001", "member"), Entity("institution", "H0001", "hub")],
                          claims=["C0001", "C0002"], evidence={"members": ["PT0001"]}, summary="两笔 / two claims")


@pytest.fixture
def store(tmp_path: Path):
    load_bundle(write_bundle(tmp_path / "bundle", tiny_tables()), tmp_path / "store")
    return graphkit.open_store(tmp_path / "store")


@pytest.fixture
def dossier(guard, store, tmp_path: Path) -> Path:
    out = tmp_path / "dossier"
    m = write_dossier(store, [_finding()], out, pdf=False, audit=guard["log"])
    assert m["signed_by"] == guard["kid"]
    v = verify_dossier(out, audit=reader(guard))
    assert (v.ok, v.signed, v.logged, v.key_id) == (True, True, True, guard["kid"]) and v.note == ""
    return out


def _flip_one_byte(p: Path, at: int) -> None:
    b = bytearray(p.read_bytes())
    b[at] = ord("7") if b[at] != ord("7") else ord("8")
    p.write_bytes(bytes(b))


def test_one_byte_edit_fails(dossier, guard):
    claims = dossier / "evidence" / "claims.csv"
    _flip_one_byte(claims, claims.read_bytes().index(b"150"))
    v = verify_dossier(dossier, audit=reader(guard))
    assert not v.ok and v.changed == ["evidence/claims.csv"]
    r = cli("dossier", "verify", str(dossier))
    assert r.returncode == 1 and "evidence/claims.csv" in r.stdout


def test_one_byte_manifest_edit_fails(dossier, guard):
    m = dossier / "manifest.json"
    _flip_one_byte(m, m.read_bytes().index(b'"generated_at": "') + 17)
    v = verify_dossier(dossier, audit=reader(guard))
    assert not v.ok and v.signed is False and "does not match its signature" in v.problem and not v.changed
    assert not verify_dossier(dossier, audit=None).ok  # the signature alone catches it


def test_forged_dossier_with_forged_record_fails(dossier, guard, tmp_path):
    """Attack 6: edit an amount, recompute manifest.json, re-sign with one's own key, append a record."""
    claims = dossier / "evidence" / "claims.csv"
    claims.write_bytes(claims.read_bytes().replace(b"150", b"950", 1))
    m = json.loads((dossier / "manifest.json").read_text("utf-8"))
    m["files"]["evidence/claims.csv"] = hashlib.sha256(claims.read_bytes()).hexdigest()
    (dossier / "manifest.json").write_text(json.dumps(m, ensure_ascii=False, indent=1), "utf-8")
    sha = hashlib.sha256((dossier / "manifest.json").read_bytes()).hexdigest()
    from graphkit.audit import default_log
    from graphkit.dossier.seal import SIGNATURE, signature_document

    own = default_log().signer()  # the attacker's local key (GRAPHKIT_AUDIT_KEY), made on first use
    (dossier / SIGNATURE).write_text(json.dumps(signature_document((dossier / "manifest.json").read_bytes(), own)), "utf-8")
    with pytest.raises(GraphkitError):  # graphkit.audit refuses to extend the guard's log with another key
        default_log().append("dossier_export", manifest_sha256=sha)
    entries = [json.loads(x) for x in lines(guard["path"])]
    entries.append({**entries[-1], "action": "dossier_export", "details": {**entries[-1]["details"], "manifest_sha256": sha}})
    guard["path"].write_text(rechain(entries), "utf-8")  # the record forged by hand, chain recomputed
    v = verify_dossier(dossier, audit=reader(guard))
    assert not v.ok and v.signed is False and v.logged is False
    assert "not by the trusted key" in v.problem and "UNSIGNED TAIL" in v.problem
    r = cli("dossier", "verify", str(dossier))
    assert r.returncode == 1 and "not by the trusted key" in r.stdout
    # …and whatever the guard appends later does not make it verify
    guard["path"].write_text(rechain(entries[:-1]), "utf-8")
    guard["log"].append("scan", actor="guard-test")
    assert reader(guard).verify().ok and not verify_dossier(dossier, audit=reader(guard)).ok


def test_local_key_is_flagged(store, tmp_path, monkeypatch):
    """Single-user install: the local key made on first use; verify says it gives no separation of duties."""
    monkeypatch.setenv("GRAPHKIT_AUDIT_KEY", str(tmp_path / "me" / "audit-ed25519.pem"))
    out = tmp_path / "mine"
    m = write_dossier(store, [_finding()], out, pdf=False)
    assert (tmp_path / "me" / "audit-ed25519.pem").stat().st_mode & 0o777 == 0o600
    from graphkit.audit import default_log

    v = verify_dossier(out, audit=default_log())
    assert v.ok and v.signed and v.key_id == m["signed_by"] and "no separation of duties" in v.note
    r = cli("audit", "verify")
    assert r.returncode == 0 and "no separation of duties" in r.stdout


# -- attack 11: the case database edited with sqlite3 ----------------------------------------
@pytest.fixture
def cases(guard, tmp_path: Path) -> CaseStore:
    cs = CaseStore(tmp_path / "store.cases.sqlite", audit=guard["log"])
    c = cs.create("冒卡案 / shared card", actor="wang", findings=[_finding()])
    cs.update(c.id, actor="li", status="confirmed", notes="核实 / checked")
    cs.add_claims(c.id, ["C0004"], actor="li")
    assert cs.verify() == [] and CaseStore(cs.path, audit=reader(guard)).verify() == []
    return cs


@pytest.mark.parametrize("sql, expected", [
    ("UPDATE audit SET actor='zhang.wei' WHERE action='update' AND field='status'", "audit row 3 was edited"),
    ("DELETE FROM audit WHERE field='status'", "audit row 3 recorded in the audit log is gone"),
    ("INSERT INTO audit(case_id, at, actor, action, field, old, new) VALUES (1, '2024-01-01T00:00:00', 'zhang.wei', "
     "'update', 'status', 'new', 'confirmed')", "audit row 6 (update by zhang.wei) is not in the audit log"),
    ("UPDATE cases SET status='dismissed'", "case #1: its state differs"),
    ("DELETE FROM case_claims WHERE claim_id='C0001'", "case #1: its state differs"),
    ("INSERT INTO cases(title, created_at, created_by, updated_at, updated_by) VALUES ('x', 'a', 'b', 'c', 'd')",
     "case #2: no change of this case is recorded"),
])
def test_case_sqlite_edit_detected(cases, guard, store, tmp_path, sql, expected):
    db = sqlite3.connect(cases.path)
    db.execute(sql)
    db.commit()
    db.close()
    problems = CaseStore(cases.path, audit=reader(guard)).verify()
    assert len(problems) == 1 and expected in problems[0], problems
    with pytest.raises(CaseError, match="changed outside graphkit"):
        export_case(cases, 2 if "case #2" in expected else 1, store, tmp_path / "out", actor="li")
    r = cli("audit", "verify", "--cases", str(cases.path))
    assert r.returncode == 1 and expected in r.stdout


def test_untouched_case_exports_and_is_in_the_chain(cases, guard, store, tmp_path):
    out = export_case(cases, 1, store, tmp_path / "out", actor="li")
    assert verify_dossier(out["html"].parent, audit=reader(guard)).ok
    recs = reader(guard).find("case_change", cases_db=cases.db_id)
    assert [len(e["details"]["rows"]) for e in recs] == [2, 2, 1, 1]  # create+finding, status+notes, claims, export
    assert cases.verify() == [] and reader(guard).verify().ok
    r = cli("audit", "verify", "--cases", str(cases.path))
    assert r.returncode == 0 and "every case change is in the audit log" in r.stdout


def test_change_recorded_by_hand_under_anothers_name(cases, guard, store, tmp_path):
    """The attack left after the chain: edit the SQLite file, then record the change yourself (a raw
    request to the guard's socket records it under *your* account). A row that names another
    account is reported; one with a bare name exports with the account that really recorded it."""
    from graphkit.workbench.case_chain import change_details

    def forge(actor: str, status: str) -> None:
        db = sqlite3.connect(cases.path)
        cur = db.execute("INSERT INTO audit(case_id, at, actor, action, field, old, new) VALUES "
                         "(1, '2024-01-01T00:00:00', ?, 'update', 'status', 'confirmed', ?)", (actor, status))
        db.execute("UPDATE cases SET status=? WHERE id=1", (status,))
        db.commit()
        # what the guard appends for the caller: the caller's own account is the entry's actor
        guard["log"].append("case_change", actor="ana", **change_details(db, cases.db_id, 1, [int(cur.lastrowid)]))
        db.close()

    forge("li (display: 李科长)", "dismissed")
    problems = CaseStore(cases.path, audit=reader(guard)).verify()
    assert problems == [f"case #1: audit row 6 names account li but was recorded by account ana"], problems
    with pytest.raises(CaseError, match="changed outside graphkit"):
        export_case(cases, 1, store, tmp_path / "out", actor="li")


def test_exported_trail_names_the_recording_account(cases, guard, store, tmp_path):
    from graphkit.workbench.case_chain import change_details

    db = sqlite3.connect(cases.path)
    cur = db.execute("INSERT INTO audit(case_id, at, actor, action, field, old, new) VALUES "
                     "(1, '2024-01-01T00:00:00', 'li', 'update', 'status', 'confirmed', 'dismissed')")
    db.execute("UPDATE cases SET status='dismissed' WHERE id=1")
    db.commit()
    guard["log"].append("case_change", actor="ana", **change_details(db, cases.db_id, 1, [int(cur.lastrowid)]))
    db.close()
    assert CaseStore(cases.path, audit=reader(guard)).verify() == []  # a bare name is a display name
    out = export_case(cases, 1, store, tmp_path / "out", actor="li")
    trail = json.loads(out["json"].read_text("utf-8"))["audit_trail"]
    row = next(r for r in trail if r["new"] == "dismissed")
    assert (row["actor"], row["account"]) == ("li", "ana")  # who typed what, and who really recorded it
    assert {r["account"] for r in trail if r is not row} <= {"wang", "li"}
    assert "ana" in out["html"].read_text("utf-8")
