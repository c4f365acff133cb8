"""Review sampling (审核抽查): a seeded, audited sample of claims for review — a random share of
the inpatient claims plus every manual reimbursement at or above the threshold
(:func:`review_sample`); which claims are manual is read from an optional extra column.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import numpy as np
import pandas as pd

from ..audit import AuditLog
from ..errors import ParameterError
from .constants import MANUAL_MODES, _TRUE
from .source import MonitoringError, _columns, _fingerprint, _log, _table, _with_provider

__all__ = ["review_sample"]


def _manual_flags(claims: pd.DataFrame, column: str) -> pd.Series:
    s = claims[column]
    if column == "settlement_mode":
        v = s.astype("string").str.strip().str.lower()
        return v.isin([m.lower() for m in MANUAL_MODES]).fillna(False).astype(bool)
    if pd.api.types.is_bool_dtype(s):
        return s.fillna(False).astype(bool)
    if pd.api.types.is_numeric_dtype(s):
        return (s.fillna(0) != 0).astype(bool)
    return s.astype("string").str.strip().str.lower().isin(_TRUE).fillna(False).astype(bool)


def review_sample(
    source: Any,
    *,
    seed: int,
    rate: float = 0.05,
    manual_threshold: float = 50_000.0,
    amount_column: str = "total_amount",
    manual_column: str | None = None,
    start: str | None = None,
    end: str | None = None,
    log: AuditLog | None = None,
    note: str = "",
) -> pd.DataFrame:
    """Claims for review: a random ``rate`` (≥ 5 %) of inpatient claims plus every manual claim ≥ 50,000 yuan.

    Parameters
    ----------
    source : Store or mapping of DataFrames
        Needs ``claims``.
    seed : int
        Random seed: the same seed and claims give the same sample.
    rate : float
        Share of inpatient claims drawn at random; ``ceil(rate × n)`` are taken.
    manual_threshold : float
        Manual claims at or above this ``amount_column`` value are all taken.
    amount_column : str
        ``total_amount`` (default) or ``fund_amount``.
    manual_column : str, optional
        The claims column marking manual claims (``manual`` or ``settlement_mode``, see the
        module docstring). Default: ``manual`` if present, else ``settlement_mode`` if present,
        else none, and then every claim at or above the threshold is taken.
    start, end : str, optional
        Only claims starting on/after ``start`` and before ``end`` (ISO dates).
    log : AuditLog, optional
        Where to record the sample (default :func:`graphkit.audit.default_log`).
    note : str
        Free text stored with the audit entry.

    Returns
    -------
    DataFrame
        claim_id, claim_type, provider_type, provider_id, patient_id, start_time, total_amount,
        fund_amount, manual (NA without a manual column), reason (``random_inpatient``,
        ``manual_large`` or both joined by ``;``), reason_zh; sorted by claim_id.
        ``attrs`` holds sample_id, counts, the manual basis and the audit entry.

    Examples
    --------
    >>> import os, tempfile, pandas as pd
    >>> from graphkit.audit import AuditLog
    >>> log = AuditLog(os.path.join(tempfile.mkdtemp(), "audit.jsonl"))
    >>> claims = pd.DataFrame({"claim_id": [f"C{i:02d}" for i in range(40)], "claim_type": ["inpatient"] * 40,
    ...     "institution_id": ["H1"] * 40, "start_time": ["2024-01-01"] * 40,
    ...     "total_amount": [60000.0] + [1000.0] * 39, "fund_amount": [1.0] * 40})
    >>> s = review_sample({"claims": claims}, seed=1, log=log)
    >>> len(s), s.attrs["random_n"], "C00" in set(s["claim_id"])
    (3, 2, True)
    """
    if not (0 < rate <= 1):
        raise ParameterError(f"rate must be in (0, 1]; got {rate}")
    if amount_column not in ("total_amount", "fund_amount"):
        raise ParameterError(f"amount_column must be total_amount or fund_amount; got {amount_column!r}")
    available = _columns(source, "claims")
    if manual_column is None:
        manual_column = next((c for c in ("manual", "settlement_mode") if c in available), None)
    elif manual_column not in available:
        raise MonitoringError(f"claims have no column {manual_column!r} (have: {available})")
    cols = ["claim_id", "claim_type", "institution_id", "pharmacy_id", "patient_id", "start_time", "total_amount",
            "fund_amount"]
    claims = _table(source, "claims", cols + ([manual_column] if manual_column else []))
    if start:
        claims = claims[claims["start_time"] >= pd.Timestamp(start)]
    if end:
        claims = claims[claims["start_time"] < pd.Timestamp(end)]
    claims = _with_provider(claims.sort_values("claim_id", kind="stable").reset_index(drop=True))
    inpat = np.flatnonzero((claims["claim_type"] == "inpatient").fillna(False).to_numpy(bool))
    k = math.ceil(round(rate * inpat.size, 9))
    rng = np.random.default_rng(int(seed))
    rand = np.zeros(len(claims), bool)
    rand[inpat[rng.permutation(inpat.size)[:k]]] = True
    manual = _manual_flags(claims, manual_column) if manual_column else pd.Series(True, index=claims.index)
    large = (claims[amount_column] >= manual_threshold).fillna(False).to_numpy(bool) & manual.to_numpy(bool)
    take = rand | large
    out = claims.loc[take].copy()
    reason = np.where(rand[take] & large[take], "random_inpatient;manual_large",
                      np.where(rand[take], "random_inpatient", "manual_large"))
    zh = {"random_inpatient": "住院随机抽查", "manual_large": "手工报销大额(≥阈值)",
          "random_inpatient;manual_large": "住院随机抽查;手工报销大额(≥阈值)"}
    out["manual"] = manual[take].astype("boolean") if manual_column else pd.array([pd.NA] * len(out), dtype="boolean")
    out["reason"] = pd.Series(reason, index=out.index, dtype="string")
    out["reason_zh"] = out["reason"].map(zh).astype("string")
    out = out[["claim_id", "claim_type", "provider_type", "provider_id", "patient_id", "start_time", "total_amount",
               "fund_amount", "manual", "reason", "reason_zh"]].reset_index(drop=True)
    basis = manual_column or "none: every claim at or above the threshold"
    ids = out["claim_id"].astype(str).tolist()
    params = {"seed": int(seed), "rate": rate, "manual_threshold": manual_threshold, "amount_column": amount_column,
              "manual_basis": basis, "start": start, "end": end, "data_fingerprint": _fingerprint(source)}
    sample_id = "RS-" + hashlib.sha256(json.dumps({**params, "claims": ids}, sort_keys=True).encode()).hexdigest()[:12]
    entry = _log(log).append("review_sample", sample_id=sample_id, **params, note=note,
                             inpatient_claims=int(inpat.size), random_n=int(k), manual_large_n=int(large.sum()),
                             claims=ids)
    out.attrs.update({"sample_id": sample_id, "inpatient_claims": int(inpat.size), "random_n": int(k),
                      "manual_large_n": int(large.sum()), "manual_basis": basis, "audit": entry})
    return out
