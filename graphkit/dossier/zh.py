"""Chinese forms for statutory papers: dates, amounts in 元 with 大写, enum and role names.

Statutory papers for outside recipients are Chinese only: every code a detector or the data
writes (roles, claim types, provider types, check outcomes) has its Chinese name here, and
empty values print as an empty cell, never ``<NA>`` or ``NaN``.

``rmb_upper`` is written here rather than taken from a package: the one maintained candidate
(cn2an) imports ``pkg_resources`` and an undeclared ``ruamel.yaml`` at import time; the rule
(财政部《会计基础工作规范》: 元 / 角 / 分, 整 after 元 or 角 when there are no 分) fits in a few lines and
is tested below.

Examples
--------
>>> zh_date("2026-12-05")
'2026年12月5日'
>>> rmb_upper(1_000_000.0), rmb_upper(10_005.5), rmb_upper(0.07), rmb_upper(1_600.05)
('壹佰万元整', '壹万零伍元伍角整', '柒分', '壹仟陆佰元零伍分')
>>> rmb_upper(100_010_000.0), rmb_upper(0)
('壹亿零壹万元整', '零元整')
>>> yuan_zh(12345.6)
'12,345.60元（大写：壹万贰仟叁佰肆拾伍元陆角整）'
>>> role_zh("card_holder"), role_zh("venue"), role_zh("")
('持卡人', '结算机构', '')
>>> cell(float("nan")), cell(None), cell("A")
('', '', 'A')
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd

__all__ = ["zh_date", "zh_datetime", "rmb_upper", "yuan_zh", "role_zh", "cell", "ROLE_ZH", "CLAIM_TYPE_ZH",
           "PROVIDER_TYPE_ZH", "OUTCOME_ZH", "TYPE_ZH", "INSURANCE_ZH", "OWNERSHIP_ZH", "INSTITUTION_KIND_ZH", "LEVEL_ZH", "region_zh"]

#: entity role (as the detectors write it) → 中文
ROLE_ZH: dict[str, str] = {
    "card": "涉案医保卡", "used_card": "被使用的医保卡", "lost_card": "挂失医保卡", "card_holder": "持卡人",
    "settled_person": "结算人", "user": "使用人", "card_user": "用卡人", "deceased": "死亡人员", "member": "团伙成员",
    "organiser": "组织者", "treating": "接诊医师", "venue": "结算机构", "shared_venue": "共同就医机构",
    "referrer": "转诊医师", "source": "转出机构", "destination": "转入机构", "patient": "参保人",
    "elsewhere": "异地结算机构", "terminal": "结算终端", "prescriber": "开具医师", "insured": "参保人",
}
#: entity type → 中文
TYPE_ZH: dict[str, str] = {"patient": "参保人", "card": "医保卡", "doctor": "医师", "institution": "定点医疗机构",
                           "pharmacy": "定点零售药店", "terminal": "结算终端"}
CLAIM_TYPE_ZH: dict[str, str] = {"inpatient": "住院", "outpatient": "门诊", "pharmacy": "药店购药"}
PROVIDER_TYPE_ZH: dict[str, str] = {"institution": "定点医疗机构", "pharmacy": "定点零售药店"}
INSURANCE_ZH: dict[str, str] = {"employee": "职工医保", "resident": "居民医保"}
OWNERSHIP_ZH: dict[str, str] = {"public": "公立", "private": "民营"}
INSTITUTION_KIND_ZH: dict[str, str] = {"hospital": "医院", "clinic": "诊所", "community": "社区卫生服务机构", "village": "村卫生室"}
LEVEL_ZH: dict[str, str] = {"1": "一级", "2": "二级", "3": "三级"}
OUTCOME_ZH: dict[str, str] = {"ruled_out": "已排除", "partial": "部分解释", "explains": "可解释", "not_testable": "数据不足，无法检验"}
_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ["", "拾", "佰", "仟"]
_SECTIONS = ["", "万", "亿", "万亿"]


def cell(x: Any) -> str:
    """Text of a value for a paper: empty for None / NaN / NaT / pd.NA."""
    if x is None or x is pd.NA or x is pd.NaT:
        return ""
    if isinstance(x, float) and math.isnan(x):
        return ""
    return str(x)


def zh_date(x: Any) -> str:
    """``2026年12月5日`` for a date, timestamp or ISO string; empty for a missing value."""
    if cell(x) == "":
        return ""
    t = pd.Timestamp(x)
    return f"{t.year}年{t.month}月{t.day}日"


def zh_datetime(x: Any) -> str:
    """``2026年12月5日 08:30`` (the time only when it is not midnight)."""
    if cell(x) == "":
        return ""
    t = pd.Timestamp(x)
    return zh_date(t) + (f" {t:%H:%M}" if (t.hour, t.minute) != (0, 0) else "")


def _four(n: int) -> str:
    """Uppercase of 0 < n < 10000, with 零 for inner gaps (no leading 零)."""
    out, zero = "", False
    for i in range(3, -1, -1):
        d = n // 10 ** i % 10
        if d == 0:
            zero = bool(out)
        else:
            out += ("零" if zero else "") + _DIGITS[d] + _UNITS[i]
            zero = False
    return out


def rmb_upper(amount: float) -> str:
    """人民币大写 of an amount in yuan (rounded half-up to the 分); negative amounts get 负."""
    fen = int((Decimal(str(amount)).copy_abs() * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    sign = "负" if amount < 0 and fen else ""
    yuan, jiao, f = fen // 100, fen // 10 % 10, fen % 10
    text = ""
    if yuan:
        groups, n = [], yuan
        while n:
            groups.append(n % 10000)
            n //= 10000
        need_zero = False
        for i in range(len(groups) - 1, -1, -1):
            g = groups[i]
            if g == 0:
                need_zero = bool(text)
                continue
            if text and (need_zero or g < 1000):
                text += "零"
            text += _four(g) + _SECTIONS[i]
            need_zero = False
        text += "元"
    if not jiao and not f:
        return sign + (text or "零元") + "整"
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif text:
        text += "零"
    if f:
        text += _DIGITS[f] + "分"
    else:
        text += "整"
    return sign + text


def yuan_zh(amount: float, *, upper: bool = True) -> str:
    """``12,345.60元（大写：壹万贰仟叁佰肆拾伍元陆角整）``."""
    s = f"{amount:,.2f}元"
    return f"{s}（大写：{rmb_upper(amount)}）" if upper else s


def role_zh(role: Any) -> str:
    """Chinese name of a role (``;``-joined roles are translated one by one); unknown codes stay."""
    r = cell(role)
    return "、".join(ROLE_ZH.get(x, x) for x in r.split(";") if x) if r else ""


def region_zh(code: Any) -> str:
    """``历下区（370102）`` from the national gazetteer; the code alone when it is not listed.

    >>> region_zh("370102"), region_zh(None)
    ('历下区（370102）', '')
    """
    c = cell(code).strip()
    if not c:
        return ""
    from ..places import gazetteer

    g = _GAZ.get("names")
    if g is None:
        gz = gazetteer()
        g = _GAZ["names"] = dict(zip(gz["region_code"].astype(str), gz["name"].astype(str)))
    return f"{g[c]}（{c}）" if c in g else f"行政区划代码{c}"


_GAZ: dict[str, dict[str, str]] = {}
