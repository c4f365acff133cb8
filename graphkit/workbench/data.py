"""The workbench's data: store, findings, scores, an in-memory claims index, cases.

Configured from the environment so notebooks stay thin:

=====================  =====================================================================
``GRAPHKIT_STORE``     embedded store folder (default: ``demo-out/store`` found from the
                       working directory upwards)
``GRAPHKIT_FINDINGS``  ``findings.json`` (default: beside the store)
``GRAPHKIT_SCORES``    ``scores.csv`` (default: beside ``findings.json``; optional)
``GRAPHKIT_CASES``     case database (default: ``<store>.cases.sqlite`` beside the store;
                      with ``NEO4J_URI`` the cases live in the graph instead)
``GRAPHKIT_OUT``       dossier output folder (default: ``exports/dossiers`` in the served working
                       folder, see :func:`~graphkit.workbench.workdir.dossier_dir`)
``GRAPHKIT_USER``      a display name shown beside the OS account (never a permission)
``GRAPHKIT_LEAD``      the lead to open first in ``02_explore`` / ``03_case``
``NEO4J_URI`` …        a Neo4j store instead of an embedded one (with ``GRAPHKIT_FINDINGS``)
=====================  =====================================================================

Examples
--------
>>> import getpass
>>> cfg = WorkbenchConfig.from_env({"GRAPHKIT_STORE": "/d/store", "GRAPHKIT_USER": "wang"})
>>> cfg.findings.as_posix(), cfg.cases.as_posix(), cfg.user == f"{getpass.getuser()} (display: wang)"
('/d/findings.json', '/d/store.cases.sqlite', True)
"""

from __future__ import annotations

import getpass
import os
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import networkx as nx
import numpy as np
import pandas as pd

from ..outputs import read_csv
from ..errors import GraphkitError
from ..evidence import evidence_graph
from ..findings import Finding, FindingsReport, read_findings
from ..store.base import Store
from . import shaping
from .cases import CaseStore, default_cases_path

__all__ = ["WorkbenchConfig", "Workbench", "ClaimsIndex", "WorkbenchError", "INDEX_COLUMNS"]


class WorkbenchError(GraphkitError):
    """The workbench cannot start (no store, no findings) or was asked something impossible."""


#: claim columns held in memory for instant lead opening and neighbourhood expansion
INDEX_COLUMNS = ["claim_id", "card_id", "patient_id", "claim_type", "institution_id", "pharmacy_id", "doctor_id",
                 "terminal_id", "start_time", "fund_amount", "total_amount"]
_CATEGORICAL = ["card_id", "patient_id", "claim_type", "institution_id", "pharmacy_id", "doctor_id", "terminal_id"]


def _find_upwards(rel: str, start: Path) -> Path | None:
    for d in [start, *start.parents]:
        if (d / rel).exists():
            return d / rel
    return None


@dataclass
class WorkbenchConfig:
    """Where the workbench's data lives (see the module docstring for the variables)."""

    store: Path | None
    findings: Path
    scores: Path | None
    cases: Path
    out_dir: Path | None  # None: the served working folder's exports/dossiers, at export time
    user: str
    lead: str | None = None
    neo4j_uri: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, cwd: str | Path | None = None) -> "WorkbenchConfig":
        """Read the configuration from ``env`` (default ``os.environ``)."""
        env = os.environ if env is None else env
        cwd = Path(cwd or os.getcwd())
        from ..identity import actor_label, display_name, os_account

        user = actor_label(os_account(), display_name(env))  # the OS account acts; GRAPHKIT_USER is a display name
        store = env.get("GRAPHKIT_STORE")
        neo4j = env.get("NEO4J_URI") if not store else None
        if neo4j:
            if not env.get("GRAPHKIT_FINDINGS"):
                raise WorkbenchError("Neo4j 模式需要 GRAPHKIT_FINDINGS / with NEO4J_URI set GRAPHKIT_FINDINGS to a findings.json")
            findings = Path(env["GRAPHKIT_FINDINGS"])
            base = findings.parent
            return cls(store=None, findings=findings,
                       scores=Path(env["GRAPHKIT_SCORES"]) if env.get("GRAPHKIT_SCORES") else base / "scores.csv",
                       cases=Path(env.get("GRAPHKIT_CASES") or base / "neo4j.cases.sqlite"),
                       out_dir=Path(env["GRAPHKIT_OUT"]) if env.get("GRAPHKIT_OUT") else None, user=user,
                       lead=env.get("GRAPHKIT_LEAD") or None, neo4j_uri=neo4j)
        if store:
            store_p = Path(store)
        else:
            found = _find_upwards("demo-out/store", cwd)
            if found is None:
                raise WorkbenchError(
                    "没有找到数据：请设置 GRAPHKIT_STORE 或先运行 `graphkit demo` / no store: set GRAPHKIT_STORE "
                    f"(or NEO4J_URI) or run `graphkit demo` (searched demo-out/store from {cwd} upwards)")
            store_p = found
        findings = Path(env.get("GRAPHKIT_FINDINGS") or store_p.parent / "findings.json")
        scores = Path(env["GRAPHKIT_SCORES"]) if env.get("GRAPHKIT_SCORES") else findings.parent / "scores.csv"
        return cls(store=store_p, findings=findings, scores=scores,
                   cases=Path(env.get("GRAPHKIT_CASES") or default_cases_path(store_p)),
                   out_dir=Path(env["GRAPHKIT_OUT"]) if env.get("GRAPHKIT_OUT") else None, user=user,
                   lead=env.get("GRAPHKIT_LEAD") or None)


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # pragma: no cover - no login name in some containers
        return "analyst"


class ClaimsIndex:
    """Claims held in memory (categorical ids), indexed by ``claim_id``.

    Built once per workbench (about a second per million claims), it makes opening a
    lead and expanding a neighbourhood independent of the store's size.

    Examples
    --------
    >>> c = pd.DataFrame({"claim_id": ["C1", "C2"], "patient_id": ["P1", "P2"], "fund_amount": [1.0, 2.0]})
    >>> ix = ClaimsIndex.from_frame(c)
    >>> ix.lookup(["C2", "C9"])["patient_id"].tolist(), str(ix.lookup(["C2"])["patient_id"].dtype)
    (['P2'], 'string')
    >>> ix.touching("patient", "P1")["claim_id"].tolist()
    ['C1']
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        # an object-dtype index keeps its hash table between lookups (Arrow-backed ones rebuild it)
        self._pos = pd.Index(frame["claim_id"].to_numpy(dtype=object), dtype=object, name="claim_id")
        self._pos.get_indexer([])  # build the hash table now, not on the first lead

    @classmethod
    def from_frame(cls, claims: pd.DataFrame) -> "ClaimsIndex":
        df = claims.reset_index(drop=True).copy()
        for c in _CATEGORICAL:
            if c in df.columns:
                df[c] = df[c].astype("category")
        return cls(df)

    @classmethod
    def from_store(cls, store: Store, columns: Sequence[str] = INDEX_COLUMNS) -> "ClaimsIndex":
        have = set(store.columns("claims")) if hasattr(store, "columns") else set(columns)
        cols = [c for c in columns if c in have or c == "claim_id"]
        return cls.from_frame(store.table("claims", cols))

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)

    @staticmethod
    def _typed(df: pd.DataFrame) -> pd.DataFrame:
        out = df.reset_index(drop=True)
        for c in out.columns:
            if isinstance(out[c].dtype, pd.CategoricalDtype):
                # only the rows' own values: converting the categories (all ids in the store) costs more
                out[c] = pd.array(out[c].to_numpy(dtype=object, na_value=None), dtype="string")
        return out

    def lookup(self, claim_ids: Iterable[str], columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The claims with these ids (unknown ids skipped), typed like the store's tables."""
        ids = list(dict.fromkeys(str(c) for c in claim_ids))
        pos = self._pos.get_indexer(pd.Index(ids, dtype=object))
        pos = np.sort(pos[pos >= 0])
        cols = None if columns is None else [c for c in dict.fromkeys(["claim_id", *columns]) if c in self.frame.columns]
        df = self.frame.take(pos)
        return self._typed(df if cols is None else df[cols])

    def involving(self, *, patients: Sequence[str] = (), cards: Sequence[str] = ()) -> pd.DataFrame:
        """Claims of any of ``patients`` or on any of ``cards``."""
        mask = np.zeros(len(self.frame), dtype=bool)
        for col, vals in (("patient_id", patients), ("card_id", cards)):
            if len(vals) and col in self.frame.columns:
                s = self.frame[col]
                codes = s.cat.categories.get_indexer(list(vals))
                mask |= np.isin(s.cat.codes.to_numpy(), codes[codes >= 0])
        return self._typed(self.frame[mask])

    def touching(self, node_type: str, node_id: str, *, limit: int | None = None) -> pd.DataFrame:
        """Claims involving one entity (patient, card, doctor, institution, pharmacy, terminal),
        the ``limit`` largest by fund when there are more."""
        col = {"patient": "patient_id", "card": "card_id", "doctor": "doctor_id", "institution": "institution_id",
               "pharmacy": "pharmacy_id", "terminal": "terminal_id"}.get(node_type)
        if col is None or col not in self.frame.columns:
            raise WorkbenchError(f"cannot expand a node of type {node_type!r}; expandable: patient, card, doctor, "
                                 "institution, pharmacy, terminal")
        s = self.frame[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            code = s.cat.categories.get_indexer([node_id])[0]
            mask = s.cat.codes.to_numpy() == code if code >= 0 else np.zeros(len(s), dtype=bool)
        else:
            mask = (s == node_id).fillna(False).to_numpy()
        df = self.frame[mask]
        if limit is not None and len(df) > limit:
            df = df.nlargest(limit, "fund_amount")
        return self._typed(df)


class _IndexedStore(Store):
    """A store whose ``claims_by_id`` answers from a :class:`ClaimsIndex` (everything else delegated)."""

    #: dimension tables kept as plain object arrays: iterating them row by row (as
    #: ``evidence_graph`` does over the cards) is ~30x faster than over Arrow-backed strings
    SMALL = ("cards", "patients", "doctors", "institutions", "pharmacies")

    def __init__(self, store: Store, index: ClaimsIndex, cache: dict | None = None) -> None:
        self._store = store
        self._index = index
        self._cache = {} if cache is None else cache
        self.fingerprint = store.fingerprint

    def table(self, name: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        if name not in self.SMALL:
            return self._store.table(name, columns)
        key = (name, None if columns is None else tuple(columns))
        if key not in self._cache:
            df = self._store.table(name, columns).copy()
            for c in df.columns:
                if isinstance(df[c].dtype, pd.StringDtype):
                    df[c] = pd.Series(df[c].to_numpy(dtype=object, na_value=None), index=df.index, dtype=object)
            self._cache[key] = df
        return self._cache[key]

    def has_table(self, name: str) -> bool:
        return self._store.has_table(name)

    def row_counts(self) -> dict[str, int]:
        return self._store.row_counts()

    def columns(self, name: str) -> list[str]:
        return self._store.columns(name)

    def claims_by_id(self, claim_ids: Iterable[str], columns: Sequence[str] | None = None) -> pd.DataFrame:
        ids = list(claim_ids)
        if columns is not None and all(c in self._index.columns for c in columns):
            return self._index.lookup(ids, columns)
        return self._store.claims_by_id(ids, columns)

    def items_by_claim(self, claim_ids: Iterable[str], columns: Sequence[str] | None = None) -> pd.DataFrame:
        return self._store.items_by_claim(claim_ids, columns)

    # the wrapped store's own reads of rows, codes and filtered rows (the embedded store's read only
    # what they need; the interface's defaults would read whole tables)
    def table_where(self, name: str, columns: Sequence[str], where: Any) -> pd.DataFrame:
        return self._store.table_where(name, columns, where)

    def table_codes(self, name: str, columns: Sequence[str]) -> dict[str, pd.Categorical]:
        return self._store.table_codes(name, columns)

    def table_rows(self, name: str, columns: Sequence[str], rows: np.ndarray) -> pd.DataFrame:
        return self._store.table_rows(name, columns, rows)


class Workbench:
    """Everything the notebooks share: store, findings, scores, claims index, cases, user.

    Parameters
    ----------
    store
        A :class:`~graphkit.store.Store`.
    report
        The findings report (``findings.json``).
    cases
        The case store.
    scores
        Provider scores (``scores.csv``), optional.
    user
        Who is working (written to the audit trail).
    out_dir
        Where dossiers go (``None``: :func:`~graphkit.workbench.workdir.dossier_dir` at export time).
    lead
        The lead to open first (else the one last opened in triage, else the top lead).
    index
        Build an in-memory claims index (default: for embedded stores only).

    Examples
    --------
    >>> wb = Workbench.from_env()            # doctest: +SKIP
    >>> wb.leads.head()                      # doctest: +SKIP
    """

    def __init__(self, store: Store, report: FindingsReport, cases: CaseStore, *, scores: pd.DataFrame | None = None,
                 user: str = "analyst", out_dir: str | Path | None = None, lead: str | None = None,
                 index: bool | None = None, config: WorkbenchConfig | None = None) -> None:
        self.store = store
        self.report = report
        self.cases = cases
        self.scores = scores
        self.user = user
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.config = config
        self._lead = lead
        self.findings: dict[str, Finding] = {f.id: f for f in report.findings}
        self._use_index = index if index is not None else store.__class__.__name__ == "EmbeddedStore"
        self._index: ClaimsIndex | None = None
        self._index_lock = threading.Lock()
        self._tables: dict = {}
        self.timings: dict[str, float] = {}

    # -- construction --------------------------------------------------------------------
    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **kwargs: Any) -> "Workbench":
        """Open what the environment points at (see the module docstring)."""
        return cls.from_config(WorkbenchConfig.from_env(env), **kwargs)

    @classmethod
    def from_config(cls, cfg: WorkbenchConfig, **kwargs: Any) -> "Workbench":
        if cfg.neo4j_uri:
            from ..neo4jstore import Neo4jStore, connection_from_env

            store: Store = Neo4jStore(connection_from_env(cfg.neo4j_uri))
        else:
            from ..store import open_store

            store = open_store(cfg.store)  # type: ignore[arg-type]
        if not cfg.findings.is_file():
            raise WorkbenchError(f"没有线索文件 / no findings file at {cfg.findings} (run `graphkit scan` or set GRAPHKIT_FINDINGS)")
        report = read_findings(cfg.findings)
        scores = read_csv(cfg.scores, dtype={"entity_id": "string"}) if cfg.scores and cfg.scores.is_file() else None
        if cfg.neo4j_uri:  # investigators sharing a graph share its cases
            from ..neo4jstore.cases import GraphCaseStore

            cases: Any = GraphCaseStore(store.conn, store_fingerprint=store.fingerprint)  # type: ignore[attr-defined]
        else:
            cases = CaseStore(cfg.cases, store_fingerprint=store.fingerprint)
        return cls(store, report, cases, scores=scores, user=cfg.user, out_dir=cfg.out_dir, lead=cfg.lead, config=cfg,
                   **kwargs)

    @classmethod
    def open(cls, store: str | Path, findings: str | Path | None = None, *, user: str = "analyst",
             cases: str | Path | None = None, **kwargs: Any) -> "Workbench":
        """Open an embedded store folder and its findings (paths default as in :meth:`from_env`)."""
        env = {"GRAPHKIT_STORE": str(store), "GRAPHKIT_USER": user}
        if findings:
            env["GRAPHKIT_FINDINGS"] = str(findings)
        if cases:
            env["GRAPHKIT_CASES"] = str(cases)
        return cls.from_env(env, **kwargs)

    def __repr__(self) -> str:
        src = self.config.store if self.config and self.config.store else (self.config.neo4j_uri if self.config else "?")
        return (f"<Workbench 数据 store={src} 线索 leads={len(self.findings)} 案件库 cases={self.cases.path} "
                f"用户 user={self.user}>")

    def _repr_html_(self) -> str:
        import html

        rows = self.store.row_counts()
        src = self.config.store if self.config and self.config.store else (self.config.neo4j_uri if self.config else "?")
        return (f"<div class='gk-workbench' style='font-size:13px'>工作台 / workbench — 数据 store: <code>{html.escape(str(src))}</code>"
                f"（结算 {rows.get('claims', 0):,} claims）· 线索 leads: {len(self.findings)} · 案件库 cases: "
                f"<code>{html.escape(str(self.cases.path))}</code> · 用户 user: {html.escape(self.user)}</div>")

    # -- claims ----------------------------------------------------------------------------
    @property
    def index(self) -> ClaimsIndex | None:
        """The in-memory claims index (built on first use; None for server stores)."""
        if not self._use_index:
            return None
        with self._index_lock:
            if self._index is None:
                t0 = time.perf_counter()
                self._index = ClaimsIndex.from_store(self.store)
                self.timings["claims_index"] = time.perf_counter() - t0
        return self._index

    def warm(self, background: bool = True) -> threading.Thread | None:
        """Build the claims index (in a background thread by default) so the first lead opens fast."""
        if not self._use_index:
            return None
        if not background:
            _ = self.index
            return None
        t = threading.Thread(target=lambda: self.index, daemon=True, name="graphkit-claims-index")
        t.start()
        return t

    @property
    def claims_store(self) -> Store:
        """The store, answering ``claims_by_id`` from the index when there is one."""
        ix = self.index
        return self.store if ix is None else _IndexedStore(self.store, ix, self._tables)

    def claims(self, claim_ids: Iterable[str], columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Claims by id (from the index when possible)."""
        return self.claims_store.claims_by_id(claim_ids, columns)

    def touching(self, node: str, *, limit: int = 200) -> pd.DataFrame:
        """Claims involving a graph node (``"patient:PT1"``), the ``limit`` largest by fund."""
        t, i = node.split(":", 1)
        ix = self.index
        if ix is not None:
            return ix.touching(t, i, limit=limit)
        col = {"patient": "patient_id", "card": "card_id", "doctor": "doctor_id", "institution": "institution_id",
               "pharmacy": "pharmacy_id", "terminal": "terminal_id"}.get(t)
        if col is None:
            raise WorkbenchError(f"cannot expand a node of type {t!r}")
        cl = self.store.table("claims", INDEX_COLUMNS)
        df = cl[(cl[col] == i).fillna(False)]
        return df.nlargest(limit, "fund_amount") if len(df) > limit else df.reset_index(drop=True)

    # -- dimension data ----------------------------------------------------------------------
    @cached_property
    def providers(self) -> pd.DataFrame:
        """``provider`` (``"institution:H1"``), ``name``, ``region``, ``peer_group`` of every provider."""
        inst = self.store.table("institutions", ["institution_id", "name", "region", "kind", "level"])
        ph = self.store.table("pharmacies", ["pharmacy_id", "name", "region", "chain"])
        a = pd.DataFrame({
            "provider": "institution:" + inst["institution_id"].astype(str),
            "name": inst["name"].astype("object"), "region": inst["region"].astype("object"),
            "peer_group": "institution/" + inst["kind"].astype("object").fillna("?").astype(str) + "/"
                          + inst["level"].astype("object").fillna("?").astype(str),
        })
        b = pd.DataFrame({
            "provider": "pharmacy:" + ph["pharmacy_id"].astype(str), "name": ph["name"].astype("object"),
            "region": ph["region"].astype("object"), "peer_group": "pharmacy",
        })
        out = pd.concat([a, b], ignore_index=True)
        out["name"] = out["name"].where(out["name"].notna(), "")
        out["region"] = out["region"].where(out["region"].notna(), "")
        return out

    @cached_property
    def holders(self) -> dict[str, str]:
        """Card id → the holder's patient id (for ``HOLDS`` edges when expanding)."""
        cards = self.store.table("cards", ["card_id", "patient_id"]).dropna()
        return dict(zip(cards["card_id"].to_numpy(dtype=object), cards["patient_id"].to_numpy(dtype=object)))

    @cached_property
    def names(self) -> dict[str, str]:
        """Graph node id → display name (providers)."""
        p = self.providers
        return {k: v for k, v in zip(p["provider"], p["name"]) if v}

    @cached_property
    def region_names(self) -> dict[str, str]:
        """Region code → name (the store's ``regions`` table, else the national gazetteer)."""
        from .labels import region_names

        return region_names(self.store)

    def named_leads(self, leads: pd.DataFrame) -> pd.DataFrame:
        """``leads`` for display: providers and regions as names (``医疗机构 H1 第一医院``, ``历下区 370102``)."""
        from .labels import entity_label, region_label

        def join(cell: str, f) -> str:
            return ";".join(f(x) for x in cell.split(";") if x) if isinstance(cell, str) else ""

        return leads.assign(providers=leads["providers"].map(lambda c: join(c, lambda p: entity_label(p, self.names))),
                            regions=leads["regions"].map(lambda c: join(c, lambda r: region_label(r, self.region_names))))

    # -- leads ------------------------------------------------------------------------------
    @cached_property
    def attribution(self) -> pd.DataFrame:
        """Fund of every finding's claims per provider (see :func:`shaping.lead_attribution`)."""
        ids = sorted({c for f in self.findings.values() for c in f.claims})
        claims = self.claims(ids, ["institution_id", "pharmacy_id", "fund_amount"]) if ids else pd.DataFrame(
            columns=["claim_id", "institution_id", "pharmacy_id", "fund_amount"])
        return shaping.lead_attribution(self.findings.values(), claims, self.providers)

    @cached_property
    def leads(self) -> pd.DataFrame:
        """The leads table (one row per finding, score order)."""
        return shaping.sort_leads(shaping.leads_frame(self.findings.values(), self.attribution), "score")

    def finding(self, finding_id: str) -> Finding:
        try:
            return self.findings[finding_id]
        except KeyError:
            raise WorkbenchError(f"没有该线索 / no lead {finding_id!r} in {self.config.findings if self.config else 'findings'}") from None

    @property
    def current_lead(self) -> str | None:
        """The lead to open: ``GRAPHKIT_LEAD``, else the one last opened in triage, else the top lead."""
        for cand in (self._lead, self.cases.get_pref(self.user, "current_lead")):
            if cand and cand in self.findings:
                return cand
        return str(self.leads["id"].iloc[0]) if len(self.leads) else None

    @current_lead.setter
    def current_lead(self, finding_id: str | None) -> None:
        if finding_id is not None:
            self.finding(finding_id)
        self._lead = finding_id
        self.cases.set_pref(self.user, "current_lead", finding_id)

    # -- evidence ---------------------------------------------------------------------------
    #: leads with more claims than this get their graph from the vectorised builder
    #: (:func:`shaping.lead_graph`, same graph) rather than :meth:`Finding.subgraph`
    SUBGRAPH_MAX_CLAIMS = 300

    def evidence(self, finding_id: str, *, max_claims: int = 5000) -> nx.MultiDiGraph:
        """The finding's evidence graph (:meth:`Finding.subgraph`), served from the claims index."""
        f = self.finding(finding_id)
        if len(f.claims) <= self.SUBGRAPH_MAX_CLAIMS or self.index is None:
            return f.subgraph(self.claims_store, max_claims=max_claims)
        cols = ["card_id", "patient_id", "institution_id", "pharmacy_id", "doctor_id", "start_time", "fund_amount"]
        claims = self.claims(f.claims[:max_claims], cols)
        return shaping.lead_graph(f, claims, holders=self.holders)

    def involving(self, *, patients: Sequence[str] = (), cards: Sequence[str] = ()) -> pd.DataFrame:
        """All claims of these people or on these cards (one pass over the index)."""
        ix = self.index
        if ix is not None:
            return ix.involving(patients=patients, cards=cards)
        cl = self.store.table("claims", INDEX_COLUMNS)
        return cl[cl["patient_id"].isin(list(patients)) | cl["card_id"].isin(list(cards))].reset_index(drop=True)

    def lead_claims(self, finding_id: str, *, limit: int | None = None) -> pd.DataFrame:
        """The claims behind a lead, in time order, with the provider's name."""
        f = self.finding(finding_id)
        ids = f.claims if limit is None else f.claims[:limit]
        cols = ["card_id", "patient_id", "claim_type", "institution_id", "pharmacy_id", "doctor_id", "start_time",
                "fund_amount", "total_amount"]
        c = self.claims(ids, cols).sort_values(["start_time", "claim_id"]).reset_index(drop=True)
        prov = np.where(c["institution_id"].notna(), "institution:" + c["institution_id"].astype("object").fillna("").astype(str),
                        "pharmacy:" + c["pharmacy_id"].astype("object").fillna("").astype(str))
        c["provider"] = prov
        c["provider_name"] = [self.names.get(p, "") for p in prov]
        return c

    @cached_property
    def provider_stats(self) -> pd.DataFrame:
        """Per-provider activity over all claims (for peer profiles; computed once)."""
        ix = self.index
        claims = ix.frame if ix is not None else self.store.table("claims", INDEX_COLUMNS)
        cards = self.store.table("cards", ["card_id", "patient_id"])
        return shaping.provider_stats(claims, cards)

    @cached_property
    def risk(self) -> Any:
        """Every provider's risk score with its parts (:func:`graphkit.risk.provider_risk`, computed once):
        what the risk explanation and the side-by-side comparison of two providers read."""
        from ..risk import provider_risk

        return provider_risk(self.store, self.report.findings)

    def provider_profile(self, provider: str) -> pd.DataFrame:
        """One provider against its peers (institutions: same kind and level; pharmacies: all)."""
        pg = dict(zip(self.providers["provider"], self.providers["peer_group"]))
        return shaping.provider_profile(self.provider_stats, provider, pg)

    # -- feedback ----------------------------------------------------------------------------
    def precision(self, *, target: float = 0.8, min_labels: int = 5) -> pd.DataFrame:
        """Per-detector precision from case dispositions, with suggested thresholds."""
        lab = self.cases.dispositions()
        return shaping.precision_report(lab, self.leads, target=target, min_labels=min_labels)
