"""Run a scan's detectors in worker processes (embedded store, large data).

The detectors of a scan are independent: each reads the store and returns its findings. On a
large embedded store :func:`graphkit.scan.scan` runs them ``workers`` at a time, each in a fresh
process (forked from a server that imported graphkit once), heaviest first, and beside them the
provider risk model's data-only half (claims activity, peer indicators, their excess over the
peers, the provider graph), which the parent installs on its store object
(:func:`graphkit.risk.shared.install`) before it scores the providers with the findings. The
results are those of the serial scan, byte for byte (``tests/test_scan_pool.py``); what changes
is the wall time (on two cores ≈ the CPU time / 2) and the memory: each process's peak adds up,
and ``findings.json`` → ``scan_processes`` records every step's peak (``peak_rss_mb``).

Which scans use processes (:func:`scan_workers`): an embedded store of at least
:data:`MIN_CLAIMS` claims, with ``workers`` from the argument, else ``$GRAPHKIT_SCAN_WORKERS``,
else the cores this process may use, at most :data:`MAX_DEFAULT_WORKERS` and at most one per
:data:`GB_PER_WORKER` GB of memory. ``workers=1`` (``graphkit scan --workers 1``) keeps one
process, the least memory. A Neo4j store always scans in one process (the server does the work).

**Memory.** Each step's process holds its own working set, so side by side they add up. The
pool keeps the estimated peaks of the steps it runs together, plus what the scanning process and
the pool's forkserver hold, within a budget (``memory_gb``: the argument, else ``$GRAPHKIT_SCAN_MEMORY_GB``, else
:data:`DEFAULT_BUDGET_GB` — the envelope the project holds a 10M-claim scan to — or half the
machine's memory if that is less): a step starts only when it fits beside the running ones (the
longest that fits first), and a step that fits nowhere runs alone. So a large machine scans
faster only when told it may use more (``graphkit scan --memory-gb 16``). A step's estimate is
:data:`BASE_MB` plus its measured MB per million claims (:data:`MB_PER_M_CLAIMS`, from the
10.7M-claim city; unknown kinds take the largest); the real peaks are recorded.

What the pool counts at each decision is what is resident, not only what was estimated: a running
step counts its estimate or its process's resident memory now, whichever is more (each step
writes its pid to the pool's directory as it starts), and a step that has returned but whose
process has not yet exited counts what that process still holds — the next step waits for it
rather than start beside memory that is still in use. A step streams its result into a file of a
temporary directory (``tempfile``: ``$TMPDIR``; about 1 GB at 12.6M claims) instead of sending it
through the pool's pipe, which pickles it in memory first: a second copy of the result at the
step's very end (1.7 GB more for the risk model's half at 12.6M claims, which the estimates did not
hold). Where the directory has no room, the result goes through the pipe. The scanning process
reads the files once every step has ended, so it stays small meanwhile.
``scan_processes.schedule`` records each step's pid, start and end (seconds from the pool's start)
and the memory counted as in use when it started.

``rule_violation`` is estimated from its item lines (:func:`estimate_mb` with ``lines``; its item
frame takes the most memory), and so is its cost (:func:`step_cost`): where it is the longest step
it starts first, with the small steps that fit beside it, rather than alone at the end; above the
budget it runs alone in a worker of its own. ``indicator_outlier``
does not go to a worker (it reads the risk model's shared indicators: it runs in the parent once
they are installed).

Examples
--------
>>> scan_workers(object(), None)          # not an embedded store: one process
1
>>> heavy_first(["referral_loop", "collusion_ring", "card_burst", "somekind"])
['collusion_ring', 'card_burst', 'referral_loop', 'somekind']
>>> heavy_first(["collusion_ring", "rule_violation"], claims=12_560_000, lines=42_150_000)
['rule_violation', 'collusion_ring']
>>> est = {"a": 5000, "b": 4000, "c": 1000}
>>> next_fitting(["a", "b", "c"], est, running_mb=0, budget_mb=8000)
'a'
>>> next_fitting(["b", "c"], est, running_mb=5000, budget_mb=8000)
'c'
>>> next_fitting(["b"], est, running_mb=5000, budget_mb=8000) is None
True
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import resource
import shutil
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .errors import GraphkitError, ParameterError

if TYPE_CHECKING:  # annotation only
    from graphkit.findings import Finding
    from graphkit.store.base import Store

__all__ = ["step_cost", "MIN_CLAIMS", "MAX_DEFAULT_WORKERS", "GB_PER_WORKER", "IN_PARENT", "FEATURES", "BASE_MB", "DEFAULT_BUDGET_GB",
           "MB_PER_M_CLAIMS", "scan_workers", "memory_budget_mb", "estimate_mb", "heavy_first", "next_fitting",
           "peak_rss_mb", "rss_mb", "in_use_mb", "run_in_workers", "KindResult"]

#: claims from which a scan uses worker processes by default (below, starting them costs more than it saves)
MIN_CLAIMS = 1_000_000
#: at most this many workers unless asked for more (each holds one detector's working set)
MAX_DEFAULT_WORKERS = 4
#: memory per default worker (a detector at 10M claims peaks at a few GB)
GB_PER_WORKER = 6
#: kinds run in the parent after the workers, on the installed shared indicators
IN_PARENT = ("indicator_outlier",)
#: the step name of the risk model's data-only half in timings and peaks
FEATURES = "provider_features"
#: CPU seconds per million claims of each step, to start the longest first: measured on the
#: 12.56M-claim, 42.15M-line city (docs/benchmarks.md), divided by 12.56
_COST = {"collusion_ring": 8.6, FEATURES: 6.3, "card_burst": 3.8, "identity_ring": 3.3, "impossible_travel": 3.4,
         "duplicate_claim": 1.6, "shared_card": 2.9, "phantom_stay": 1.6, "referral_concentration": 1.0,
         "split_stay": 0.7, "deceased_card_use": 0.9, "referral_loop": 0.7}
#: the rule pack's CPU seconds per million item lines (184.7 s on 42.15M lines, the same run)
RULE_COST_PER_M_LINES = 4.4

#: how long the pool counts the memory of a step's process after the step returned (it exits then)
_LINGER_S = 30.0
#: how often the pool looks again while exiting processes hold the memory the next step needs (s)
_POLL_S = 0.2
#: the default memory budget of a scan's processes together (GB)
DEFAULT_BUDGET_GB = 8.0
#: a step process before it reads anything (interpreter, numpy, pandas, pyarrow, graphkit)
BASE_MB = 250
#: peak MB per million claims of each step's process, measured at 10.7M claims (24M item lines,
#: 3.75M contacts; ``findings.json`` → ``scan_processes``), less :data:`BASE_MB`; the steps whose
#: projections read only their rows (``Store.table_where``) measured alone (``run_detector`` in a
#: fresh process, peak RSS), rounded up; card_burst re-measured once it read its claims' providers,
#: terminals and diagnoses as codes and their ids only where needed (3,421 MB at 12.56M claims:
#: 253 a million), with a margin; duplicate_claim, collusion_ring and impossible_travel likewise
#: (3,228–3,790, 3,175–3,442 and 2,561–2,565 MB at 12.56M claims)
MB_PER_M_CLAIMS = {"card_burst": 270, "collusion_ring": 270, "duplicate_claim": 290, "impossible_travel": 200,
                   "shared_card": 175, "phantom_stay": 102, "deceased_card_use": 50, "referral_concentration": 40,
                   "referral_loop": 25, FEATURES: 214, "identity_ring": 178, "split_stay": 25}


@dataclass
class KindResult:
    """What one worker step returns."""

    kind: str
    findings: list[Finding] = field(default_factory=list)
    used: dict[str, Any] = field(default_factory=dict)
    summary: Any = None
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    cpu_seconds: float = 0.0
    payload: Any = None
    #: the step's process id; the file holding the rest of the result while it travels (pool only)
    pid: int = 0
    path: str = ""


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _memory_gb() -> float:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 8.0


def scan_workers(store: Any, workers: int | None) -> int:
    """How many processes scan ``store`` (1: the scan runs in this process).

    An explicit ``workers`` (or ``$GRAPHKIT_SCAN_WORKERS``) wins on an embedded store of any
    size; the default uses processes from :data:`MIN_CLAIMS` claims.
    """
    from .store.embedded import EmbeddedStore

    if not isinstance(store, EmbeddedStore):
        return 1
    env = os.environ.get("GRAPHKIT_SCAN_WORKERS", "").strip()
    if workers is None and env:
        try:
            workers = int(env)
        except ValueError:
            raise ParameterError(f"GRAPHKIT_SCAN_WORKERS={env!r}: expected a whole number ≥ 1") from None
    if workers is not None:
        if workers < 1:
            raise ParameterError(f"workers={workers}: expected a whole number ≥ 1")
        return workers
    if _claims(store) < MIN_CLAIMS:
        return 1
    return max(1, min(_cpus(), MAX_DEFAULT_WORKERS, int(_memory_gb() // GB_PER_WORKER)))


def memory_budget_mb(memory_gb: float | None) -> float:
    """The pool's memory budget in MB: ``memory_gb``, else ``$GRAPHKIT_SCAN_MEMORY_GB``, else
    :data:`DEFAULT_BUDGET_GB` or half the machine's memory, whichever is less."""
    env = os.environ.get("GRAPHKIT_SCAN_MEMORY_GB", "").strip()
    source = f"memory_gb={memory_gb}"
    if memory_gb is None and env:
        source = f"GRAPHKIT_SCAN_MEMORY_GB={env!r}"
        try:
            memory_gb = float(env)
        except ValueError:
            memory_gb = float("nan")
    if memory_gb is None:
        return min(DEFAULT_BUDGET_GB, _memory_gb() / 2) * 1024
    if not memory_gb > 0:
        raise ParameterError(f"{source}: expected a number of GB > 0")
    return float(memory_gb) * 1024


def estimate_mb(step: str, claims: int, lines: int = 0) -> float:
    """The estimated peak RSS in MB of ``step``'s process on ``claims`` claims (``rule_violation``:
    on ``lines`` item lines, :data:`graphkit.rules.detector.BYTES_PER_LINE` each).

    >>> round(estimate_mb("card_burst", 10_000_000))
    2950
    >>> estimate_mb("rule_violation", 10_000_000, lines=1_000_000) < estimate_mb("rule_violation", 10, lines=2_000_000)
    True
    """
    if step == "rule_violation":
        from .rules.detector import BYTES_PER_LINE

        return BASE_MB + lines * BYTES_PER_LINE / 2**20
    per = MB_PER_M_CLAIMS.get(step, max(MB_PER_M_CLAIMS.values()))
    return BASE_MB + per * claims / 1e6


def next_fitting(pending: list[str], est: dict[str, float], *, running_mb: float, budget_mb: float) -> str | None:
    """The first of ``pending`` (ordered longest first) whose estimate fits beside ``running_mb``."""
    return next((n for n in pending if running_mb + est[n] <= budget_mb), None)


def _helper_mb() -> float:
    """Resident memory of the pool's forkserver (≈ 0.2 GB: it imported graphkit), 0 when none runs —
    it holds memory for the whole scan, so the budget counts it like the scanning process.

    >>> _helper_mb() >= 0
    True
    """
    try:
        import multiprocessing.forkserver as fs

        pid = getattr(getattr(fs, "_forkserver", None), "_forkserver_pid", None)
    except ImportError:  # pragma: no cover - not POSIX
        return 0.0
    return (_pid_rss_mb(int(pid)) or 0.0) if pid else 0.0


def rss_mb() -> float:
    """This process's resident memory now (Linux ``/proc``; elsewhere its peak so far)."""
    now = _pid_rss_mb("self")
    return peak_rss_mb() if now is None else now


def _pid_rss_mb(pid: int | str) -> float | None:
    """Resident memory of process ``pid`` now in MB (0 once it has exited; ``None`` where ``/proc``
    cannot tell).

    >>> _pid_rss_mb("self") > 0
    True
    """
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except FileNotFoundError:
        return 0.0
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        return None


def step_cost(step: str, claims: int, lines: int = 0) -> float:
    """A step's expected CPU seconds on ``claims`` claims (``rule_violation``: on ``lines`` item
    lines); 0 for a step not measured.

    >>> step_cost("rule_violation", 12_560_000, 42_150_000) > step_cost("collusion_ring", 12_560_000) > 0
    True
    """
    if step == "rule_violation":
        return RULE_COST_PER_M_LINES * lines / 1e6
    return _COST.get(step, 0.0) * claims / 1e6


def heavy_first(kinds: list[str], claims: int = 10_000_000, lines: int = 0) -> list[str]:
    """``kinds`` ordered by their expected cost (:func:`step_cost`), the longest first (unknown
    ones last, in order): the pool then ends with short steps that fill the gaps."""
    return sorted(kinds, key=lambda k: -step_cost(k, claims, lines))


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _claims(store: Store) -> int:
    return int(store.row_counts().get("claims", 0) or 0)


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return round(r.ru_utime + r.ru_stime, 2)


def _detector_step(store: Store, kind: str, params: dict[str, Any] | None, outdir: str = "") -> KindResult:
    from .detectors import run_detector

    _started(outdir, kind)
    if kind == "rule_violation":  # a step's process is graphkit's own; the item rules gain the most
        from .allocator import keep_heap

        keep_heap()

    t0 = time.perf_counter()
    found, used = run_detector(kind, store, params)
    return _send(KindResult(kind, list(found), used, getattr(found, "summary", None), time.perf_counter() - t0), outdir)


def _features_step(store: Store, min_peers: int, outdir: str = "") -> KindResult:
    from .risk import shared

    _started(outdir, FEATURES)
    t0 = time.perf_counter()
    payload = shared.compute_features(store, min_peers)
    return _send(KindResult(FEATURES, seconds=time.perf_counter() - t0, payload=payload), outdir)


def _started(outdir: str, name: str) -> None:
    """Tell the pool (through ``outdir``) which process runs step ``name``."""
    if outdir:
        with open(os.path.join(outdir, f"{name}.pid"), "w", encoding="ascii") as fh:
            fh.write(str(os.getpid()))


def _step_pid(outdir: str, name: str) -> int | None:
    """The process running step ``name``, once it has said so (:func:`_started`)."""
    try:
        with open(os.path.join(outdir, f"{name}.pid"), encoding="ascii") as fh:
            return int(fh.read())
    except (OSError, ValueError):
        return None


def _send(result: KindResult, outdir: str) -> KindResult:
    """``result`` with this process's peak and CPU time; with ``outdir``, its contents streamed into
    a file there and a shell naming it returned instead (the pool's pipe would pickle it in memory
    first: a second copy of the result at the step's end).

    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> back = _received(_send(KindResult("k", used={"a": 1}, payload=[1, 2]), d))
    >>> back.used, back.payload, back.path, back.pid == os.getpid()
    ({'a': 1}, [1, 2], '', True)
    """
    result.pid = os.getpid()
    if outdir:
        path = os.path.join(outdir, f"{result.kind}.pickle")
        try:
            with open(path, "wb") as fh:  # protocol ≥ 4 writes frame by frame: no copy of the whole
                pickle.dump((result.findings, result.used, result.summary, result.payload), fh,
                            protocol=pickle.HIGHEST_PROTOCOL)
        except OSError:  # no room in the temporary directory: the result goes through the pipe
            with contextlib.suppress(OSError):
                os.remove(path)
        else:
            result = KindResult(result.kind, seconds=result.seconds, pid=result.pid, path=path)
    result.peak_rss_mb, result.cpu_seconds = peak_rss_mb(), _cpu_s()
    return result


def _received(result: KindResult) -> KindResult:
    """A step's result with the contents its process left in a file read back (the file removed)."""
    if result.path:
        with open(result.path, "rb") as fh:
            result.findings, result.used, result.summary, result.payload = pickle.load(fh)
        os.remove(result.path)
        result.path = ""
    return result


def in_use_mb(running: dict[str, int | None], est: dict[str, float], lingering: list[int]) -> float:
    """Memory the pool counts as in use: this process and the forkserver, each running step's
    estimate or its process's resident memory now, whichever is more (``running``: step → pid,
    ``None`` before it has started), and what processes of steps that have returned still hold.

    >>> in_use_mb({}, {}, []) > 0
    True
    """
    used = rss_mb() + _helper_mb()
    for name, pid in running.items():
        used += max(est[name], (_pid_rss_mb(pid) or 0.0) if pid else 0.0)
    return used + sum(_pid_rss_mb(pid) or 0.0 for pid in lingering)


def _context() -> mp.context.BaseContext:
    """Fresh processes forked from a server that imported graphkit once (no fork of a process
    that runs Arrow's threads; no second import per step)."""
    if "forkserver" not in mp.get_all_start_methods():  # pragma: no cover - not POSIX
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["graphkit.detectors", "graphkit.risk", "graphkit.scan_pool"])
    return ctx


def run_in_workers(store: Store, kinds: list[str], params: dict[str, dict[str, Any]], workers: int, *,
                   min_peers: int, memory_gb: float | None = None,
                   progress: Callable[[str], None] | None = None) -> tuple[dict[str, KindResult], dict[str, Any]]:
    """Run ``kinds`` and the risk model's data-only half in up to ``workers`` processes, the longest
    first, within the memory budget (module docstring); return each step's result by name
    (``FEATURES`` for the risk model's half) and the schedule's facts (budget, estimates).

    Each step runs in a process of its own (its memory is the system's again when it ends) on the
    store's own generation (the store object travels pinned, see ``EmbeddedStore.__getstate__``).
    A failing step stops the scan with its error once the running ones have ended.
    """
    out: dict[str, KindResult] = {}
    claims = _claims(store)
    lines = int(store.row_counts().get("claim_items", 0) or 0)
    pending = heavy_first([*kinds, FEATURES], claims, lines)
    est = {n: estimate_mb(n, claims, lines) for n in pending}
    budget = memory_budget_mb(memory_gb)
    schedule: dict[str, dict[str, Any]] = {}
    facts = {"memory_budget_mb": round(budget), "estimated_peak_mb": {n: round(v) for n, v in est.items()},
             "most_at_once": 0, "schedule": schedule}
    t_start = time.perf_counter()
    lingering: dict[int, float] = {}  # pid of a step that returned → when (its process may still hold memory)
    outdir = tempfile.mkdtemp(prefix="graphkit-scan-")
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=_context(), max_tasks_per_child=1) as pool:
            running: dict[Future, str] = {}
            try:
                while pending or running:
                    while pending and len(running) < workers:
                        now = time.perf_counter()
                        lingering = {p: t for p, t in lingering.items() if now - t < _LINGER_S and _pid_rss_mb(p)}
                        used = in_use_mb({n: _step_pid(outdir, n) for n in running.values()}, est, list(lingering))
                        name = next_fitting(pending, est, running_mb=used, budget_mb=budget)
                        if name is None:
                            if running or lingering:
                                break  # wait for a running step to end, or an ended one's process to exit
                            name = pending[0]  # fits nowhere: alone
                        pending.remove(name)
                        if name == FEATURES:
                            running[pool.submit(_features_step, store, min_peers, outdir)] = name
                        else:
                            running[pool.submit(_detector_step, store, name, params.get(name), outdir)] = name
                        schedule[name] = {"start_s": round(now - t_start, 1), "in_use_mb": round(used)}
                        facts["most_at_once"] = max(facts["most_at_once"], len(running))
                    if not running:  # only exiting processes hold the memory the next step needs
                        time.sleep(_POLL_S)
                        continue
                    done, _ = wait(running, timeout=_POLL_S if lingering else None, return_when=FIRST_COMPLETED)
                    for fut in done:
                        name = running.pop(fut)
                        try:
                            out[name] = result = fut.result()  # re-raises the step's error here
                        except BrokenProcessPool:
                            raise GraphkitError(
                                f"扫描进程意外终止（内存不足？）/ a scan process ended abruptly while running {name} "
                                "(out of memory?): rerun with --workers 1 or a smaller --memory-gb") from None
                        schedule[name].update(end_s=round(time.perf_counter() - t_start, 1), pid=result.pid)
                        if result.pid:
                            lingering[result.pid] = time.perf_counter()
                        if progress and name != FEATURES:
                            progress(name)
            except BaseException:
                for fut in running:
                    fut.cancel()
                raise
        # the results are read once every step has ended: the scanning process stays small while
        # the steps run, leaving their memory to them
        return {name: _received(r) for name, r in out.items()}, facts
    finally:
        shutil.rmtree(outdir, ignore_errors=True)
