"""Evaluation harness: measure findings against a ground-truth file (e.g. the demo city's).

Matching: a finding matches a truth instance of the same kind when they share at least
half of the smaller claim set (``|F ∩ T| >= 0.5 * min(|F|, |T|)``), or when the
instance's key entity is among the finding's entities and they share a claim, or — for the
kinds whose instances are groups of people (rings) — when they share a claim and their
people overlap by Jaccard ≥ 0.5 (a ring's finding may cite other claims of the same people
than the ones planted, and its identifier keys are pseudonymised tokens).

* recall per kind: share of instances matched by some finding;
* precision at k per kind (k = number of instances): share of the top-k findings of that
  kind that match an instance, or that rest on planted fraud of the kind's pattern recorded under
  another heading (:data:`PLANTED_AS`: an over-biller's admissions and re-admissions, and a ring
  member's repeated induced admissions, are split stays; a duplicate bill is the rule pack's
  重复计费; a ring settling together is a card burst; a loop's referrals are steered ones),
  counted in ``correct_on_planted_elsewhere``;
* legit groups in top k: unmatched top-k findings whose claims lie mostly (≥ half) inside a
  planted *hard negative* (registered family sharing, dialysis cohort, …), by its kind;
* providers: ROC-AUC and average precision of ``scores.csv`` against the providers named
  in the truth instances and the over-billing providers of ``provider_fraud``
  (:func:`provider_fraud_keys`), next to claim count alone and fund total alone. Providers whose only
  planted fraud is of a kind the scan skipped for lack of data (``findings.json`` ``skipped``)
  are left out and reported apart (``providers.unknowable``, with the figures including them).
  With over-billers in the truth, ``providers.overbilling`` gives the same figures for them alone
  against the providers with no planted fraud (what labelled provider-fraud data measures).

Examples
--------
>>> from graphkit.evaluate import evaluate   # doctest: +SKIP
>>> evaluate("truth.json", "out/findings.json")["kinds"]["shared_card"]["recall"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .outputs import read_csv
from .findings import PROVIDER_TYPES, Finding, FindingsReport, read_findings, sort_findings

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["evaluate", "format_evaluation", "match", "provider_fraud_keys", "planted_claims_as", "NOT_INVOLVED_ROLES", "PLANTED_AS"]

#: roles of providers in a planted instance that are not involved in its fraud, so not positives of
#: the provider ranking: ``hub`` (a big hospital the members also visit), ``bystander``,
#: ``elsewhere`` (where a phantom-stay patient was really seen meanwhile: a witness, not a party) and
#: ``remote_provider`` (where a cloned card was read: the card's user is the party, as with a
#: deceased person's or a lent card, whose venues the truth does not name; the provider settled a
#: card presented once — the generator draws it at random in the far region for each read — and
#: nothing in its own billing differs from any other provider's)
NOT_INVOLVED_ROLES = ("hub", "bystander", "elsewhere", "remote_provider")


def match(f: Finding, inst: dict[str, Any]) -> bool:
    """True when finding ``f`` matches truth instance ``inst`` (see module docstring)."""
    if f.kind != inst["kind"]:
        return False
    if f.kind in PROVIDER_KINDS:  # provider-level: the provider is the key, whatever claims it cites
        key = inst.get("key") or {}
        return any(e.role == "venue" and e.type == key.get("type") and e.id == str(key.get("id")) for e in f.entities)
    fc, tc = set(f.claims), set(inst.get("claims", []))
    shared = len(fc & tc)
    if fc and tc and shared >= 0.5 * min(len(fc), len(tc)):
        return True
    if not shared:
        return False
    key = inst.get("key")
    if key and any(e.type == key.get("type") and e.id == key.get("id") for e in f.entities):
        return True
    if f.kind in MEMBER_KINDS:
        fp = {e.id for e in f.entities if e.type == "patient"}
        tp = {e["id"] for e in inst.get("entities", []) if e.get("type") == "patient"}
        return bool(fp and tp) and len(fp & tp) >= 0.5 * len(fp | tp)
    return False


def provider_fraud_keys(truth: dict[str, Any]) -> set[tuple[str, str]]:
    """``(entity_type, entity_id)`` of the providers a truth file labels as fraudulent themselves
    (section ``provider_fraud``: over-billing, see :mod:`graphkit.demo.overbilling`).

    >>> provider_fraud_keys({"provider_fraud": [{"kind": "provider_overbilling",
    ...                                          "entity": {"type": "institution", "id": "H01"}}]})
    {('institution', 'H01')}
    >>> provider_fraud_keys({"instances": []})
    set()
    """
    return {(r["entity"]["type"], str(r["entity"]["id"])) for r in truth.get("provider_fraud", [])}


#: kinds whose instances are groups of people: member-level figures are reported for them
MEMBER_KINDS = ("collusion_ring", "identity_ring")
#: provider-level kinds: a finding matches the instance whose provider is its venue; truth
#: ``provider_fraud`` records are their instances (:func:`provider_fraud_instances`)
PROVIDER_KINDS = ("indicator_outlier",)


#: planted fraud recorded under another heading that *is* a kind's pattern: a finding of the kind
#: resting (≥ half its claims) on those claims is a correct lead for precision (never an instance for
#: recall). ``("provider_fraud", mode)``: an over-biller's claims of that mode (its unneeded
#: admissions and the re-admissions after them are 分解住院 chains); ``("instance", kind)``: the claims
#: of planted instances of another kind (a duplicate bill is the rule pack's 重复计费; a ring member
#: induced into hospital again days after discharge for the same group is a 分解住院 chain by the
#: rulebook's wording; a ring settling together at one terminal is many cards read in one window; the
#: referrals bounced in a loop are steered to its other end)
PLANTED_AS: dict[str, tuple[tuple[str, str], ...]] = {
    "split_stay": (("provider_fraud", "readmissions"), ("provider_fraud", "unneeded_admissions"),
                   ("instance", "collusion_ring")),
    "rule_violation": (("instance", "duplicate_claim"),),
    "card_burst": (("instance", "collusion_ring"),),
    "referral_concentration": (("instance", "referral_loop"),),
}


def planted_claims_as(truth: dict[str, Any], kind: str) -> set[str]:
    """Claims of planted fraud recorded elsewhere that are ``kind``'s pattern (:data:`PLANTED_AS`).

    >>> t = {"provider_fraud": [{"entity": {"type": "institution", "id": "H1"},
    ...       "modes": {"readmissions": {"claims": ["C1"]}, "extra_visits": {"claims": ["C2"]}}}],
    ...      "instances": [{"kind": "duplicate_claim", "claims": ["C3"]}]}
    >>> sorted(planted_claims_as(t, "split_stay")), sorted(planted_claims_as(t, "rule_violation"))
    (['C1'], ['C3'])
    """
    out: set[str] = set()
    for src, what in PLANTED_AS.get(kind, ()):
        if src == "provider_fraud":
            out |= {c for r in truth.get("provider_fraud", []) for c in ((r.get("modes") or {}).get(what) or {}).get("claims", [])}
        else:
            out |= {c for i in truth.get("instances", []) if i["kind"] == what for c in i.get("claims", [])}
    return out


def provider_fraud_instances(truth: dict[str, Any], kind: str = "indicator_outlier") -> list[dict[str, Any]]:
    """Truth ``provider_fraud`` records as instances of the provider-level detector ``kind``: key the
    provider, claims those its over-billing modes added or changed.

    >>> provider_fraud_instances({"provider_fraud": [{"kind": "provider_overbilling", "entity": {"type": "institution", "id": "H01"},
    ...     "modes": {"extra_visits": {"claims": ["C2", "C1"]}}}]})[0]["key"]
    {'type': 'institution', 'id': 'H01'}
    """
    out = []
    for n, r in enumerate(truth.get("provider_fraud", [])):
        ent = {"type": r["entity"]["type"], "id": str(r["entity"]["id"])}
        claims = sorted({c for m in (r.get("modes") or {}).values() for c in m.get("claims", [])})
        out.append({"id": f"provider_fraud:{n}:{ent['type']}:{ent['id']}", "kind": kind, "key": ent,
                    "entities": [{**ent, "role": "venue"}], "claims": claims})
    return out


def _venue_hard_negatives(f: Finding, hard: list[dict[str, Any]]) -> set[str]:
    """Kinds of the look-alikes (hard negatives) whose venue (first entity) is ``f``'s venue."""
    venues = {(e.type, e.id) for e in f.entities if e.role == "venue"}
    return {h["kind"] for h in hard if h.get("entities") and (h["entities"][0].get("type"), str(h["entities"][0].get("id"))) in venues}


def _member_scores(instances: list[dict[str, Any]], findings: list[Finding]) -> dict[str, Any] | None:
    """Per planted group: the best-matching finding by member Jaccard, and member-level F1."""
    per = []
    for inst in instances:
        truth = {e["id"] for e in inst.get("entities", []) if e["type"] == "patient"}
        if not truth:
            continue
        best_j, best_f1, best_id = 0.0, 0.0, None
        for f in findings:
            found = set(f.entity_ids("patient", "member")) or set(f.entity_ids("patient"))
            inter = len(truth & found)
            if not inter:
                continue
            j = inter / len(truth | found)
            p, r = inter / len(found), inter / len(truth)
            f1 = 2 * p * r / (p + r)
            if j > best_j:
                best_j, best_f1, best_id = j, f1, f.id
        per.append({"instance": inst["id"], "members": len(truth), "best_jaccard": round(best_j, 3),
                    "member_f1": round(best_f1, 3), "finding": best_id})
    if not per:
        return None
    return {
        "mean_best_jaccard": round(float(np.mean([x["best_jaccard"] for x in per])), 3),
        "mean_member_f1": round(float(np.mean([x["member_f1"] for x in per])), 3),
        "per_instance": per,
    }


def _hard_negative_kinds(f: Finding, by_claim: dict[str, list[int]], hard: list[dict[str, Any]]) -> set[str]:
    """Kinds of the legitimate groups (hard negatives) holding at least half of ``f``'s claims."""
    counts: dict[int, int] = {}
    for c in f.claims:
        for n in by_claim.get(c, []):
            counts[n] = counts.get(n, 0) + 1
    return {hard[n]["kind"] for n, c in counts.items() if f.claims and c >= 0.5 * len(f.claims)}


def _auc(y: np.ndarray, s: np.ndarray) -> float | None:
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return None
    ranks = pd.Series(s).rank(method="average").to_numpy()
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _average_precision(y: np.ndarray, s: np.ndarray) -> float | None:
    if y.sum() == 0:
        return None
    order = np.argsort(-s, kind="stable")
    yy = y[order]
    hits = np.cumsum(yy)
    prec = hits / np.arange(1, len(yy) + 1)
    return float(prec[yy].sum() / yy.sum())


def _volume_baselines(prov: pd.DataFrame, y: np.ndarray, store: Store = None) -> dict[str, Any]:
    """ROC-AUC / AP of claim count alone and fund total alone on the same providers and labels.

    Volumes come from ``scores.csv`` (``claims``, ``fund_total`` columns) or, when it lacks
    them, from ``store``'s claims; absent both, the baselines are not computed."""
    vol = None
    if {"claims", "fund_total"} <= set(prov.columns):
        vol = prov[["claims", "fund_total"]].astype(float).to_numpy()
    elif store is not None:
        from .projections import provider_key

        c = store.table("claims", ["institution_id", "pharmacy_id", "fund_amount"])
        t, i = provider_key(c)
        g = c.assign(t=t, i=i).groupby(["t", "i"])["fund_amount"].agg(["size", "sum"])
        idx = pd.MultiIndex.from_arrays([prov["entity_type"].astype(str), prov["entity_id"].astype(str)])
        vol = g.reindex(idx).fillna(0.0).to_numpy(float)
    if vol is None:
        return {}
    out = {}
    for n, name in enumerate(("claim_count", "fund_total")):
        out[name] = {"roc_auc": _auc(y, vol[:, n]), "average_precision": _average_precision(y, vol[:, n])}
    return out


def evaluate(
    truth: str | Path | dict,
    findings: str | Path | FindingsReport | list[Finding],
    scores: str | Path | pd.DataFrame | None = None,
    *,
    store: Store = None,
) -> dict[str, Any]:
    """Recall, precision at k per kind, and provider ROC-AUC / average precision, with the
    same figures for claim count alone and fund total alone (``providers.baselines``)."""
    t = json.loads(Path(truth).read_text("utf-8")) if not isinstance(truth, dict) else truth
    if isinstance(findings, (str, Path)):
        fpath = Path(findings)
        rep = read_findings(fpath)
        flist = rep.findings
        if scores is None and (fpath.parent / "scores.csv").exists():
            scores = fpath.parent / "scores.csv"
    elif isinstance(findings, FindingsReport):
        flist = findings.findings
    else:
        flist = list(findings)
    skipped: dict[str, Any] = {}
    if isinstance(findings, (str, Path)):
        skipped = dict(rep.extra.get("skipped") or {})
    elif isinstance(findings, FindingsReport):
        skipped = dict(findings.extra.get("skipped") or {})
    flist = sort_findings(flist)
    instances = t.get("instances", []) + provider_fraud_instances(t)
    kinds = sorted({i["kind"] for i in instances} | {f.kind for f in flist})
    out: dict[str, Any] = {"kinds": {}}
    hard = t.get("hard_negatives", [])
    hn_by_claim: dict[str, list[int]] = {}
    for n, h in enumerate(hard):
        for c in h.get("claims", []):
            hn_by_claim.setdefault(c, []).append(n)
    for kind in kinds:
        ti = [i for i in instances if i["kind"] == kind]
        fk = [f for f in flist if f.kind == kind]
        by_claim: dict[str, list[int]] = {}
        for n, inst in enumerate(ti):
            for c in inst.get("claims", []):
                by_claim.setdefault(c, []).append(n)

        by_key: dict[tuple[str, str], list[int]] = {}
        for n, inst in enumerate(ti):
            if inst.get("key"):
                by_key.setdefault((inst["key"].get("type"), str(inst["key"].get("id"))), []).append(n)

        def matches(f: Finding) -> set[int]:
            if kind in PROVIDER_KINDS:
                cand = {n for e in f.entities if e.role == "venue" for n in by_key.get((e.type, e.id), [])}
            else:
                cand = {n for c in f.claims for n in by_claim.get(c, [])}
            return {n for n in cand if match(f, ti[n])}

        fmatch = [matches(f) for f in fk]
        found = set().union(*fmatch) if fmatch else set()
        k = len(ti)
        elsewhere = planted_claims_as(t, kind)
        # a lead on planted fraud of this pattern recorded under another heading is correct (precision only)
        hit = [bool(m) or bool(elsewhere and f.claims and len(elsewhere.intersection(f.claims)) >= 0.5 * len(f.claims))
               for f, m in zip(fk, fmatch)]
        topk = hit[:k] if k else []
        hn_hits: dict[str, int] = {}
        for f, m in zip(fk[:k] if k else fk[:10], topk if k else hit[:10]):
            if m:
                continue
            for hk in (_venue_hard_negatives(f, hard) if kind in PROVIDER_KINDS else _hard_negative_kinds(f, hn_by_claim, hard)):
                hn_hits[hk] = hn_hits.get(hk, 0) + 1
        members = _member_scores(ti, fk) if kind in MEMBER_KINDS else None
        out["kinds"][kind] = {
            "instances": len(ti),
            "findings": len(fk),
            "recall": (len(found) / len(ti)) if ti else None,
            "precision_at_k": (sum(1 for m in topk if m) / len(topk)) if topk else None,
            "k": k,
            "precision_all": (sum(1 for m in hit if m) / len(hit)) if hit else None,
            "correct_on_planted_elsewhere": sum(1 for m, h in zip(fmatch[:k], hit[:k]) if h and not m),
            "missed": [ti[n]["id"] for n in range(len(ti)) if n not in found][:20],
            "hard_negatives_in_top_k": hn_hits,
            **({"members": members} if members else {}),
        }
    if scores is not None:
        sc = read_csv(scores, dtype={"entity_id": str}) if not isinstance(scores, pd.DataFrame) else scores
        bad = {
            (e["type"], e["id"])
            for i in instances
            for e in i.get("entities", [])
            if e["type"] in ("institution", "pharmacy", "doctor") and e.get("role") not in NOT_INVOLVED_ROLES
        }
        # providers whose only planted fraud is of a kind the scan could not run on this data
        # (e.g. impossible travel with dates only) cannot be known from it: reported apart
        seen = {
            (e["type"], e["id"])
            for i in instances if i["kind"] not in skipped
            for e in i.get("entities", [])
            if e["type"] in ("institution", "pharmacy", "doctor") and e.get("role") not in NOT_INVOLVED_ROLES
        }
        # provider-level fraud (over-billing, truth ``provider_fraud``): the provider itself is the positive
        billing = provider_fraud_keys(t)
        bad |= billing
        seen |= billing
        unknowable = bad - seen
        prov = sc[sc["entity_type"].isin(["institution", "pharmacy"])]
        keys = list(zip(prov["entity_type"], prov["entity_id"]))
        y_all = np.array([k in bad for k in keys], bool)
        knowable = np.array([k not in unknowable for k in keys], bool)
        provk = prov[knowable]
        y = y_all[knowable]
        s = provk["score"].to_numpy(float)
        out["providers"] = {
            "providers": int(len(provk)),
            "positives": int(y.sum()),
            "roc_auc": _auc(y, s),
            "average_precision": _average_precision(y, s),
            "baselines": _volume_baselines(provk, y, store),
        }
        if billing:
            # labelled provider-fraud data labels providers that over-bill, not the venues of a few
            # claims: over-billers against the providers with no planted fraud at all
            ob = np.array([k in billing for k in keys], bool)
            clean = ob | ~np.array([k in bad for k in keys], bool)
            out["providers"]["overbilling"] = {
                "providers": int(clean.sum()), "positives": int(ob.sum()),
                "roc_auc": _auc(ob[clean], prov["score"].to_numpy(float)[clean]),
                "average_precision": _average_precision(ob[clean], prov["score"].to_numpy(float)[clean]),
                "baselines": _volume_baselines(prov[clean], ob[clean], store),
            }
        if (~knowable).any():
            s_all = prov["score"].to_numpy(float)
            out["providers"]["unknowable"] = {
                "providers": int((~knowable).sum()),
                "kinds": sorted(skipped),
                "roc_auc_with_them": _auc(y_all, s_all),
                "average_precision_with_them": _average_precision(y_all, s_all),
            }
    return out


def format_evaluation(ev: dict[str, Any]) -> str:
    """A table for terminals and the README."""
    def f(x):
        return "-" if x is None else f"{x:.3f}"

    lines = [
        "| kind | instances | findings | recall | precision@k | legit groups in top k |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for kind, r in ev["kinds"].items():
        hn = ", ".join(f"{k}: {n}" for k, n in sorted(r.get("hard_negatives_in_top_k", {}).items())) or "none"
        lines.append(f"| {kind} | {r['instances']} | {r['findings']} | {f(r['recall'])} | {f(r['precision_at_k'])} | {hn} |")
    for kind, r in ev["kinds"].items():
        if "members" in r:
            m = r["members"]
            lines.append(f"{kind} members: mean best-match Jaccard {f(m['mean_best_jaccard'])}, mean member F1 {f(m['mean_member_f1'])}")
    if "providers" in ev:
        p = ev["providers"]
        lines.append("")
        lines.append(
            f"providers: {p['providers']} ({p['positives']} involved in planted fraud); "
            f"ROC-AUC {f(p['roc_auc'])}, average precision {f(p['average_precision'])}"
        )
        for name, b in p.get("baselines", {}).items():
            label = {"claim_count": "claim count alone / 仅按结算笔数", "fund_total": "fund total alone / 仅按基金总额"}[name]
            lines.append(f"  {label}: ROC-AUC {f(b['roc_auc'])}, average precision {f(b['average_precision'])}")
        if "overbilling" in p:
            o = p["overbilling"]
            lines.append(f"  over-billers vs providers with no planted fraud / 过度结算机构对无欺诈机构: {o['positives']} of "
                         f"{o['providers']}; ROC-AUC {f(o['roc_auc'])}, average precision {f(o['average_precision'])}"
                         + "".join(f"; {n} alone {f(b['roc_auc'])} / {f(b['average_precision'])}" for n, b in o.get("baselines", {}).items()))
        if "unknowable" in p:
            u = p["unknowable"]
            lines.append(f"  left out / 未计入: {u['providers']} provider(s) whose only planted fraud is of a kind this data "
                         f"cannot support ({', '.join(u['kinds'])}); with them ROC-AUC {f(u['roc_auc_with_them'])}, "
                         f"average precision {f(u['average_precision_with_them'])}")
    return "\n".join(lines)
