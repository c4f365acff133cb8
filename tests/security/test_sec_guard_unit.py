"""The guard's protocol, peer-credential identification and startup refusals (in-process)."""

from __future__ import annotations

import os
import socket
import struct
import threading
from pathlib import Path

import pytest

from graphkit.audit import AuditLog
from graphkit.guard import Guard, GuardClient, GuardConfig, GuardDenied, GuardRefused, GuardSetupError, check_admin_file
from graphkit.guard.protocol import MAX_MESSAGE, ProtocolError, decode, encode, peer_credentials, recv_message, send_message
from graphkit.identity import os_account

ROLES = ('default_role = "investigator"\n[roles.investigator]\npermissions = ["export", "clear_data", "audit", "load"]\n'
         '[roles.analyst]\npermissions = ["export"]\n')


def _files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "roles.toml").write_text(ROLES, "utf-8")
    key = tmp_path / "k.key"
    key.write_text("9e107d9d372bb6826bd81d3542a419d6", "utf-8")
    key.chmod(0o600)
    return {"roles": tmp_path / "roles.toml", "key": key, "log": tmp_path / "audit.jsonl", "sock": tmp_path / "g.sock"}


def _guard(tmp_path: Path, **kw) -> Guard:
    f = _files(tmp_path)
    cfg = GuardConfig(socket=f["sock"], roles=f["roles"], audit_log=f["log"], key_file=f["key"], **kw)
    return Guard(cfg).start()


def test_framing_round_trip_and_limits():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    vals = [f"11010519800101{i:04d}" for i in range(50_000)]
    t = threading.Thread(target=send_message, args=(a, {"op": "tokenise", "values": vals}))
    t.start()
    assert recv_message(b) == {"op": "tokenise", "values": vals}
    t.join()
    a.sendall(struct.pack(">I", MAX_MESSAGE + 1))
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        recv_message(b)
    a.sendall(struct.pack(">I", 10) + b"{}")
    a.close()
    with pytest.raises(ProtocolError, match="closed after 2 of 10 bytes"):
        recv_message(b)
    with pytest.raises(ProtocolError, match="unreadable message"):
        decode(b"\xff")
    assert len(encode({"v": "张三"})) == 4 + len('{"v":"张三"}'.encode())


def test_peer_credentials_are_the_kernels_not_the_callers(tmp_path):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(tmp_path / "s"))
    srv.listen(1)
    cli = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    cli.connect(str(tmp_path / "s"))
    conn, _ = srv.accept()
    cred = peer_credentials(conn)
    assert (cred.pid, cred.uid, cred.gid) == (os.getpid(), os.geteuid(), os.getegid())


def test_guard_names_the_os_account_whatever_the_request_says(tmp_path, monkeypatch):
    g = _guard(tmp_path)
    try:
        monkeypatch.setenv("GRAPHKIT_USER", "zhang.wei")
        with GuardClient(g.socket_path) as c:
            assert c.call("status", account="zhang.wei", uid=0)["account"] == os_account()
            e = c.call("append", action="scan", details={"findings": 3})["entry"]
            assert (e["actor"], e["details"]["display_name"], e["details"]["pid"]) == (os_account(), "zhang.wei", os.getpid())
            with pytest.raises(GuardDenied, match="may not set"):
                c.call("append", action="scan", details={"actor": "zhang.wei"})
            with pytest.raises(GuardDenied, match="written by the guard itself"):
                c.call("append", action="dossier_export", details={})
            with pytest.raises(GuardRefused, match="action must match"):
                c.call("append", action="Bad Action!", details={})
            with pytest.raises(GuardRefused, match="unknown op"):
                c.call("__init__")
            with pytest.raises(GuardDenied, match="open_load first"):
                c.call("tokenise", values=["x"])
        log = list(AuditLog(tmp_path / "audit.jsonl").entries())
        assert [x["action"] for x in log] == ["guard_start", "scan"]
    finally:
        g.close()


def test_tokenise_in_batches_matches_the_local_key_and_is_recorded(tmp_path):
    from graphkit.guard import GuardPseudonymiser
    from graphkit.pseudo import Pseudonymiser

    import pandas as pd

    g = _guard(tmp_path)
    try:
        s = pd.Series([f"张{i % 70_000}" for i in range(150_000)] + [None])
        gp = GuardPseudonymiser(GuardClient(g.socket_path), bundle=tmp_path, store="s")
        local = Pseudonymiser(b"9e107d9d372bb6826bd81d3542a419d6")
        assert gp.key_id == local.key_id
        assert gp.series(s).tolist() == local.series(s).tolist()
        with pytest.raises(GuardRefused, match="batches of at most"):
            gp._client.call("tokenise", values=["a"] * 200_001)
        gp._client.close()
        import time

        for _ in range(100):  # the end-of-session record is written when the connection closes
            acts = [x["action"] for x in AuditLog(tmp_path / "audit.jsonl").entries()]
            if "load_key_use_end" in acts:
                break
            time.sleep(0.05)
        end = [x for x in AuditLog(tmp_path / "audit.jsonl").entries() if x["action"] == "load_key_use_end"]
        assert acts[:2] == ["guard_start", "load_key_use"] and end[0]["details"]["tokenised"] == 70_000
    finally:
        g.close()


def test_startup_refuses_unsafe_files(tmp_path):
    f = _files(tmp_path)

    def cfg(**kw):
        base = dict(socket=f["sock"], roles=f["roles"], audit_log=f["log"], key_file=f["key"])
        return GuardConfig(**{**base, **kw})

    f["roles"].chmod(0o666)
    with pytest.raises(GuardSetupError, match="roles file .* writable by group or others"):
        Guard(cfg())
    f["roles"].chmod(0o644)
    f["key"].chmod(0o640)
    with pytest.raises(GuardSetupError, match="pseudonymisation key .* readable by group or others"):
        Guard(cfg())
    f["key"].chmod(0o600)
    with pytest.raises(GuardSetupError, match="not a regular file"):
        Guard(cfg(audit_log="/dev/null"))
    with pytest.raises(GuardSetupError, match="no key_file"):
        Guard(cfg(key_file=None))
    AuditLog(f["log"]).append("x", actor="a")
    f["log"].write_text(f["log"].read_text("utf-8").replace('"x"', '"y"'), "utf-8")
    with pytest.raises(GuardSetupError, match="TAMPERED"):
        Guard(cfg())
    f["log"].unlink()
    loose = tmp_path / "loose"
    loose.mkdir()
    loose.chmod(0o777)
    (loose / "roles.toml").write_text(ROLES, "utf-8")
    with pytest.raises(GuardSetupError, match="folder .* could be replaced"):
        Guard(cfg(roles=loose / "roles.toml"))
    if os.geteuid() == 0:
        os.chown(f["roles"], 65534, 65534)  # owned by nobody: not the administrator's
        with pytest.raises(GuardSetupError, match="is owned by"):
            check_admin_file(f["roles"], "roles file")


def test_refuses_when_the_log_cannot_be_written(tmp_path):
    g = _guard(tmp_path)
    try:
        (tmp_path / "audit.jsonl").unlink()
        (tmp_path / "audit.jsonl").mkdir()  # the log replaced by something that cannot take a line
        with GuardClient(g.socket_path) as c, pytest.raises(GuardRefused, match="audit log cannot be written"):
            c.call("reveal", bundle=str(tmp_path), tokens=["pz:00"])
    finally:
        g.close()


def test_roles_file_edits_apply_without_restart(tmp_path):
    g = _guard(tmp_path)
    try:
        with GuardClient(g.socket_path) as c:
            assert "clear_data" in c.call("status")["permissions"]
            Path(g.config.roles).write_text(ROLES + f'[users]\n"{os_account()}" = "analyst"\n', "utf-8")
            assert c.call("status")["role"] == "analyst"
            with pytest.raises(GuardDenied, match="analyst"):
                c.call("keep_personal", bundle="b", store="s", reason="needed for the case")
    finally:
        g.close()
