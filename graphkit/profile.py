"""What a bundle supports: time precision, terminals, doctors, items, places (the *data profile*).

Detectors must never reason at a finer precision than the data holds ("0 minutes apart" from
two dates). This module measures it.

Time precision of a datetime column is the finest unit the export really carries:

* ``second`` when at least half the values have a non-zero second,
* ``minute`` when at least half have a non-zero minute or second,
* ``hour`` when at least half are not at midnight,
* ``day`` otherwise (dates only, or every time at 00:00:00).

Half is far below what true times show (59/60 of second-precision times have a non-zero
second) and far above what coarse times show (none), so mixtures are classed by their
majority. Rows exactly at midnight in a column of finer precision are counted apart
(``midnight_share``): when they are far more common than chance (≥ 0.5 %), they are
rows exported with a date only, and :func:`row_uncertainty` gives them a day.

Examples
--------
>>> import pandas as pd
>>> time_precision(pd.Series(pd.to_datetime(["2024-03-05", "2024-03-06"])))
'day'
>>> time_precision(pd.Series(pd.to_datetime(["2024-03-05 09:00", "2024-03-06 14:00"])))
'hour'
>>> time_precision(pd.Series(pd.to_datetime(["2024-03-05 09:41:07", "2024-03-06 14:02:33"])))
'second'
>>> PRECISION_SECONDS["hour"]
3600
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = [
    "PRECISIONS",
    "PRECISION_SECONDS",
    "time_precision",
    "time_profile",
    "birth_precision",
    "latest_births",
    "row_uncertainty",
    "uncertainty_from_profile",
    "finer_or_equal",
    "data_profile",
    "ProfileBuilder",
    "ProfileSink",
    "format_profile",
    "supports",
    "unmet",
    "unmet_reason",
    "REQUIREMENTS",
]

PRECISIONS = ("second", "minute", "hour", "day")
PRECISION_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_MIDNIGHT_DATE_ONLY = 0.005  # midnight rows above this share are date-only exports


def _seconds_of_day(times: pd.Series) -> np.ndarray:
    t = pd.to_datetime(times).dropna()
    if t.empty:
        return np.zeros(0, dtype="int64")
    ns = t.to_numpy("datetime64[s]").astype("int64")
    return np.mod(ns, 86400)


def time_profile(times: pd.Series) -> dict[str, Any]:
    """Precision of a datetime column plus the shares it was decided on.

    >>> import pandas as pd
    >>> p = time_profile(pd.Series(pd.to_datetime(["2024-01-01 08:30:00", "2024-01-02 00:00:00"])))
    >>> p["precision"], p["rows"]
    ('minute', 2)
    """
    sod = _seconds_of_day(times)
    return _profile_from_counts(*_counts(sod))


def _counts(sod: np.ndarray) -> tuple[int, int, int, int]:
    """(rows, non-zero second, non-zero minute-or-second, not at midnight) of seconds-of-day."""
    return (int(sod.size), int(np.count_nonzero(sod % 60)), int(np.count_nonzero(sod % 3600)),
            int(np.count_nonzero(sod)))


def _profile_from_counts(n: int, n_sec: int, n_min: int, n_not_mid: int) -> dict[str, Any]:
    """The time profile from counts (so that it can be accumulated chunk by chunk)."""
    if n == 0:
        return {"precision": None, "rows": 0, "share_nonzero_second": None, "share_nonzero_minute": None,
                "share_not_midnight": None, "midnight_share": None}
    sec, minute, not_mid = n_sec / n, n_min / n, n_not_mid / n
    if sec >= 0.5:
        prec = "second"
    elif minute >= 0.5:
        prec = "minute"
    elif not_mid >= 0.5:
        prec = "hour"
    else:
        prec = "day"
    return {"precision": prec, "rows": n, "share_nonzero_second": round(sec, 6),
            "share_nonzero_minute": round(minute, 6), "share_not_midnight": round(not_mid, 6),
            "midnight_share": round(1.0 - not_mid, 6)}


def time_precision(times: pd.Series) -> str | None:
    """The finest unit ``times`` really carries: ``second``, ``minute``, ``hour`` or ``day``
    (None when empty). See the module docstring."""
    return time_profile(times)["precision"]


def row_uncertainty(times: pd.Series, precision: str | None = None) -> np.ndarray:
    """Seconds of uncertainty of each value (a time known to the hour may be up to 3,600 s later).

    Rows at exactly midnight get a whole day when midnight rows are far more common than chance
    (date-only rows mixed into a finer column).

    >>> import pandas as pd
    >>> s = pd.Series(pd.to_datetime(["2024-01-01 08:30:15", "2024-01-02 00:00:00", "2024-01-02 10:01:02"]))
    >>> row_uncertainty(s).tolist()
    [1, 86400, 1]
    """
    prof = time_profile(times)
    if precision is not None:
        prof = {**prof, "precision": precision}
    return uncertainty_from_profile(times, prof)


def uncertainty_from_profile(times: pd.Series, prof: dict[str, Any] | None) -> np.ndarray:
    """:func:`row_uncertainty` of ``times`` given the profile of the whole column (as
    :func:`time_profile` or :func:`data_profile` measured it), for a subset of its rows.

    A value is a truncation: the true time lies in ``[t, t + uncertainty)``. Each value gets
    the column's unit, a day when it is a midnight row of a column with date-only rows mixed
    in, and never more than its own non-zero parts allow (``10:40`` is known to the minute
    even in a column of hour stamps).

    >>> import pandas as pd
    >>> prof = {"precision": "hour", "rows": 1000, "midnight_share": 0.2}
    >>> uncertainty_from_profile(pd.Series(pd.to_datetime(["2024-01-01 08:00", "2024-01-02 00:00", "2024-01-02 10:40"])), prof).tolist()
    [3600, 86400, 60]
    """
    prec = (prof or {}).get("precision") or "day"
    out = np.full(len(times), PRECISION_SECONDS[prec], dtype="int64")
    t = pd.to_datetime(pd.Series(times))
    sod = np.mod(t.to_numpy("datetime64[s]").astype("int64"), 86400)
    if prec != "day" and (prof or {}).get("rows") and ((prof or {}).get("midnight_share") or 0.0) >= _MIDNIGHT_DATE_ONLY:
        midnight = (sod == 0) & t.notna().to_numpy()
        out[midnight] = PRECISION_SECONDS["day"]
    # a value is at least as precise as its own non-zero parts ("10:40" is not an hour stamp)
    implied = np.where(sod % 60 != 0, 1, np.where(sod % 3600 != 0, 60, np.where(sod != 0, 3600, 86400)))
    return np.minimum(out, implied).astype("int64")


def finer_or_equal(have: str | None, need: str) -> bool:
    """True when precision ``have`` is at least as fine as ``need``.

    >>> finer_or_equal("minute", "hour"), finer_or_equal("day", "hour"), finer_or_equal(None, "day")
    (True, False, False)
    """
    if have is None:
        return False
    return PRECISION_SECONDS[have] <= PRECISION_SECONDS[need]


# ----------------------------------------------------------------------------------------------
# The data profile of a whole store or bundle
# ----------------------------------------------------------------------------------------------
#: what a detector may declare in ``needs`` / ``prefers``, with what it means (zh, en)
REQUIREMENTS: dict[str, tuple[str, str]] = {
    "time:day": ("结算时间至少精确到日", "settlement times known at least to the day"),
    "time:hour": ("结算时间至少精确到小时", "settlement times known at least to the hour"),
    "time:minute": ("结算时间至少精确到分钟", "settlement times known at least to the minute"),
    "time:second": ("结算时间精确到秒", "settlement times known to the second"),
    "terminals": ("结算单含终端编号", "claims carry terminal ids"),
    "doctors": ("结算单含医师编号", "claims carry doctor ids"),
    "items": ("有费用明细", "claim items present"),
    "item_times": ("费用明细含时间", "claim items carry times"),
    "referrals": ("有转诊记录", "referrals present"),
    "contacts": ("有关联标识", "contacts present"),
    "family": ("有登记的家庭关系", "registered family links present"),
    "places": ("机构可定位(坐标或行政区划中心)", "providers can be placed (coordinates or region centroids)"),
    "death_dates": ("有死亡日期", "death dates present"),
    "card_kind": ("医保卡区分实体卡与电子凭证", "cards say physical or e-voucher"),
}
PRECISION_ZH = {"second": "秒", "minute": "分钟", "hour": "小时", "day": "日", "month": "月", "year": "年"}
_TIME_COLUMNS = {"claims": ("start_time", "end_time"), "referrals": ("referred_at",), "claim_items": ("item_time",)}
_NEEDED: dict[str, tuple[str, ...]] = {
    "claims": ("claim_id", "claim_type", "start_time", "end_time", "doctor_id", "terminal_id"),
    "claim_items": ("claim_id", "item_time"),
    "referrals": ("referred_at",),
    "contacts": ("kind",),
    "patients": ("region", "death_date", "birth_date"),
    "cards": ("kind",),
    "institutions": ("institution_id", "region", "lat", "lon"),
    "pharmacies": ("pharmacy_id", "region", "lat", "lon"),
    "regions": ("region_code", "lat", "lon"),
}
PROFILE_VERSION = 1


class ProfileBuilder:
    """Accumulates the data profile table by table, chunk by chunk (memory: the small tables'
    region columns and counters; the fact tables only as counts).

    >>> import pandas as pd
    >>> b = ProfileBuilder()
    >>> b.add("claims", pd.DataFrame({"claim_id": ["C1", "C2"], "claim_type": ["outpatient", "pharmacy"],
    ...     "start_time": pd.to_datetime(["2024-01-01", "2024-01-02"]), "terminal_id": [None, None],
    ...     "doctor_id": ["D1", None]}))
    >>> p = b.result()
    >>> p["time"]["claims.start_time"]["precision"], p["terminals"]["share"], p["doctors"]["outpatient"]
    ('day', 0.0, 1.0)
    """

    def __init__(self) -> None:
        self.times: dict[str, list[int]] = {}
        self.rows: dict[str, int] = {}
        self.claim_types: dict[str, int] = {}
        self.doctor_by_type: dict[str, int] = {}
        self.terminals = 0
        self.item_claims = 0
        self._last_item_claim: Any = None
        self.contact_kinds: dict[str, int] = {}
        self.card_kinds: dict[str, int] = {}
        self.deaths = 0
        self.births = [0, 0, 0]  # known, not the 1st of a month, not 1 January
        self.frames: dict[str, list[pd.DataFrame]] = {}

    def _time(self, name: str, s: pd.Series) -> None:
        t = pd.to_datetime(s)
        ns = t.dropna().to_numpy("datetime64[s]").astype("int64")
        c = _counts(np.mod(ns, 86400))
        acc = self.times.setdefault(name, [0, 0, 0, 0])
        for i, v in enumerate(c):
            acc[i] += v

    def add(self, table: str, df: pd.DataFrame) -> None:
        """Account for a chunk of ``table`` (typed; absent columns are treated as empty)."""
        if table not in _NEEDED:
            return
        self.rows[table] = self.rows.get(table, 0) + len(df)
        for col in _TIME_COLUMNS.get(table, ()):
            if col in df.columns:
                self._time(f"{table}.{col}", df[col])
        if table == "claims":
            ct = df["claim_type"].astype("string") if "claim_type" in df.columns else pd.Series("?", index=df.index)
            for k, v in ct.fillna("?").value_counts().items():
                self.claim_types[str(k)] = self.claim_types.get(str(k), 0) + int(v)
            if "doctor_id" in df.columns:
                for k, v in ct[df["doctor_id"].notna().to_numpy()].fillna("?").value_counts().items():
                    self.doctor_by_type[str(k)] = self.doctor_by_type.get(str(k), 0) + int(v)
            if "terminal_id" in df.columns:
                self.terminals += int(df["terminal_id"].notna().sum())
        elif table == "claim_items" and "claim_id" in df.columns and len(df):
            ids = df["claim_id"].astype("string")
            self.item_claims += int(ids.nunique())
            if self._last_item_claim is not None and ids.iloc[0] == self._last_item_claim:
                self.item_claims -= 1  # a claim's items split across two chunks (stored in claim order)
            self._last_item_claim = ids.iloc[-1]
        elif table == "contacts" and "kind" in df.columns:
            for k, v in df["kind"].astype("string").value_counts().items():
                self.contact_kinds[str(k)] = self.contact_kinds.get(str(k), 0) + int(v)
        elif table == "cards" and "kind" in df.columns:
            for k, v in df["kind"].astype("string").value_counts().items():
                self.card_kinds[str(k)] = self.card_kinds.get(str(k), 0) + int(v)
        elif table == "patients":
            if "death_date" in df.columns:
                self.deaths += int(df["death_date"].notna().sum())
            if "birth_date" in df.columns:
                for i, v in enumerate(_birth_counts(df["birth_date"])):
                    self.births[i] += v
            if "region" in df.columns:
                codes = df["region"].astype("string").dropna().unique()
                self.frames.setdefault("patient_regions", []).append(pd.DataFrame({"region": codes}))
        if table in ("institutions", "pharmacies", "regions"):
            keep = [c for c in _NEEDED[table] if c in df.columns]
            self.frames.setdefault(table, []).append(df[keep].copy())

    def _frame(self, name: str, cols: tuple[str, ...]) -> pd.DataFrame:
        parts = self.frames.get(name) or []
        df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        for c in cols:
            if c not in df.columns:
                df[c] = pd.Series([pd.NA] * len(df), dtype="object")
        return df

    def result(self) -> dict[str, Any]:
        """The profile (a JSON-ready dict; see :func:`data_profile`)."""
        from .places import normalise_codes, region_places

        n_claims = self.rows.get("claims", 0)
        times = {name: _profile_from_counts(*acc) for name, acc in sorted(self.times.items())}
        for t, cols in _TIME_COLUMNS.items():
            for c in cols:
                times.setdefault(f"{t}.{c}", _profile_from_counts(0, 0, 0, 0))
        share = (lambda a, b: round(a / b, 6) if b else None)
        doctors = {k: share(self.doctor_by_type.get(k, 0), n) for k, n in sorted(self.claim_types.items())}
        doctors["all"] = share(sum(self.doctor_by_type.values()), n_claims)
        provs = []
        for t, key in (("institutions", "institution_id"), ("pharmacies", "pharmacy_id")):
            df = self._frame(t, _NEEDED[t]).rename(columns={key: "provider_id"})
            provs.append(df[["region", "lat", "lon"]])
        prov = pd.concat(provs, ignore_index=True)
        for c in ("lat", "lon"):
            prov[c] = pd.to_numeric(prov[c], errors="coerce").astype("float64")
        regions = self._frame("regions", _NEEDED["regions"]) if self.rows.get("regions") else None
        pat_codes = self._frame("patient_regions", ("region",))["region"]
        pat_codes = pd.Index(pd.unique(normalise_codes(pat_codes).dropna()))
        places = region_places(regions, prov, codes=pd.Series(pat_codes, dtype="string"))
        prov_codes = pd.Index(pd.unique(normalise_codes(prov["region"]).dropna()))
        placed = places[places["source"].notna()]
        unknown = places.loc[places["source"].isna(), "region"].astype(str).tolist()
        geo = int((prov["lat"].notna() & prov["lon"].notna()).sum())
        prov_places = places.set_index("region").reindex(normalise_codes(prov["region"]))
        prov_placeable = int(((prov["lat"].notna() & prov["lon"].notna()).to_numpy()
                              | prov_places["source"].notna().to_numpy()).sum())
        out: dict[str, Any] = {
            "version": PROFILE_VERSION,
            "rows": dict(sorted(self.rows.items())),
            "time": times,
            "time_precision": times["claims.start_time"]["precision"],
            "terminals": {"claims_with": self.terminals, "share": share(self.terminals, n_claims) or 0.0},
            "doctors": doctors,
            "items": {"present": self.rows.get("claim_items", 0) > 0, "rows": self.rows.get("claim_items", 0),
                      "claims_covered": self.item_claims, "coverage": share(self.item_claims, n_claims) or 0.0,
                      "item_times": times["claim_items.item_time"]["rows"]},
            "referrals": {"present": self.rows.get("referrals", 0) > 0, "rows": self.rows.get("referrals", 0)},
            "contacts": {"present": self.rows.get("contacts", 0) > 0, "rows": self.rows.get("contacts", 0),
                         "by_kind": dict(sorted(self.contact_kinds.items()))},
            "death_dates": {"present": self.deaths > 0, "patients": self.deaths},
            "birth_dates": {"present": self.births[0] > 0, "patients": self.births[0],
                            "precision": _birth_precision(*self.births)},
            "card_kind": {"present": sum(self.card_kinds.values()) > 0, "by_kind": dict(sorted(self.card_kinds.items())),
                          "share": share(sum(self.card_kinds.values()), self.rows.get("cards", 0)) or 0.0},
            "regions": {
                "table": self.rows.get("regions", 0) > 0, "table_rows": self.rows.get("regions", 0),
                "codes_used": int(len(places)), "provider_codes": int(len(prov_codes)), "patient_codes": int(len(pat_codes)),
                "placeable": int(len(placed)),
                "by_source": {k: int(v) for k, v in placed["source"].value_counts().sort_index().items()},
                "unknown": len(unknown), "unknown_examples": sorted(unknown)[:10],
                "radius_km_median": (round(float(placed["radius_km"].median()), 2) if len(placed) else None),
            },
            "coordinates": {"providers": int(len(prov)), "with_coordinates": geo, "share": share(geo, len(prov)) or 0.0,
                            "placeable": prov_placeable, "placeable_share": share(prov_placeable, len(prov)) or 0.0},
        }
        out["supports"] = supports(out)
        return out


def supports(profile: dict[str, Any]) -> dict[str, bool]:
    """Which :data:`REQUIREMENTS` the profiled data meets.

    >>> p = ProfileBuilder(); p.add("claims", pd.DataFrame({"start_time": pd.to_datetime(["2024-01-01 08:13"])}))
    >>> s = supports(p.result()); s["time:minute"], s["time:second"], s["terminals"]
    (True, False, False)
    """
    prec = profile.get("time_precision")
    out = {f"time:{u}": finer_or_equal(prec, u) for u in PRECISIONS}
    out.update({
        "terminals": profile["terminals"]["claims_with"] > 0,
        "doctors": (profile["doctors"].get("all") or 0) > 0,
        "items": profile["items"]["present"],
        "item_times": profile["items"].get("item_times", 0) > 0,
        "referrals": profile["referrals"]["present"],
        "contacts": profile["contacts"]["present"],
        "family": profile["contacts"]["by_kind"].get("family", 0) > 0,
        "places": profile["coordinates"]["placeable"] >= 2,
        "death_dates": profile["death_dates"]["present"],
        "card_kind": profile["card_kind"]["present"],
    })
    return out


def unmet(profile: dict[str, Any], needs: Any) -> list[str]:
    """The requirements in ``needs`` the data does not meet (unknown names count as unmet).

    >>> unmet({"supports": {"time:hour": False, "places": True}}, ["time:hour", "places"])
    ['time:hour']
    """
    sup = profile.get("supports") or {}
    return [n for n in needs if not sup.get(n, False)]


def unmet_reason(profile: dict[str, Any], need: str) -> tuple[str, str]:
    """Why the data does not meet ``need``, as (中文, English), in the data's own terms.

    >>> unmet_reason({"time_precision": "day"}, "time:hour")
    ('结算时间只有日期', 'times are dates only')
    >>> unmet_reason({"time_precision": "hour"}, "time:minute")
    ('结算时间只精确到小时', 'times are known only to the hour')
    """
    if need.startswith("time:"):
        p = profile.get("time_precision")
        if p is None:
            return ("没有结算时间", "no settlement times")
        if p == "day":
            return ("结算时间只有日期", "times are dates only")
        return (f"结算时间只精确到{PRECISION_ZH[p]}", f"times are known only to the {p}")
    if need == "places":
        rg = profile.get("regions", {})
        return ("机构无法定位(无坐标，行政区划代码无法识别)",
                f"providers cannot be placed (no coordinates; {rg.get('unknown', 0)} region code(s) unknown)")
    zh, en = REQUIREMENTS.get(need, (need, need))
    return (f"缺少：{zh}", f"missing: {en}")


def _batches(store: Store, table: str, columns: tuple[str, ...]):
    """``table``'s needed columns, streamed where the store can (embedded), whole otherwise."""
    from .schema import TABLES

    spec = TABLES[table].column_names
    extra = [c for c in columns if c not in spec]  # (lat/lon of providers: small tables only)
    have = store.columns(table) if extra and hasattr(store, "columns") else []
    cols = [c for c in columns if c in spec or c in have]
    if not cols:
        return
    if hasattr(store, "iter_table"):
        from .store.embedded import to_frame

        for batch in store.iter_table(table, cols):
            yield to_frame(batch)
    else:
        yield store.table(table, cols)


def data_profile(store: Store) -> dict[str, Any]:
    """What the data in ``store`` supports: time precision of every time column (and the
    shares it was decided on), terminals, doctors per claim type, items and their coverage,
    referrals, contacts by kind, death dates, card kinds, region codes (used, placeable and
    how, unknown) and provider coordinates; ``supports`` maps each requirement of
    :data:`REQUIREMENTS` to True/False. Streams the fact tables (bounded memory).

    >>> import tempfile, pandas as pd
    >>> from graphkit.store.embedded import EmbeddedStore
    >>> d = tempfile.mkdtemp()
    >>> EmbeddedStore.write(d, {"claims": pd.DataFrame({"claim_id": ["C1"], "claim_type": ["outpatient"],
    ...     "start_time": pd.to_datetime(["2024-03-05"]), "terminal_id": pd.Series([None], dtype="string")})})
    >>> p = data_profile(EmbeddedStore(d))
    >>> p["time_precision"], p["supports"]["time:hour"], p["supports"]["terminals"]
    ('day', False, False)
    """
    b = ProfileBuilder()
    for table, cols in _NEEDED.items():
        if store.has_table(table):
            for df in _batches(store, table, cols):
                b.add(table, df)
    out = b.result()
    out["fingerprint"] = getattr(store, "fingerprint", None)
    return out


class ProfileSink:
    """A :class:`loaders.validate.Sink` that profiles the validated chunks of a bundle
    (``graphkit validate``): give it as ``sink`` to ``stream_bundle``; :meth:`result`."""

    wants_hashes = False
    stops_on_issue = False

    def __init__(self) -> None:
        self.builder = ProfileBuilder()

    def begin(self, table: str, columns: list[str], source_types: Any) -> None:
        if table in self.builder.rows:  # the table is read again (another encoding)
            self.builder = _without(self.builder, table)

    def chunk(self, chunk: Any) -> None:
        self.builder.add(chunk.table, chunk.frame)

    def end(self, table: str, malformed: Any) -> None:
        pass

    def result(self) -> dict[str, Any]:
        return self.builder.result()


def _without(b: ProfileBuilder, table: str) -> ProfileBuilder:
    """A fresh builder is simplest when a table restarts: only the first encoding's partial read is lost."""
    nb = ProfileBuilder()
    for attr in ("times", "rows", "claim_types", "doctor_by_type", "contact_kinds", "card_kinds", "frames"):
        setattr(nb, attr, getattr(b, attr))
    nb.rows.pop(table, None)
    nb.frames.pop(table, None)
    for name in [k for k in nb.times if k.startswith(table + ".")]:
        nb.times.pop(name)
    if table == "claims":
        nb.claim_types, nb.doctor_by_type = {}, {}
    else:
        nb.terminals = b.terminals
    if table != "claim_items":
        nb.item_claims = b.item_claims
    if table != "patients":
        nb.deaths, nb.births = b.deaths, b.births
    else:
        nb.frames.pop("patient_regions", None)
    if table == "contacts":
        nb.contact_kinds = {}
    if table == "cards":
        nb.card_kinds = {}
    return nb


def _birth_counts(birth: Any) -> tuple[int, int, int]:
    """Known birth dates, those not on the 1st of a month, those not on 1 January."""
    d = pd.to_datetime(pd.Series(np.asarray(birth))).dropna().to_numpy("datetime64[D]")
    first = d.astype("datetime64[M]")
    return (int(d.size), int((d != first.astype("datetime64[D]")).sum()),
            int((d != first.astype("datetime64[Y]").astype("datetime64[D]")).sum()))


def _birth_precision(n: int, not_first: int, not_jan1: int) -> str | None:
    return None if not n else "day" if not_first else "month" if not_jan1 else "year"


def birth_precision(birth: Any) -> str | None:
    """How exactly birth dates are given: ``"day"``, ``"month"`` (every one the 1st of a month, as
    a pseudonymised store keeps them), ``"year"`` (every one 1 January); None without any.

    >>> birth_precision(np.array(["1980-05-01", "1991-11-01", "NaT"], "datetime64[D]"))
    'month'
    >>> birth_precision(np.array(["1980-05-17"], "datetime64[D]")), birth_precision(np.array([], "datetime64[D]"))
    ('day', None)
    """
    return _birth_precision(*_birth_counts(birth))


def latest_births(birth: np.ndarray) -> np.ndarray:
    """The latest day each of ``birth`` (datetime64[D]) allows: the last day of its month where
    every birth date is the 1st of a month (:func:`birth_precision` ``"month"``), of its year where
    every one is 1 January; ``birth`` itself (the same object) where they are exact.

    >>> latest_births(np.array(["2020-02-01", "NaT"], "datetime64[D]")).astype(str).tolist()
    ['2020-02-29', 'NaT']
    >>> b = np.array(["2020-02-05"], "datetime64[D]"); latest_births(b) is b
    True
    """
    unit = {"month": "M", "year": "Y"}.get(birth_precision(birth) or "day")
    if unit is None:
        return birth
    return (birth.astype(f"datetime64[{unit}]") + 1).astype("datetime64[D]") - 1


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def format_profile(profile: dict[str, Any]) -> str:
    """One compact block (Chinese first, English alongside) for ``validate`` / ``load``.

    >>> b = ProfileBuilder(); b.add("claims", pd.DataFrame({"start_time": pd.to_datetime(["2024-01-01"]), "terminal_id": [None]}))
    >>> print(format_profile(b.result()).splitlines()[1])
      时间精度 / time precision: 结算 claims 日 day · 出院 end — · 转诊 referrals — · 明细 items —
    """
    def prec(name: str) -> str:
        p = profile["time"].get(name, {}).get("precision")
        return "—" if p is None else f"{PRECISION_ZH[p]} {p}"

    t, d, it, rg, co = profile["terminals"], profile["doctors"], profile["items"], profile["regions"], profile["coordinates"]
    lines = ["数据概况 / data profile:"]
    lines.append(f"  时间精度 / time precision: 结算 claims {prec('claims.start_time')} · 出院 end {prec('claims.end_time')}"
                 f" · 转诊 referrals {prec('referrals.referred_at')} · 明细 items {prec('claim_items.item_time')}")
    st = profile["time"].get("claims.start_time", {})
    if st.get("precision") not in (None, "day") and (st.get("midnight_share") or 0) >= _MIDNIGHT_DATE_ONLY:
        lines.append(f"    其中 {_pct(st['midnight_share'])} 在零点(按日计) / {_pct(st['midnight_share'])} at midnight (treated as dates only)")
    term = "无 none" if not t["claims_with"] else f"{_pct(t['share'])} 的结算 of claims"
    zh = {"outpatient": "门诊", "inpatient": "住院", "pharmacy": "药店"}
    docs = " · ".join(f"{zh.get(k, '')}{k} {_pct(v)}" for k, v in d.items() if k != "all") or "—"
    lines.append(f"  终端 / terminals: {term};  医师 / doctors: {docs}")
    items = "无 none" if not it["present"] else f"{it['rows']:,} 行 rows, 覆盖 covers {_pct(it['coverage'])} of claims"
    lines.append(f"  明细 / items: {items};  转诊 / referrals: {profile['referrals']['rows']:,};  关联 / contacts: "
                 + (", ".join(f"{k} {v:,}" for k, v in profile["contacts"]["by_kind"].items()) or "无 none"))
    cards = ", ".join(f"{k} {v:,}" for k, v in profile["card_kind"]["by_kind"].items()) or "未区分 not given"
    bp = (profile.get("birth_dates") or {}).get("precision")
    births = "—" if bp is None else f"{PRECISION_ZH.get(bp, bp)} {bp}"
    lines.append(f"  死亡日期 / death dates: {profile['death_dates']['patients']:,} 人 persons;  出生日期 / birth dates: {births};"
                 f"  卡类型 / card kind: {cards}")
    src = ", ".join(f"{k} {v}" for k, v in rg["by_source"].items()) or "—"
    unk = f"{rg['unknown']}" + (f" ({', '.join(rg['unknown_examples'][:5])}{' …' if rg['unknown'] > 5 else ''})" if rg["unknown"] else "")
    lines.append(f"  行政区划 / region codes: 使用 used {rg['codes_used']} (机构 providers {rg['provider_codes']}, 参保人 patients "
                 f"{rg['patient_codes']}); 可定位 placeable {rg['placeable']} [{src}]; 未知 unknown {unk}")
    lines.append(f"  坐标 / coordinates: 机构药店 providers {co['with_coordinates']:,}/{co['providers']:,} 有坐标 with lat/lon"
                 f" ({_pct(co['share'])}); 可定位 placeable {_pct(co['placeable_share'])}")
    return "\n".join(lines)
