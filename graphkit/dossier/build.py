"""Assemble a case dossier from findings (and an optional case) and write every format.

Layout of a dossier folder::

    dossier.html            self-contained (inline CSS and SVG pictures; no network)
    dossier.pdf             the same, typeset by headless Chromium (CJK fonts)
    dossier.json            machine-readable content, provenance and audit trail
    dossier.md              plain-text reading copy
    evidence/claims.csv, evidence/items.csv, evidence/entities.csv, evidence/timeline.csv
    packages/police/…       涉嫌犯罪案件移送书, 案件调查报告, 涉案物品清单, 证据目录, 回执 (when routed to 公安)
    packages/discipline/…   问题线索移送函 and its attachments list (when routed to 纪检监察)
    manifest.json           sha256 of every file, data fingerprint, parameters, software version
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import networkx as nx
import pandas as pd

from ..audit import AuditLog, current_actor, default_log, require_intact
from ..errors import GraphkitError
from ..evidence import TYPE_ZH
from ..findings import KINDS, Finding
from .legal import LegalBasis
from .redact import ClearSource, Redactor
from .review import split_parties, verification_items
from .rule_facts import rule_facts
from .rulebook import Rulebook
from .signoff import evidence_digest, find_sign_off
from .zh import INSTITUTION_KIND_ZH, INSURANCE_ZH, LEVEL_ZH, OWNERSHIP_ZH, region_zh, zh_date

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["DossierContent", "assemble", "SOFTWARE_VERSION"]

SOFTWARE_VERSION = "graphkit 0.1.0"

PERSONAL_ROLES = ("name", "id_number")
#: ``refer`` names → (route, organisation key of the rulebook)
REFER = {"police": ("police", "police"), "discipline": ("discipline inspection", "discipline")}


@dataclass
class DossierContent:
    case: dict[str, Any]
    findings: list[dict[str, Any]]
    provenance: list[dict[str, Any]]
    claims: pd.DataFrame
    items: pd.DataFrame
    entities: pd.DataFrame
    by_month: pd.DataFrame
    by_entity: pd.DataFrame
    timeline: pd.DataFrame
    handling: dict[str, Any]
    totals: dict[str, Any]
    graph: nx.Graph
    profile: str
    redaction: dict[str, Any]
    audit_trail: list[dict[str, Any]]
    data_fingerprint: str
    generated_at: str
    found_on: str
    actor: str
    rulebook: Rulebook
    legal: dict[str, Any] = field(default_factory=dict)  # LegalBasis.proposal for the case
    parties: pd.DataFrame = field(default_factory=pd.DataFrame)  # 被反映人 / 涉案主体 (Chinese columns)
    persons: pd.DataFrame = field(default_factory=pd.DataFrame)  # annex: everyone else involved, with role
    data_limits: list[str] = field(default_factory=list)  # what the data cannot show (中文)
    verify: list[dict[str, str]] = field(default_factory=list)  # 待核实事项
    reviewer: str = ""
    signoff: dict[str, Any] | None = None  # the case's valid sign-off record, if any
    digest: str = ""  # evidence_digest of findings, claims and entities
    attachments: list[dict[str, str]] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)  # rule_violation findings: rule, lines, 违规金额

    @property
    def draft(self) -> bool:
        """True until a reviewer's approving sign-off covers this evidence."""
        return not (self.signoff and self.signoff.get("decision") == "approve")


def _s(x: Any) -> str:
    """Text of a cell; empty for null."""
    return "" if x is None or (not isinstance(x, str) and pd.isna(x)) else str(x)


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _claim_frame(store: Store, claim_ids: Sequence[str]) -> pd.DataFrame:
    cols = ["card_id", "patient_id", "claim_type", "institution_id", "pharmacy_id", "doctor_id", "department",
            "start_time", "end_time", "diagnosis_code", "total_amount", "fund_amount", "self_amount", "referral_id", "terminal_id"]
    c = store.claims_by_id(claim_ids, cols).sort_values(["start_time", "claim_id"]).reset_index(drop=True)
    c["provider_type"] = c["institution_id"].notna().map({True: "institution", False: "pharmacy"})
    c["provider_id"] = c["institution_id"].fillna(c["pharmacy_id"])
    return c


def holds_clear_values(store: Store) -> bool:
    """Whether ``store`` was loaded without pseudonymisation (``load --keep-personal``): its
    personal fields are clear values, not tokens."""
    return getattr(store, "manifest", {}).get("pseudonymised", True) is False


def assemble(
    store: Store,
    findings: Sequence[Finding],
    *,
    case: dict[str, Any] | None = None,
    parameters: dict[str, dict[str, Any]] | None = None,
    rulebook: Rulebook | None = None,
    profile: str = "internal",
    clear_source: ClearSource | None = None,
    found_on: str | None = None,
    actor: str | None = None,
    legal: LegalBasis | None = None,
    reviewer: str | None = None,
    audit: AuditLog | None = None,
    refer: Sequence[str] = (),
) -> DossierContent:
    """Collect everything a dossier states, each fact tied to the finding that produced it."""
    if not findings:
        raise GraphkitError("a dossier needs at least one finding")
    rb = rulebook or Rulebook.load()
    lb = legal or LegalBasis.load()
    red = Redactor(rb.profile(profile), clear_source, clear_store=holds_clear_values(store))
    case = dict(case or {})
    found_on = found_on or time.strftime("%Y-%m-%d")
    params = parameters or {}
    fp = getattr(store, "fingerprint", "")
    generated_at = time.strftime("%Y-%m-%dT%H:%M:%S")
    provenance = []
    fdicts = []
    for i, f in enumerate(findings, 1):
        prov = {
            "ref": f"P{i}", "finding_id": f.id, "detector": f.kind, "parameters": params.get(f.kind, {}),
            "data_fingerprint": fp, "software_version": SOFTWARE_VERSION, "generated_at": generated_at,
        }
        provenance.append(prov)
        zh, en = KINDS[f.kind]
        fdicts.append({**f.to_dict(), "kind_zh": zh, "kind_en": en, "provenance": prov["ref"]})
    claim_ids = sorted(({c for f in findings for c in f.claims} | set(case.get("add_claims", []))) - set(case.get("remove_claims", [])))
    claims = _claim_frame(store, claim_ids)
    by_finding: dict[str, list[str]] = {}
    for f, prov in zip(findings, provenance):
        for c in f.claims:
            by_finding.setdefault(c, []).append(prov["ref"])
    claims["provenance"] = claims["claim_id"].map(lambda c: ",".join(by_finding.get(c, ["case"])))
    items = store.items_by_claim(claim_ids) if store.has_table("claim_items") else pd.DataFrame(columns=["claim_id"])
    # entities with roles (merged over findings), plus what the case added or removed
    ent_rows: dict[tuple[str, str], dict[str, Any]] = {}
    for f, prov in zip(findings, provenance):
        for e in f.entities:
            row = ent_rows.setdefault((e.type, e.id), {"type": e.type, "id": e.id, "roles": set(), "provenance": set()})
            row["roles"].add(e.role)
            row["provenance"].add(prov["ref"])
    for e in case.get("add_entities", []):
        ent_rows.setdefault((e["type"], e["id"]), {"type": e["type"], "id": e["id"], "roles": {e.get("role", "")}, "provenance": {"case"}})
    for e in case.get("remove_entities", []):
        ent_rows.pop((e["type"], e["id"]), None)
    pats = store.table("patients", ["patient_id", "name", "id_number", "birth_date", "region", "insurance_type", "death_date"]).set_index("patient_id")
    docs = store.table("doctors", ["doctor_id", "name", "institution_id", "department", "title"]).set_index("doctor_id")
    insts = store.table("institutions", ["institution_id", "name", "level", "ownership", "kind", "region"]).set_index("institution_id")
    phs = store.table("pharmacies", ["pharmacy_id", "name", "chain", "region"]).set_index("pharmacy_id")
    ents = []
    public_staff = []
    for (etype, eid), row in sorted(ent_rows.items()):
        d = {"type": etype, "type_zh": TYPE_ZH[etype], "id": eid, "roles": ";".join(sorted(r for r in row["roles"] if r)),
             "name": "", "id_number": "", "detail": "", "provenance": ",".join(sorted(row["provenance"]))}
        if etype == "patient" and eid in pats.index:
            p = pats.loc[eid]
            d["name"] = red.value(p["name"], "name")
            d["id_number"] = red.value(p["id_number"], "id_number")
            d["detail"] = _join(INSURANCE_ZH.get(_s(p["insurance_type"]), _s(p["insurance_type"])), region_zh(p["region"]))
            if pd.notna(p["death_date"]):
                d["detail"] = _join(d["detail"], f"死亡日期{zh_date(p['death_date'])}")
        elif etype == "doctor" and eid in docs.index:
            doc = docs.loc[eid]
            d["name"] = _s(doc["name"])
            inst = doc["institution_id"]
            known = pd.notna(inst) and inst in insts.index
            own = insts.loc[inst, "ownership"] if known else None
            d["detail"] = _join(f"{_s(insts.loc[inst, 'name'])}（{inst}）" if known else _s(inst), _s(doc["department"]), _s(doc["title"]),
                                "公立医疗机构人员" if own == "public" else "")
            if own == "public":
                public_staff.append(eid)
        elif etype == "institution" and eid in insts.index:
            r = insts.loc[eid]
            d["name"] = _s(r["name"])
            d["detail"] = _join(OWNERSHIP_ZH.get(_s(r["ownership"]), ""), LEVEL_ZH.get(_s(r["level"]), ""),
                                INSTITUTION_KIND_ZH.get(_s(r["kind"]), _s(r["kind"])), region_zh(r["region"]))
        elif etype == "pharmacy" and eid in phs.index:
            r = phs.loc[eid]
            d["name"] = _s(r["name"])
            d["detail"] = _join(_s(r["chain"]), region_zh(r["region"]))
        ents.append(d)
    entities = pd.DataFrame(ents, columns=["type", "type_zh", "id", "roles", "name", "id_number", "detail", "provenance"])
    amount = float(claims["fund_amount"].sum())
    months = claims.assign(month=claims["start_time"].dt.strftime("%Y-%m")).groupby("month")
    by_month = months.agg(claims=("claim_id", "count"), fund=("fund_amount", "sum"), total=("total_amount", "sum")).reset_index()
    by_entity = (
        claims.groupby(["provider_type", "provider_id"]).agg(claims=("claim_id", "count"), fund=("fund_amount", "sum")).reset_index()
        .sort_values("fund", ascending=False).reset_index(drop=True)
    )
    by_entity["name"] = [insts.loc[i, "name"] if t == "institution" and i in insts.index else phs.loc[i, "name"] if i in phs.index else ""
                         for t, i in zip(by_entity["provider_type"], by_entity["provider_id"])]
    timeline = claims[["start_time", "end_time", "patient_id", "card_id", "claim_type", "provider_id", "doctor_id", "fund_amount", "claim_id", "provenance"]]
    graph = nx.Graph()
    for f in findings:
        graph = nx.compose(graph, nx.Graph(f.subgraph(store)))
    kinds = [f.kind for f in findings]
    handling = rb.handling(amount, kinds=kinds, public_staff=bool(public_staff), found_on=found_on)
    handling["public_staff"] = sorted(set(public_staff))
    have = {r["to_en"] for r in handling["routes"]}
    for r in refer:  # a referral a person asks for beyond the rulebook's routing
        if r not in REFER:
            raise GraphkitError(f"refer must name {sorted(REFER)}; got {r!r}")
        to_en, org_key = REFER[r]
        if to_en not in have:
            handling["routes"].append({"to": rb.org[org_key], "to_en": to_en, "why": "承办人提请移送，须经审核人决定",
                                       "basis": rb.data["general"]["transfer_basis"] if r == "police" else "《中华人民共和国监察法》有关规定"})
    for key in ("penalty_multiple", "penalty_amount", "basis"):  # the legal-basis table proposes (a range), not the tiers
        handling.pop(key, None)
    period = (claims["start_time"].min(), claims["start_time"].max()) if len(claims) else (None, None)
    totals = {
        "fund_amount": round(amount, 2), "total_amount": round(float(claims["total_amount"].sum()), 2),
        "claims": int(len(claims)), "patients": int(claims["patient_id"].nunique()),
        "providers": int(claims["provider_id"].nunique()),
        "period": [None if pd.isna(x) else pd.Timestamp(x).strftime("%Y-%m-%d") for x in period],
    }
    case.setdefault("id", "CASE-" + findings[0].id.split(":")[-1][:12])
    case.setdefault("title", f"疑似{KINDS[findings[0].kind][0]}线索 / suspected {KINDS[findings[0].kind][1]}")
    audit_trail = list(case.get("audit", []))
    digest = evidence_digest([f.id for f in findings], claim_ids, [f"{t}:{i}" for t, i in ent_rows])
    signoff = find_sign_off(audit_trail, case["id"], digest, audit) if audit_trail else None
    level = signoff["level"] if signoff and signoff.get("decision") == "approve" else None
    facts = rule_facts(fdicts, claims, items)
    legal_prop = lb.proposal(kinds, amount, level=level, rules=[{k: v for k, v in r.items() if k != "lines"} for r in facts])
    parties, persons = split_parties(entities, by_entity, kinds, lb)
    c = DossierContent(
        case=case, findings=fdicts, provenance=provenance, claims=claims, items=items, entities=entities,
        by_month=by_month, by_entity=by_entity, timeline=timeline, handling=handling, totals=totals, graph=graph,
        profile=profile, redaction={"profile": profile, "rules": rb.profile(profile), "clear_source": clear_source.bundle if clear_source else None,
                                    "revealed": red.revealed},
        audit_trail=audit_trail, data_fingerprint=fp, generated_at=generated_at, found_on=found_on,
        actor=actor or current_actor(), rulebook=rb, legal=legal_prop, parties=parties, persons=persons,
        data_limits=_data_limits(store, kinds), reviewer=(reviewer or case.get("reviewer") or (signoff or {}).get("reviewer") or ""),
        signoff=signoff, digest=digest, rules=facts,
    )
    c.verify = verification_items(c)
    return c


def _data_limits(store: Store, kinds: Sequence[str]) -> list[str]:
    """What the data cannot show for these kinds' detectors (their unmet needs and preferences), in Chinese."""
    from ..detectors import REGISTRY
    from ..profile import unmet, unmet_reason

    try:
        prof = store.profile()
    except Exception:  # a store that cannot profile itself: say nothing rather than guess
        return []
    out: list[str] = []
    for k in dict.fromkeys(kinds):
        det = REGISTRY.get(k)
        if det is None:
            continue
        for need in unmet(prof, list(det.needs) + [n for n, _ in det.prefers]):
            zh = unmet_reason(prof, need)[0]
            if zh not in out:
                out.append(zh)
    return out
