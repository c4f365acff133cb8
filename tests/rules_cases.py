"""A hand-written bundle with, for every rule of the shipped pack, a violating case and a
just-compliant look-alike (price exactly at the ceiling, a legal repeat on another day, a long
prescription for a registered chronic diagnosis, …), plus a background population for the
rules that learn from the data. ``CASES[rule_id] = (violating claim ids, compliant claim ids)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

INSTITUTIONS = [("H1", 1), ("H2", 2), ("H3", 3), ("H4", 2), ("H5", 2)]


@dataclass
class Builder:
    patients: list[dict] = field(default_factory=list)
    claims: list[dict] = field(default_factory=list)
    items: list[dict] = field(default_factory=list)
    cases: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)

    def person(self, pid: str, birth: str = "1970-06-15", sex: str = "M") -> str:
        if not any(p["patient_id"] == pid for p in self.patients):
            self.patients.append({"patient_id": pid, "birth_date": birth, "sex": sex, "insurance_type": "employee"})
        return pid

    def claim(self, cid: str, pid: str, when: str, items: list[tuple], *, ctype: str = "outpatient",
              prov: str = "H2", end: str = "", dx: str = "J06.9") -> str:
        """``items``: (code, name, category, quantity, unit_price[, item_time, days_supply])."""
        total = 0.0
        for it in items:
            code, name, cat, qty, unit = it[:5]
            amt = round(qty * unit, 2)
            total += amt
            self.items.append({"claim_id": cid, "item_code": code, "item_name": name, "category": cat,
                               "quantity": qty, "unit_price": unit, "amount": amt,
                               "item_time": it[5] if len(it) > 5 and it[5] else when,
                               "days_supply": it[6] if len(it) > 6 else None})
        ph = prov.startswith("Y")
        self.claims.append({"claim_id": cid, "card_id": "K" + pid, "patient_id": pid, "claim_type": ctype,
                            "institution_id": "" if ph else prov, "pharmacy_id": prov if ph else "",
                            "doctor_id": "" if ph else "D" + prov, "start_time": when, "end_time": end,
                            "diagnosis_code": dx, "total_amount": round(total, 2), "fund_amount": round(total * 0.7, 2)})
        return cid

    def case(self, rule: str, bad: list[str], good: list[str]) -> None:
        self.cases[rule] = (bad, good)

    def tables(self) -> dict[str, list[dict]]:
        def s(rows):
            return [{k: ("" if v is None else str(v)) for k, v in r.items()} for r in rows]

        return {
            "institutions": s([{"institution_id": h, "name": f"医院{h}", "level": lv, "region": "370102"}
                               for h, lv in INSTITUTIONS]),
            "pharmacies": s([{"pharmacy_id": "Y1", "name": "药店", "region": "370102"}]),
            "doctors": s([{"doctor_id": "D" + h, "institution_id": h} for h, _ in INSTITUTIONS]),
            "patients": s(self.patients),
            "cards": s([{"card_id": "K" + p["patient_id"], "patient_id": p["patient_id"]} for p in self.patients]),
            "claims": s(self.claims),
            "claim_items": s(self.items),
        }


BLOOD = ("250101001", "血常规", "exam")
PSA = ("250404005", "前列腺特异性抗原测定", "exam")
LEVO = ("XJ01MAL021", "左氧氟沙星片", "drug")
INSULIN = ("XA10ABY011", "胰岛素注射液", "drug")
PARA = ("XN02BEA001", "对乙酰氨基酚片", "drug")
CREAM = ("FY0001", "护肤霜", "non_medical")
BED = ("110900001", "普通病房床位费", "bed")
BED2 = ("110900002", "双人间床位费", "bed")
LIVER = ("250305001", "肝功能", "exam")
ALT = ("250305011", "丙氨酸氨基转移酶测定", "exam")
ASSESS = ("111000003", "入院评估", "treatment")
AMOX = ("XJ01CAA041", "阿莫西林胶囊", "drug")
KIDNEY = ("250307001", "肾功能", "exam")
URINE = ("250102001", "尿常规", "exam")
NURSE = ("120100001", "护理费", "treatment")
IM = ("120300001", "肌肉注射", "treatment")
NIFE = ("XC08CAN021", "硝苯地平缓释片", "drug")
AMLO = ("XC08CAA031", "氨氯地平片", "drug")
CT = ("210301001", "CT平扫", "exam")
DRIP = ("120400001", "静脉输液", "treatment")
BGLAB = ("BGLAB01", "外地检验项目", "exam")    # codes no catalogue holds: the data rules only
BGDRUG = ("BGDRUG1", "外地药品", "drug")
BGEXAM = ("BGEXAM1", "外地检查项目", "exam")
BGTREAT = ("BGTREAT1", "外地治疗项目", "treatment")
BGPILL = ("BGPILL1", "外地慢病药品", "drug")
BGKID = ("BGKID01", "外地儿童糖浆", "drug")
BGMIX = ("BGMIX01", "外地常用药品", "drug")
BGFEE = ("BGFEE01", "外地其他费用", "treatment")  # billed per yuan: quantity = amount
BGCAP = ("BGCAP01", "外地限价检查", "exam")
BGNURSE = ("BGNURSE1", "外地护理费", "treatment")
BGASSESS = ("BGASSESS", "外地入院评估", "treatment")


def build() -> Builder:
    b = Builder()
    P = b.person
    # ---- background for the data rules ---------------------------------------------------------
    for i in range(40):  # 40 lab lines at 30.00 at three level-2 hospitals
        p = P(f"BL{i:02d}")
        b.claim(f"CBL{i:02d}", p, f"2024-02-{1 + i % 27:02d} 09:00:00", [(*BGLAB, 1, 30.0)], prov=("H2", "H4", "H5")[i % 3])
    for i in range(40):  # 40 people buy BGDRUG1 ×2 every 30 days at the pharmacy
        p = P(f"BD{i:02d}")
        for m, d in enumerate(("2024-01-05", "2024-02-04", "2024-03-05")):
            b.claim(f"CBD{i:02d}{m}", p, f"{d} 10:00:00", [(*BGDRUG, 2, 20.0)], ctype="pharmacy", prov="Y1")
    for i in range(400):  # 1,600 person-days of BGEXAM1 (men, outpatient), never twice a day
        p = P(f"BE{i:03d}")
        for d in ("2024-01-10", "2024-01-20", "2024-02-10", "2024-02-20"):
            b.claim(f"CBE{i:03d}{d[-5:]}", p, f"{d} 08:00:00", [(*BGEXAM, 1, 12.0)], prov="H1")
    for i in range(150):  # 150 visits with 1–3 units of BGTREAT1
        b.claim(f"CBT{i:03d}", P(f"BT{i:03d}"), f"2024-01-{1 + i % 27:02d} 09:00:00", [(*BGTREAT, 1 + i % 3, 8.0)],
                prov=("H2", "H4", "H5")[i % 3])
    for i in range(100):  # 100 people buy BGPILL1 ×2 for 30 days, every 30 days
        p = P(f"BP{i:03d}")
        for m, d in enumerate(("2024-01-05", "2024-02-04", "2024-03-05")):
            b.claim(f"CBP{i:03d}{m}", p, f"{d} 11:00:00", [(*BGPILL, 2, 15.0, None, 30)], ctype="pharmacy", prov="Y1")
    for i in range(220):  # 220 children (under 14) buy a syrup at the pharmacy: children are a share of the lines
        b.claim(f"CBK{i:03d}", P(f"BK{i:03d}", birth=f"{2014 + i % 8}-04-01"), f"2024-02-{1 + i % 27:02d} 16:00:00",
                [(*BGKID, 1, 18.0)], ctype="pharmacy", prov="Y1")
    for i in range(199):  # BGMIX01: 190 adults and 9 children (+ the case's child: 5 %, fewer than children are)
        kid = i < 9
        b.claim(f"CBM{i:03d}", P(f"BM{i:03d}", birth="2015-06-01" if kid else "1980-06-01"),
                f"2024-02-{1 + i % 27:02d} 17:00:00", [(*BGMIX, 1, 9.0)], ctype="pharmacy", prov="Y1")
    for i in range(120):  # 120 visits with 20–79 yuan of other fees, billed per yuan (1.00 a unit)
        b.claim(f"CBF{i:03d}", P(f"BF{i:03d}"), f"2024-01-{1 + i % 27:02d} 15:00:00", [(*BGFEE, 20 + i % 60, 1.0)],
                prov=("H2", "H4", "H5")[i % 3])
    for i in range(300):  # BGCAP01 at level 2: half at 50.00 (a price nobody exceeds), half below
        b.claim(f"CBC{i:03d}", P(f"BC{i:03d}"), f"2024-02-{1 + i % 27:02d} 10:00:00",
                [(*BGCAP, 1, 50.0 if i % 2 else round(20.0 + 0.2 * (i // 2), 2))], prov=("H2", "H4", "H5")[i % 3])
    for i in range(100):  # 100 stays at H3: BGNURSE1 once per day of the stay, BGASSESS once per stay
        los = 1 + i % 5
        b.claim(f"CBS{i:03d}", P(f"BS{i:03d}"), f"2024-01-{1 + i % 20:02d} 10:00:00",
                [(*BGNURSE, los, 30.0), (*BGASSESS, 1, 20.0)], ctype="inpatient", prov="H3",
                end=f"2024-01-{1 + i % 20 + los:02d} 09:00:00")

    # ---- 超支付范围 --------------------------------------------------------------------------------
    b.case("FW-001", [b.claim("FW1B", P("F1", sex="F"), "2024-03-01 09:00:00", [(*PSA, 1, 60.0)])],
           [b.claim("FW1G", P("M1"), "2024-03-01 09:00:00", [(*PSA, 1, 60.0)])])
    b.case("FW-002", [b.claim("FW2B", P("C1", birth="2014-03-02"), "2024-03-01 09:00:00", [(*LEVO, 1, 22.0)])],
           # turns 18 on the day of the claim: exactly at the bound
           [b.claim("FW2G", P("A18", birth="2006-03-01"), "2024-03-01 09:00:00", [(*LEVO, 1, 22.0)])])
    b.case("FW-003", [b.claim("FW3B", P("D1"), "2024-03-01 09:00:00", [(*INSULIN, 1, 68.0)], dx="I10")],
           [b.claim("FW3G", P("D2"), "2024-03-01 09:00:00", [(*INSULIN, 1, 68.0)], dx="E11.9")])
    b.case("FW-004", [b.claim("FW4B", P("S1"), "2024-03-01 09:00:00", [(*CREAM, 1, 128.0)], ctype="pharmacy", prov="Y1")],
           [b.claim("FW4G", P("S2"), "2024-03-01 09:00:00", [(*PARA, 1, 12.0)], ctype="pharmacy", prov="Y1")])
    b.case("FW-005", [b.claim("FW5B", P("B1"), "2024-03-01 09:00:00", [(*BED, 1, 45.0)])],
           [b.claim("FW5G", P("B2"), "2024-03-01 09:00:00", [(*BED, 1, 45.0)], ctype="inpatient",
                    end="2024-03-02 09:00:00")])
    b.case("FW-006", [b.claim("FW6B", P("B3"), "2024-03-01 09:00:00", [(*BGEXAM, 1, 12.0)], ctype="inpatient",
                              end="2024-03-02 09:00:00", prov="H1")],
           [b.claim("FW6G", P("B4"), "2024-03-01 09:00:00", [(*BGEXAM, 1, 12.0)], prov="H1")])
    b.case("FW-007", [b.claim("FW7B", P("F2", sex="F"), "2024-03-01 09:00:00", [(*BGEXAM, 1, 12.0)], prov="H1")],
           [b.claim("FW7G", P("M2"), "2024-03-01 09:00:00", [(*BGEXAM, 1, 12.0)], prov="H1")])
    # BGPILL1: 300 lines, all adults under J06 — a child / another diagnosis category is rare;
    # BGKID01: 220 lines, all children — an adult is rare
    b.case("FW-008", [b.claim("FW8B", P("K8", birth="2016-05-01"), "2024-03-02 11:00:00", [(*BGPILL, 2, 15.0)],
                              ctype="pharmacy", prov="Y1"),
                      b.claim("FW8C", P("A9"), "2024-03-02 12:00:00", [(*BGKID, 1, 18.0)], ctype="pharmacy",
                              prov="Y1")],
           [b.claim("FW8G", P("A8", birth="2005-05-01"), "2024-03-02 11:00:00", [(*BGPILL, 2, 15.0)],
                    ctype="pharmacy", prov="Y1"),  # 18 already: an adult
            # a child's line of a drug adults mostly take, no rarer than children are (relative)
            b.claim("FW8H", P("K9", birth="2016-05-01"), "2024-03-02 12:00:00", [(*BGMIX, 1, 9.0)], ctype="pharmacy",
                    prov="Y1")])
    b.case("FW-009", [b.claim("FW9B", P("D9"), "2024-03-02 11:00:00", [(*BGPILL, 2, 15.0)], ctype="pharmacy",
                              prov="Y1", dx="I10")],
           [b.claim("FW9G", P("D10"), "2024-03-02 11:00:00", [(*BGPILL, 2, 15.0)], ctype="pharmacy", prov="Y1",
                    dx="J06.1")])  # the same ICD-10 category (J06)
    # ---- 超支付标准 --------------------------------------------------------------------------------
    b.case("BZ-001", [b.claim("BZ1B", P("Q1"), "2024-03-01 09:00:00", [(*BLOOD, 2, 18.5)], prov="H1")],
           [b.claim("BZ1G", P("Q2"), "2024-03-01 09:00:00", [(*BLOOD, 1, 18.0)], prov="H1")])  # at the ceiling
    # BGLAB01: above Q3 + 3·IQR and 5 % over the median; BGCAP01: 5 % over the price acting as a ceiling
    b.case("BZ-002", [b.claim("BZ2B", P("Q3"), "2024-03-01 09:00:00", [(*BGLAB, 1, 45.0)], prov="H2"),
                      b.claim("BZ2C", P("Q5"), "2024-03-01 09:00:00", [(*BGCAP, 1, 60.0)], prov="H2")],
           [b.claim("BZ2G", P("Q4"), "2024-03-01 09:00:00", [(*BGLAB, 1, 31.0)], prov="H4"),
            b.claim("BZ2H", P("Q6"), "2024-03-01 09:00:00", [(*BGCAP, 1, 52.0)], prov="H4")])
    # ---- 重复计费 ----------------------------------------------------------------------------------
    b.case("CF-001", [b.claim("CF1B", P("R1"), "2024-03-01 09:00:00", [(*LIVER, 1, 60.0), (*ALT, 1, 5.0)])],
           [b.claim("CF1G1", P("R2"), "2024-03-01 09:00:00", [(*LIVER, 1, 60.0)]),
            b.claim("CF1G2", P("R2"), "2024-03-05 09:00:00", [(*ALT, 1, 5.0)])])
    b.case("CF-002", [b.claim("CF2B", P("R3"), "2024-03-01 09:00:00",
                              [(*BED, 1, 45.0, "2024-03-01 12:00:00"), (*BED2, 1, 80.0, "2024-03-01 18:00:00")],
                              ctype="inpatient", end="2024-03-03 09:00:00", prov="H2")],
           [b.claim("CF2G", P("R4"), "2024-03-01 09:00:00",  # moved to a double room two days later
                    [(*BED, 2, 45.0, "2024-03-01 12:00:00"), (*BED2, 1, 80.0, "2024-03-03 08:00:00")],
                    ctype="inpatient", end="2024-03-04 09:00:00", prov="H2")])
    b.case("CF-003", [b.claim("CF3B", P("R5"), "2024-03-01 09:00:00", [(*BLOOD, 2, 20.0)])],
           [b.claim("CF3G1", P("R6"), "2024-03-01 09:00:00", [(*BLOOD, 1, 20.0)]),
            b.claim("CF3G2", P("R6"), "2024-03-02 09:00:00", [(*BLOOD, 1, 20.0)])])
    b.case("CF-004", [b.claim("CF4B", P("R7"), "2024-03-01 09:00:00", [(*ASSESS, 2, 20.0)], ctype="inpatient",
                              end="2024-03-05 09:00:00")],
           [b.claim("CF4G", P("R8"), "2024-03-01 09:00:00", [(*ASSESS, 1, 20.0)], ctype="inpatient",
                    end="2024-03-05 09:00:00")])
    # and the repeat is the later claim's line, whatever the ids say: CF5C1 (11:00) sorts before CF5C2 (08:00)
    b.case("CF-005", [b.claim("CF5B1", P("R9"), "2024-03-01 09:00:00", [(*BGEXAM, 1, 12.0), (*BGEXAM, 1, 12.0)],
                              prov="H1"),
                      b.claim("CF5C1", P("R9c"), "2024-03-01 11:00:00", [(*BGEXAM, 1, 12.0)], prov="H4")],
           [b.claim("CF5G1", P("R10"), "2024-03-01 09:00:00", [(*BGEXAM, 1, 12.0)], prov="H1"),
            b.claim("CF5G2", P("R10"), "2024-03-02 09:00:00", [(*BGEXAM, 1, 12.0)], prov="H1"),
            b.claim("CF5C2", P("R9c"), "2024-03-01 08:00:00", [(*BGEXAM, 1, 12.0)], prov="H1")])
    b.case("CF-006", [b.claim("CF6B", P("R11"), "2024-03-01 09:00:00", [(*BGEXAM, 2, 12.0)], prov="H1")],
           [b.claim("CF6G1", P("R12"), "2024-03-01 09:00:00", [(*BGEXAM, 1, 12.0)], prov="H1"),
            b.claim("CF6G2", P("R12"), "2024-03-02 09:00:00", [(*BGEXAM, 1, 12.0)], prov="H1")])
    b.case("CF-007", [b.claim("CF7B", P("R13"), "2024-03-01 10:00:00", [(*BGNURSE, 3, 30.0), (*BGASSESS, 2, 20.0)],
                              ctype="inpatient", end="2024-03-04 09:00:00", prov="H3")],
           [b.claim("CF7G", P("R14"), "2024-03-01 10:00:00", [(*BGNURSE, 3, 30.0), (*BGASSESS, 1, 20.0)],
                    ctype="inpatient", end="2024-03-04 09:00:00", prov="H3")])
    # ---- 分解计费 ----------------------------------------------------------------------------------
    b.claim("FJ1B1", P("J1"), "2024-03-01 09:00:00", [(*AMOX, 1, 18.5)])
    # the day's first claim is the earliest, whatever the ids say: FJ1C1 (10:30) sorts before FJ1C2 (09:00)
    b.case("FJ-001", [b.claim("FJ1B2", P("J1"), "2024-03-01 09:30:00", [(*AMOX, 1, 18.5)]),
                      b.claim("FJ1C1", P("J1c"), "2024-03-01 10:30:00", [(*AMOX, 1, 18.5)])],
           [b.claim("FJ1G1", P("J2"), "2024-03-01 09:00:00", [(*AMOX, 1, 18.5)]),
            b.claim("FJ1G2", P("J2"), "2024-03-04 09:00:00", [(*AMOX, 1, 18.5)]),
            b.claim("FJ1C2", P("J1c"), "2024-03-01 09:00:00", [(*AMOX, 1, 18.5)])])
    b.claim("FJ2B1", P("J3"), "2024-03-01 08:00:00", [(*URINE, 1, 10.0)])
    b.case("FJ-002", [b.claim("FJ2B2", P("J3"), "2024-03-01 10:00:00", [(*PARA, 1, 12.0)]),
                      b.claim("FJ2B3", P("J3"), "2024-03-01 15:00:00", [(*AMOX, 1, 18.5)])],
           [b.claim("FJ2G1", P("J4"), "2024-03-01 08:00:00", [(*URINE, 1, 10.0)]),
            b.claim("FJ2G2", P("J4"), "2024-03-01 15:00:00", [(*PARA, 1, 12.0)])])
    b.claim("FJ3B1", P("J5"), "2024-03-01 08:00:00", [(*KIDNEY, 1, 45.0)])
    b.case("FJ-003", [b.claim("FJ3B2", P("J5"), "2024-03-01 08:30:00", [(*KIDNEY, 1, 45.0)])],
           [b.claim("FJ3G1", P("J6"), "2024-03-01 08:00:00", [(*KIDNEY, 1, 45.0)]),
            b.claim("FJ3G2", P("J6"), "2024-03-01 08:30:00", [(*URINE, 1, 10.0)])])
    # ---- 串换项目 ----------------------------------------------------------------------------------
    b.case("CH-001", [b.claim("CH1B", P("H1x"), "2024-03-01 09:00:00", [("XN02BEA001", "护肤霜", "drug", 1, 12.0)])],
           [b.claim("CH1G", P("H2x"), "2024-03-01 09:00:00", [("XN02BEA001", "对乙酰氨基酚片 ", "drug", 1, 12.0)])])
    b.case("CH-002", [b.claim("CH2B", P("H3x"), "2024-03-01 09:00:00",
                              [("XN02BEA001", "对乙酰氨基酚片", "non_medical", 1, 12.0)])],
           [b.claim("CH2G", P("H4x"), "2024-03-01 09:00:00", [(*PARA, 1, 12.0)])])
    b.case("CH-003", [b.claim("CH3B", P("H5x"), "2024-03-01 09:00:00", [("BGEXAM1", "保健按摩", "exam", 1, 12.0)],
                              prov="H1")],
           [b.claim("CH3G", P("H6x"), "2024-03-01 09:00:00", [("BGEXAM1", "外地检查项目 ", "exam", 1, 12.0)], prov="H1")])
    b.case("CH-004", [b.claim("CH4B", P("H7x"), "2024-03-01 09:00:00", [("BGEXAM1", "外地检查项目", "drug", 1, 12.0)],
                              prov="H1")],
           [b.claim("CH4G", P("H8x"), "2024-03-01 09:00:00", [(*BGEXAM, 1, 12.0)], prov="H1")])
    # ---- 虚记项目 ----------------------------------------------------------------------------------
    stay = dict(ctype="inpatient", end="2024-03-04 09:00:00")  # admitted 03-01 10:00: 3 days
    b.case("XJ-001", [b.claim("XJ1B", P("X1"), "2024-03-01 10:00:00", [(*BED, 4, 45.0)], **stay),
                      # two beds adding up to a day more than the stay
                      b.claim("XJ1C", P("X9"), "2024-03-01 10:00:00", [(*BED, 3, 45.0), (*BED2, 1, 80.0)], **stay)],
           [b.claim("XJ1G", P("X2"), "2024-03-01 10:00:00", [(*BED, 3, 45.0)], **stay)])
    b.case("XJ-002", [b.claim("XJ2B", P("X3"), "2024-03-01 10:00:00", [(*NURSE, 5, 30.0)], **stay)],
           [b.claim("XJ2G", P("X4"), "2024-03-01 10:00:00", [(*NURSE, 3, 30.0)], **stay)])
    b.case("XJ-003", [b.claim("XJ3B", P("X5"), "2024-03-01 10:00:00", [(*CT, 1, 280.0, "2024-03-10 09:00:00")], **stay)],
           [b.claim("XJ3G", P("X6"), "2024-03-01 10:00:00", [(*CT, 1, 280.0, "2024-03-04 08:00:00")], **stay)])
    b.case("XJ-004", [b.claim("XJ4B", P("X7"), "2024-03-01 09:00:00", [(*IM, 5, 5.0)])],
           [b.claim("XJ4G", P("X8"), "2024-03-01 09:00:00", [(*IM, 4, 5.0)])])
    b.case("XJ-005", [b.claim("XJ5B", P("X10"), "2024-03-01 10:00:00", [(*BGNURSE, 5, 30.0), (*BGASSESS, 1, 20.0)],
                              ctype="inpatient", end="2024-03-04 09:00:00", prov="H3")],
           [b.claim("XJ5G", P("X11"), "2024-03-01 10:00:00", [(*BGNURSE, 3, 30.0), (*BGASSESS, 1, 20.0)],
                    ctype="inpatient", end="2024-03-04 09:00:00", prov="H3")])
    b.case("XJ-006", [b.claim("XJ6B", P("X12"), "2024-03-01 09:00:00", [(*BGTREAT, 5, 8.0)], prov="H2")],
           [b.claim("XJ6G", P("X13"), "2024-03-01 09:00:00", [(*BGTREAT, 4, 8.0)], prov="H2"),
            # 600 yuan of fees billed per yuan: money, not units
            b.claim("XJ6H", P("X14"), "2024-03-01 10:00:00", [(*BGFEE, 600, 1.0)], prov="H2")])
    # ---- 超量开药 ----------------------------------------------------------------------------------
    b.case("CL-001", [b.claim("CL1B", P("L1"), "2024-03-01 09:00:00", [(*NIFE, 5, 24.0, None, 30)], dx="J06.9")],
           [b.claim("CL1G", P("L2"), "2024-03-01 09:00:00", [(*NIFE, 5, 24.0, None, 30)], dx="I10"),  # 长处方
            b.claim("CL1G2", P("L3"), "2024-03-01 09:00:00", [(*NIFE, 1, 24.0, None, 7)], dx="J06.9")])
    b.case("CL-002", [b.claim("CL2B", P("L4"), "2024-03-01 09:00:00", [(*AMOX, 5, 18.5)])],
           [b.claim("CL2G", P("L5"), "2024-03-01 09:00:00", [(*AMOX, 4, 18.5)])])
    b.claim("CL3B1", P("L6"), "2024-03-01 09:00:00", [(*AMLO, 1, 27.0, None, 30)], dx="I10")
    b.claim("CL3G1", P("L7"), "2024-03-01 09:00:00", [(*AMLO, 1, 27.0, None, 30)], dx="I10")
    b.case("CL-003", [b.claim("CL3B2", P("L6"), "2024-03-10 09:00:00", [(*AMLO, 1, 27.0, None, 30)], dx="I10")],
           # refilled three days early: within the grace
           [b.claim("CL3G2", P("L7"), "2024-03-28 09:00:00", [(*AMLO, 1, 27.0, None, 30)], dx="I10"),
            # 3 days at a clinic, then 5 more the same day half an hour later — the later claim's id sorts
            # first (as random ids do, and the store keeps claims in id order): the clinic's 3 days are
            # within the grace
            b.claim("CL3G3", P("L7b"), "2024-03-05 09:30:00", [(*AMLO, 1, 27.0, None, 5)], dx="I10", prov="H3"),
            b.claim("CL3G4", P("L7b"), "2024-03-05 09:00:00", [(*AMLO, 1, 27.0, None, 3)], dx="I10")])
    b.claim("CL4B1", P("L8"), "2024-03-01 09:00:00", [(*NIFE, 2, 24.0, None, 7)], dx="I10")
    b.case("CL-004", [b.claim("CL4B2", P("L8"), "2024-03-01 16:00:00", [(*NIFE, 1, 24.0, None, 7)], dx="I10", prov="H3")],
           [b.claim("CL4G", P("L9"), "2024-03-01 09:00:00", [(*NIFE, 2, 24.0, None, 7)], dx="I10")])
    # at H4, which bills BGDRUG1 to nobody else: more flagged months than its lines predict (Y1's 40
    # regular buyers would make one flagged month there ordinary) — two of them, as one chance heavy
    # month is never significant family-wise over the provider-months tested
    b.case("CL-005", [b.claim("CL5B", P("L10"), "2024-03-06 09:00:00", [(*BGDRUG, 10, 20.0)], prov="H4"),
                      b.claim("CL5B2", P("L30"), "2024-03-07 09:00:00", [(*BGDRUG, 10, 20.0)], prov="H4")],
           [b.claim("CL5G", P("L11"), "2024-03-06 09:00:00", [(*BGDRUG, 4, 20.0)], ctype="pharmacy", prov="Y1")])
    b.claim("CL6B1", P("L12"), "2024-02-01 09:00:00", [(*BGDRUG, 2, 20.0)], ctype="pharmacy", prov="Y1")
    b.claim("CL6G1", P("L13"), "2024-02-01 09:00:00", [(*BGDRUG, 2, 20.0)], ctype="pharmacy", prov="Y1")
    b.case("CL-006", [b.claim("CL6B2", P("L12"), "2024-02-08 09:00:00", [(*BGDRUG, 2, 20.0)], ctype="pharmacy", prov="Y1")],
           [b.claim("CL6G2", P("L13"), "2024-02-28 09:00:00", [(*BGDRUG, 2, 20.0)], ctype="pharmacy", prov="Y1")])
    pill = dict(ctype="pharmacy", prov="Y1")
    b.case("CL-007", [b.claim("CL7B", P("L14"), "2024-03-01 11:00:00", [(*BGPILL, 2, 15.0, None, 60)], **pill)],
           [b.claim("CL7G", P("L15"), "2024-03-01 11:00:00", [(*BGPILL, 2, 15.0, None, 45)], **pill)])
    b.case("CL-008", [b.claim("CL8B", P("L16"), "2024-03-01 11:00:00", [(*BGPILL, 2, 15.0, None, 7)], **pill)],
           [b.claim("CL8G", P("L17"), "2024-03-01 11:00:00", [(*BGPILL, 2, 15.0, None, 16)], **pill)])
    b.case("CL-009", [b.claim("CL9B", P("L18"), "2024-03-01 11:00:00", [(*BGPILL, 4, 15.0, None, 30)], **pill)],
           [b.claim("CL9G", P("L19"), "2024-03-01 11:00:00", [(*BGPILL, 3, 15.0, None, 30)], **pill)])
    # ---- 低标准入院 --------------------------------------------------------------------------------
    short = dict(ctype="inpatient", end="2024-03-02 09:00:00")
    b.case("DB-001", [b.claim("DB1B", P("N1"), "2024-03-01 10:00:00", [(*BED, 1, 45.0), (*CT, 1, 280.0), (*BLOOD, 1, 20.0)],
                              **short)],
           [b.claim("DB1G", P("N2"), "2024-03-01 10:00:00", [(*BED, 1, 45.0), (*CT, 1, 280.0), (*DRIP, 1, 15.0)],
                    **short)])
    b.case("DB-002", [b.claim("DB2B", P("N3"), "2024-03-01 10:00:00", [(*BED, 1, 45.0), (*AMLO, 2, 27.0), (*PARA, 1, 12.0)],
                              **short)],
           [b.claim("DB2G", P("N4"), "2024-03-01 10:00:00", [(*BED, 1, 45.0), (*AMLO, 2, 27.0), (*BLOOD, 1, 20.0)],
                    **short)])
    return b


def hits_by_rule(run) -> dict[str, set[str]]:
    """rule id → the claim ids it hit."""
    df = run.frame.df
    h = pd.DataFrame({"rule": run.hits["rule_id"].to_numpy(), "claim": df["claim_id"].to_numpy()[run.hits["row"].to_numpy()]})
    return {r: set(g["claim"]) for r, g in h.groupby("rule")}
