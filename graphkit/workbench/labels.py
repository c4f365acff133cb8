"""Names, not codes: what the workbench shows instead of raw ids, enum values and floats.

Region codes become region names (the store's ``regions`` table, else the national
gazetteer), ``institution:H0035`` becomes ``医疗机构 H0035 第一医院``, claim types, case
audit actions and monitoring columns get Chinese names with English beside them, missing
values show as ``—`` (never ``<NA>`` or ``NaN``) and shares as percentages.

Examples
--------
>>> entity_label("institution:H1", {"institution:H1": "第一医院"})
'医疗机构 H1 第一医院'
>>> value_label("inpatient")
'住院 inpatient'
>>> t = pretty_table(pd.DataFrame({"tier": ["A"], "lower": [None], "share": [0.169248]}))
>>> t.frame.columns.tolist(), t.frame.iloc[0].tolist()
(['金额档次 tier', '下限(不含) lower', '权重占比 share'], ['A', '—', '16.9%'])
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import pandas as pd

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["CLAIM_TYPE_ZH", "AUDIT_ACTION_ZH", "FIELD_ZH", "VALUE_ZH", "COLUMN_ZH", "SHARE_COLUMNS", "region_names",
           "region_label", "entity_label", "value_label", "pretty_table", "Table", "MISSING"]

#: what a missing value shows as
MISSING = "—"

CLAIM_TYPE_ZH: dict[str, str] = {"outpatient": "门诊", "inpatient": "住院", "pharmacy": "药店购药"}

AUDIT_ACTION_ZH: dict[str, str] = {
    "create": "新建案件", "update": "修改", "add_finding": "加入线索", "remove_finding": "移除线索",
    "remove_evidence": "移除证据", "add_entity": "加入主体", "remove_entity": "移除主体", "add_claims": "加入结算",
    "remove_claims": "移除结算", "export": "导出案件材料", "note": "备注",
    # graphkit's audit log (graphkit.audit)
    "inspection_draw": "双随机抽取", "review_sample": "审核抽查", "dossier_export": "导出案件材料", "load": "加载数据",
    "scan": "扫描",
}

FIELD_ZH: dict[str, str] = {
    "title": "标题", "status": "状态", "assignee": "承办人", "notes": "备注", "findings": "线索", "entities": "主体",
    "claims": "结算", "entities/claims": "主体/结算",
}

#: enum values shown with a Chinese name (claim types, case statuses, monitoring reasons and levels)
VALUE_ZH: dict[str, str] = {
    **CLAIM_TYPE_ZH, **AUDIT_ACTION_ZH, **FIELD_ZH,
    "new": "新建", "reviewing": "核查中", "confirmed": "已确认", "dismissed": "已排除", "referred": "已移送",
    "institution": "医疗机构", "pharmacy": "药店", "doctor": "医师", "patient": "参保人", "card": "医保卡", "terminal": "终端",
    "random_inpatient": "随机抽查住院", "manual_large": "大额手工报销", "random_inpatient;manual_large": "随机抽查住院+大额手工报销",
    "warn": "约谈提醒", "refuse": "拒付整改", "ok": "正常",
    "employee": "职工", "resident": "居民", "low_income": "低收入",
}

#: column → Chinese name (graphkit.monitoring's names plus the workbench's own)
COLUMN_ZH: dict[str, str] = {
    "lower": "下限(不含)", "upper": "上限(含)", "multiple": "倍数", "tier": "金额档次", "share": "占比",
    "region": "地区", "name": "名称", "provider": "机构", "kind": "类型", "at": "时间", "actor": "操作人",
    "action": "操作", "field": "字段", "old": "原值", "new": "新值", "status": "状态", "seed": "随机种子",
    "details": "详情",
}
try:  # the monitoring module's names, when present
    from ..monitoring.constants import ZH as _MZH

    COLUMN_ZH = {**COLUMN_ZH, **{k: v for k, v in _MZH.items() if k != "action"}}
except ImportError:  # pragma: no cover
    pass

#: columns holding a share (0–1) shown as a percentage; a column name ending in one of these too
SHARE_COLUMNS = ("share", "pace", "deviation", "growth", "peak_deviation", "rate", "precision", "recall", "percentile")


def region_names(store: Store) -> dict[str, str]:
    """Region code → name: the store's ``regions`` table where it names the code, else the
    national gazetteer (6-digit 行政区划代码). Codes neither knows are left out.

    Examples
    --------
    >>> class S:
    ...     def has_table(self, n): return n == "regions"
    ...     def table(self, n, cols=None): return pd.DataFrame({"region_code": ["X1"], "name": ["开发区"]})
    >>> region_names(S())["X1"]
    '开发区'
    """
    from ..places import gazetteer

    g = gazetteer()
    out = dict(zip(g["region_code"].astype(str), g["name"].astype(str)))
    if store is not None and store.has_table("regions"):
        r = store.table("regions", ["region_code", "name"]).dropna()
        out.update(zip(r["region_code"].astype(str), r["name"].astype(str)))
    return out


def region_label(code: str, names: Mapping[str, str]) -> str:
    """``历下区 370102``; the bare code when its name is unknown.

    Examples
    --------
    >>> region_label("370102", {"370102": "历下区"}), region_label("9", {})
    ('历下区 370102', '9')
    """
    n = names.get(str(code), "")
    return f"{n} {code}" if n else str(code)


def entity_label(node: str, names: Mapping[str, str] | None = None) -> str:
    """``institution:H1`` → ``医疗机构 H1`` plus its name when known.

    Examples
    --------
    >>> entity_label("card:K1")
    '医保卡 K1'
    """
    from .shaping import TYPE_STYLE

    t, i = node.split(":", 1) if ":" in node else ("", node)
    zh = TYPE_STYLE.get(t, {}).get("zh", t)
    name = (names or {}).get(node, "")
    return " ".join(x for x in (zh, i, name) if x)


def value_label(v: Any) -> str:
    """An enum value with its Chinese name (``住院 inpatient``); other values as they are.

    Examples
    --------
    >>> value_label("status"), value_label("H1")
    ('状态 status', 'H1')
    """
    if isinstance(v, str) and v in VALUE_ZH:
        return f"{VALUE_ZH[v]} {v}"
    return "" if v is None else str(v)


def _is_share(col: str) -> bool:
    return any(col == s or col.endswith("_" + s) for s in SHARE_COLUMNS)


def _fmt(v: Any, share: bool) -> str:
    if v is None or v is pd.NA or v is pd.NaT:
        return MISSING
    if isinstance(v, float) and math.isnan(v):
        return MISSING
    if isinstance(v, bool):
        return "是 yes" if v else "否 no"
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if math.isinf(float(v)):
            return "∞" if float(v) > 0 else "-∞"
        if share:
            return f"{100 * float(v):.1f}%"
        if isinstance(v, int) or float(v).is_integer():
            return f"{int(v):,}"
        return f"{float(v):,.2f}"
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d %H:%M") if (v.hour or v.minute) else v.strftime("%Y-%m-%d")
    if isinstance(v, str):
        return value_label(v) if v in VALUE_ZH else v
    try:
        if pd.isna(v):
            return MISSING
    except (TypeError, ValueError):
        pass
    return str(v)


class Table:
    """A formatted table: ``frame`` (strings, Chinese + English headers), shown as HTML in a notebook."""

    def __init__(self, frame: pd.DataFrame, *, limit: int = 200) -> None:
        self.frame = frame
        self.limit = limit

    def _repr_html_(self) -> str:
        from .shaping import frame_html

        return frame_html(self.frame, limit=self.limit, numeric=[c for c in self.frame.columns if c.endswith("%")])

    def __repr__(self) -> str:
        return self.frame.to_string(index=False)


def pretty_table(df: pd.DataFrame, *, columns: Mapping[str, str] | None = None, shares: Iterable[str] = (),
                 values: Mapping[str, Mapping[Any, str]] | None = None, limit: int = 200) -> Table:
    """A table for people: ``中文 english`` headers, enum values named, missing values as ``—``,
    shares (columns named like :data:`SHARE_COLUMNS`, or listed in ``shares``) as percentages,
    numbers with thousands separators. Vectorised per column (``map`` over the shown rows only).

    Parameters
    ----------
    columns
        Extra column → Chinese names (over :data:`COLUMN_ZH`).
    values
        Per column, value → label (e.g. region codes → names).

    Examples
    --------
    >>> pretty_table(pd.DataFrame({"claim_type": ["inpatient"], "n": [pd.NA]})).frame.iloc[0].tolist()
    ['住院 inpatient', '—']
    """
    names = {**COLUMN_ZH, **(columns or {})}
    shares = set(shares)
    values = values or {}
    view = df.head(limit) if limit else df
    out = {}
    for c in view.columns:
        s = view[c]
        if c in values:
            m = values[c]
            col = [MISSING if (x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x))) else m.get(x, str(x))
                   for x in s.astype("object")]
        else:
            share = c in shares or _is_share(str(c))
            col = [_fmt(x, share) for x in s.astype("object")]
        zh = names.get(c, "")
        out[f"{zh} {c}" if zh and zh != c else str(c)] = col
    frame = pd.DataFrame(out, index=range(len(view)))
    t = Table(frame, limit=limit)
    t.total_rows = len(df)  # type: ignore[attr-defined]
    return t


def escape(s: Any) -> str:
    return html.escape("" if s is None else str(s))
