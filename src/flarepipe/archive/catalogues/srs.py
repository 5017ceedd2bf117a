"""NOAA Solar Region Summaries (SRS): active regions, their Mt. Wilson classes and positions.

Two inputs, one table out (:data:`SRS_COLUMNS`):

* the raw daily SRS text reports as SWPC issues them (``YYYYMMDDSRS.txt``), read with sunpy's
  :func:`sunpy.io.special.srs.read_srs`; only part I (regions with sunspots) carries a class, the
  plage (IA) and return (II) parts are not regions with a class and are skipped, counted;
* a CSV of region-days in the layout of ``srs/srs_regions_1996_2018.csv`` (``ar_noaanum``,
  ``LOCATION`` as ``N11W06``, ``AREA``, ``Longitude_extent``, ``MAGTYPE``, ``date``).

Every row gets the canonical Mt. Wilson class (:func:`parse_mag_type`): the base class
(``alpha``, ``beta``, ``beta-gamma``, ``gamma``) and a ``delta`` flag, so a study may treat delta as
a flag or as a class of its own (:func:`class_label`). Rows whose class string, position or number
cannot be read are returned as rejected rows (``source, line, reason, raw``), never dropped
silently and never an exception.

Positions are Stonyhurst heliographic (latitude north positive, longitude west of the central
meridian positive) at the report's validity time: 24:00 UT of the day before the issue date.
:func:`region_boxes` turns them into pixel boxes on any full-disk frame through the frame's own
WCS (sunpy Map), with the regions rotated differentially from the validity time to the frame's
observation time; a region behind the limb or outside the image is rejected with that reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from flarepipe.archive.layout import REJECT_COLUMNS

__all__ = [
    "BASE_CLASSES",
    "SRS_COLUMNS",
    "SrsResult",
    "class_frequencies",
    "class_label",
    "parse_location",
    "parse_mag_type",
    "read_srs",
    "read_srs_csv",
    "read_srs_text",
    "region_boxes",
]

#: Mt. Wilson base classes, simplest first; delta is a flag on top of them.
BASE_CLASSES = ("alpha", "beta", "beta-gamma", "gamma")

#: Columns of the region table every reader returns.
SRS_COLUMNS = (
    "date",  # validity time of the positions (naive UTC)
    "noaa_ar",
    "latitude_deg",
    "longitude_deg",
    "carrington_longitude_deg",
    "area_ush",  # millionths of the solar hemisphere
    "longitudinal_extent_deg",
    "mcintosh",
    "mag_type",  # the report's string, as written
    "mw_class",  # canonical base class
    "delta",
)

_LOCATION = re.compile(r"^\s*([NS])(\d{1,2})([EW])(\d{1,3})\s*$", re.IGNORECASE)
_GREEK = {"a": "alpha", "b": "beta", "g": "gamma", "d": "delta"}


@dataclass
class SrsResult:
    """Regions read from SRS sources, and the rows that could not be read."""

    regions: pd.DataFrame
    rejected: pd.DataFrame
    skipped: dict[str, int]


def parse_mag_type(value: object) -> tuple[str, bool]:
    """Canonical Mt. Wilson class of an SRS ``Mag Type`` string.

    Accepts the forms the reports use (``BETA-GAMMA-DELTA``, ``Beta-Gamma``, ``ALPHA``) and Greek
    shorthand (``BGD``, ``bg``). Returns ``(base_class, delta)``; ``ValueError`` names the string
    when it is not a Mt. Wilson class (``BETA-DELTA`` is ``("beta", True)``; a delta alone is not
    a class).
    """
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    text = text.strip().lower().replace("_", "-").replace(" ", "-")
    if not text:
        raise ValueError("empty magnetic class")
    if "-" in text or text in ("alpha", "beta", "gamma", "delta"):
        parts = [p for p in text.split("-") if p]
    elif set(text) <= set(_GREEK):
        parts = [_GREEK[c] for c in text]
    else:
        raise ValueError(f"unknown magnetic class {str(value)!r}")
    if any(p not in ("alpha", "beta", "gamma", "delta") for p in parts):
        raise ValueError(f"unknown magnetic class {str(value)!r}")
    delta = "delta" in parts
    base = "-".join(p for p in parts if p != "delta")
    if base not in BASE_CLASSES or len(set(parts)) != len(parts):
        raise ValueError(f"unknown magnetic class {str(value)!r}")
    if base == "alpha" and delta:
        raise ValueError(f"unknown magnetic class {str(value)!r} (a unipolar region has no delta)")
    return base, delta


def class_label(mw_class: str, delta: bool, *, delta_as_class: bool = False) -> str:
    """The class a classifier is trained on: the base class, or ``delta`` for every delta region
    when ``delta_as_class`` (the delta flag otherwise stays a separate column).
    """
    if mw_class not in BASE_CLASSES:
        raise ValueError(f"unknown Mt. Wilson class {mw_class!r}; known: {', '.join(BASE_CLASSES)}")
    return "delta" if delta_as_class and delta else mw_class


def parse_location(value: object) -> tuple[float, float]:
    """Stonyhurst ``(latitude, longitude)`` in degrees of an SRS location such as ``N11W06``
    (north and west positive). ``ValueError`` names the string when it is not one.
    """
    match = _LOCATION.match("" if value is None else str(value))
    if not match:
        raise ValueError(f"unreadable location {str(value)!r} (expected e.g. N11W06)")
    ns, lat, ew, lon = match.groups()
    lat_deg = float(lat) * (1 if ns.upper() == "N" else -1)
    lon_deg = float(lon) * (1 if ew.upper() == "W" else -1)
    if abs(lat_deg) > 90 or abs(lon_deg) > 180:
        raise ValueError(f"location {str(value)!r} is outside the heliographic range")
    return lat_deg, lon_deg


def _reject(source: str, line: object, reason: str, raw: object) -> dict:
    return {"source": source, "line": line, "reason": reason, "raw": str(raw)}


def _region_row(*, date, number, lat, lon, carrington, area, extent, mcintosh, mag_type) -> dict:
    base, delta = parse_mag_type(mag_type)
    try:
        noaa = int(number)
    except (TypeError, ValueError):
        raise ValueError(f"unreadable region number {number!r}") from None
    if noaa <= 0:
        raise ValueError(f"unreadable region number {number!r}")
    return {
        "date": pd.Timestamp(date),
        "noaa_ar": noaa,
        "latitude_deg": float(lat),
        "longitude_deg": float(lon),
        "carrington_longitude_deg": _float_or_nan(carrington),
        "area_ush": _float_or_nan(area),
        "longitudinal_extent_deg": _float_or_nan(extent),
        "mcintosh": "" if mcintosh is None or pd.isna(mcintosh) else str(mcintosh).strip(),
        "mag_type": str(mag_type).strip(),
        "mw_class": base,
        "delta": delta,
    }


def _float_or_nan(value: object) -> float:
    try:
        out = float(getattr(value, "value", value))
    except (TypeError, ValueError):
        return float("nan")
    return out if np.isfinite(out) else float("nan")


def _frame(rows: list[dict] | pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=list(SRS_COLUMNS))
    out["noaa_ar"] = out["noaa_ar"].astype("Int64")
    out["delta"] = out["delta"].astype(bool)
    return out.sort_values(["date", "noaa_ar"], kind="stable").reset_index(drop=True)


def read_srs_text(path: str | Path) -> SrsResult:
    """One raw SWPC SRS report (text format), through sunpy's reader.

    The positions are valid at 24:00 UT of the day before the issue date (the report's "LOCATIONS
    VALID AT dd/2400Z"); that instant is the rows' ``date``.
    """
    from sunpy.io.special.srs import read_srs as sunpy_read_srs

    path = Path(path)
    source = str(path)
    try:
        table = sunpy_read_srs(str(path))
    except Exception as exc:  # sunpy raises several types for a malformed report
        return SrsResult(
            _frame([]),
            pd.DataFrame([_reject(source, 0, f"unreadable SRS report: {exc}", "")]),
            {},
        )
    issued = pd.Timestamp(table.meta["issued"]).normalize()
    rows, rejected, skipped = [], [], {}
    for i, row in enumerate(table):
        part = str(row["ID"])
        if part != "I":
            skipped[f"part {part}"] = skipped.get(f"part {part}", 0) + 1
            continue
        raw = " ".join(str(row[c]) for c in table.colnames)
        try:
            rows.append(
                _region_row(
                    date=issued,
                    number=row["Number"],
                    lat=_float_or_nan(row["Latitude"]),
                    lon=_float_or_nan(row["Longitude"]),
                    carrington=row["Carrington Longitude"],
                    area=row["Area"],
                    extent=row["Longitudinal Extent"],
                    mcintosh=row["Z"],
                    mag_type=row["Mag Type"],
                )
            )
            if not (
                np.isfinite(rows[-1]["latitude_deg"]) and np.isfinite(rows[-1]["longitude_deg"])
            ):
                rows.pop()
                raise ValueError("no position")
        except ValueError as exc:
            rejected.append(_reject(source, i, str(exc), raw))
    return SrsResult(_frame(rows), pd.DataFrame(rejected, columns=list(REJECT_COLUMNS)), skipped)


#: CSV column -> reader field (the layout of the region-day CSV in the real-data folder).
CSV_COLUMNS = {
    "number": "ar_noaanum",
    "location": "LOCATION",
    "carrington": "Carrington_long",
    "area": "AREA",
    "mcintosh": "Z",
    "extent": "Longitude_extent",
    "mag_type": "MAGTYPE",
    "date": "date",
}


def read_srs_csv(path: str | Path) -> SrsResult:
    """A CSV of SRS region-days (columns of :data:`CSV_COLUMNS`).

    ``date`` is the report's issue time (e.g. ``1996-01-02 00:30``); the rows' ``date`` is the
    positions' validity time, 24:00 UT before it, as for the text reports.
    """
    path = Path(path)
    source = str(path)
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    table = table.reset_index(drop=True)  # a leading unnamed index column becomes the index
    missing = [c for c in CSV_COLUMNS.values() if c not in table.columns]
    if missing:
        raise ValueError(
            f"{path}: SRS table lacks column(s) {', '.join(missing)} "
            f"(expected {', '.join(CSV_COLUMNS.values())})"
        )
    col = {key: table[name].str.strip() for key, name in CSV_COLUMNS.items()}
    reason = pd.Series("", index=table.index, dtype=object)

    def fail(mask: pd.Series, text: pd.Series | str) -> None:
        first = mask & (reason == "")
        reason[first] = text if isinstance(text, str) else text[first]

    loc = col["location"].str.upper().str.extract(r"^([NS])(\d{1,2})([EW])(\d{1,3})$")
    lat = pd.to_numeric(loc[1], errors="coerce") * np.where(loc[0] == "S", -1, 1)
    lon = pd.to_numeric(loc[3], errors="coerce") * np.where(loc[2] == "E", -1, 1)
    bad_loc = lat.isna() | lon.isna() | (lat.abs() > 90) | (lon.abs() > 180)
    fail(bad_loc, "unreadable location " + col["location"].map(repr) + " (expected e.g. N11W06)")
    number = pd.to_numeric(col["number"], errors="coerce")
    fail(~(number > 0) | (number % 1 != 0), "unreadable region number " + col["number"].map(repr))
    issued = pd.to_datetime(col["date"], errors="coerce", format="mixed")
    fail(issued.isna(), "unreadable date " + col["date"].map(repr))
    classes = {}
    for text in col["mag_type"].unique():
        try:
            classes[text] = parse_mag_type(text)
        except ValueError as exc:
            classes[text] = str(exc)
    parsed = col["mag_type"].map(classes)
    fail(parsed.map(lambda v: isinstance(v, str)), parsed.astype(str))
    ok = reason == ""
    good = parsed[ok]
    regions = pd.DataFrame(
        {
            "date": issued[ok].dt.normalize().astype("datetime64[ns]"),
            "noaa_ar": number[ok].astype("int64"),
            "latitude_deg": lat[ok].astype(float),
            "longitude_deg": lon[ok].astype(float),
            "carrington_longitude_deg": pd.to_numeric(col["carrington"][ok], errors="coerce"),
            "area_ush": pd.to_numeric(col["area"][ok], errors="coerce"),
            "longitudinal_extent_deg": pd.to_numeric(col["extent"][ok], errors="coerce"),
            "mcintosh": col["mcintosh"][ok],
            "mag_type": col["mag_type"][ok],
            "mw_class": good.map(lambda v: v[0]),
            "delta": good.map(lambda v: v[1]).astype(bool),
        }
    )
    raw = [",".join(map(str, rec)) for rec in table[~ok].itertuples(index=False)]
    rejected = pd.DataFrame(
        {"source": source, "line": np.flatnonzero(~ok) + 2, "reason": reason[~ok], "raw": raw}
    )  # line 1 is the header
    return SrsResult(_frame(regions), rejected.reset_index(drop=True), {})


def read_srs(paths: str | Path | Iterable[str | Path]) -> SrsResult:
    """Regions from any mix of raw SRS reports (``*.txt``) and region-day CSVs, or folders of them;
    one table, rejected rows and skip counts concatenated.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(q for q in p.iterdir() if q.suffix.lower() in (".txt", ".csv"))
        elif p.exists():
            files.append(p)
        else:
            raise FileNotFoundError(f"SRS source {p} does not exist")
    parts = [read_srs_csv(f) if f.suffix.lower() == ".csv" else read_srs_text(f) for f in files]
    skipped: dict[str, int] = {}
    for part in parts:
        for key, n in part.skipped.items():
            skipped[key] = skipped.get(key, 0) + n
    regions = [p.regions for p in parts if len(p.regions)]
    rejected = [p.rejected for p in parts if len(p.rejected)]
    return SrsResult(
        _frame([]) if not regions else _frame(pd.concat(regions, ignore_index=True)),
        pd.concat(rejected, ignore_index=True)
        if rejected
        else pd.DataFrame(columns=list(REJECT_COLUMNS)),
        skipped,
    )


def class_frequencies(regions: pd.DataFrame, *, delta_as_class: bool = False) -> pd.Series:
    """Fraction of region-days per class (:func:`class_label`), in class order."""
    labels = [
        class_label(c, d, delta_as_class=delta_as_class)
        for c, d in zip(regions["mw_class"], regions["delta"], strict=True)
    ]
    order = list(BASE_CLASSES) + (["delta"] if delta_as_class else [])
    counts = pd.Series(labels, dtype=object).value_counts()
    return (counts.reindex(order, fill_value=0) / max(len(labels), 1)).rename("fraction")


def _half_widths_deg(
    area_ush: float, extent_deg: float, min_half_deg: float
) -> tuple[float, float]:
    """Heliographic half-widths (longitude, latitude) of a region's box: the radius of a disc of
    the region's area (``area`` millionths of a hemisphere = pi r^2 / (2 pi R^2)), widened in
    longitude to half the reported longitudinal extent.
    """
    r = 0.0
    if np.isfinite(area_ush) and area_ush > 0:
        r = float(np.degrees(np.sqrt(2e-6 * area_ush)))
    half_lon = max(r, extent_deg / 2 if np.isfinite(extent_deg) else 0.0, min_half_deg)
    return half_lon, max(r, min_half_deg)


def region_boxes(
    regions: pd.DataFrame, smap, *, min_half_deg: float = 2.0, rotate: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pixel boxes of SRS regions on a full-disk frame, through the frame's WCS.

    ``smap`` is a :class:`sunpy.map.GenericMap` (its header's WCS, observer and date are used).
    Each region is rotated differentially from its validity time to the frame's time when
    ``rotate`` (sunpy's :class:`~sunpy.coordinates.RotatedSunFrame`), then the corners of its
    heliographic box are projected; the box is their pixel bounding box, and ``x``/``y`` the
    projected centre (0-based pixel coordinates, as numpy indexes ``data[y, x]``).

    Returns ``(boxes, rejected)``: a region whose centre is behind the limb or outside the image is
    rejected with that reason, never silently dropped.
    """
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from sunpy.coordinates import HeliographicStonyhurst, RotatedSunFrame

    ny, nx = smap.data.shape
    rows, rejected = [], []
    for rec in regions.to_dict("records"):
        half_lon, half_lat = _half_widths_deg(
            rec["area_ush"], rec["longitudinal_extent_deg"], min_half_deg
        )
        lons = rec["longitude_deg"] + np.array([0.0, -half_lon, half_lon, -half_lon, half_lon])
        lats = rec["latitude_deg"] + np.array([0.0, -half_lat, -half_lat, half_lat, half_lat])
        lats = np.clip(lats, -90, 90)
        base = HeliographicStonyhurst(obstime=rec["date"])
        if rotate:
            coords = SkyCoord(
                RotatedSunFrame(
                    lon=lons * u.deg, lat=lats * u.deg, base=base, rotated_time=smap.date
                )
            )
        else:
            coords = SkyCoord(lons * u.deg, lats * u.deg, frame=base)
        coords = coords.transform_to(smap.coordinate_frame)
        # Behind the limb: the point is farther from the observer than the tangent plane.
        hgs = coords.transform_to(HeliographicStonyhurst(obstime=smap.date))
        observer = smap.observer_coordinate
        mu = _mu(hgs.lon, hgs.lat, observer.lon, observer.lat)
        x, y = smap.world_to_pixel(coords)
        x, y = np.asarray(x.value), np.asarray(y.value)
        tag = f"NOAA {rec['noaa_ar']} on {rec['date']:%Y-%m-%d}"
        if not np.isfinite(mu[0]) or mu[0] <= 0:
            rejected.append(_reject("srs", tag, "behind the limb at the frame's time", rec))
            continue
        if not (0 <= x[0] < nx and 0 <= y[0] < ny):
            rejected.append(_reject("srs", tag, "outside the image", rec))
            continue
        visible = np.isfinite(x) & np.isfinite(y) & (mu > 0)
        xs, ys = x[visible], y[visible]
        rows.append(
            {
                **rec,
                "x": float(x[0]),
                "y": float(y[0]),
                "x0": float(max(xs.min(), 0)),
                "y0": float(max(ys.min(), 0)),
                "x1": float(min(xs.max(), nx - 1)),
                "y1": float(min(ys.max(), ny - 1)),
                "mu": float(mu[0]),
            }
        )
    columns = [*SRS_COLUMNS, "x", "y", "x0", "y0", "x1", "y1", "mu"]
    return (
        pd.DataFrame(rows, columns=columns),
        pd.DataFrame(rejected, columns=list(REJECT_COLUMNS)),
    )


def _mu(lon, lat, obs_lon, obs_lat) -> np.ndarray:
    """Cosine of the heliocentric angle between a surface point and the sub-observer point."""
    lon, lat = (
        np.radians(np.asarray(lon.to_value("deg"))),
        np.radians(np.asarray(lat.to_value("deg"))),
    )
    olon, olat = np.radians(obs_lon.to_value("deg")), np.radians(obs_lat.to_value("deg"))
    return np.sin(lat) * np.sin(olat) + np.cos(lat) * np.cos(olat) * np.cos(lon - olon)
