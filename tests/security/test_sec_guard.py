"""#16 attacks 1, 2, 5, 6, 7 against a guard running as its own OS account.

The test creates three accounts with ``useradd`` — a service account that runs the guard (it owns
the key and the audit log), an analyst and an investigator — loads a demo city through the guard
as the investigator (the loader never holds the key), then runs the analyst's attacks as the
analyst's account. Needs root and ``useradd`` (the machine's test runs have both); skipped with
the reason otherwise.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from graphkit.audit import AuditLog
from graphkit.signing import generate_keypair

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to create OS accounts (useradd)"),
    pytest.mark.skipif(shutil.which("useradd") is None or shutil.which("userdel") is None, reason="no useradd/userdel here"),
]


def _python_for(user: str, base_env: dict[str, str]) -> tuple[str, dict[str, str]]:
    """An interpreter the account can run with this checkout's packages: ours, or (when ours sits
    in a folder the account cannot enter, e.g. /root/.pyenv) the system's of the same version."""
    site = sysconfig.get_paths()["purelib"]
    env = {**base_env, "PYTHONPATH": f"{REPO}{os.pathsep}{site}"}
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for exe in (sys.executable, f"/usr/bin/{ver}", f"/usr/local/bin/{ver}"):
        if not Path(exe).exists():
            continue
        try:
            r = subprocess.run([exe, "-c", "import graphkit.guard, pandas, pyarrow, loaders"], user=user, env=env,
                               capture_output=True, cwd="/", timeout=120)
        except PermissionError:  # the account may not even start it
            continue
        if r.returncode == 0:
            return exe, env
    pytest.skip(f"no Python {sys.version_info.major}.{sys.version_info.minor} that account {user} can run with these packages")


class World:
    def __init__(self, base: Path, names: dict[str, str]) -> None:
        self.base, self.names = base, names
        self.uid = {k: pwd.getpwnam(v).pw_uid for k, v in names.items()}
        self.gid = {k: pwd.getpwnam(v).pw_gid for k, v in names.items()}
        self.sock = base / "run" / "guard.sock"
        self.log_path = base / "var" / "audit.jsonl"
        self.bundle = base / "bundle"
        self.store = base / "data" / "store"
        self.findings = base / "data" / "findings.json"
        self.py = ""
        self.env: dict[str, str] = {}
        self.guard: subprocess.Popen | None = None

    def run(self, who: str, args: list[str], *, env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
        home = self.base / who
        e = {**self.env, "HOME": str(home), "GRAPHKIT_GUARD": str(self.sock), "LANG": "C.UTF-8", **(env or {})}
        return subprocess.run([self.py, *args], user=self.uid[who], group=self.gid[who], extra_groups=[], env=e,
                              cwd=str(home), capture_output=True, text=True, timeout=timeout)

    def cli(self, who: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return self.run(who, ["-m", "graphkit.cli", *args], env=env)

    def log(self) -> list[dict]:
        return list(AuditLog(self.log_path).entries())

    def verify_log(self):
        """The guard's log checked here (as root) with the guard's public key and anchor."""
        return AuditLog(self.log_path, public_key=self.pub, anchor_dir=self.anchors).verify()


def _useradd(name: str) -> None:
    subprocess.run(["userdel", name], capture_output=True)
    subprocess.run(["useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name], check=True,
                   capture_output=True)


def _own(path: Path, uid: int, gid: int, mode: int) -> None:
    os.chown(path, uid, gid)
    os.chmod(path, mode)


def _ring_findings(store_dir: Path, truth: dict, out: Path) -> str:
    import graphkit
    from graphkit.findings import Entity, Finding, FindingsReport, write_findings

    inst = max((i for i in truth["instances"] if i["kind"] == "collusion_ring"), key=lambda i: i["amount"])
    ents = [Entity(e["type"], e["id"], e["role"]) for e in inst["entities"]]
    store = graphkit.open_store(store_dir)
    f = Finding.create("collusion_ring", key=("ring", inst["id"]), score=0.97, amount_at_risk=inst["amount"], entities=ents,
                       claims=inst["claims"], summary="结伴住院 / admitted together", evidence={})
    write_findings(out, FindingsReport([f], store.fingerprint, {"collusion_ring": {}}))
    return f.id


@pytest.fixture(scope="module")
def world():
    from graphkit.demo import generate_city

    tag = f"{os.getpid() % 100000}"
    names = {"svc": f"gksvc{tag}", "ana": f"gkana{tag}", "inv": f"gkinv{tag}"}
    base = Path(tempfile.mkdtemp(prefix="gk-guard-", dir="/tmp"))
    os.chmod(base, 0o755)
    try:
        for n in names.values():
            _useradd(n)
        w = World(base, names)
        w.py, w.env = _python_for(names["ana"], {"PATH": "/usr/bin:/bin"})
        etc, var, run, data = base / "etc", base / "var", base / "run", base / "data"
        for d in (etc, var, run, data, base / "ana", base / "inv", base / "svc"):
            d.mkdir()
        os.chmod(etc, 0o755)
        _own(var, w.uid["svc"], w.gid["svc"], 0o700)
        _own(run, w.uid["svc"], w.gid["svc"], 0o755)
        _own(data, w.uid["inv"], w.gid["inv"], 0o755)
        for who in ("ana", "inv", "svc"):
            _own(base / who, w.uid[who], w.gid[who], 0o755)
        (etc / "roles.toml").write_text(
            'default_role = "analyst"\n'
            '[roles.investigator]\npermissions = ["export", "clear_data", "audit", "load"]\n'
            '[roles.analyst]\npermissions = ["export"]\n'
            f'[users]\n"{names["inv"]}" = "investigator"\n"zhang.wei" = "investigator"\n', "utf-8")
        os.chmod(etc / "roles.toml", 0o644)
        key = etc / "pseudo.key"
        key.write_text(secrets.token_hex(32), "utf-8")
        _own(key, w.uid["svc"], w.gid["svc"], 0o600)
        # the signing key: the service account's alone; its public half published in /etc for everyone
        w.signing_key, w.pub, w.anchors = var / "signing.pem", etc / "guard-signing.pub", base / "anchors"
        w.kid = generate_keypair(w.signing_key, w.pub)
        _own(w.signing_key, w.uid["svc"], w.gid["svc"], 0o600)
        w.anchors.mkdir()
        _own(w.anchors, w.uid["svc"], w.gid["svc"], 0o755)
        (etc / "guard.toml").write_text(f'socket = "{w.sock}"\nroles = "{etc / "roles.toml"}"\naudit_log = "{w.log_path}"\n'
                                        f'key_file = "{key}"\nsigning_key = "{w.signing_key}"\nanchor_dir = "{w.anchors}"\n', "utf-8")
        os.chmod(etc / "guard.toml", 0o644)
        # the bundle (clear personal data) is readable by the service account and the investigator only
        generate_city(w.bundle, patients=1000, seed=5, months=3)
        for p in [w.bundle, *w.bundle.rglob("*")]:
            _own(p, w.uid["svc"], w.gid["inv"], 0o750 if p.is_dir() else 0o640)
        w.guard = subprocess.Popen([w.py, "-m", "graphkit.cli", "guard", "serve", "--config", str(etc / "guard.toml")],
                                   user=w.uid["svc"], group=w.gid["svc"], extra_groups=[], cwd=str(base / "svc"),
                                   env={**w.env, "HOME": str(base / "svc")}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not w.sock.exists():
            if w.guard.poll() is not None:
                pytest.fail(f"guard did not start: {w.guard.stderr.read()}")
            assert time.monotonic() < deadline, "guard did not open its socket in 120 s"
            time.sleep(0.1)
        r = w.cli("inv", "load", str(w.bundle), "--store", str(w.store))  # tokens from the guard; no key here
        assert r.returncode == 0, r.stderr
        truth = json.loads((w.bundle / "truth.json").read_text("utf-8"))
        w.fid = _ring_findings(w.store, truth, w.findings)
        os.chmod(w.findings, 0o644)
        pats = pd.read_parquet(w.bundle / "patients.parquet")
        w.clear_ids = set(pats["id_number"].dropna().astype(str))
        w.clear_names = set(pats["name"].dropna().astype(str))
        yield w
    finally:
        w_ = locals().get("w")
        if w_ is not None and w_.guard is not None:
            w_.guard.terminate()
            try:
                w_.guard.wait(30)
            except subprocess.TimeoutExpired:
                w_.guard.kill()
        for n in names.values():
            subprocess.run(["userdel", n], capture_output=True)
            try:
                grp.getgrnam(n)
                subprocess.run(["groupdel", n], capture_output=True)
            except KeyError:
                pass
        shutil.rmtree(base, ignore_errors=True)


def _clear_values_under(root: Path, values: set[str]) -> list[str]:
    hits = []
    for p in root.rglob("*"):
        if p.is_file():
            text = p.read_bytes().decode("utf-8", "replace")
            hits += [f"{p}: {v}" for v in values if v in text]
    return hits


def _dossier_args(w: World, out: Path, *extra: str) -> list[str]:
    return ["dossier", w.fid, "--findings", str(w.findings), "--store", str(w.store), "--out", str(out), "--no-pdf", *extra]


def test_the_load_went_through_the_guard_as_the_investigator(world):
    w = world
    log = w.log()
    assert [e["action"] for e in log[:4]] == ["guard_start", "load_key_use", "load_key_use_end", "load"]
    assert log[0]["actor"] == w.names["svc"] and {e["actor"] for e in log[1:4]} == {w.names["inv"]}
    assert log[2]["details"]["tokenised"] > 1000  # names, ID numbers, contacts: the guard computed every token
    v = w.verify_log()
    assert (v.ok, v.status, v.key_id) == (True, "intact", w.kid)  # signed by the guard, anchored where it alone writes
    assert len(list(w.anchors.glob("*.json"))) == 1
    st = w.log_path.stat()
    assert st.st_uid == w.uid["svc"] and st.st_mode & 0o777 == 0o640
    assert not _clear_values_under(w.store, w.clear_ids)  # the store holds pseudonyms only


ANALYST_PROBES = textwrap.dedent("""
    import json, os, sys
    out = {}
    def attempt(name, fn):
        try:
            fn(); out[name] = "ok"
        except Exception as exc:
            out[name] = type(exc).__name__ + ": " + str(exc)[:300]
    log, key, bundle = sys.argv[1], sys.argv[2], sys.argv[3]
    attempt("read_key", lambda: open(key, "rb").read())
    attempt("read_bundle", lambda: os.listdir(bundle))
    attempt("truncate_log", lambda: open(log, "r+").truncate(0))
    attempt("empty_log", lambda: open(log, "w").close())
    attempt("delete_log", lambda: os.unlink(log))
    attempt("rename_log", lambda: os.rename(log, log + ".old"))
    from graphkit.audit import AuditLog
    attempt("append_file", lambda: AuditLog(log).append("dossier_export", actor="zhang.wei", manifest_sha256="0" * 64))
    from graphkit.guard import GuardClient
    with GuardClient() as c:
        attempt("guard_forged_export", lambda: c.call("append", action="dossier_export", details={"manifest_sha256": "f" * 64}))
        attempt("guard_forged_actor", lambda: c.call("append", action="scan", details={"actor": "zhang.wei"}))
        attempt("guard_forged_start", lambda: c.call("append", action="guard_start", details={}))
        attempt("guard_tokenise", lambda: c.call("tokenise", values=["110105198001011234"]))
        attempt("guard_open_load", lambda: c.call("open_load", bundle=bundle))
        attempt("guard_reveal", lambda: c.call("reveal", bundle=bundle, tokens=["pz:00"]))
        attempt("guard_show_log", lambda: c.call("show_log", tail=5))
        attempt("guard_find_loads", lambda: c.call("find", action="load_key_use", match={}))
        out["verify_log"] = c.call("verify_log")
        out["own_scan_record"] = c.call("append", action="scan", details={"findings": 1})["entry"]["actor"]
        out["status"] = c.call("status")
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def probes(world):
    w = world
    script = w.base / "ana" / "probes.py"
    script.write_text(ANALYST_PROBES, "utf-8")
    os.chmod(script, 0o644)
    before = len(w.log())
    r = w.run("ana", [str(script), str(w.log_path), str(w.base / "etc" / "pseudo.key"), str(w.bundle)],
              env={"GRAPHKIT_USER": "zhang.wei", "GRAPHKIT_AUDIT_LOG": str(w.base / "ana" / "mine.jsonl")})
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1]), before


def test_attack1_own_roles_file_gives_no_clear_data(world):
    w = world
    mine = w.base / "ana" / "myroles.toml"
    mine.write_text('default_role = "boss"\n[roles.boss]\npermissions = ["export", "clear_data", "audit", "load"]\n', "utf-8")
    out = w.base / "ana" / "police"
    r = w.cli("ana", *_dossier_args(w, out, "--profile", "police", "--clear", "--clear-source", str(w.bundle)),
              env={"GRAPHKIT_ROLES": str(mine), "GRAPHKIT_USER": "zhang.wei"})
    assert r.returncode == 1
    assert f"OS account {w.names['ana']} (role analyst) may not see personal data in clear" in r.stderr
    assert not out.exists() and not _clear_values_under(w.base / "ana", w.clear_ids | w.clear_names)
    assert not [e for e in w.log() if e["action"] == "clear_release" and e["actor"] == w.names["ana"]]


def test_attack2_spoofed_name_is_recorded_beside_the_real_account(world, probes):
    w = world
    res, _ = probes
    assert res["status"]["account"] == w.names["ana"] and res["status"]["role"] == "analyst"
    assert res["status"]["permissions"] == ["export"]  # "zhang.wei" is an investigator in the roles file: no matter
    out = w.base / "ana" / "internal"
    r = w.cli("ana", *_dossier_args(w, out), env={"GRAPHKIT_USER": "zhang.wei"})
    assert r.returncode == 0, r.stderr
    exp = [e for e in w.log() if e["action"] == "dossier_export" and e["details"]["out"] == str(out)]
    assert [(e["actor"], e["details"]["display_name"], e["details"]["clear_data"]) for e in exp] == [(w.names["ana"], "zhang.wei", {})]
    sha = __import__("hashlib").sha256((out / "manifest.json").read_bytes()).hexdigest()
    assert exp[0]["details"]["manifest_sha256"] == sha  # the guard hashed the manifest it recorded
    assert res["own_scan_record"] == w.names["ana"]


def test_attack5_analyst_cannot_truncate_empty_or_delete_the_log(world, probes):
    w = world
    res, before = probes
    for probe in ("truncate_log", "empty_log", "delete_log", "rename_log", "read_key", "read_bundle"):
        assert res[probe].startswith("PermissionError"), (probe, res[probe])
    v = w.verify_log()
    assert v.status == "intact" and v.entries >= before + 1  # intact, and it grew by the analyst's own scan record only


def test_attack6_forged_records_are_refused(world, probes):
    w = world
    res, _ = probes
    assert res["append_file"].startswith("PermissionError")
    assert res["guard_forged_export"].startswith("GuardDenied") and "written by the guard itself" in res["guard_forged_export"]
    assert res["guard_forged_actor"].startswith("GuardDenied") and "actor" in res["guard_forged_actor"]
    assert res["guard_forged_start"].startswith("GuardDenied")
    assert res["guard_tokenise"].startswith("GuardDenied")  # no tokenising oracle for guessing ID numbers
    assert res["guard_open_load"].startswith("GuardDenied") and res["guard_reveal"].startswith("GuardDenied")
    assert res["guard_show_log"].startswith("GuardDenied") and res["guard_find_loads"].startswith("GuardDenied")
    assert (res["verify_log"]["log"]["status"], res["verify_log"]["log"]["key_id"]) == ("intact", w.kid)  # the verdict only
    log = w.log()
    assert not [e for e in log if e["actor"] == "zhang.wei" or e["details"].get("manifest_sha256") in ("0" * 64, "f" * 64)]
    assert [e["action"] for e in log if e["actor"] == w.names["ana"]].count("scan") == 1


def test_attack7_clear_export_is_recorded_first_or_refused(world):
    w = world
    inv = w.base / "inv"
    # the caller's GRAPHKIT_AUDIT_LOG does not steer the guard's log: the export is recorded there
    ok = inv / "police-ok"
    r = w.cli("inv", *_dossier_args(w, ok, "--profile", "police", "--clear", "--clear-source", str(w.bundle)),
              env={"GRAPHKIT_AUDIT_LOG": "/dev/null"})
    assert r.returncode == 0, r.stderr
    shown = _clear_values_under(ok, w.clear_ids)
    assert shown  # an investigator does get clear ID numbers …
    log = w.log()
    rel = [e for e in log if e["action"] == "clear_release" and e["actor"] == w.names["inv"]]
    exp = [e for e in log if e["action"] == "dossier_export" and e["details"]["out"] == str(ok)]
    assert len(rel) == 1 and len(exp) == 1 and rel[0]["seq"] < exp[0]["seq"]  # … recorded before they left the guard
    assert exp[0]["details"]["clear_data"]["id_number:clear"] >= 1
    # the analyst with /dev/null as the log: refused for lack of the role, nothing clear written
    r = w.cli("ana", *_dossier_args(w, w.base / "ana" / "p2", "--profile", "police", "--clear", "--clear-source", str(w.bundle)),
              env={"GRAPHKIT_AUDIT_LOG": "/dev/null"})
    assert r.returncode == 1 and "permission denied" in r.stderr
    # kill -9 after the clear files are written: the release was already recorded
    n_rel = len(rel)
    killed = inv / "police-killed"
    r = w.cli("inv", *_dossier_args(w, killed, "--profile", "police", "--clear", "--clear-source", str(w.bundle)),
              env={"GRAPHKIT_FAILPOINT": "dossier_files_written"})
    assert r.returncode == 137 and not killed.exists()
    rel = [e for e in w.log() if e["action"] == "clear_release" and e["actor"] == w.names["inv"]]
    assert len(rel) == n_rel + 1 and rel[-1]["details"]["released"] >= 1
    for p in inv.glob(".police-killed.partial-*"):  # the leftovers hold clear data, but its release is on record
        shutil.rmtree(p)
    # the guard's log cannot be written: the guard refuses, nothing clear reaches the disk
    os.chmod(w.log_path, 0o440)
    try:
        out = inv / "police-refused"
        r = w.cli("inv", *_dossier_args(w, out, "--profile", "police", "--clear", "--clear-source", str(w.bundle)))
    finally:
        os.chmod(w.log_path, 0o640)
    assert r.returncode == 1 and "audit log cannot be written" in r.stderr
    assert not out.exists() and not list(inv.glob(".police-refused*"))
    assert sorted(_clear_values_under(inv, w.clear_ids)) == sorted(shown)  # only the recorded export holds clear IDs
    assert w.verify_log().status == "intact"


def test_keep_personal_needs_the_role_and_a_reason(world):
    w = world
    r = w.cli("ana", "load", str(w.bundle), "--store", str(w.base / "ana" / "s"), "--keep-personal", "--reason", "核查需要 / needed",
              env={"GRAPHKIT_USER": "zhang.wei"})
    assert r.returncode == 1 and "permission denied" in r.stderr and not (w.base / "ana" / "s").exists()
    r = w.cli("inv", "load", str(w.bundle), "--store", str(w.base / "inv" / "s"), "--keep-personal")
    assert r.returncode == 2 and "--reason" in r.stderr  # a usage error (exit 2) and not (w.base / "inv" / "s").exists()


def test_analyst_verifies_the_guards_signed_log(world):
    w = world
    own = w.base / "ana" / "own.pem"
    r = w.run("ana", ["-c", f"from graphkit.signing import generate_keypair; generate_keypair({str(own)!r})"])
    assert r.returncode == 0, r.stderr
    r = w.cli("ana", "audit", "verify", env={"GRAPHKIT_AUDIT_PUBKEY": f"{own}.pub"})  # their own key: ignored
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"guard account {w.names['svc']}, uid {w.uid['svc']}" in r.stdout
    assert f"audit log intact: {len(w.log())} entries, head signed by key {w.kid}" in r.stdout
    r = w.run("ana", ["-c", f"open({str(w.signing_key)!r}, 'rb')"])
    assert r.returncode == 1 and "PermissionError" in r.stderr  # the analyst cannot read the private key


def _rechain(lines: list[bytes], edit) -> bytes:
    """The log with ``edit`` applied to each entry and the hash chain recomputed (a forger's rewrite)."""
    from graphkit.audit import GENESIS, _FIELDS, _entry_hash

    prev, out = GENESIS, []
    for line in lines:
        e = json.loads(line)
        edit(e)
        body = {k: e[k] for k in _FIELDS} | ({"key": e["key"]} if "key" in e else {})
        body["prev"] = prev
        prev = _entry_hash(prev, body)
        out.append(json.dumps({**body, "hash": prev}, ensure_ascii=False) + "\n")
    return "".join(out).encode("utf-8")


def test_root_truncating_or_rewriting_the_guards_log_is_reported(world):
    w = world
    data = w.log_path.read_bytes()
    lines = data.splitlines(keepends=True)
    try:
        w.log_path.write_bytes(b"".join(lines[:-2]))  # root cuts the last two records
        r = w.cli("ana", "audit", "verify")
        assert r.returncode == 1 and f"audit log TRUNCATED: {len(lines) - 2} entries where the checkpoint" in r.stdout
        # root puts the clear releases on someone else and recomputes the chain: the head is not the signed one
        assert any(json.loads(ln)["action"] == "clear_release" for ln in lines)
        w.log_path.write_bytes(_rechain(lines, lambda e: e.update(actor="zhang.wei") if e["action"] == "clear_release" else None))
        r = w.cli("ana", "audit", "verify")
        assert r.returncode == 1 and "audit log REWRITTEN" in r.stdout, r.stdout
        r = w.cli("ana", "dossier", "verify", str(w.base / "ana" / "internal"))  # the log's records prove nothing now
        assert r.returncode == 1 and "the audit log is not intact" in r.stdout
    finally:
        w.log_path.write_bytes(data)  # the administrator restores the log (same file, owner and mode)
    r = w.cli("ana", "audit", "verify")
    assert r.returncode == 0 and "audit log intact" in r.stdout


FORGE = textwrap.dedent("""
    import hashlib, json, shutil, sys
    from pathlib import Path
    from graphkit.dossier.seal import signature_document
    from graphkit.signing import Signer
    src, dst, key = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    shutil.copytree(src, dst)
    p = dst / "evidence" / "claims.csv"
    b = bytearray(p.read_bytes()); i = b.index(b"\\n") + 1; b[i] = ord("9") if b[i] != ord("9") else ord("8")
    p.write_bytes(bytes(b))                       # one byte changed
    if sys.argv[4] == "resign":
        m = json.loads((dst / "manifest.json").read_text("utf-8"))
        m["files"]["evidence/claims.csv"] = hashlib.sha256(bytes(b)).hexdigest()
        data = json.dumps(m, ensure_ascii=False, indent=1).encode("utf-8")
        (dst / "manifest.json").write_bytes(data)
        (dst / "manifest.sig").write_text(json.dumps(signature_document(data, Signer.from_file(key))), "utf-8")
""")


def test_guard_signed_dossier_verifies_for_the_analyst_and_forgeries_fail(world):
    w = world
    ana = w.base / "ana"
    out = ana / "signed"
    r = w.cli("ana", *_dossier_args(w, out))
    assert r.returncode == 0, r.stderr
    sig = json.loads((out / "manifest.sig").read_text("utf-8"))
    assert sig["key_id"] == w.kid  # signed by the guard, whose key the analyst cannot read
    own = ana / "own.pem"
    if not own.exists():
        assert w.run("ana", ["-c", f"from graphkit.signing import generate_keypair; generate_keypair({str(own)!r})"]).returncode == 0
    r = w.cli("ana", "dossier", "verify", str(out), env={"GRAPHKIT_AUDIT_PUBKEY": f"{own}.pub"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"trusted key {w.kid}: 守护进程 / the guard at {w.sock} (account {w.names['svc']}" in r.stdout
    assert "GRAPHKIT_AUDIT_PUBKEY ignored" in r.stdout
    assert f"signature valid (key {w.kid})" in r.stdout and "recorded in the audit log" in r.stdout
    r = w.cli("ana", "dossier", "verify", str(out), "--public-key", str(w.pub))  # explicit, and said so
    assert r.returncode == 0 and f"--public-key {w.pub}（调用者指定 / given by the caller）" in r.stdout
    assert "is not the guard's key" not in r.stdout
    script = ana / "forge.py"
    script.write_text(FORGE, "utf-8")
    os.chmod(script, 0o644)
    r = w.run("ana", [str(script), str(out), str(ana / "edited"), str(own), "edit"])
    assert r.returncode == 0, r.stderr
    r = w.cli("ana", "dossier", "verify", str(ana / "edited"))
    assert r.returncode == 1 and "已改动 changed: evidence/claims.csv" in r.stdout
    r = w.run("ana", [str(script), str(out), str(ana / "resigned"), str(own), "resign"])
    assert r.returncode == 0, r.stderr
    r = w.cli("ana", "dossier", "verify", str(ana / "resigned"))  # every hash matches; signed by the analyst's key
    assert r.returncode == 1 and f"not by the trusted key {w.kid} (re-signed by someone else)" in r.stdout
    assert "does not match any export recorded in the audit log" in r.stdout
    r = w.cli("ana", "dossier", "verify", str(ana / "resigned"), "--public-key", f"{own}.pub")
    assert r.returncode == 1 and "given by the caller" in r.stdout and "is not the guard's key" in r.stdout
    assert "does not match any export recorded in the audit log" in r.stdout  # the guard never recorded it


def test_case_changes_go_through_the_guard_under_the_os_account(world):
    w = world
    cases = w.base / "ana" / "cases.sqlite"
    code = textwrap.dedent(f"""
        from graphkit.workbench.cases import CaseStore
        cs = CaseStore({str(cases)!r})
        c = cs.create("案 / case", actor="zhang.wei")
        cs.update(c.id, actor="zhang.wei", status="reviewing")
        print(cs.db_id, type(cs.audit_log).__name__, cs.verify())
    """)
    r = w.run("ana", ["-c", code], env={"GRAPHKIT_AUDIT_LOG": str(w.base / "ana" / "mine.jsonl")})
    assert r.returncode == 0, r.stderr
    db_id, kind, problems = r.stdout.split(maxsplit=2)
    assert (kind, problems.strip()) == ("GuardAuditLog", "[]")
    ch = [e for e in w.log() if e["action"] == "case_change" and e["details"]["cases_db"] == db_id]
    assert [(e["actor"], e["details"]["display_name"]) for e in ch] == [(w.names["ana"], "zhang.wei")] * 2
    assert not [e for e in AuditLog(w.base / "ana" / "mine.jsonl").entries() if e["action"] == "case_change"]
    # a status changed with sqlite3 is reported by `audit verify --cases`, as the analyst
    edit = f"import sqlite3; db = sqlite3.connect({str(cases)!r}); db.execute(\"UPDATE cases SET status='dismissed'\"); db.commit()"
    assert w.run("ana", ["-c", edit]).returncode == 0
    r = w.cli("ana", "audit", "verify", "--cases", str(cases))
    assert r.returncode == 1 and "case #1: its state differs from the last change recorded in the audit log" in r.stdout
    assert w.verify_log().status == "intact"
