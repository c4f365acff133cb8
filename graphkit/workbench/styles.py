"""Workbench styles and labels: node types (colour, shape, 中文/English), relations, roles, case
statuses, and money as yuan."""

from __future__ import annotations



__all__ = ["TYPE_STYLE", "REL_ZH", "REL_COLOR", "ROLE_ZH", "STATUS_ZH", "yuan"]


#: node type → colour, vis-network shape, 中文 and English name (colour-blind-safe palette)
TYPE_STYLE: dict[str, dict[str, str]] = {
    "patient": {"color": "#4e79a7", "shape": "dot", "zh": "参保人", "en": "insured person"},
    "card": {"color": "#f28e2b", "shape": "diamond", "zh": "医保卡", "en": "card"},
    "doctor": {"color": "#59a14f", "shape": "triangle", "zh": "医师", "en": "doctor"},
    "institution": {"color": "#e15759", "shape": "square", "zh": "医疗机构", "en": "institution"},
    "pharmacy": {"color": "#b07aa1", "shape": "hexagon", "zh": "药店", "en": "pharmacy"},
    "terminal": {"color": "#9c755f", "shape": "star", "zh": "终端", "en": "terminal"},
    "cluster": {"color": "#bab0ac", "shape": "ellipse", "zh": "折叠", "en": "cluster"},
}

#: relationship → (中文, English)
REL_ZH: dict[str, tuple[str, str]] = {
    "PAID_WITH": ("持卡结算", "paid with"),
    "SETTLED_AT": ("结算于", "settled at"),
    "TREATED_BY": ("就诊医师", "treated by"),
    "HOLDS": ("持卡人", "card holder"),
}
REL_COLOR = {"PAID_WITH": "#f28e2b", "SETTLED_AT": "#e15759", "TREATED_BY": "#59a14f", "HOLDS": "#999999"}

#: entity role → 中文 (roles detectors write; unknown roles are shown as they are)
ROLE_ZH: dict[str, str] = {
    "card": "涉案医保卡",
    "used_card": "被用医保卡",
    "lost_card": "挂失医保卡",
    "card_holder": "持卡人",
    "settled_person": "结算人",
    "user": "使用人",
    "deceased": "死亡人员",
    "member": "团伙成员",
    "organiser": "组织者",
    "treating": "接诊医师",
    "venue": "结算机构",
}

#: case status → (中文, English)
STATUS_ZH: dict[str, tuple[str, str]] = {
    "new": ("新建", "new"),
    "reviewing": ("核查中", "reviewing"),
    "confirmed": ("已确认", "confirmed"),
    "dismissed": ("已排除", "dismissed"),
    "referred": ("已移送", "referred"),
}


def yuan(x: float) -> str:
    """Format an amount in yuan.

    Examples
    --------
    >>> yuan(1234.5)
    '1,234.50元'
    """
    return f"{x:,.2f}元"


# -- leads ---------------------------------------------------------------------------


def _provider_label(provider: str, name: str = "") -> str:
    t, i = provider.split(":", 1) if ":" in provider else ("", provider)
    zh = TYPE_STYLE.get(t, {}).get("zh", t)
    return f"{zh} {i}" + (f" {name}" if name else "")
