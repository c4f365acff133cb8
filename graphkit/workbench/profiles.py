"""Provider profiles: per-provider statistics and one provider against its peers."""

from __future__ import annotations

import html
from typing import Mapping

import numpy as np
import pandas as pd

__all__ = ["PROFILE_METRICS", "provider_stats", "provider_profile", "profile_html"]

PROFILE_METRICS: dict[str, tuple[str, str]] = {
    "claims": ("结算笔数", "claims"),
    "fund": ("基金支付(元)", "fund paid (yuan)"),
    "fund_per_claim": ("次均基金(元)", "fund per claim"),
    "patients": ("就诊人数", "people"),
    "claims_per_patient": ("人均结算次数", "claims per person"),
    "night_share": ("夜间结算占比", "night-time share (22–6 h)"),
    "foreign_card_share": ("非本人卡结算占比", "share settled on another's card"),
}

def provider_stats(claims: pd.DataFrame, cards: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-provider activity over all claims, for peer comparison.

    Parameters
    ----------
    claims
        ``claim_id, patient_id, card_id, institution_id, pharmacy_id, start_time, fund_amount``.
    cards
        Optional ``card_id, patient_id`` (the holder) for the foreign-card share.

    Examples
    --------
    >>> c = pd.DataFrame({"claim_id": ["C1", "C2"], "patient_id": ["P1", "P2"], "card_id": ["K1", "K1"],
    ...     "institution_id": ["H1", "H1"], "pharmacy_id": [None, None],
    ...     "start_time": pd.to_datetime(["2024-01-01 23:00", "2024-01-02 10:00"]), "fund_amount": [1.0, 3.0]})
    >>> s = provider_stats(c, pd.DataFrame({"card_id": ["K1"], "patient_id": ["P1"]}))
    >>> s.loc["institution:H1", ["claims", "patients", "night_share", "foreign_card_share"]].tolist()
    [2.0, 2.0, 0.5, 0.5]
    """
    inst = claims["institution_id"].astype("object")
    pharm = claims["pharmacy_id"].astype("object")
    provider = pd.Series(np.where(pd.notna(inst), "institution:" + inst.fillna("").astype(str),
                                  np.where(pd.notna(pharm), "pharmacy:" + pharm.fillna("").astype(str), None)),
                         index=claims.index)
    hour = claims["start_time"].dt.hour
    df = pd.DataFrame({
        "provider": provider,
        "patient": claims["patient_id"],
        "fund": claims["fund_amount"].astype(float),
        "night": ((hour >= 22) | (hour < 6)).astype(float),
    })
    if cards is not None and len(cards):
        holder = claims["card_id"].map(pd.Series(cards["patient_id"].to_numpy(), index=cards["card_id"].to_numpy()))
        df["foreign"] = (holder.notna() & (holder != claims["patient_id"])).astype(float)
    else:
        df["foreign"] = 0.0
    df = df.dropna(subset=["provider"])
    g = df.groupby("provider", sort=True)
    out = pd.DataFrame({
        "claims": g.size().astype(float),
        "fund": g["fund"].sum(),
        "patients": g["patient"].nunique().astype(float),
        "night_share": g["night"].mean(),
        "foreign_card_share": g["foreign"].mean(),
    })
    out["fund_per_claim"] = out["fund"] / out["claims"]
    out["claims_per_patient"] = out["claims"] / out["patients"].where(out["patients"] > 0)
    out.insert(0, "type", [p.split(":", 1)[0] for p in out.index])
    return out

def provider_profile(stats: pd.DataFrame, provider: str, peer_group: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One provider's metrics against its peers (same type, and same peer group if given).

    Returns one row per metric: value, peer median, peer 90th percentile, and the share of
    peers at or below the value (percentile rank, 0–1).

    Examples
    --------
    >>> s = pd.DataFrame({"type": ["pharmacy"] * 3, "claims": [1.0, 2.0, 9.0]},
    ...                  index=["pharmacy:Y1", "pharmacy:Y2", "pharmacy:Y3"])
    >>> p = provider_profile(s, "pharmacy:Y3")
    >>> print(*p.loc[0, ["metric", "value", "peer_median", "percentile"]])
    claims 9.0 2.0 1.0
    """
    cols = ["metric", "zh", "en", "value", "peer_median", "peer_p90", "percentile", "peers"]
    if provider not in stats.index:
        return pd.DataFrame({c: [] for c in cols})
    ptype = stats.loc[provider, "type"]
    peers = stats[stats["type"] == ptype]
    if peer_group:
        grp = peer_group.get(provider)
        if grp is not None:
            same = peers.index.map(lambda p: peer_group.get(p) == grp)
            if int(np.sum(same)) >= 5:
                peers = peers[np.asarray(same, dtype=bool)]
    rows = []
    for m, (zh, en) in PROFILE_METRICS.items():
        if m not in stats.columns:
            continue
        col = peers[m].dropna()
        v = stats.loc[provider, m]
        rows.append({
            "metric": m, "zh": zh, "en": en, "value": float(v) if pd.notna(v) else float("nan"),
            "peer_median": float(col.median()) if len(col) else float("nan"),
            "peer_p90": float(col.quantile(0.9)) if len(col) else float("nan"),
            "percentile": float((col <= v).mean()) if len(col) and pd.notna(v) else float("nan"),
            "peers": int(len(col)),
        })
    return pd.DataFrame(rows, columns=cols)

def profile_html(profile: pd.DataFrame, *, title: str = "") -> str:
    """The provider profile as a table with percentile bars (red at or above the 90th).

    Examples
    --------
    >>> p = pd.DataFrame([{"metric": "claims", "zh": "结算笔数", "en": "claims", "value": 9.0,
    ...                    "peer_median": 2.0, "peer_p90": 8.0, "percentile": 1.0, "peers": 3}])
    >>> "gk-profile" in profile_html(p)
    True
    """
    if profile.empty:
        return "<div class='gk-profile' style='color:#666'>（无该机构数据 / no data for this provider）</div>"
    rows = []
    for r in profile.itertuples(index=False):
        pct = 0.0 if pd.isna(r.percentile) else r.percentile
        color = "#e15759" if pct >= 0.9 else "#4e79a7"
        share = r.metric.endswith("share")
        f = (lambda x: "" if pd.isna(x) else f"{100 * x:.1f}%") if share else (lambda x: "" if pd.isna(x) else f"{x:,.2f}")
        rows.append(
            f"<tr><td>{html.escape(r.zh)}<br><span style='color:#777'>{html.escape(r.en)}</span></td>"
            f"<td style='text-align:right'>{f(r.value)}</td><td style='text-align:right'>{f(r.peer_median)}</td>"
            f"<td style='text-align:right'>{f(r.peer_p90)}</td>"
            f"<td style='width:220px'><div style='background:#eee;height:12px'><div style='width:{100 * pct:.0f}%;"
            f"background:{color};height:12px'></div></div>{100 * pct:.0f}%</td></tr>"
        )
    n = int(profile["peers"].iloc[0])
    style = ("<style>.gk-profile table{border-collapse:collapse;font-size:12px}.gk-profile th,.gk-profile td"
             "{border:1px solid #ddd;padding:2px 6px}.gk-profile th{background:#f3f3f3}</style>")
    head = f"<div style='font-weight:bold'>{html.escape(title)}</div>" if title else ""
    return (f"{style}<div class='gk-profile'>{head}<table class='gk-table'><thead><tr><th>指标 metric</th><th>本机构 value</th>"
            f"<th>同类中位数 peer median</th><th>同类P90 peer p90</th><th>百分位 percentile</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table><div style='color:#666'>同类机构 {n} 家 / {n} peers</div></div>")

# -- dispositions → precision ----------------------------------------------------------
