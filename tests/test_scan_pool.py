"""A scan in worker processes gives the serial scan's findings and scores, byte for byte."""

from __future__ import annotations

import json
import pickle

import pandas as pd
import pytest

from graphkit.demo import generate_city
from graphkit.errors import ParameterError, StoreError
from graphkit.loaders import load_bundle
from graphkit.scan import scan
from graphkit.scan_pool import DEFAULT_BUDGET_GB, FEATURES, MIN_CLAIMS, memory_budget_mb, scan_workers
from graphkit.store.embedded import EmbeddedStore


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("pool")
    generate_city(root / "bundle", patients=2500, seed=3, months=6)
    load_bundle(root / "bundle", root / "store")
    return EmbeddedStore(root / "store")


def _findings(result) -> list[dict]:
    return json.loads(result.to_json())["findings"]


def test_workers_give_the_serial_scans_findings_and_scores(store):
    one = scan(store, workers=1)
    two = scan(store, workers=2)
    assert one.processes["workers"] == 1 and two.processes["workers"] == 2
    assert _findings(two) == _findings(one) and len(one.findings) > 20
    assert two.parameters == one.parameters and two.skipped == one.skipped and two.degraded == one.degraded
    pd.testing.assert_frame_equal(two.scores, one.scores, check_exact=True)
    # every step's peak is recorded, the risk model's data-only half among them
    peaks = two.processes["peak_rss_mb"]
    assert set(one.parameters) | {FEATURES, "scan"} == set(peaks) and all(v > 0 for v in peaks.values())
    assert FEATURES in two.seconds
    # the opt-in kind that reads the shared indicators runs in the parent, on the installed ones
    three = scan(store, kinds=["collusion_ring", "indicator_outlier"], workers=2)
    solo = scan(store, kinds=["collusion_ring", "indicator_outlier"], workers=1)
    assert _findings(three) == _findings(solo)
    assert three.processes["in_parent"] == ["indicator_outlier"]


def test_indicator_outlier_with_the_risk_models_parameters_runs_once(store, monkeypatch):
    """Its findings with default parameters are the risk model's shared leads: a scan runs the
    detector once (for both), serial or parallel; other parameters run it again, for the scan."""
    import dataclasses

    from graphkit.detectors import REGISTRY, run_detector

    det = REGISTRY["indicator_outlier"]
    calls: list[dict] = []

    def counted(st, **kw):
        calls.append(kw)
        return det.func(st, **kw)

    monkeypatch.setitem(REGISTRY, "indicator_outlier", dataclasses.replace(det, func=counted))
    expected = [f.id for f in run_detector("indicator_outlier", store)[0]]
    for workers in (1, 2):
        calls.clear()
        res = scan(store, kinds=["collusion_ring", "indicator_outlier"], workers=workers)
        assert [f.id for f in res.findings if f.kind == "indicator_outlier"] == expected
        # serial: once, here; parallel: once, in the features worker (its calls are not seen here)
        assert calls == ([res.parameters["indicator_outlier"]] if workers == 1 else [])
        # never a pooled step of its own
        assert res.processes.get("in_parent", ["indicator_outlier"]) == ["indicator_outlier"]
    calls.clear()
    other = scan(store, kinds=["indicator_outlier"], params={"indicator_outlier": {"benign_weight": 0.5}}, workers=1)
    assert len(calls) == 2 and other.parameters["indicator_outlier"]["benign_weight"] == 0.5


def test_the_memory_budget_keeps_steps_apart(store, monkeypatch):
    """A budget below every step's estimate: each runs alone (the same results); a large one lets
    two run side by side."""
    solo = scan(store, kinds=["collusion_ring", "shared_card", "split_stay"], workers=2, memory_gb=0.01)
    assert solo.processes["most_at_once"] == 1 and solo.processes["memory_budget_mb"] == 10
    assert set(solo.processes["estimated_peak_mb"]) == {"collusion_ring", "shared_card", "split_stay", FEATURES}
    wide = scan(store, kinds=["collusion_ring", "shared_card", "split_stay"], workers=2, memory_gb=64)
    assert wide.processes["most_at_once"] == 2
    assert _findings(solo) == _findings(wide)
    pd.testing.assert_frame_equal(solo.scores, wide.scores, check_exact=True)
    monkeypatch.setenv("GRAPHKIT_SCAN_MEMORY_GB", "3.5")
    assert memory_budget_mb(None) == 3.5 * 1024 and memory_budget_mb(2) == 2048
    monkeypatch.setenv("GRAPHKIT_SCAN_MEMORY_GB", "lots")
    with pytest.raises(ParameterError, match="GRAPHKIT_SCAN_MEMORY_GB"):
        memory_budget_mb(None)
    monkeypatch.delenv("GRAPHKIT_SCAN_MEMORY_GB")
    assert 0 < memory_budget_mb(None) <= DEFAULT_BUDGET_GB * 1024


def test_a_bad_parameter_fails_the_scan_before_any_process_starts(store):
    with pytest.raises(ParameterError, match="min_members"):
        scan(store, kinds=["collusion_ring"], params={"collusion_ring": {"min_members": "many"}}, workers=2)


def test_how_many_workers(store, monkeypatch):
    monkeypatch.delenv("GRAPHKIT_SCAN_WORKERS", raising=False)
    assert store.manifest["tables"]["claims"]["rows"] < MIN_CLAIMS
    assert scan_workers(store, None) == 1  # small data: one process
    assert scan_workers(store, 3) == 3
    monkeypatch.setenv("GRAPHKIT_SCAN_WORKERS", "2")
    assert scan_workers(store, None) == 2 and scan_workers(store, 1) == 1
    monkeypatch.setenv("GRAPHKIT_SCAN_WORKERS", "two")
    with pytest.raises(ParameterError, match="GRAPHKIT_SCAN_WORKERS"):
        scan_workers(store, None)
    with pytest.raises(ParameterError):
        scan_workers(store, 0)


def test_a_pickled_store_reads_the_same_generation_pinned(store, tmp_path):
    copy = pickle.loads(pickle.dumps(store))
    assert copy.fingerprint == store.fingerprint and copy._pin is not None and copy._pin.fd is not None
    assert copy.row_counts() == store.row_counts()
    state = store.__getstate__()
    state["manifest"] = {**state["manifest"], "generation": "gen-999999"}
    gone = EmbeddedStore.__new__(EmbeddedStore)
    with pytest.raises(StoreError, match="gen-999999"):
        gone.__setstate__(state)


def test_a_worker_that_dies_fails_the_scan_with_a_clear_error(store, monkeypatch):
    """A worker killed (as the kernel kills one out of memory) ends the scan with advice, not a traceback."""
    from graphkit import scan_pool
    from graphkit.errors import GraphkitError

    monkeypatch.setattr(scan_pool, "_detector_step", _die)
    with pytest.raises(GraphkitError, match="--workers 1"):
        scan(store, kinds=["split_stay"], workers=2)


def _die(*_args):  # runs in the worker: ends it the way SIGKILL would
    import os

    os._exit(137)


def test_the_budget_counts_the_pools_forkserver():
    """The forkserver imported graphkit (≈ 0.2 GB) and lives as long as the scan: the budget counts it."""
    from concurrent.futures import ProcessPoolExecutor

    from graphkit import scan_pool

    with ProcessPoolExecutor(1, mp_context=scan_pool._context()) as pool:
        assert pool.submit(sum, [1, 2]).result() == 3
        assert scan_pool._helper_mb() > 20  # the server process, resident


def test_the_schedule_is_recorded_and_results_travel_as_files(store, tmp_path, monkeypatch):
    """Each worker step's pid, start and end are recorded; its result came back through a file in
    the pool's temporary directory, which is gone after the scan."""
    import os

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    res = scan(store, kinds=["split_stay", "shared_card"], workers=2, memory_gb=64)
    sched = res.processes["schedule"]
    assert set(sched) == {"split_stay", "shared_card", FEATURES}
    for name, step in sched.items():
        assert step["pid"] > 0 and step["pid"] != os.getpid(), name
        assert 0 <= step["start_s"] <= step["end_s"], name
        assert step["in_use_mb"] > 0, name
    assert len({s["pid"] for s in sched.values()}) == 3  # a fresh process per step
    assert list(tmp_path.iterdir()) == []  # the pool's directory removed with its files


def test_the_pool_counts_what_running_and_exiting_processes_hold():
    """A running step counts its estimate or its process's resident memory, whichever is more; a
    process that returned but has not exited counts what it still holds; an exited one nothing."""
    import os
    import subprocess
    import sys

    from graphkit import scan_pool

    me = scan_pool._pid_rss_mb(os.getpid())
    assert me and me > 10
    base = scan_pool.in_use_mb({}, {}, [])
    # this process as a 'running' step with a tiny estimate: its measured memory counts instead
    assert scan_pool.in_use_mb({"k": os.getpid()}, {"k": 1.0}, []) >= base + me * 0.9
    # a large estimate wins over a small process; a step without a pid yet counts its estimate
    assert scan_pool.in_use_mb({"k": os.getpid(), "j": None}, {"k": 1e6, "j": 5.0}, []) >= base + 1e6 + 5.0
    # an exited process holds nothing
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert scan_pool._pid_rss_mb(gone.pid) == 0.0
    assert scan_pool.in_use_mb({}, {}, [gone.pid]) < base + 5
    # a lingering one counts what it holds
    assert scan_pool.in_use_mb({}, {}, [os.getpid()]) >= base + me * 0.9


def test_a_result_the_temporary_directory_cannot_hold_goes_through_the_pipe(tmp_path):
    """No room (here: no directory) for the result file: the step's result comes back whole."""
    from graphkit import scan_pool

    r = scan_pool._send(scan_pool.KindResult("k", used={"a": 1}, payload=[1]), str(tmp_path / "gone"))
    assert r.path == "" and r.payload == [1] and r.peak_rss_mb > 0
    assert scan_pool._received(r).used == {"a": 1}
