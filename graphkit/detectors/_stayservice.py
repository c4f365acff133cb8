"""Care a hospital stay routinely buys outside — evidence for ``phantom_stay``'s benign check
``stay_outside_service`` (双通道药店购药 / 院外检查 / 外院检查).

A ward may send an inpatient to a designated (dual-channel, 双通道) pharmacy for a negotiated
drug, or to another hospital for an exam it cannot do; the patient is settled elsewhere during
the stay, but for the stay's own condition. A patient who is not in hospital instead lives on
outside: outpatient visits and purchases for other conditions. Two pieces of evidence, both
measured on the data at hand:

* **same condition** — the claim elsewhere has the stay's ICD-10 diagnosis group (3 characters).
  Its chance is the city's share of non-inpatient claims in that group (a hypertension stay with
  a hypertension purchase is weak evidence where a third of all claims are hypertension);
* **a provider of stays' outside care** — the provider's *other* inpatients-elsewhere (other
  patients, during their own stays) come for their own stay's condition more often than chance:
  binomial tail of ``k`` such patients among the ``m`` whose claims there carry a diagnosis,
  against the mean chance of those claims, Bonferroni over the providers tested.

A single claim elsewhere for another condition rules the check out (the patient's life goes on
outside; claims for the stay's condition beside it do not explain it away). Otherwise each claim
for the stay's condition has strength ``1 - chance`` (the probability that the match is no
coincidence), a claim without a diagnosis 0 (untested: a provider's evidence alone does not
lower a score — a phantom patient may well shop at the pharmacy by the hospital). The check's
factor is ``benign_weight ** mean(strength)``: every claim for the stay's condition, at
providers the city's inpatients use that way → *explains*; for the stay's condition elsewhere,
or some claims without a diagnosis → *partial*; no diagnoses at all → *not testable*.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..projections import projection
from .splits import dx_group

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["city_dx_chance", "diagnosis_counts", "stay_condition_evidence", "stay_service_check"]


@projection("diagnosis_counts")
def diagnosis_counts(store: Store) -> pd.DataFrame:
    """Claims other than inpatient stays per diagnosis code (``diagnosis_code``, ``claims``), by code.

    >>> from graphkit.store.embedded import EmbeddedStore
    >>> import tempfile; d = tempfile.mkdtemp()
    >>> EmbeddedStore.write(d, {"claims": pd.DataFrame({"claim_type": ["outpatient", "pharmacy", "inpatient", "outpatient"],
    ...                                                 "diagnosis_code": ["I10", "I10", "I10", None]})})
    >>> diagnosis_counts(EmbeddedStore(d)).to_dict("records")
    [{'diagnosis_code': 'I10', 'claims': 2}]
    """
    c = store.table("claims", ["claim_type", "diagnosis_code"])
    keep = c["diagnosis_code"].notna().to_numpy(bool) & (c["claim_type"].astype("string") != "inpatient").fillna(True).to_numpy(bool)
    codes, uniq = pd.factorize(c["diagnosis_code"].astype("string")[keep])
    out = pd.DataFrame({"diagnosis_code": pd.Series(np.asarray(uniq, dtype=object), dtype="string"),
                        "claims": np.bincount(codes, minlength=len(uniq)).astype(np.int64)})
    return out.sort_values("diagnosis_code", kind="stable").reset_index(drop=True)


def city_dx_chance(counts: pd.DataFrame) -> pd.Series:
    """Share of the city's non-inpatient claims with a diagnosis that fall in each ICD-10 group
    (the chance that a claim unrelated to a stay shares the stay's group), from
    :func:`diagnosis_counts`; ``attrs["n"]`` the claims counted (an unseen group: ``1 / (n + 1)``).

    >>> city_dx_chance(pd.DataFrame({"diagnosis_code": ["I10", "I10.x", "J18.9"], "claims": [1, 1, 1]})).round(3).to_dict()
    {'I10': 0.667, 'J18': 0.333}
    """
    grp = dx_group(counts["diagnosis_code"].astype("string")).to_numpy(object)
    share = counts["claims"].astype(np.float64).groupby(grp).sum()
    share = share[share > 0]
    out = share / max(float(share.sum()), 1.0)
    out.attrs["n"] = int(share.sum())
    return out


def stay_condition_evidence(ov: pd.DataFrame, dx_of: pd.Series, chance: pd.Series) -> pd.DataFrame:
    """Per overlap row: ``same_condition`` (True / False / None when either diagnosis is missing),
    ``dx_chance`` (the city's share of the stay's group), and its provider's evidence of serving
    other inpatients' outside care: ``service_k`` / ``service_m`` (other patients for their own
    stay's condition / with a diagnosis), ``service_log10p`` and ``service_provider`` (beyond a
    Bonferroni bar over the providers tested). ``dx_of``: claim id → diagnosis code. Rows whose
    ``explained`` is set (linked or referred institution) are left out of the providers' counts.
    """
    from scipy.stats import binom

    from ._common import surprise

    n = len(ov)
    gs = dx_group(ov["stay_claim"].astype(str).map(dx_of).astype("string"))
    gc = dx_group(ov["claim_id"].astype(str).map(dx_of).astype("string"))
    known = (gs.notna() & gc.notna()).to_numpy(bool)
    same = known & (gs.fillna("\x00").to_numpy(object) == gc.fillna("\x01").to_numpy(object))
    p0 = gs.map(chance).astype("Float64").fillna(1.0 / (chance.attrs.get("n", 0) + 1)).to_numpy(np.float64)
    p0 = np.where(gs.isna().to_numpy(bool), np.nan, p0)
    counted = ov["explained"].isna().to_numpy(bool) if "explained" in ov else np.ones(n, bool)
    prov = (ov["provider_type"].astype(str) + ":" + ov["provider_id"].astype(str)).to_numpy(object)
    pat = ov["stay_patient"].astype(str).to_numpy(object)
    # one vote per (provider, patient): any claim there with a diagnosis / for the stay's condition
    votes = pd.DataFrame({"prov": prov, "pat": pat, "has": known & counted, "rel": same & counted,
                          "p0": np.where(known & counted, p0, np.nan)})
    pp = votes.groupby(["prov", "pat"], sort=False).agg(has=("has", "max"), rel=("rel", "max"), p0=("p0", "mean"))
    per = pp.groupby(level="prov").agg(M=("has", "sum"), K=("rel", "sum"), p0=("p0", "mean"))
    mine = pp.reindex(pd.MultiIndex.from_arrays([prov, pat])).fillna({"has": False, "rel": False})
    at = per.reindex(prov)
    m = at["M"].to_numpy(np.float64) - mine["has"].to_numpy(np.float64)
    k = at["K"].to_numpy(np.float64) - mine["rel"].to_numpy(np.float64)
    q = np.clip(at["p0"].fillna(0.0).to_numpy(np.float64), 1e-6, 1.0)
    lp = np.where((k > 0) & (m > 0), binom.logsf(k - 1, np.maximum(m, 1), q) / np.log(10), 0.0)
    n_tests = max(int((per["M"] >= 1).sum()), 1)
    return pd.DataFrame({
        "same_condition": np.where(known, same, None).astype(object),
        "dx_chance": p0,
        "service_k": k.astype(np.int64),
        "service_m": m.astype(np.int64),
        "service_log10p": lp,
        "service_provider": np.asarray(surprise(lp, n_tests)) > 0,
    }, index=ov.index)


def stay_service_check(col: Any, rows: np.ndarray, stay_group: Any, w: float) -> dict:
    """The ``stay_outside_service`` benign check of one stay from its counted overlap rows
    ``rows`` of ``col`` (an object whose attributes are the columns of
    :func:`stay_condition_evidence` plus ``provider_type`` / ``provider_id``, as arrays)."""
    from ._common import benign_check

    zh = "住院期间院外购药/检查（双通道药店、外院检查）"
    same = col.same_condition[rows]
    chance = col.dx_chance[rows]
    served = col.service_provider[rows]
    providers = [f"{a}:{b}" for a, b in zip(col.provider_type[rows], col.provider_id[rows])]
    strength = np.where(same == True, 1.0 - np.nan_to_num(chance), 0.0)  # noqa: E712
    n, n_same, n_known = len(rows), int((same == True).sum()), int((~pd.isna(same)).sum())  # noqa: E712
    lp, ks, ms = col.service_log10p[rows], col.service_k[rows], col.service_m[rows]
    sp = sorted({p for p, s in zip(providers, served) if s})
    ch = float(np.nanmax(chance)) if n_same and np.isfinite(chance).any() else float("nan")
    detail = (f"{n_same} of {n} claim(s) elsewhere for the stay's own diagnosis group {stay_group}"
              + (f" (chance {ch:.1%} in this city)" if n_same else "")
              + f"; {n_known} with both diagnoses known")
    if sp:
        i = int(np.argmin(lp))
        detail += (f"; {', '.join(sp)} serve(s) other inpatients during their stays for their own condition"
                   f" ({int(ks[i])} of {int(ms[i])} patients, log10 p {lp[i]:.1f})")
    n_other = int((same == False).sum())  # noqa: E712
    if n_other:  # a claim for another condition: life goes on outside; the rest does not explain it away
        return benign_check("stay_outside_service", zh, "ruled_out",
                            detail + f": {n_other} claim(s) elsewhere for other conditions (life goes on outside)")
    if n == 0 or not strength.any():  # no diagnosis to compare: a provider's evidence alone does not lower the score
        return benign_check("stay_outside_service", zh, "not_testable", detail + ": no diagnoses to compare")
    factor = float(w ** float(strength.mean()))
    outcome = "explains" if n_same == n and served.all() else "partial"
    return benign_check("stay_outside_service", zh, outcome, detail, factor)
