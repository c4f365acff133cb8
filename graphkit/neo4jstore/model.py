"""The graph model: how bundle tables become labels, key properties and relationships.

==========  ==============  ===================================================
table       node            relationships (from the table's reference columns)
==========  ==============  ===================================================
institutions :Institution   —
pharmacies  :Pharmacy       —
doctors     :Doctor         (:Doctor)-[:WORKS_AT]->(:Institution)
patients    :Patient        —
cards       :Card           (:Patient)-[:HOLDS]->(:Card)
referrals   :Referral       (:Patient)-[:HAS_REFERRAL]->(:Referral),
                            (:Referral)-[:REFERRED_FROM|REFERRED_TO]->(:Institution),
                            (:Referral)-[:REFERRED_BY]->(:Doctor)
claims      :Claim          (:Patient)-[:HAS_CLAIM]->(:Claim), (:Claim)-[:PAID_WITH]->(:Card),
                            (:Claim)-[:AT]->(:Institution|:Pharmacy), (:Claim)-[:TREATED_BY]->(:Doctor),
                            (:Claim)-[:FOLLOWS]->(:Referral), (:Claim)-[:READ_ON]->(:Terminal)
claim_items :ClaimItem      (:Claim)-[:HAS_ITEM]->(:ClaimItem)   (itemKey = claimId#ordinal)
contacts    :Phone, :Address, :BankAccount, :Device  (:Patient)-[:HAS_PHONE|HAS_ADDRESS|…]->(…),
                            (:Patient)-[:FAMILY_OF]->(:Patient)
budgets     :Budget         (:Institution|:Pharmacy)-[:HAS_BUDGET]->(:Budget)
regions     :Region         —   (``region`` columns elsewhere are free text, not references)
==========  ==============  ===================================================

Properties are camelCase versions of the bundle columns (``claim_type`` → ``claimType``);
extra columns keep their own names.

Claims are loaded differently from the other tables (see :mod:`.loader`): a claim new to the
graph is CREATEd with its relationships and its items by ``load/claims_create``; a claim
already in the graph is MERGEd by ``load/claims`` and its relationships go through the
``*_replace`` files named in :data:`MODEL` (an older single-valued relationship is replaced).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["NodeSpec", "MODEL", "CONTACT_RELS", "camel", "snake"]


def camel(name: str) -> str:
    """``fund_amount`` → ``fundAmount``."""
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def snake(name: str) -> str:
    """``fundAmount`` → ``fund_amount``."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), name)


@dataclass(frozen=True)
class NodeSpec:
    label: str
    key: str  # bundle key column
    # (bundle column, load query, reverse): reverse=True when the referenced node is the relationship's start.
    # Other tables: the query MERGEs the relationship; a batch touching nodes already in the graph
    # uses ``<query>_replace`` where it exists. Claims name their ``_replace`` files directly.
    refs: tuple[tuple[str, str, bool], ...] = ()


MODEL: dict[str, NodeSpec] = {
    "institutions": NodeSpec("Institution", "institution_id"),
    "pharmacies": NodeSpec("Pharmacy", "pharmacy_id"),
    "doctors": NodeSpec("Doctor", "doctor_id", (("institution_id", "load/doctor_works_at", False),)),
    "patients": NodeSpec("Patient", "patient_id"),
    "cards": NodeSpec("Card", "card_id", (("patient_id", "load/patient_holds_card", True),)),
    "referrals": NodeSpec(
        "Referral",
        "referral_id",
        (
            ("patient_id", "load/patient_has_referral", True),
            ("from_institution_id", "load/referral_from", False),
            ("to_institution_id", "load/referral_to", False),
            ("from_doctor_id", "load/referral_by", False),
        ),
    ),
    "regions": NodeSpec("Region", "region_code"),
    "claims": NodeSpec(
        "Claim",
        "claim_id",
        (
            ("patient_id", "load/patient_has_claim_replace", True),
            ("card_id", "load/claim_paid_with_replace", False),
            ("institution_id", "load/claim_at_institution_replace", False),
            ("pharmacy_id", "load/claim_at_pharmacy_replace", False),
            ("doctor_id", "load/claim_treated_by_replace", False),
            ("referral_id", "load/claim_follows_replace", False),
            ("terminal_id", "load/claim_read_on_replace", False),
        ),
    ),
}

#: contacts.kind -> (load query, relationship type)
CONTACT_RELS: dict[str, tuple[str, str]] = {
    "phone": ("load/patient_has_phone", "HAS_PHONE"),
    "address": ("load/patient_has_address", "HAS_ADDRESS"),
    "bank_account": ("load/patient_has_bank_account", "HAS_BANK_ACCOUNT"),
    "device": ("load/patient_has_device", "HAS_DEVICE"),
    "family": ("load/patient_family_of", "FAMILY_OF"),
}
LABEL_TABLE = {spec.label: t for t, spec in MODEL.items()}
