"""A figure of one archive region: a patch, its keywords, planted rates and flares."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from flarepipe.archive.layout import read_flares, read_records
from flarepipe.core.keywords import KEYWORDS
from flarepipe.core.noaa import parse_noaa_ars
from flarepipe.io.atomic import atomic_path
from flarepipe.io.fitsio import read_patch

__all__ = ["region_figure"]


def region_figure(records_csv, flares_csv, rates_csv, out_png, region_id: str | None = None) -> str:
    """A figure of one patch and its region's flares, keywords and planted rates (README, report).

    Reads ``records.csv`` (the patch file is its ``path``, relative to the file's folder),
    ``flares.csv`` and the synthetic archive's ``truth/rates.csv``; returns the region shown
    (by default the HMI region with most >= C1 flares).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rec = read_records(records_csv)
    flares = read_flares(flares_csv)
    rates = pd.read_csv(rates_csv)
    if region_id is None:  # the HMI region with most ≥C flares
        fl = flares[flares["peak_flux_wm2"] >= 1e-6].dropna(subset=["noaa_ar"])
        counts = {}
        for rid, noaa in rec.groupby("region_id")["noaa_ars"].first().items():
            nums = parse_noaa_ars(noaa)
            counts[rid] = int(fl["noaa_ar"].isin(nums).sum()) if nums else 0
        hmi = {k: v for k, v in counts.items() if k.startswith("HARP")} or counts
        region_id = max(hmi, key=hmi.get)
    r = rec[rec["region_id"] == region_id]
    nums = parse_noaa_ars(r["noaa_ars"].iloc[0])
    fl = flares[flares["noaa_ar"].isin(nums)]
    mid = r.iloc[len(r) // 2]
    img, hdr = read_patch(Path(records_csv).parent / mid["path"])
    rr = rates[rates["region_id"] == region_id]
    fig = plt.figure(figsize=(11, 6.5))
    import matplotlib.dates as mdates

    ax0 = fig.add_axes([0.05, 0.42, 0.36, 0.52])
    vmax = float(np.nanpercentile(np.abs(img), 99.5))
    im = ax0.imshow(img, origin="lower", cmap="gray", vmin=-vmax, vmax=vmax)
    fig.colorbar(im, cax=fig.add_axes([0.42, 0.45, 0.012, 0.45]), label="B_LOS/μ (G)")
    ax0.set_title(
        f"{mid['path'].split('/')[-1]}\nNOAA {mid['noaa_ars']}, LON_FWT {mid['lon_fwt']:.1f}°",
        fontsize=8,
    )
    ax0.set_xlabel("x (CEA px, 0.03°)")
    ax1 = fig.add_axes([0.55, 0.72, 0.42, 0.22])
    t = pd.to_datetime(r["t_rec"])
    ax1.plot(t, r["usfluxl_mx"], "k-", label="USFLUXL (Mx)")
    ax1.set_ylabel("USFLUXL (Mx)")
    ax1b = ax1.twinx()
    ax1b.plot(t, r["r_value"], "C1-", lw=1)
    ax1b.set_ylabel("R_VALUE", color="C1")
    ax1.axvline(pd.Timestamp(mid["t_rec"]), color="C2", ls=":")
    ax2 = fig.add_axes([0.55, 0.42, 0.42, 0.22], sharex=ax1)
    ax2.semilogy(
        pd.to_datetime(rr["t_utc"]), rr["rate_m_per_day"], "C3-", label="planted ≥M1 rate / day"
    )
    ax2.semilogy(
        pd.to_datetime(rr["t_utc"]), rr["rate_c_per_day"], "C0-", label="planted ≥C1 rate / day"
    )
    ax2.legend(fontsize=7, loc="upper left")
    ax3 = fig.add_axes([0.55, 0.08, 0.42, 0.26], sharex=ax1)
    ax3.vlines(pd.to_datetime(fl["peak_utc"]), 1e-7, fl["peak_flux_wm2"], color="C3")
    ax3.set_yscale("log")
    ax3.set_ylim(1e-7, 1e-3)
    ax3.set_ylabel("GOES peak flux (W/m²)")
    for y, c in ((1e-6, "C"), (1e-5, "M"), (1e-4, "X")):
        ax3.axhline(y, color="0.8", lw=0.5)
        ax3.text(ax3.get_xlim()[0], y * 1.2, c, fontsize=7)
    ax3.set_title(f"{len(fl)} flares of NOAA {','.join(map(str, nums))}", fontsize=8)
    axk = fig.add_axes([0.05, 0.08, 0.42, 0.25])
    axk.axis("off")
    info = json.loads(
        json.dumps(
            {
                k: hdr.get(k)
                for k in ("T_REC", "HARPNUM", "QUALITY", *(kw.fits_card for kw in KEYWORDS))
            },
            default=str,
        )
    )
    axk.text(
        0,
        1,
        "\n".join(f"{k:8s} = {v}" for k, v in info.items()),
        family="monospace",
        fontsize=8,
        va="top",
    )
    locator = mdates.AutoDateLocator(maxticks=6)
    for ax in (ax1, ax2, ax3):
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        for lab in ax.get_xticklabels():
            lab.set_fontsize(7)
    with atomic_path(out_png, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return region_id
