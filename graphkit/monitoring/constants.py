"""Labels and defaults of the supervision routines: the warning levels and their actions
(:data:`LEVELS`), the Chinese display labels of the column names (:data:`ZH`), the chronic-disease
diagnosis prefixes (:data:`CHRONIC_PREFIXES`), the values that mark a manual reimbursement
(:data:`MANUAL_MODES`), and the default risk weights and yearly-score deductions.
"""

from __future__ import annotations

__all__ = ["LEVELS", "ZH", "CHRONIC_PREFIXES", "MANUAL_MODES", "DEFAULT_RISK_WEIGHTS", "DEFAULT_DEDUCTIONS"]


#: level → (action, 中文)
LEVELS: dict[str, tuple[str, str]] = {
    "ok": ("none", "正常"),
    "warn": ("interview / withhold payment", "约谈提醒/暂缓支付"),
    "refuse": ("refuse payment / rectify within a deadline", "拒付/限期整改"),
}


#: Chinese display labels of the machine column names
ZH: dict[str, str] = {
    "provider_type": "机构类型", "provider_id": "机构编码", "department": "科室", "year": "年度", "month": "月份",
    "months_elapsed": "已过月数", "budget": "年度预算", "spend": "当月支出", "cumulative": "累计支出",
    "expected": "序时预算", "pace": "序时进度", "deviation": "超序时进度", "level": "级别", "action": "处理",
    "peak_deviation": "最高超进度", "peak_month": "最高月份", "first_breach": "首次超进度", "months_breached": "超进度月数",
    "visits": "门诊(购药)人次", "admissions": "住院人次", "visit_cost": "门诊(购药)费用", "avg_visit_cost": "次均费用",
    "avg_visit_cost_growth": "次均费用增长率", "inpatient_cost": "住院费用", "avg_inpatient_cost": "次均住院费用",
    "avg_inpatient_cost_employee": "次均住院费用(职工)", "avg_inpatient_cost_resident": "次均住院费用(居民)",
    "avg_inpatient_cost_low_income": "次均住院费用(低收入)", "chronic_outpatient_cost": "门诊慢特病费用",
    "fund_spend": "基金支出", "criterion": "指标", "criterion_zh": "指标(中文)", "rank": "排名", "value": "数值",
    "draw_id": "抽取编号", "order": "顺序", "weight": "抽取权重", "share": "权重占比", "score": "评分",
    "complaints": "投诉", "violations": "既往违规", "inspectors": "检查人员", "claim_id": "结算单号",
    "claim_type": "类型", "patient_id": "参保人", "start_time": "时间", "total_amount": "总费用",
    "fund_amount": "基金支付", "manual": "手工报销", "reason": "抽取原因", "reason_zh": "抽取原因(中文)",
    "amount": "违规金额", "penalty_multiple": "罚款倍数", "penalty_amount": "罚款金额", "tier": "金额档次",
    "risk_deduction": "风险扣分", "pace_deduction": "预算扣分", "violation_deduction": "违规扣分",
    "complaint_deduction": "投诉扣分", "of": "同类总数",
}


#: ICD-10 prefixes counted as chronic/special outpatient disease (门诊慢特病) by default
CHRONIC_PREFIXES: tuple[str, ...] = (
    "I10", "I11", "I12", "I13", "I15",          # hypertension 高血压
    "E10", "E11", "E12", "E13", "E14",          # diabetes 糖尿病
    "I20", "I25", "I50",                        # coronary heart disease, heart failure 冠心病/心衰
    "I63", "I69",                               # stroke and its sequelae 脑卒中(后遗症)
    "J44", "J45",                               # COPD, asthma 慢阻肺/哮喘
    "N18",                                      # chronic kidney disease 慢性肾病(透析)
    "C",                                        # malignant tumours 恶性肿瘤门诊治疗
    "F20", "F31", "G20", "G40", "K74", "M05", "M17",
)


#: ``settlement_mode`` values meaning a manual (手工/零星) reimbursement
MANUAL_MODES: tuple[str, ...] = ("manual", "manual_reimbursement", "手工", "手工报销", "零星报销", "手工结算")


_TRUE = {"true", "t", "1", "yes", "y", "是"}


#: selection weight = base + score×risk score + complaint×min(complaints, cap) + violation×min(violations, cap)
DEFAULT_RISK_WEIGHTS: dict[str, float] = {
    "base": 1.0, "score": 4.0, "complaint": 0.5, "complaint_cap": 6, "violation": 1.0, "violation_cap": 3,
}


#: yearly score = 100 − deductions (see :func:`yearly_scores`)
DEFAULT_DEDUCTIONS: dict[str, float] = {
    "risk": 30.0, "warn": 5.0, "refuse": 10.0, "violation": 5.0, "violation_cap": 20.0,
    "complaint": 1.0, "complaint_cap": 10.0,
}


_GROUPS = ("employee", "resident", "low_income")


_PROVIDER_COLS = ["provider_type", "provider_id"]
