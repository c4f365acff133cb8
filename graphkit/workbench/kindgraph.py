"""Each kind draws its own evidence: the graph of a lead shows what defines it.

:func:`graphkit.workbench.shaping.lead_graph` draws who settled what where (person → card →
provider). That leaves out what makes a lead a lead; :func:`kind_graph` adds it:

===========================  ================================================================
identity_ring                the shared phone / device / bank account / address as a node,
                             each member linked to it (``SHARES``, from the ``contacts`` table)
referral_loop,               ``REFERRED`` edges between institutions (or from the referring
referral_concentration       doctor) with the number of referrals, patients and the fund of the
                             referred patients' claims at the destination
phantom_stay, split_stay     each stay as a node with its interval (admitted → discharged, days);
                             claims elsewhere during the stay (``DURING``); re-admissions with
                             their gap (``READMITTED``)
deceased_card_use            the death date on the deceased person; settlements after it marked
card_burst                   each burst as a node at the terminal, its cards in time order
                             (``IN_BURST`` edges numbered #1, #2 … with the time)
duplicate_claim              both claims of each pair as nodes (stays with their interval,
                             settlements with their time) joined by ``DUPLICATES`` with the
                             days of overlap or the minutes apart
impossible_travel            the two places of each impossible pair joined by ``TRAVEL``: the
                             distance, the minutes between the two settlements and the minutes
                             the distance needs (its two claims on the edge)
collusion_ring               each co-visit day (up to :data:`MAX_CO_VISITS`) as a node
                             ``同日住院 01-17 · 6人`` joined by the members present
                             (``CO_VISIT``) and to its venue (``AT``, the claims that day)
rule_violation               the rule as a node (``FW-004 违规·超支付范围``, its hit lines and
                             violating amount) ``BROKEN_AT`` the provider in that month
indicator_outlier            each indicator beyond its fence as a node (``次均费用 z 6.2``)
                             ``OUTLIER`` at the provider, with the peers' median
shared_card                  the card's story on its node: replaced on a date and the
                             settlements after it marked (``补卡后 N笔``); used by N people
                             (holder named); or one person using N cards
===========================  ================================================================

Context is folded by default: doctors who are not among the lead's own entities become one
"N doctors" node. The lead's own entities carry ``lead=True`` (drawn larger, thick border).
Above ``max_nodes`` nodes, people and cards that are not the lead's own are aggregated per
provider they settled at ("by institution"), and burst cards per burst ("by day").

Examples
--------
>>> from graphkit.findings import Entity, Finding
>>> f = Finding.create("identity_ring", key=["x"], entities=[Entity("patient", "P1", "member"),
...     Entity("patient", "P2", "member")], evidence={"identifiers": [{"kind": "phone", "token": "pz:1", "members": 2}]})
>>> contacts = pd.DataFrame({"patient_id": ["P1", "P2", "P3"], "kind": ["phone"] * 3, "value": ["pz:1", "pz:1", "pz:9"]})
>>> g = kind_graph(f, pd.DataFrame(), contacts=contacts)
>>> sorted(d for s, d, k in g.edges(keys=True) if k == "SHARES")
['identifier:phone:pz:1', 'identifier:phone:pz:1']
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import networkx as nx
import numpy as np
import pandas as pd

from ..findings import Finding
from . import shaping

__all__ = ["kind_graph", "lead_kind_graph", "fold_context", "aggregate", "vis_elements_kind", "EXTRA_TYPES", "EXTRA_RELS", "defining_nodes"]

#: node types only kind graphs draw (registered in :data:`shaping.TYPE_STYLE` for colour and legend)
EXTRA_TYPES: dict[str, dict[str, str]] = {
    "identifier": {"color": "#edc948", "shape": "box", "zh": "共用标识", "en": "shared identifier"},
    "stay": {"color": "#76b7b2", "shape": "box", "zh": "住院", "en": "inpatient stay"},
    "burst": {"color": "#ff9da7", "shape": "box", "zh": "集中刷卡", "en": "burst"},
    "settlement": {"color": "#86bcb6", "shape": "box", "zh": "结算", "en": "settlement"},
}
#: relationships only kind graphs draw → (中文, English), colour
EXTRA_RELS: dict[str, tuple[str, str, str]] = {
    "SHARES": ("共用", "shares", "#b8860b"),
    "REFERRED": ("转诊", "referred", "#d62728"),
    "STAYED": ("住院", "stayed", "#76b7b2"),
    "AT": ("位于", "at", "#999999"),
    "DURING": ("住院期间结算", "settled during the stay", "#d62728"),
    "READMITTED": ("再入院", "re-admitted", "#d62728"),
    "IN_BURST": ("集中刷卡", "in the burst", "#ff9da7"),
    "DUPLICATES": ("重复结算", "settled again", "#d62728"),
}
for _t, _st in EXTRA_TYPES.items():  # additive: new keys only, existing styles untouched
    shaping.TYPE_STYLE.setdefault(_t, _st)
for _r, (_zh, _en, _c) in EXTRA_RELS.items():
    shaping.REL_ZH.setdefault(_r, (_zh, _en))
    shaping.REL_COLOR.setdefault(_r, _c)

ID_KIND_ZH = {"phone": "手机号", "bank_account": "银行账户", "device": "设备", "address": "地址", "family": "家庭"}


def _ts(x: Any) -> pd.Timestamp | None:
    try:
        t = pd.Timestamp(x)
    except (TypeError, ValueError):
        return None
    return None if pd.isna(t) else t


def _node(g: nx.MultiDiGraph, n: str, **attrs: Any) -> None:
    if n in g:
        g.nodes[n].update({k: v for k, v in attrs.items() if k not in ("type", "id")})
    else:
        g.add_node(n, **attrs)


def _edge(g: nx.MultiDiGraph, s: str, d: str, rel: str, *, text: str, claims: int = 0, fund: float = 0.0,
          claim_ids: Iterable[str] = (), key: str | None = None, **extra: Any) -> None:
    g.add_edge(s, d, key=key or rel, rel=rel, claims=int(claims), fund=round(float(fund), 2),
               claim_ids=sorted(map(str, claim_ids)), text=text, **extra)


def _lead_node(g: nx.MultiDiGraph, n: str, role: str = "") -> str:
    """Node ``type:id`` marked as the lead's evidence; added with the usual label when missing (an
    existing node keeps its label and role)."""
    t, i = n.split(":", 1)
    if n in g:
        g.nodes[n]["lead"] = True
    else:
        g.add_node(n, type=t, id=i, role=role, lead=True, label=f"{shaping.TYPE_STYLE.get(t, {}).get('zh', t)} {i}")
    return n


def _inst(i: str) -> str:
    return f"institution:{i}"


def _ensure_inst(g: nx.MultiDiGraph, i: str) -> str:
    n = _inst(i)
    if n not in g:
        g.add_node(n, type="institution", id=i, role="", label=f"医疗机构 {i}")
    return n


def _fund_at(claims: pd.DataFrame, patients: Iterable[str], inst: str) -> tuple[int, float, list[str]]:
    if claims.empty or "institution_id" not in claims:
        return 0, 0.0, []
    m = claims["patient_id"].astype("object").isin(set(patients)) & (claims["institution_id"].astype("object") == inst)
    sub = claims[m.fillna(False).to_numpy(bool)]
    return int(len(sub)), float(sub["fund_amount"].astype(float).sum()), sub["claim_id"].astype(str).tolist()


# -- per kind ----------------------------------------------------------------------------

def _identity(g: nx.MultiDiGraph, f: Finding, contacts: pd.DataFrame | None) -> None:
    members = [e.id for e in f.entities if e.type == "patient"]
    for d in f.evidence.get("identifiers", []):
        kind, token = str(d.get("kind", "")), str(d.get("token", ""))
        n = f"identifier:{kind}:{token}"
        short = token if len(token) <= 14 else token[:12] + "…"
        _node(g, n, type="identifier", id=token, role="shared_identifier", lead=True, id_kind=kind,
              label=f"{ID_KIND_ZH.get(kind, kind)} {short}\n{d.get('members', '')}人共用 shared")
        if contacts is not None and len(contacts):
            m = (contacts["kind"].astype("object") == kind) & (contacts["value"].astype("object") == token)
            who = sorted(set(contacts.loc[m.fillna(False).to_numpy(bool), "patient_id"].astype(str)) & set(members)
                         or set(contacts.loc[m.fillna(False).to_numpy(bool), "patient_id"].astype(str)))
        else:
            who = members  # no contacts table: the finding says its members share it
        for p in who:
            _node(g, f"patient:{p}", type="patient", id=p, role=g.nodes.get(f"patient:{p}", {}).get("role", "") or "member",
                  label=f"参保人 {p}")
            _edge(g, f"patient:{p}", n, "SHARES", text=ID_KIND_ZH.get(kind, kind))


def _referrals(g: nx.MultiDiGraph, f: Finding, claims: pd.DataFrame, referrals: pd.DataFrame | None) -> None:
    ev = f.evidence
    ids = set(map(str, ev.get("referral_ids", [])))
    refs = None
    if referrals is not None and len(referrals) and ids:
        refs = referrals[referrals["referral_id"].astype(str).isin(ids)]
    doctor = None
    if f.kind == "referral_concentration" and ev.get("referrer_type") == "doctor":
        doctor = next((e.id for e in f.entities if e.type == "doctor" and e.role == "referrer"), None)
    if refs is not None and len(refs):
        src = refs["from_doctor_id"].astype("object") if doctor else refs["from_institution_id"].astype("object")
        grp = pd.DataFrame({"src": src.astype(str), "dst": refs["to_institution_id"].astype(str),
                            "pat": refs["patient_id"].astype(str)}).groupby(["src", "dst"], sort=True)["pat"]
        pairs = [(s, d, len(p), sorted(set(p))) for (s, d), p in grp]
    else:  # the evidence's own counts
        if f.kind == "referral_loop":
            pairs = [(str(e["from"]), str(e["to"]), int(e["referrals"]), []) for e in ev.get("edges", [])]
        else:
            rid = doctor or next((e.id for e in f.entities if e.role == "referrer"), "")
            pairs = [(rid, str(k), int(v), []) for k, v in (ev.get("destinations") or {}).items()]
    for s, d, n_ref, pats in pairs:
        sn = f"doctor:{s}" if doctor else _ensure_inst(g, s)
        if doctor and sn not in g:
            g.add_node(sn, type="doctor", id=s, role="referrer", label=f"医师 {s}")
        dn = _ensure_inst(g, d)
        n_cl, fund, cids = _fund_at(claims, pats, d)
        g.nodes[sn]["lead"] = g.nodes[dn]["lead"] = True
        _edge(g, sn, dn, "REFERRED", claims=n_cl, fund=fund, claim_ids=cids, referrals=n_ref, patients=len(pats),
              text=f"转诊 {n_ref}次" + (f" · {len(pats)}人" if pats else "") + (f" · {fund:,.0f}元" if n_cl else ""))


def _stays(g: nx.MultiDiGraph, f: Finding, claims: pd.DataFrame) -> None:
    ev = f.evidence
    pid = next((e.id for e in f.entities if e.type == "patient"), None)
    pn = f"patient:{pid}" if pid else None
    stays = [ev["stay"]] if f.kind == "phantom_stay" and ev.get("stay") else list(ev.get("stays", []))
    for st in stays:
        a, b = _ts(st.get("admitted")), _ts(st.get("discharged"))
        days = st.get("days") if st.get("days") is not None else ((b - a).total_seconds() / 86400 if a and b else None)
        sn = f"stay:{st['claim_id']}"
        span = f"{a:%m-%d}→{b:%m-%d}" if a and b else ""
        _node(g, sn, type="stay", id=str(st["claim_id"]), role="stay", lead=True, start=str(a or ""), end=str(b or ""),
              label=f"住院 {span}" + (f"\n{float(days):.0f}天 days" if days is not None else ""))
        inst = _ensure_inst(g, str(st.get("institution", "")))
        if pn:
            _node(g, pn, type="patient", id=pid, role="patient", label=f"参保人 {pid}")
            _edge(g, pn, sn, "STAYED", claims=1, fund=float(st.get("fund", 0.0) or 0.0), claim_ids=[st["claim_id"]],
                  text=f"住院 {span}")
        _edge(g, sn, inst, "AT", text="")
    if f.kind == "phantom_stay" and stays:
        sn = f"stay:{stays[0]['claim_id']}"
        by: dict[str, list[dict]] = {}
        for o in ev.get("overlaps", []):
            by.setdefault(str(o.get("provider", "")), []).append(o)
        for prov, rows in sorted(by.items()):
            if ":" not in prov:
                continue
            t, i = prov.split(":", 1)
            if prov not in g:
                g.add_node(prov, type=t, id=i, role="elsewhere", label=f"{shaping.TYPE_STYLE.get(t, {}).get('zh', t)} {i}")
            times = sorted(str(o.get("time", ""))[5:16].replace("T", " ") for o in rows)
            _edge(g, sn, prov, "DURING", claims=len(rows), fund=sum(float(o.get("fund", 0.0) or 0.0) for o in rows),
                  claim_ids=[o["claim_id"] for o in rows], text=f"住院期间 {len(rows)}笔 · {times[0]}" + (" …" if len(times) > 1 else ""))
    for step in ev.get("steps", []):
        s, d = f"stay:{step['from_claim']}", f"stay:{step['to_claim']}"
        if s in g and d in g:
            _edge(g, s, d, "READMITTED", text=f"{int(step.get('gap_days', 0))}天后再入院 re-admitted")


def _duplicates(g: nx.MultiDiGraph, f: Finding, claims: pd.DataFrame) -> None:
    times = {}
    if not claims.empty and "claim_id" in claims:
        cols = [c for c in ("start_time", "end_time", "fund_amount") if c in claims]
        times = claims.set_index(claims["claim_id"].astype(str))[cols].to_dict("index")
    for p in f.evidence.get("pairs", []):
        stay = p.get("shape") == "overlapping_stay"
        prov = f"{p.get('provider_type')}:{p.get('provider_id')}"
        if prov not in g:
            t = str(p.get("provider_type"))
            g.add_node(prov, type=t, id=str(p.get("provider_id")), role="venue",
                       label=f"{shaping.TYPE_STYLE.get(t, {}).get('zh', t)} {p.get('provider_id')}")
        nodes = []
        for cid in (str(p["duplicate_of"]), str(p["claim_id"])):
            row = times.get(cid, {})
            a, b = _ts(row.get("start_time")), _ts(row.get("end_time"))
            n = f"{'stay' if stay else 'settlement'}:{cid}"
            label = (f"住院 {a:%m-%d}→{b:%m-%d}" if stay and a is not None and b is not None
                     else f"结算 {a:%m-%d %H:%M}" if a is not None else f"结算 {cid}")
            _node(g, n, type="stay" if stay else "settlement", id=cid, role="duplicate", lead=True,
                  start=str(a or ""), end=str(b or ""), label=label)
            _edge(g, n, prov, "AT", text="", key=f"AT:{cid}")
            pn = f"patient:{p.get('patient_id')}"
            _node(g, pn, type="patient", id=str(p.get("patient_id")), role="patient", label=f"参保人 {p.get('patient_id')}")
            fund = float(row.get("fund_amount", 0.0) or 0.0) if row else 0.0
            _edge(g, pn, n, "STAYED" if stay else "SETTLED_AT", claims=1, fund=fund, claim_ids=[cid], text="",
                  key=f"{'STAYED' if stay else 'SETTLED_AT'}:{cid}")
            nodes.append(n)
        text = (f"重叠 {int(p.get('overlap_days') or 0)} 天 overlap" if stay
                else f"相隔 {float(p.get('minutes_apart') or 0.0):.0f} 分钟 min apart")
        _edge(g, nodes[0], nodes[1], "DUPLICATES", claims=1, fund=float(p.get("fund_amount", 0.0) or 0.0),
              claim_ids=[p["claim_id"]], text=text)


def _deceased(g: nx.MultiDiGraph, f: Finding, claims: pd.DataFrame) -> None:
    death = _ts(f.evidence.get("death_date"))
    pid = next((e.id for e in f.entities if e.role == "deceased"), None)
    if death is None or pid is None:
        return
    pn = f"patient:{pid}"
    _node(g, pn, type="patient", id=pid, role="deceased", lead=True, death_date=f"{death:%Y-%m-%d}",
          label=f"参保人 {pid}\n† {death:%Y-%m-%d} 死亡")
    _mark_after(g, claims, death, "死亡后", "after_death")


def _mark_after(g: nx.MultiDiGraph, claims: pd.DataFrame, when: pd.Timestamp, what: str, attr: str,
                source: str | None = None) -> None:
    """The settlement edges (``SETTLED_AT``; from ``source`` only, when given) holding claims after
    ``when``: their text says how many and their fund (``死亡后 2笔 · 100元``), ``attr`` the count."""
    if claims.empty:
        return
    late = claims.loc[(pd.to_datetime(claims["start_time"]) > when).to_numpy(bool)]
    fund_of = dict(zip(late["claim_id"].astype(str), late["fund_amount"].astype(float)))
    for s, d, k, a in g.edges(keys=True, data=True):
        ids = [c for c in a.get("claim_ids", []) if c in fund_of]
        if ids and k == "SETTLED_AT" and source in (None, s):
            a["text"] = f"{what} {len(ids)}笔 · {sum(fund_of[c] for c in ids):,.0f}元"
            a[attr] = len(ids)


def _travel(g: nx.MultiDiGraph, f: Finding) -> None:
    """impossible_travel: per pair of settlements, the two places joined by ``TRAVEL`` (distance,
    minutes apart, minutes needed), both places and the person marked as the lead's."""
    for p in f.evidence.get("pairs", []):
        a, b = str(p.get("provider_a", "")), str(p.get("provider_b", ""))
        if ":" not in a or ":" not in b:
            continue
        for n in (a, b):
            _lead_node(g, n)
        km, gap, need = p.get("distance_km"), p.get("max_gap_minutes"), p.get("required_minutes")
        text = " · ".join(x for x in (f"{km:.0f} 公里" if km is not None else "",
                                       f"间隔 {gap:.0f} 分钟" if gap is not None else "",
                                       f"至少需 {need:.0f} 分钟" if need is not None else "") if x)
        _edge(g, a, b, "TRAVEL", key=f"TRAVEL:{p.get('claim_a')}:{p.get('claim_b')}", text=text,
              claim_ids=[str(p.get("claim_a")), str(p.get("claim_b"))], claims=2,
              distance_km=km, gap_minutes=gap, required_minutes=need)


#: co-visit days of a ring drawn as nodes (the rest are in the finding's evidence)
MAX_CO_VISITS = 20


def _ring(g: nx.MultiDiGraph, f: Finding) -> None:
    """collusion_ring: the days its members were settled together, each a node linked to the
    members present and to the venue."""
    for k, day in enumerate(f.evidence.get("co_visit_days", [])[:MAX_CO_VISITS], start=1):
        prov, ptype = str(day.get("provider", "")), str(day.get("provider_type", "institution"))
        if not prov:
            continue
        pn = _lead_node(g, f"{ptype}:{prov}", "venue")
        members = [str(m) for m in day.get("members", [])]
        date = str(day.get("date", ""))
        what = "同日住院" if day.get("mode") == "inpatient" else "同日就诊"
        vn = f"visit:{f.id}:{k}"
        _node(g, vn, type="visit", id=str(k), role="co_visit", lead=True, date=date,
              label=f"{what} {date[5:]}\n{len(members)}人")
        for m in members:
            mn = f"patient:{m}"
            if mn not in g:
                g.add_node(mn, type="patient", id=m, role="member", label=f"参保人 {m}")
            _edge(g, mn, vn, "CO_VISIT", key=f"CO_VISIT:{k}", text="")
        _edge(g, vn, pn, "AT", key=f"AT:{k}", claims=int(day.get("claims", 0) or 0),
              text=f"{int(day.get('claims', 0) or 0)}笔")


def _venue(g: nx.MultiDiGraph, f: Finding) -> str | None:
    """The node of the finding's venue (added, and marked as the lead's, when missing)."""
    v = next((e for e in f.entities if e.role == "venue"), None)
    if v is None:
        return None
    return _lead_node(g, f"{v.type}:{v.id}", "venue")


def _rule(g: nx.MultiDiGraph, f: Finding) -> None:
    """rule_violation: the rule broken at the provider in the month (its item lines are the rule panel's)."""
    ev, vn = f.evidence, _venue(g, f)
    rid = str(ev.get("rule_id", ""))
    if vn is None or not rid:
        return
    rn = f"rule:{rid}:{ev.get('month', '')}"
    lines, deduct = int(ev.get("hit_lines", 0) or 0), float(ev.get("deduct_amount", 0.0) or 0.0)
    _node(g, rn, type="rule", id=rid, role="rule", lead=True,
          label=f"{rid} {ev.get('level', '')}·{ev.get('category', '')}\n{lines}条明细 · {deduct:,.0f}元")
    _edge(g, rn, vn, "BROKEN_AT", claims=int(ev.get("hit_claims", 0) or 0), fund=float(ev.get("fund_deduct_amount", 0.0) or 0.0),
          claim_ids=f.claims, text=f"{ev.get('month', '')} · {int(ev.get('hit_claims', 0) or 0)}笔结算")


def _indicators(g: nx.MultiDiGraph, f: Finding) -> None:
    """indicator_outlier: each indicator beyond its fence, against the peers' median."""
    vn = _venue(g, f)
    if vn is None:
        return
    for x in f.evidence.get("indicators", []):
        if float(x.get("excess", 0.0) or 0.0) <= 0:
            continue
        name = str(x.get("indicator", ""))
        n = f"indicator:{f.id}:{name}"
        _node(g, n, type="indicator", id=name, role="indicator", lead=True,
              label=f"{x.get('zh', name)}\nz {float(x.get('z', 0.0)):.1f}")
        _edge(g, n, vn, "OUTLIER", key=f"OUTLIER:{name}",
              text=f"{float(x.get('shrunk', x.get('value', 0.0))):.3g} vs 同类中位数 {float(x.get('peer_median', 0.0)):.3g}")


def _cards(g: nx.MultiDiGraph, f: Finding, claims: pd.DataFrame) -> None:
    """shared_card: what makes the card (or the person) the lead, written on its node; after a
    replacement, the settlements on the old card after that day marked on their edges."""
    ev = f.evidence
    pattern = ev.get("pattern")
    if pattern == "one_person_many_cards":
        pid = next((e.id for e in f.entities if e.type == "patient" and e.role == "user"), None)
        cards = ev.get("cards") or [e.id for e in f.entities if e.type == "card"]
        if pid is not None:
            n = f"patient:{pid}"
            _node(g, n, type="patient", id=pid, role="user", lead=True, label=f"参保人 {pid}\n使用 {len(cards)} 张卡")
        return
    card = next((e.id for e in f.entities if e.type == "card" and e.role in ("lost_card", "card")), None)
    if card is None:
        return
    cn = f"card:{card}"
    if pattern == "replaced_card_in_use":
        when = _ts(ev.get("replaced_on"))
        if when is None:
            return
        _node(g, cn, type="card", id=card, role="lost_card", lead=True, replaced_on=f"{when:%Y-%m-%d}",
              label=f"医保卡 {card}\n{when:%Y-%m-%d} 已补卡")
        _mark_after(g, claims, when, "补卡后", "after_replacement", source=cn)  # the old card's settlements per provider
    elif pattern == "one_card_many_people":
        users = ev.get("users") or [e.id for e in f.entities if e.type == "patient" and e.role == "user"]
        holder = ev.get("holder")
        _node(g, cn, type="card", id=card, role="card", lead=True,
              label=f"医保卡 {card}\n{len(users)} 人使用" + (f" · 持卡人 {holder}" if holder else ""))


def _bursts(g: nx.MultiDiGraph, f: Finding, claims: pd.DataFrame) -> None:
    unit = next((e for e in f.entities if e.type == "terminal"), None) or next(
        (e for e in f.entities if e.role == "venue"), None)
    if unit is None:
        return
    un = f"{unit.type}:{unit.id}"
    _node(g, un, type=unit.type, id=unit.id, role=unit.role or "terminal", lead=True,
          label=f"{shaping.TYPE_STYLE.get(unit.type, {}).get('zh', unit.type)} {unit.id}")
    c = claims
    if len(c):
        c = c.assign(_t=pd.to_datetime(c["start_time"])).sort_values(["_t", "claim_id"], kind="stable")
    for k, b in enumerate(f.evidence.get("bursts", []), start=1):
        a, e = _ts(b.get("start")), _ts(b.get("end"))
        if a is None or e is None:
            continue
        bn = f"burst:{f.id}:{k}"
        _node(g, bn, type="burst", id=str(k), role="burst", lead=True, start=str(a), end=str(e),
              label=f"第{k}次 burst {a:%m-%d %H:%M}–{e:%H:%M}\n{b.get('distinct_cards', '')}张卡 cards")
        _edge(g, bn, un, "AT", text="")
        if not len(c):
            continue
        inb = c[(c["_t"] >= a) & (c["_t"] <= e)]
        for order, (card, grp) in enumerate(inb.groupby("card_id", sort=False, observed=True), start=1):
            cn = f"card:{card}"
            _node(g, cn, type="card", id=str(card), role=g.nodes.get(cn, {}).get("role", "") or "card", label=f"医保卡 {card}")
            t0 = grp["_t"].iloc[0]
            _edge(g, cn, bn, "IN_BURST", key=f"IN_BURST:{k}", claims=len(grp), fund=float(grp["fund_amount"].astype(float).sum()),
                  claim_ids=grp["claim_id"].astype(str), order=order, text=f"#{order} {t0:%H:%M:%S}")


# -- folding and aggregation ---------------------------------------------------------------

def _merge_into(g: nx.MultiDiGraph, target: Mapping[Any, Any], new_nodes: Mapping[Any, dict]) -> nx.MultiDiGraph:
    h = nx.MultiDiGraph(**g.graph)
    for v, a in g.nodes(data=True):
        if target.get(v, v) == v:
            h.add_node(v, **a)
    for n, a in new_nodes.items():
        h.add_node(n, **a)
    merged: dict[tuple, dict] = {}
    for s, d, k, a in g.edges(keys=True, data=True):
        key = (target.get(s, s), target.get(d, d), k)
        if key[0] == key[1]:
            continue
        b = merged.get(key)
        if b is None:
            merged[key] = {**a, "claim_ids": list(a.get("claim_ids", []))}
        else:
            b["claims"] = int(b.get("claims", 0)) + int(a.get("claims", 0))
            b["fund"] = float(b.get("fund", 0.0)) + float(a.get("fund", 0.0))
            b["claim_ids"].extend(a.get("claim_ids", []))
            if "text" in b and b.get("rel") not in ("SHARES", "AT"):
                b["text"] = f"{b['fund']:,.0f}元 · {b['claims']}笔"
    for (s, d, k), b in merged.items():
        b["fund"] = round(float(b.get("fund", 0.0)), 2)
        h.add_edge(s, d, key=k, **b)
    return h


def fold_context(g: nx.MultiDiGraph, keep: Iterable[Any], types: Iterable[str] = ("doctor",)) -> nx.MultiDiGraph:
    """Fold the nodes of ``types`` that are not in ``keep`` into one node per type.

    Examples
    --------
    >>> g = nx.MultiDiGraph()
    >>> for d in ("D1", "D2"):
    ...     g.add_node(f"doctor:{d}", type="doctor", id=d); _ = g.add_edge("patient:P", f"doctor:{d}", key="TREATED_BY", claims=1, fund=1.0)
    >>> g.add_node("patient:P", type="patient", id="P")
    >>> sorted(fold_context(g, keep=["doctor:D1"]).nodes)
    ['context:doctor', 'doctor:D1', 'patient:P']
    """
    keep = set(keep)
    types = set(types)
    target: dict[Any, Any] = {}
    count: dict[str, int] = {}
    for v, a in g.nodes(data=True):
        t = a.get("type")
        if t in types and v not in keep and not a.get("lead"):
            target[v] = f"context:{t}"
            count[t] = count.get(t, 0) + 1
    if not target:
        return g
    new = {}
    for t, n in count.items():
        st = shaping.TYPE_STYLE.get(t, {"zh": t, "en": t})
        new[f"context:{t}"] = {"type": "cluster", "member_type": t, "id": str(n), "role": "", "members": n, "folded": True,
                               "member_ids": [g.nodes[v].get("id", v) for v, tt in target.items() if tt == f"context:{t}"][:500],
                               "label": f"{n} 名{st['zh']}（已折叠）\n{n} {st['en']}s (folded)"}
    h = _merge_into(g, target, new)
    h.graph["folded_context"] = sum(count.values())
    return h


def aggregate(g: nx.MultiDiGraph, max_nodes: int = 300) -> nx.MultiDiGraph:
    """Above ``max_nodes`` nodes: people and cards that are not the lead's own are grouped per
    provider they settled the most fund at (``group:institution:H1`` …); cards in a burst per burst.

    Examples
    --------
    >>> g = nx.MultiDiGraph()
    >>> g.add_node("institution:H1", type="institution", id="H1", lead=True)
    >>> for i in range(5):
    ...     g.add_node(f"card:K{i}", type="card", id=f"K{i}")
    ...     _ = g.add_edge(f"card:K{i}", "institution:H1", key="SETTLED_AT", claims=1, fund=1.0, claim_ids=[f"C{i}"])
    >>> h = aggregate(g, max_nodes=3)
    >>> sorted(h.nodes), h["group:card@institution:H1"]["institution:H1"]["SETTLED_AT"]["claims"]
    (['group:card@institution:H1', 'institution:H1'], 5)
    """
    if g.number_of_nodes() <= max_nodes:
        return g
    providers = {v for v, a in g.nodes(data=True) if a.get("type") in ("institution", "pharmacy", "terminal", "burst")}
    best: dict[Any, tuple[float, Any]] = {}
    for s, d, k, a in g.edges(keys=True, data=True):
        if d in providers and g.nodes[s].get("type") == "card":
            w = float(a.get("fund", 0.0) or 0.0) + (1e12 if k.startswith("IN_BURST") else 0.0)
            if s not in best or w > best[s][0]:
                best[s] = (w, d)
    card_home = {c: p for c, (_, p) in best.items()}
    for s, d, k, a in g.edges(keys=True, data=True):
        if k == "PAID_WITH" and d in card_home:
            w = float(a.get("fund", 0.0) or 0.0)
            if s not in best or w > best[s][0]:
                best[s] = (w, card_home[d])
    target, new = {}, {}
    for v, (_, p) in best.items():
        a = g.nodes[v]
        if a.get("lead"):
            continue
        t = a.get("type")
        n = f"group:{t}@{p}"
        target[v] = n
        if n not in new:
            st = shaping.TYPE_STYLE.get(t, {"zh": t, "en": t})
            new[n] = {"type": "cluster", "member_type": t, "role": "", "members": 0, "member_ids": [], "group_of": p,
                      "st": st}
        new[n]["members"] += 1
        if len(new[n]["member_ids"]) < 500:
            new[n]["member_ids"].append(a.get("id", v))
    for n, a in new.items():
        st = a.pop("st")
        where = shaping.TYPE_STYLE.get(g.nodes[a["group_of"]].get("type", ""), {}).get("zh", "")
        pid = g.nodes[a["group_of"]].get("id", a["group_of"])
        a["id"] = str(a["members"])
        a["label"] = f"{where} {pid} 的 {a['members']} 个{st['zh']}\n{a['members']} {st['en']}s at {pid}"
    h = _merge_into(g, target, new)
    h.graph["aggregated"] = len(target)
    return h


# -- the graph of a lead -------------------------------------------------------------------

def kind_graph(finding: Finding, claims: pd.DataFrame, *, holders: Mapping[str, str] | None = None,
               contacts: pd.DataFrame | None = None, referrals: pd.DataFrame | None = None,
               fold: Iterable[str] = ("doctor",), max_nodes: int = 300) -> nx.MultiDiGraph:
    """The lead's evidence graph with its kind's defining evidence (see the module docstring).

    Parameters
    ----------
    claims
        The lead's claims: ``claim_id, patient_id, card_id, institution_id, pharmacy_id, doctor_id,
        start_time, fund_amount`` (``terminal_id`` optional).
    contacts
        ``patient_id, kind, value`` rows (identity rings; only those of the lead's identifiers are needed).
    referrals
        ``referral_id, patient_id, from_institution_id, from_doctor_id, to_institution_id`` (referral kinds).
    fold
        Node types folded into one node when not the lead's own (``()`` to draw everything).
    max_nodes
        Above this, people and cards are aggregated per provider (:func:`aggregate`).
    """
    g = shaping.lead_graph(finding, claims, holders=holders)
    own = {f"{e.type}:{e.id}" for e in finding.entities}
    for n in own:
        if n in g:
            g.nodes[n]["lead"] = True
    k = finding.kind
    if k == "identity_ring":
        _identity(g, finding, contacts)
    elif k in ("referral_loop", "referral_concentration"):
        _referrals(g, finding, claims, referrals)
    elif k in ("phantom_stay", "split_stay"):
        _stays(g, finding, claims)
    elif k == "deceased_card_use":
        _deceased(g, finding, claims)
    elif k == "card_burst":
        _bursts(g, finding, claims)
    elif k == "duplicate_claim":
        _duplicates(g, finding, claims)
    elif k == "impossible_travel":
        _travel(g, finding)
    elif k == "shared_card":
        _cards(g, finding, claims)
    elif k == "collusion_ring":
        _ring(g, finding)
    elif k == "rule_violation":
        _rule(g, finding)
    elif k == "indicator_outlier":
        _indicators(g, finding)
    g = fold_context(g, own, fold) if fold else g
    return aggregate(g, max_nodes)


def defining_nodes(g: nx.MultiDiGraph) -> list[str]:
    """The nodes a kind graph adds or marks as the lead's own (``lead=True``), sorted.

    Examples
    --------
    >>> g = nx.MultiDiGraph(); g.add_node("card:K1", lead=True); g.add_node("doctor:D1")
    >>> defining_nodes(g)
    ['card:K1']
    """
    return sorted(str(v) for v, a in g.nodes(data=True) if a.get("lead"))


def vis_elements_kind(g: nx.MultiDiGraph, **kwargs: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """:func:`shaping.vis_elements` with the kind graph's own edge texts and the lead's entities enlarged.

    Examples
    --------
    >>> g = nx.MultiDiGraph(); g.add_node("institution:H1", type="institution", id="H1", lead=True)
    >>> g.add_node("institution:H2", type="institution", id="H2")
    >>> _ = g.add_edge("institution:H1", "institution:H2", key="REFERRED", rel="REFERRED", claims=0, fund=0.0, text="转诊 8次")
    >>> nodes, edges = vis_elements_kind(g)
    >>> edges[0]["label"], nodes[0]["font"]["size"] > nodes[1]["font"]["size"]
    ('转诊 8次', True)
    """
    nodes, edges = shaping.vis_elements(g, **kwargs)
    texts = {f"{s}|{d}|{k}": a["text"] for s, d, k, a in g.edges(keys=True, data=True) if "text" in a}
    for e in edges:
        if e["id"] in texts:
            e["label"] = texts[e["id"]]
            e["font"] = {**e.get("font", {}), "size": 13}
    for n in nodes:
        a = g.nodes.get(n["id"]) if n["id"] in g else None
        if a is None:
            try:
                a = g.nodes[next(v for v in g.nodes if str(v) == n["id"])]
            except StopIteration:
                a = {}
        if a.get("lead"):
            n["font"] = {**n.get("font", {}), "size": 18, "bold": True}
            n["borderWidth"] = max(int(n.get("borderWidth", 1)), 4)
            n["size"] = max(float(n.get("size", 12)), 22)
        elif a.get("type") == "cluster":
            n["font"] = {**n.get("font", {}), "size": 13, "color": "#555555"}
    return nodes, edges


def lead_kind_graph(wb: Any, finding_id: str, *, max_claims: int = 5000, fold: Iterable[str] = ("doctor",),
                    max_nodes: int = 300) -> nx.MultiDiGraph:
    """:func:`kind_graph` of a lead of a :class:`~graphkit.workbench.data.Workbench` (claims from
    its index; only the lead's identifiers' contacts and its referrals are read)."""
    f = wb.finding(finding_id)
    cols = ["card_id", "patient_id", "institution_id", "pharmacy_id", "doctor_id", "terminal_id", "start_time",
            "fund_amount"]
    have = set(wb.store.columns("claims")) if hasattr(wb.store, "columns") else set(cols)
    claims = wb.claims(f.claims[:max_claims], [c for c in cols if c in have])
    contacts = referrals = None
    if f.kind == "identity_ring" and wb.store.has_table("contacts"):
        tokens = {str(d.get("token")) for d in f.evidence.get("identifiers", [])}
        c = wb.store.table("contacts", ["patient_id", "kind", "value"])
        contacts = c[c["value"].astype("object").isin(tokens).fillna(False).to_numpy(bool)]
    if f.kind in ("referral_loop", "referral_concentration") and wb.store.has_table("referrals"):
        r = wb.store.table("referrals", ["referral_id", "patient_id", "from_institution_id", "from_doctor_id",
                                         "to_institution_id"])
        referrals = r[r["referral_id"].astype("object").isin(set(map(str, f.evidence.get("referral_ids", []))))
                      .fillna(False).to_numpy(bool)]
    g = kind_graph(f, claims, holders=wb.holders, contacts=contacts, referrals=referrals, fold=fold, max_nodes=max_nodes)
    g.graph["claims_shown"] = int(len(claims))
    g.graph["claims_total"] = len(f.claims)
    return g
