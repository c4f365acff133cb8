"""Attack 12 of issue #16: two concurrent loads died with tracebacks; a scan during a load died with
FileNotFoundError. Real processes (subprocess), paused at named points (graphkit._failpoints)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import graphkit
from graphkit.store import EmbeddedStore
from graphkit.store.lock import StoreBusy, writer_lock
from loaders import load_bundle

from conftest import tiny_tables, write_bundle

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("fcntl")


def _bundles(tmp_path: Path) -> tuple[Path, Path]:
    t = tiny_tables()
    first = write_bundle(tmp_path / "first", t)
    t["claims"].append({**t["claims"][1], "claim_id": "C0099", "start_time": "2024-04-01 10:00:00"})
    return first, write_bundle(tmp_path / "second", t)


def _start(args: list[str], tmp_path: Path, point: str | None = None) -> tuple[subprocess.Popen, Path | None]:
    env = dict(os.environ)
    flag = None
    if point:
        flag = tmp_path / f"pause-{point.replace(':', '_')}"
        env.update(GRAPHKIT_PAUSEPOINT=point, GRAPHKIT_PAUSEPOINT_FILE=str(flag))
    p = subprocess.Popen([sys.executable, "-m", "graphkit.cli", *args], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p, flag


def _wait_paused(p: subprocess.Popen, flag: Path) -> None:
    deadline = time.monotonic() + 120
    while not flag.exists():
        if p.poll() is not None:
            raise AssertionError(f"process ended before pausing: {p.communicate()}")
        if time.monotonic() > deadline:
            p.kill()
            raise AssertionError("process never reached its pause point")
        time.sleep(0.05)


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "graphkit.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_second_load_is_refused_with_a_clear_busy_message(tmp_path: Path) -> None:
    first, second = _bundles(tmp_path)
    store = tmp_path / "store"
    load_bundle(first, store)
    before = EmbeddedStore(store).fingerprint
    a, flag = _start(["load", str(second), "--store", str(store)], tmp_path, "store_before_manifest")
    try:
        _wait_paused(a, flag)  # A has written its generation and holds the writer lock
        b = _run(["load", str(first), "--store", str(store)])
        assert b.returncode == 1
        assert "Traceback" not in b.stderr
        msg = b.stdout + b.stderr
        assert "存储正被另一进程写入" in msg and "store is busy" in msg
        assert f"pid {a.pid}" in msg and "since" in msg and "user" in msg
        with pytest.raises(StoreBusy):  # the library says the same
            load_bundle(first, store)
        assert EmbeddedStore(store).fingerprint == before  # nothing of B, nothing of A yet
    finally:
        flag.unlink(missing_ok=True)
    out, err = a.communicate(timeout=300)
    assert a.returncode == 0, err
    st = EmbeddedStore(store)
    assert st.row_counts()["claims"] == 6  # A completed
    assert load_bundle(first, store).rows["claims"] == 6  # and the lock is free again


def test_scan_keeps_reading_its_generation_while_a_load_replaces_it(tmp_path: Path) -> None:
    first, second = _bundles(tmp_path)
    store = tmp_path / "store"
    fp1 = load_bundle(first, store).store_fingerprint
    gen1 = EmbeddedStore(store).manifest["generation"]
    scan, flag = _start(["scan", "--store", str(store), "--out", str(tmp_path / "scan")], tmp_path, "reader_opened")
    try:
        _wait_paused(scan, flag)  # the scan has opened (pinned) generation 1 and reads nothing yet
        r = _run(["load", str(second), "--store", str(store)])
        assert r.returncode == 0, r.stderr
        live = EmbeddedStore(store)
        assert live.fingerprint != fp1 and live.manifest["generation"] != gen1
        assert (store / gen1).is_dir()  # pinned by the scan: not removed under it
        live.release()
    finally:
        flag.unlink(missing_ok=True)
    out, err = scan.communicate(timeout=300)
    assert scan.returncode == 0, err
    assert "Traceback" not in err
    report = json.loads((tmp_path / "scan" / "findings.json").read_text("utf-8"))
    assert report["data_fingerprint"] == fp1  # one consistent snapshot: the one it opened
    # the reader is gone: the next commit removes the old generation
    t = tiny_tables()
    t["claims"][0]["fund_amount"] = "149.00"
    load_bundle(write_bundle(tmp_path / "third", t), store)
    assert sorted(p.name for p in store.glob("gen-*")) == [EmbeddedStore(store).manifest["generation"]]


def test_reader_object_survives_loads_by_another_process(tmp_path: Path) -> None:
    first, second = _bundles(tmp_path)
    store = tmp_path / "store"
    load_bundle(first, store)
    reader = EmbeddedStore(store)
    claims_before = reader.table("claims")
    for bundle in (second, first):  # two replacing loads in another process
        r = _run(["load", str(bundle), "--store", str(store)])
        assert r.returncode == 0, r.stderr
    again = reader.table("claims", ["claim_id", "fund_amount"])  # files of the pinned generation are still there
    assert again["claim_id"].tolist() == claims_before["claim_id"].tolist()
    assert len(EmbeddedStore(store).table("claims")) == 6


def test_lock_is_released_when_the_holder_dies(tmp_path: Path) -> None:
    first, second = _bundles(tmp_path)
    store = tmp_path / "store"
    load_bundle(first, store)
    env = {**os.environ, "GRAPHKIT_FAILPOINT": "store_before_manifest"}
    rc = subprocess.run([sys.executable, "-m", "graphkit.cli", "load", str(second), "--store", str(store)],
                        cwd=ROOT, env=env, capture_output=True, timeout=300).returncode
    assert rc == 137  # killed while holding the lock
    with writer_lock(store):  # the kernel released it
        pass
    assert load_bundle(second, store).rows["claims"] == 6
