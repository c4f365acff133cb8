"""The claims-bundle contract (``shared/spec/claims-bundle.md``) as data.

This module is the single place that encodes tables, columns, types, enums,
primary keys and references. Loaders validate against it; the embedded store
types its columns from it; the demo generator and adapters write to it.

Examples
--------
>>> from graphkit.schema import TABLES
>>> TABLES["claims"].primary_key
('claim_id',)
>>> TABLES["claims"].column("claim_type").enum
('outpatient', 'inpatient', 'pharmacy')
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Column",
    "Table",
    "Reference",
    "TABLES",
    "TABLE_ORDER",
    "REQUIRED_TABLES",
    "PERSONAL_FIELDS",
    "SCHEMA_VERSION",
]

SCHEMA_VERSION = "claims-bundle/v1"

# Column types: "str", "int", "bool", "date", "datetime", "decimal" (money: yuan, at most 2
# decimals, rounded to cents), "float" (a measurement such as a coordinate: kept as given).


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "str"
    required: bool = False  # the column must exist and be non-null in every row
    enum: tuple[str, ...] | None = None
    non_negative: bool = False
    int_values: tuple[int, ...] | None = None
    #: inclusive (low, high) bounds of a numeric value (coordinates); outside is an error
    bounds: tuple[float, float] | None = None


@dataclass(frozen=True)
class Reference:
    """A foreign key: ``column`` of this table refers to ``table.column``."""

    column: str
    table: str
    target: str


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()
    required: bool = False
    zh: str = ""

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name!r} has no column {name!r}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


_TABLES: list[Table] = [
    Table(
        "institutions",
        (
            Column("institution_id", required=True),
            Column("name"),
            Column("level", "int", int_values=(1, 2, 3)),
            Column("ownership", enum=("public", "private")),
            Column("kind", enum=("hospital", "clinic", "community", "village")),
            Column("region"),
        ),
        primary_key=("institution_id",),
        required=True,
        zh="定点医疗机构",
    ),
    Table(
        "pharmacies",
        (
            Column("pharmacy_id", required=True),
            Column("name"),
            Column("chain"),
            Column("region"),
        ),
        primary_key=("pharmacy_id",),
        zh="定点零售药店",
    ),
    Table(
        "doctors",
        (
            Column("doctor_id", required=True),
            Column("name"),
            Column("institution_id"),
            Column("department"),
            Column("title"),
        ),
        primary_key=("doctor_id",),
        references=(Reference("institution_id", "institutions", "institution_id"),),
        required=True,
        zh="医保医师",
    ),
    Table(
        "patients",
        (
            Column("patient_id", required=True),
            Column("name"),
            Column("id_number"),
            Column("birth_date", "date"),
            Column("sex", enum=("M", "F")),
            Column("region"),
            Column("insurance_type", enum=("employee", "resident")),
            Column("death_date", "date"),
            Column("low_income", "bool"),
        ),
        primary_key=("patient_id",),
        required=True,
        zh="参保人",
    ),
    Table(
        "cards",
        (
            Column("card_id", required=True),
            Column("patient_id", required=True),
            Column("issued_date", "date"),
            Column("status", enum=("active", "lost", "cancelled")),
            # v1.1: 社保卡 (physical) or 医保电子凭证 (e_voucher); a new physical card replaces the
            # old physical card, never the e-voucher held alongside it
            Column("kind", enum=("physical", "e_voucher")),
        ),
        primary_key=("card_id",),
        references=(Reference("patient_id", "patients", "patient_id"),),
        required=True,
        zh="医保卡",
    ),
    Table(
        "referrals",
        (
            Column("referral_id", required=True),
            Column("patient_id", required=True),
            Column("from_institution_id", required=True),
            Column("from_doctor_id"),
            Column("to_institution_id", required=True),
            Column("referred_at", "datetime", required=True),
            Column("out_of_area", "bool"),
            Column("reason"),
        ),
        primary_key=("referral_id",),
        references=(
            Reference("patient_id", "patients", "patient_id"),
            Reference("from_institution_id", "institutions", "institution_id"),
            Reference("from_doctor_id", "doctors", "doctor_id"),
            Reference("to_institution_id", "institutions", "institution_id"),
        ),
        zh="转诊转院",
    ),
    Table(
        "claims",
        (
            Column("claim_id", required=True),
            Column("card_id", required=True),
            Column("patient_id", required=True),
            Column("claim_type", required=True, enum=("outpatient", "inpatient", "pharmacy")),
            Column("institution_id"),
            Column("pharmacy_id"),
            Column("doctor_id"),
            Column("department"),
            Column("start_time", "datetime", required=True),
            Column("end_time", "datetime"),
            Column("diagnosis_code"),
            Column("total_amount", "decimal", required=True, non_negative=True),
            Column("fund_amount", "decimal", required=True, non_negative=True),
            Column("self_amount", "decimal", non_negative=True),
            Column("referral_id"),
            Column("terminal_id"),
        ),
        primary_key=("claim_id",),
        references=(
            Reference("card_id", "cards", "card_id"),
            Reference("patient_id", "patients", "patient_id"),
            Reference("institution_id", "institutions", "institution_id"),
            Reference("pharmacy_id", "pharmacies", "pharmacy_id"),
            Reference("doctor_id", "doctors", "doctor_id"),
            Reference("referral_id", "referrals", "referral_id"),
        ),
        required=True,
        zh="结算单",
    ),
    Table(
        "claim_items",
        (
            Column("claim_id", required=True),
            Column("item_code", required=True),
            Column("item_name"),
            Column(
                "category",
                enum=("drug", "exam", "treatment", "material", "bed", "non_medical"),
            ),
            Column("quantity", "decimal"),
            Column("unit_price", "decimal", non_negative=True),
            Column("amount", "decimal", required=True, non_negative=True),
            # v1.1
            Column("item_time", "datetime"),
            Column("days_supply", "int", bounds=(0.0, float("inf"))),
            Column("department"),
        ),
        primary_key=(),  # no key in the spec; rows are identified by (claim_id, row position)
        references=(Reference("claim_id", "claims", "claim_id"),),
        zh="费用明细",
    ),
    Table(
        "contacts",
        (
            Column("patient_id", required=True),
            Column(
                "kind",
                required=True,
                enum=("phone", "address", "bank_account", "device", "family"),
            ),
            Column("value", required=True),
        ),
        primary_key=("patient_id", "kind", "value"),
        references=(Reference("patient_id", "patients", "patient_id"),),
        zh="关联标识",
    ),
    # Optional extension (bundle v1 stays valid without it): yearly fund budget per provider,
    # used by graphkit.monitoring.budget_pace (序时进度). provider_id names an institution or a
    # pharmacy depending on provider_type; the loader checks that reference (see
    # loaders.validate: "budgets" in POLYMORPHIC_REFERENCES).
    Table(
        "budgets",
        (
            Column("provider_type", required=True, enum=("institution", "pharmacy")),
            Column("provider_id", required=True),
            Column("year", "int", required=True),
            Column("amount", "decimal", required=True, non_negative=True),
        ),
        primary_key=("provider_type", "provider_id", "year"),
        zh="医保基金预算(总额)",
    ),
    # Optional extension (v1.1): administrative regions (行政区划) with centroids. The other
    # tables' ``region`` columns are free text, not references to this table (a bundle may name
    # regions it does not list); lat/lon are WGS-84 coordinates, not money.
    Table(
        "regions",
        (
            Column("region_code", required=True),
            Column("name"),
            Column("parent_code"),
            Column("lat", "float", bounds=(-90.0, 90.0)),
            Column("lon", "float", bounds=(-180.0, 180.0)),
        ),
        primary_key=("region_code",),
        zh="行政区划",
    ),
]

#: Tables by name, in dependency order (referenced tables first).
TABLES: dict[str, Table] = {t.name: t for t in _TABLES}
TABLE_ORDER: tuple[str, ...] = tuple(t.name for t in _TABLES)
REQUIRED_TABLES: tuple[str, ...] = tuple(t.name for t in _TABLES if t.required)

#: Personal fields pseudonymised on load: table -> columns. ``contacts.value`` is
#: pseudonymised except where ``kind == "family"`` (there it is a patient_id).
PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "patients": ("name", "id_number"),
    "contacts": ("value",),
}
