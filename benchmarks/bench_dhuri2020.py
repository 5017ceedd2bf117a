"""TSS against lead time of the S4 methods on synthetic emerging/control regions (a measurement).

Draws ``--regions`` emerging regions and their controls (256 px, 30° maps unless told), runs the
cross-validated study (:func:`flarepipe.studies.dhuri2020.experiment.run_study`) and prints the
TSS table (pooled over folds, fold mean ± sd, null sd) of every method at every lead time, beside
the published values. Whether the network beats the flux-only KDE at the shortest lead is printed
as a measurement with its margin in null standard deviations; it is not a test (training the
network at full size takes minutes on a CPU).

Measured (2 shared cores, one seed, 30 region pairs, 256-px maps, signature 1.5e20 Mx decaying
over 12 h, n_pe 60 + 30 + 30, network depth 2 / 8 base / 32 final filters, SGD lr 0.01 momentum
0.9; null sd 0.094):

- ``--methods kde_flux kde_flux_dipole oracle`` (all five leads): KDE flux 0.48, 0.19, 0.33,
  −0.04, −0.12; KDE flux + dipole 0.51, 0.21, 0.30, 0.04, 0.05; oracle 0.84, 0.63, 0.30, 0.32,
  0.26 at −3.2 … −24.5 h;
- ``--leads 3.2 --epochs 4``: network 0.478 vs KDE flux 0.476 (a tie);
- ``--leads 3.2 --epochs 10 --methods network kde_flux``: network 0.365 (below the KDE);
- ``--leads 3.2 --epochs 4 --unsigned --methods network kde_flux``: network 0.590 vs 0.476
  (+1.2 null sd: above, not significantly).

Usage::

    python benchmarks/bench_dhuri2020.py [--regions 30] [--map-px 256] [--signature 1.5e20]
        [--leads 3.2 24.5] [--n-pe 60] [--epochs 4] [--lr 0.01] [--depth 2] [--base 8]
        [--final 32] [--unsigned] [--methods network kde_flux kde_flux_dipole oracle]
        [--threads 1] [--out table.csv]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from flarepipe.archive.sources.synthetic.emergence import EmergenceParams, generate_emergence
from flarepipe.studies.dhuri2020.experiment import StudySettings, run_study, tss_table
from flarepipe.studies.dhuri2020.published import published_table
from flarepipe.training.segments import SegmentTrainSettings


def main() -> None:
    """Parse the options, run the study, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regions", type=int, default=30)
    ap.add_argument("--map-px", type=int, default=256)
    ap.add_argument("--signature", type=float, default=1.5e20)
    ap.add_argument("--decay-h", type=float, default=12.0)
    ap.add_argument("--leads", type=float, nargs="+", default=[3.2, 8.5, 13.9, 19.2, 24.5])
    ap.add_argument("--n-pe", type=int, default=60)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--base", type=int, default=8)
    ap.add_argument("--final", type=int, default=32)
    ap.add_argument("--unsigned", action="store_true")
    ap.add_argument(
        "--methods", nargs="+", default=["network", "kde_flux", "kde_flux_dipole", "oracle"]
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    t = time.time()
    es = generate_emergence(
        EmergenceParams(
            n_regions=a.regions,
            map_px=a.map_px,
            signature_flux_mx=a.signature,
            signature_decay_h=a.decay_h,
            lead_times_h=tuple(a.leads),
            seed=a.seed,
        )
    )
    t_gen = time.time() - t
    st = StudySettings(
        n_pe=a.n_pe,
        n_ne_control=a.n_pe // 2,
        n_ne_emerging=a.n_pe // 2,
        methods=tuple(a.methods),
        train=SegmentTrainSettings(
            lr=a.lr,
            momentum=a.momentum,
            epochs=a.epochs,
            unsigned=a.unsigned,
            network=dict(depth=a.depth, base_filters=a.base, final_filters=a.final),
        ),
        seed=a.seed,
        threads=a.threads,
    )
    t = time.time()
    table = tss_table(run_study(es, st))
    t_run = time.time() - t
    table = table.merge(published_table(), on=["method", "lead_h"], how="left")
    pd.set_option("display.width", 200)
    print(f"generated {len(es.maps)} maps in {t_gen:.1f} s; study in {t_run:.1f} s")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if {"network", "kde_flux"} <= set(a.methods):
        lead = min(a.leads)
        row = table[table["lead_h"] == lead].set_index("method")
        d = row.loc["network", "tss"] - row.loc["kde_flux", "tss"]
        sd = row.loc["network", "null_sd"]
        verdict = "beats" if d > 0 else "does not beat"
        print(
            f"at -{lead} h the network {verdict} the flux-only KDE: "
            f"TSS {row.loc['network', 'tss']:.3f} vs {row.loc['kde_flux', 'tss']:.3f} "
            f"(difference {d:+.3f}, {d / sd:+.1f} null sd)"
        )
    if a.out:
        table.to_csv(a.out, index=False)


if __name__ == "__main__":
    main()
