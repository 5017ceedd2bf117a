"""Calibrate the synthetic archive: its planted signals (no images), or its images' realism.

Planted signals: simulates the latent region process, builds strong-vs-quiet samples (SCIENCE.md S1
rules) and prints the test TSS of the oracle and of logistic regressions that see: size only (what
a keyword-only model on the last record sees), size + emergence (an LSTM's view), size + morphology
(a CNN's view).
Usage: python benchmarks/calibrate_synthetic.py [n_regions] [days] [key=value ...]

Images: renders records in memory (``render_sample``) at a scale's settings over several seeds and
prints the spread of the realism distances (keywords against the real tables, pixel statistics
against the real records) that issue 18 sets targets for.
Usage: python benchmarks/calibrate_synthetic.py images [scale=small] [records=200] [seeds=0,1,2]
       [n_regions=300] [days=150] [HMI.<field>=v] [MDI.<field>=v]
       (real references: FLAREPIPE_REAL_DATA or ../shared/data/real; ``MDI.flux_scale=1.3`` and the
       like try other ``InstrumentSpec`` constants without editing params.py)
"""

import sys

import numpy as np
from sklearn.linear_model import LogisticRegression

from flarepipe.archive.sources.synthetic import HMI, MDI, SyntheticParams, simulate_region
from flarepipe.archive.sources.synthetic import plan_regions as _plan


def samples_for(params, inst, reg):
    step = inst.native_step_min / 1440.0
    every = 96 // inst.native_step_min
    t = reg["t"]
    n = len(t)
    fl = np.array([(f[0], f[3]) for f in reg["flares"]]).reshape(-1, 2)
    cum_all = np.concatenate([[0], np.cumsum(reg["rate_all"] * step)])
    cum_m = np.concatenate([[0], np.cumsum(reg["rate_m"] * step)])
    spd = int(round(1.0 / step))
    out = []
    for k in range(spd, n - spd, every):
        t_end = t[k]
        obs = fl[(fl[:, 0] > t_end - 1) & (fl[:, 0] <= t_end)]
        pred = fl[(fl[:, 0] > t_end) & (fl[:, 0] <= t_end + 1)]
        strong = (pred[:, 1] >= 1e-5).any()
        quiet = len(obs) == 0 and len(pred) == 0
        if not (strong or quiet):
            continue
        lam_m = cum_m[k + 1 + spd] - cum_m[k + 1]
        lam_all_p = cum_all[k + 1 + spd] - cum_all[k + 1]
        lam_all_o = cum_all[k + 1] - cum_all[k + 1 - spd]
        pm = 1 - np.exp(-lam_m)
        q = pm / (pm + np.exp(-lam_all_o - lam_all_p))
        mu = max(reg["mu"][k], 0.05)
        out.append(
            (
                int(strong),
                q,
                np.log10(reg["phi"][k]),
                mu,
                reg["emergence"][k],
                reg["phi"][k] / max(reg["phi"][k - spd], 1e19),
                float(reg["rotated"]),
                float(reg["delta"]),
                reg["index"],
                abs(reg["cmd"][k]) <= 70,
            )
        )
    return out


def tss(y, pred):
    tp = ((pred == 1) & (y == 1)).sum()
    fn = ((pred == 0) & (y == 1)).sum()
    fp = ((pred == 1) & (y == 0)).sum()
    tn = ((pred == 0) & (y == 0)).sum()
    return tp / max(tp + fn, 1) - fp / max(fp + tn, 1)


def images(argv):
    """The realism distances of rendered records over seeds (min and max per statistic)."""
    import dataclasses
    import os
    from pathlib import Path

    import pandas as pd

    from flarepipe.archive.realism import (
        keyword_distances,
        load_references,
        map_statistics,
        pixel_distances,
    )
    from flarepipe.archive.sources.synthetic import params as spec
    from flarepipe.archive.sources.synthetic import render_sample

    opts = {"scale": "small", "records": "200", "seeds": "0,1,2", "n_regions": "300", "days": "150"}
    opts.update(a.split("=", 1) for a in argv)
    for key in [k for k in opts if k.startswith(("HMI.", "MDI."))]:
        inst, field = key.split(".", 1)
        value = float(opts.pop(key))
        spec.INSTRUMENTS[inst] = dataclasses.replace(spec.INSTRUMENTS[inst], **{field: value})
        print(f"{inst}.{field} = {value}")
    real = os.environ.get(
        "FLAREPIPE_REAL_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data" / "real")
    )
    refs = load_references(real)
    kws, pxs = [], []
    for seed in (int(s) for s in opts["seeds"].split(",")):
        params = SyntheticParams(
            scale=opts["scale"],
            seed=20220101 + seed,
            n_regions=int(opts["n_regions"]),
            days=float(opts["days"]),
        )
        for inst in ("HMI", "MDI"):
            rec, maps = render_sample(params, inst, int(opts["records"]), seed=seed)
            kws.append(keyword_distances(rec, refs.keywords).assign(seed=seed))
            pxs.append(pixel_distances(map_statistics(rec, maps), refs).assign(seed=seed))
            print(
                f"seed {seed} {inst}: {len(rec)} records of {rec['region_id'].nunique()} regions",
                flush=True,
            )
    k = pd.concat(kws).groupby(["instrument", "keyword"])[["rel_median", "rel_p90", "ks"]]
    print(k.agg(["min", "max"]).round(3).to_string())
    cols = ["max_abs_b_p90", "ratio_100g", "ratio_1kg", "spectrum_slope", "real_spectrum_slope"]
    print(pd.concat(pxs).groupby("instrument")[cols].agg(["min", "max"]).round(3).to_string())


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "images":
        return images(sys.argv[2:])
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    days = float(sys.argv[2]) if len(sys.argv) > 2 else 600
    kw = {}
    for a in sys.argv[3:]:
        k, v = a.split("=")
        kw[k] = float(v)
    params = SyntheticParams(n_regions=n, days=days, **kw)
    for inst in (HMI, MDI):
        rows = []
        for job in _plan(params):
            if job[1] != inst.name:
                continue
            reg = simulate_region(params, inst, job[2], job[3], job[4])
            rows += samples_for(params, inst, reg)
        a = np.array(rows, dtype=float)
        a = a[a[:, 9] == 1]
        y, q = a[:, 0], a[:, 1]
        regions = a[:, 8]
        ratio = y.sum() / (len(y) - y.sum())
        oracle = ((q / (1 - q + 1e-12)) >= ratio).astype(int)
        o = tss(y, oracle)
        npos = len(set(regions[y == 1]))
        print(
            f"{inst.name}: samples {len(y)}, positives {int(y.sum())} ({y.mean():.3%}), "
            f"regions {len(set(regions))}, with positives {npos}"
        )
        print(f"  oracle TSS {o:.3f}")
        feats = {
            "size(LR)": [2, 3],
            "size+emerge(LSTM)": [2, 3, 4, 5],
            "size+morph(CNN)": [2, 3, 6, 7],
            "all": [2, 3, 4, 5, 6, 7],
        }
        fold = regions.astype(int) % 5
        for name, cols in feats.items():
            pred = np.zeros_like(y)
            for f in range(5):
                te = fold == f
                m = LogisticRegression(class_weight="balanced", max_iter=2000).fit(
                    a[~te][:, cols], y[~te]
                )
                pred[te] = m.predict(a[te][:, cols])
            s = tss(y, pred)
            print(f"  {name:20s} TSS {s:.3f}  ratio to oracle {s / o:.2f}")


if __name__ == "__main__":
    main()
