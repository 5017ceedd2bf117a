"""The ``local`` path for emerging-region cut-outs (S4): Postel/CEA maps as FITS, t0 in a table.

Reads the layout of :mod:`flarepipe.core.emergence` (docs/SOURCES.md, "emerging
regions"), e.g. SDO/HEAR cut-outs, into an :class:`~flarepipe.core.emergence.EmergenceSet`
that the study samples exactly as the synthetic one. Every map's lead time is ``t0 − t_obs``; it
must match one of the configured lead times within ``tolerance_h``. Every problem is a
``ValueError`` naming the file and row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from flarepipe.core.emergence import KINDS, MAP_COLUMNS, REGION_COLUMNS, EmergenceSet
from flarepipe.io.fitsio import read_patch

__all__ = ["read_emergence_local"]


def _table(path: Path, columns) -> pd.DataFrame:
    if not path.is_file():
        raise ValueError(f"{path}: missing (the emergence layout needs it; docs/SOURCES.md)")
    df = pd.read_csv(path, dtype={"region": str, "pair": str})
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; need {list(columns)}")
    return df


def _times(path: Path, df: pd.DataFrame, col: str) -> pd.Series:
    t = pd.to_datetime(df[col], errors="coerce", utc=True)
    bad = df.loc[t.isna(), col]
    if len(bad):
        raise ValueError(f"{path}: row {bad.index[0] + 2}: {col} {bad.iloc[0]!r} is not a time")
    return t.dt.tz_localize(None)


def read_emergence_local(
    root: str | Path, lead_times_h, tolerance_h: float = 0.1, only: float | None = None
) -> EmergenceSet:
    """Read emerging/control maps under ``root`` at the lead times ``lead_times_h`` (hours).

    ``only``: read the maps of this one lead time (the others are still matched and checked
    against the table, but their FITS files are not opened).

    Raises
    ------
    ValueError
        For a missing file or column, a bad kind, time or pair, a map whose lead time matches no
        configured one, a region without a map at some lead time, two maps at one lead time, or a
        map that is not square, not finite, or of another shape or pixel size than the first.
    """
    root = Path(root)
    leads = np.array(sorted(float(x) for x in lead_times_h))
    rp, mp = root / "regions.csv", root / "maps.csv"
    regions, maps_t = _table(rp, REGION_COLUMNS), _table(mp, MAP_COLUMNS)
    bad = regions.loc[~regions["kind"].isin(KINDS)]
    if len(bad):
        raise ValueError(
            f"{rp}: row {bad.index[0] + 2}: kind must be one of {list(KINDS)}, got "
            f"{bad['kind'].iloc[0]!r}"
        )
    if regions["region"].duplicated().any():
        raise ValueError(
            f"{rp}: region {regions.loc[regions['region'].duplicated(), 'region'].iloc[0]!r} twice"
        )
    regions["t0"] = _times(rp, regions, "t0")
    emerging = set(regions.loc[regions["kind"] == "emerging", "region"])
    bad = regions.loc[~regions["pair"].isin(emerging)]
    if len(bad):
        raise ValueError(
            f"{rp}: row {bad.index[0] + 2}: pair {bad['pair'].iloc[0]!r} is no emerging region"
        )
    maps_t["t_obs"] = _times(mp, maps_t, "t_obs")
    t0 = dict(zip(regions["region"], regions["t0"], strict=True))
    maps, shape, cdelt = {}, None, None
    for row in maps_t.itertuples():
        where = f"{mp}: row {row.Index + 2} ({row.file})"
        if row.region not in t0:
            raise ValueError(f"{where}: region {row.region!r} is not in {rp.name}")
        lead = (t0[row.region] - row.t_obs) / pd.Timedelta(hours=1)
        k = int(np.argmin(np.abs(leads - lead)))
        if abs(leads[k] - lead) > tolerance_h:
            raise ValueError(
                f"{where}: t0 − t_obs = {lead:.2f} h matches no lead time of {leads.tolist()} "
                f"(within {tolerance_h} h)"
            )
        key = (row.region, float(leads[k]))
        if key in maps:
            raise ValueError(f"{where}: a second map of {row.region} at −{leads[k]} h")
        if only is not None and not np.isclose(leads[k], only):
            maps[key] = None
            continue
        data, header = read_patch(root / row.file)
        cd = (float(header.get("CDELT1", np.nan)), float(header.get("CDELT2", np.nan)))
        if data.shape[0] != data.shape[1] or not np.isfinite(data).all():
            raise ValueError(f"{where}: the map must be square and finite, got {data.shape}")
        if not np.isfinite(cd).all() or abs(cd[0]) != abs(cd[1]):
            raise ValueError(
                f"{where}: CDELT1/CDELT2 must be equal pixel sizes in degrees, got {cd}"
            )
        if shape is None:
            shape, cdelt = data.shape, abs(cd[0])
        elif data.shape != shape or not np.isclose(abs(cd[0]), cdelt, rtol=1e-6):
            raise ValueError(
                f"{where}: shape {data.shape}, CDELT {abs(cd[0])} differ from the first map's "
                f"{shape}, {cdelt}"
            )
        maps[key] = data.astype(np.float32)
    missing = [
        (r, lead) for r in regions["region"] for lead in leads if (r, float(lead)) not in maps
    ]
    if missing:
        raise ValueError(
            f"{mp}: no map of {missing[0][0]} at −{missing[0][1]} h "
            f"({len(missing)} region/lead pairs missing)"
        )
    maps = {k: v for k, v in maps.items() if v is not None}
    if cdelt is None:
        raise ValueError(f"{mp}: no map at −{only} h")
    regions["cdelt_deg"] = cdelt
    sp = root / "truth" / "signature.csv"
    signature = (
        pd.read_csv(sp, dtype={"region": str})
        if sp.is_file()
        else pd.DataFrame(columns=["region", "lead_h", "signature_flux_mx"])
    )
    return EmergenceSet(regions, maps, signature)
