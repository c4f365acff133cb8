"""City configurations and named variants of the demo generator.

The default :class:`CityConfig` reproduces the original demo city exactly (same seed → the
same bytes). Every other field changes the *structure* of the city: its urban/rural mix,
provider mix, pharmacy chains, e-vouchers, how intensely and how carefully fraud is planted
(:class:`FraudShape`), and which legal look-alikes are added (see
:mod:`graphkit.demo._lookalikes`). A :class:`Variant` pairs a configuration with *export
quirks* (see :mod:`graphkit.demo.quirks`) applied to the written bundle.

Examples
--------
>>> from graphkit.demo.config import VARIANTS, CityConfig, variant
>>> CityConfig().is_default()
True
>>> variant("dates_only").quirks
('dates_only',)
>>> variant("rural_village").config.is_default()
False
>>> len(VARIANTS) >= 10
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

__all__ = ["CityConfig", "FraudShape", "Variant", "VARIANTS", "LOOKALIKES", "variant", "CAMOUFLAGED"]


@dataclass(frozen=True)
class FraudShape:
    """Ranges (``lo``, ``hi``: numpy ``integers`` bounds, ``hi`` exclusive) of planted fraud.

    The defaults are the original generator's constants; :data:`CAMOUFLAGED` spreads fraud
    thinner. ``county_travel``, ``branch_split`` and ``ooa_share`` switch on patterns the
    default city does not plant (travel between a district and an outer county within minutes,
    split stays alternating between the campuses of one brand, referral concentration towards
    out-of-area hospitals).
    """

    lent_users: tuple[int, int] = (2, 5)          # shared_card: people using one lent card
    lent_uses_max: int = 16                       # shared_card: claims on a lent card (< max)
    multi_cards: tuple[int, int] = (3, 7)         # shared_card: cards one person uses
    lost_uses: tuple[int, int] = (3, 11)          # shared_card: claims on a lost card
    deceased_claims: tuple[int, int] = (2, 13)    # claims after death
    travel_pairs: tuple[int, int] = (2, 6)        # impossible_travel: home/remote pairs per card
    ring_size: tuple[int, int] = (6, 21)          # collusion_ring members
    ring_episodes_in: int = 4                     # collusion_ring: min inpatient episodes
    ring_episodes_out: int = 6                    # collusion_ring: min outpatient episodes
    ring_episodes_max: int = 13
    ring_attend: tuple[float, float] = (0.6, 0.9)
    burst_nights: tuple[int, int] = (3, 9)        # card_burst: nights per terminal
    burst_cards: tuple[int, int] = (15, 40)       # card_burst: cards per night (hi inclusive)
    burst_window_min: tuple[int, int] = (30, 91)  # card_burst: minutes per burst
    burst_start_h: tuple[int, int] = (21, 24)     # card_burst: start hour range (+30 min)
    burst_amount_jitter: float = 2.0              # card_burst: ± yuan around the base amount
    phantom_claims: tuple[int, int] = (2, 6)      # phantom_stay: claims elsewhere during the stay
    split_parts: tuple[int, int] = (3, 6)         # split_stay: stays per instance
    loop_patients: tuple[int, int] = (3, 9)       # referral_loop: patients
    loop_target: tuple[int, int] = (10, 31)       # referral_loop: referrals
    conc_referrals: tuple[int, int] = (20, 61)    # referral_concentration: planted referrals
    conc_share: tuple[float, float] = (0.82, 0.95)
    ooa_share: float = 0.6                        # referral_concentration: out-of-area destinations
    identity_size: tuple[int, int] = (6, 16)      # identity_ring members
    county_travel: float = 0.0                    # impossible_travel: share district↔county
    branch_split: float = 0.0                     # split_stay: share across campuses of one brand


#: Fraud spread thinner: smaller rings, slower bursts, fewer foreign claims per card, stays split
#: across the campuses of one brand, referral concentration towards out-of-area hospitals,
#: travel between a district and an outer county within minutes.
CAMOUFLAGED = FraudShape(
    lent_users=(2, 3), lent_uses_max=7, multi_cards=(2, 4), lost_uses=(2, 5), deceased_claims=(1, 4),
    travel_pairs=(1, 3), ring_size=(4, 8), ring_episodes_in=3, ring_episodes_out=4, ring_episodes_max=7,
    ring_attend=(0.5, 0.8), burst_nights=(2, 5), burst_cards=(8, 14), burst_window_min=(120, 241),
    burst_start_h=(17, 20), burst_amount_jitter=25.0, phantom_claims=(1, 3), split_parts=(2, 4),
    loop_patients=(2, 4), loop_target=(4, 9), conc_referrals=(10, 25), conc_share=(0.55, 0.75),
    ooa_share=0.85, identity_size=(4, 7), county_travel=0.5, branch_split=0.7,
)

#: Look-alikes (legal behaviour that resembles fraud) the generator can add, with what each
#: resembles. Intensity 1.0 is "typical"; 0 is off.
LOOKALIKES: dict[str, str] = {
    "care_home_batch": "养老机构医务室集中结算: batch settlement of residents at one terminal; one address and "
                       "front-desk phone for many (card_burst, identity_ring)",
    "dormitory": "集体户/集体宿舍: dozens of young unrelated adults at one address (identity_ring)",
    "village_agent": "村医/代办员代激活医保电子凭证: one phone and device registered for many households of a "
                     "village, e-vouchers issued the same day (identity_ring, shared_card)",
    "newborn_parent_card": "新生儿随母结算: a newborn settled on a parent's card before its own card (shared_card)",
    "outbreak": "流感/学校聚集性疫情: many people at the same clinics within days (collusion_ring, card_burst)",
    "group_exam": "集体体检/疫苗接种: dozens at one community clinic in one morning, one price (card_burst, "
                  "collusion_ring)",
    "family_doctor_contract": "家庭医生签约服务费: a village doctor settles the yearly contract fee for many "
                              "villagers in one day, one amount (card_burst)",
    "chronic_refill_day": "慢病取药日: chronic patients refilling monthly at one pharmacy on the same day "
                          "(card_burst, collusion_ring)",
    "branch_campus": "一院多区: transfers between the campuses of one hospital in two districts (split_stay, "
                     "referral_loop)",
    "stay_outside_service": "双通道购药/院外检查: a purchase at a dual-channel pharmacy or an exam at another "
                            "hospital during a stay (phantom_stay)",
    "rail_day_trip": "高铁当日往返: claims in the home city and a city 300-400 km away hours apart on one day "
                     "(impossible_travel)",
    "internet_hospital": "互联网医院复诊: an online follow-up at a hospital while the patient buys drugs at home "
                         "(impossible_travel)",
    "family_across_households": "家庭共济(近亲属): a registered relative in another household settles on the "
                                "payer's card (shared_card)",
    "medical_alliance": "医联体/医共体: member clinics refer nearly everyone to the lead hospital, a county to one "
                        "out-of-area partner (referral_concentration)",
    "newborn_with_mother": "新生儿随母结算(住院): a newborn's stay (P00-P96/Z38) settled under the mother's id and "
                           "card during her delivery stay at the same hospital (duplicate_claim: overlapping stays)",
    "twice_daily_sessions": "一日两次治疗: rehabilitation patients billed twice a day, 3-6 hours apart, same "
                            "diagnosis and price (duplicate_claim: double settlement)",
}


@dataclass(frozen=True)
class CityConfig:
    """Structure of a demo city. ``CityConfig()`` is the original city.

    ``lookalikes`` maps a name of :data:`LOOKALIKES` to an intensity (1.0 typical).
    """

    name: str = "default"
    rural_weight: float = 1.0          # × population weight of rural home districts
    outer_counties: bool = False       # add outer districts/counties 40-90 km from the centre
    village_share: float = 0.40        # share of village clinics among rural level-1 providers
    patients_per_l1: float = 250.0     # patients per level-1 provider
    patients_per_hub: float = 5000.0   # patients per level-3 hub
    patients_per_l2: float = 1500.0    # patients per level-2 hospital
    private_l2_share: float = 0.4
    chain_share: float = 0.65          # share of pharmacies in a chain
    patients_per_nursing_home: float = 8000.0
    nursing_home_cap: float = 0.03     # residents at most this share of the population
    branch_campuses: int = 0           # hospitals with a second campus (分院) in another district
    e_voucher_share: float = 0.0       # people holding an e-voucher as well as a physical card
    e_voucher_use: float = 0.5         # share of their own claims settled with the e-voucher
    fraud: FraudShape = field(default_factory=FraudShape)
    lookalikes: tuple[tuple[str, float], ...] = ()
    overbilling: float = 0.0           # share of institutions over-billing (+ case-mix look-alikes), see overbilling.py
    overbilling_volume_bias: float = 0.0  # over-billers drawn with weight volume**bias (1: in proportion to claims)
    rule_items: bool = False           # item lines per the rule base's catalogue, with planted rule violations
    rule_violations: float = 1.0       # × the planted rule violations of rule_items (0: compliant item lines only)

    def __post_init__(self) -> None:
        unknown = [k for k, _ in self.lookalikes if k not in LOOKALIKES]
        if unknown:
            raise ValueError(f"The 'lookalikes' of CityConfig must be names in {sorted(LOOKALIKES)}. Got {unknown} instead.")
        for f in ("rural_weight", "village_share", "chain_share", "e_voucher_share", "e_voucher_use", "overbilling",
                  "overbilling_volume_bias", "rule_violations"):
            if not getattr(self, f) >= 0:
                raise ValueError(f"The '{f}' parameter of CityConfig must be >= 0. Got {getattr(self, f)!r} instead.")

    def lookalike(self, name: str) -> float:
        """Intensity of a look-alike (0 when off)."""
        return float(dict(self.lookalikes).get(name, 0.0))

    def is_default(self) -> bool:
        """True when this configuration generates the original city."""
        base = CityConfig()
        return all(getattr(self, f.name) == getattr(base, f.name) for f in fields(self) if f.name != "name")

    def describe(self) -> dict:
        """The configuration as plain JSON data (for truth.json)."""
        d = asdict(self)
        d["lookalikes"] = dict(self.lookalikes)
        return d


@dataclass(frozen=True)
class Variant:
    """A named city family: structure (``config``), export quirks, and a size factor."""

    name: str
    config: CityConfig
    quirks: tuple[str, ...] = ()
    size: float = 1.0        # × the bench's patients
    fraud_rate: float = 1.0  # × generate_city's fraud_rate
    note: str = ""


def _all(intensity: float = 1.0, *names: str) -> tuple[tuple[str, float], ...]:
    return tuple((n, intensity) for n in (names or tuple(LOOKALIKES)))


_TYPICAL = _all(1.0)
#: item lines per the rule base's catalogue with no planted rule violation: a bureau's items are mostly
#: compliant, so rule leads there are the pack's false alarms (the card-burst goods stay violations)
_COMPLIANT = {"rule_items": True, "rule_violations": 0.0}

VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("default", CityConfig(), note="the original demo city"),
    Variant("dates_only", CityConfig(name="dates_only", **_COMPLIANT, lookalikes=_TYPICAL), ("dates_only",),
            note="every time at 00:00:00"),
    Variant("hour_no_terminals", CityConfig(name="hour_no_terminals", **_COMPLIANT, lookalikes=_TYPICAL),
            ("hour_only", "no_terminals"), note="times to the hour, no terminal ids"),
    Variant("rural_village", CityConfig(
        name="rural_village", **_COMPLIANT, rural_weight=4.0, outer_counties=True, village_share=0.7,
        patients_per_l1=180.0, e_voucher_share=0.6, e_voucher_use=0.5,
        lookalikes=_TYPICAL + (("village_agent", 3.0), ("family_doctor_contract", 3.0), ("newborn_parent_card", 2.0),
                               ("family_across_households", 2.0))),
        note="rural-heavy: village clinics, rural elderly, e-vouchers, village agents, outer counties"),
    Variant("institutions_heavy", CityConfig(
        name="institutions_heavy", **_COMPLIANT, patients_per_nursing_home=2500.0, nursing_home_cap=0.06,
        lookalikes=_TYPICAL + (("care_home_batch", 3.0), ("dormitory", 3.0), ("group_exam", 3.0), ("outbreak", 2.0),
                               ("chronic_refill_day", 3.0))),
        note="care homes, dormitories, group exams, outbreaks, refill days"),
    Variant("foreign_codes_table", CityConfig(name="foreign_codes_table", **_COMPLIANT, outer_counties=True,
                                              e_voucher_share=0.5, lookalikes=_TYPICAL),
            ("foreign_regions",), note="the bureau's own region codes (JN-LX …) with a regions table"),
    Variant("foreign_codes_bare", CityConfig(name="foreign_codes_bare", **_COMPLIANT, outer_counties=True,
                                             lookalikes=_TYPICAL),
            ("foreign_regions_bare", "no_coordinates"),
            note="own region codes, no regions table, no provider coordinates"),
    Variant("other_ids", CityConfig(name="other_ids", **_COMPLIANT, e_voucher_share=0.5, lookalikes=_TYPICAL),
            ("ids_numeric", "no_pharmacy_doctors", "date_strings", "csv_gb18030"),
            note="numeric ids, no doctors on pharmacy claims, date strings, GB18030 CSV"),
    Variant("uuid_ids", CityConfig(name="uuid_ids", **_COMPLIANT, branch_campuses=4, chain_share=0.9,
                                   patients_per_hub=8000.0, patients_per_l2=1000.0, lookalikes=_TYPICAL),
            ("ids_uuid", "drop_doctors:0.3", "csv"),
            note="UUID-like ids, doctors missing on 30% of claims, chains 90%, more level-2 hospitals"),
    Variant("camouflage", CityConfig(name="camouflage", **_COMPLIANT, outer_counties=True, branch_campuses=6,
                                     fraud=CAMOUFLAGED, lookalikes=_TYPICAL), fraud_rate=0.5,
            note="fewer, smaller, slower fraud; district↔county travel; splits across campuses; out-of-area steering"),
    Variant("large", CityConfig(name="large", **_COMPLIANT, outer_counties=True, branch_campuses=4,
                                e_voucher_share=0.5, lookalikes=_TYPICAL), size=2.5, note="a larger city"),
    Variant("haystack", CityConfig(name="haystack", **_COMPLIANT, outer_counties=True, e_voucher_share=0.5,
                                   patients_per_nursing_home=2500.0, nursing_home_cap=0.06,
                                   lookalikes=_TYPICAL + (("care_home_batch", 2.0), ("chronic_refill_day", 2.0),
                                                          ("outbreak", 2.0), ("group_exam", 2.0))),
            size=5.0, fraud_rate=0.2,
            note="5 × the patients around the planted cases of a size-1 city (8 per kind): every look-alike and every "
                 "chance coincidence five times as often around the same handful of cases, as in an outside "
                 "benchmark's full-size city (1M insured, about 80 cases)"),
    Variant("item_rules", CityConfig(rule_items=True, name="item_rules", lookalikes=_TYPICAL), ("hour_only",),
            note="item lines per the rule base's catalogue (prices at or under the level's ceiling, 长处方 for "
                 "registered chronic patients) with planted rule violations of every category; times to the hour"),
    Variant("item_rules_foreign", CityConfig(rule_items=True, name="item_rules_foreign", lookalikes=_TYPICAL),
            ("hour_only", "foreign_item_codes"),
            note="item_rules with the bureau's own item codes and names, none in the rule base's catalogue: "
                 "only the rules that learn from the data can find anything"),
    Variant("provider_overbilling", CityConfig(name="provider_overbilling", overbilling=0.12, lookalikes=_TYPICAL),
            ("dates_only", "no_terminals"), fraud_rate=0.5,
            note="12% of institutions (6% of pharmacies) over-bill in a mix of modes; case-mix look-alikes; "
                 "dates only, no terminals (like labelled provider-fraud claims data)"),
    Variant("volume_overbilling", CityConfig(name="volume_overbilling", overbilling=0.12, overbilling_volume_bias=1.0,
                                             lookalikes=_TYPICAL),
            ("dates_only", "no_terminals"), fraud_rate=0.5,
            note="as provider_overbilling, but over-billers drawn in proportion to their claim volume, as in "
                 "labelled US provider-fraud data where claim count alone ranks the fraudulent providers at AUC 0.85"),
)}


def variant(name: str) -> Variant:
    """The named variant (``KeyError`` with the known names otherwise)."""
    if name not in VARIANTS:
        raise KeyError(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}")
    return VARIANTS[name]
