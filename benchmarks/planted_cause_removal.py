"""Does a trained image network use the planted cause? Remove it and watch the probability.

For every run of a (dataset, model) of a workflow on a synthetic archive, the test samples whose
last magnetogram shows a planted cause are fed through the run's checkpoint three times: as they
are, with the cause removed (the network-grid cause mask, dilated as
``attribution.planted_dilation_px``, filled with B = 0 G, the attribution baseline), and with a
control removal of the same size and shape (the mask moved so that its centre lands on the
strongest |B| outside the mask and 3 px around it: another umbra, equally strong field). A network
that reads the cause loses probability on the first and much less on the second; one that reads
only the amount of strong field loses alike. Usage (from the repository root, after the workflow):

    python benchmarks/planted_cause_removal.py RESULTS [DATASET=SHARP_ONLY] [MODEL=cnn] [DILATION=1]

Prints, per run and pooled: samples, mean probability as is / cause removed / control removed,
and the share of samples at p >= 0.5 that fall below 0.5 with each removal.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import ndimage

from flarepipe.archive.layout import load_archive
from flarepipe.attribution.analysis import resize_mask
from flarepipe.attribution.inputs import (
    Preprocessing,
    cause_mask,
    hmi_subsample_of,
    load_network,
    read_shard_samples,
    resize_of,
    sample_meta,
)
from flarepipe.attribution.methods import ScoreHead
from flarepipe.samples.labels import read_samples


def probabilities(net, x: np.ndarray) -> np.ndarray:
    """Flare probability of every image of ``x`` [N, 1, S, S]."""
    head = ScoreHead(net.module, net.n_outputs, probability=True).eval()
    with torch.no_grad():
        return head(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))[:, 1].numpy()


def control_mask(mask: np.ndarray, field: np.ndarray) -> np.ndarray:
    """``mask`` moved so that its centre sits on the strongest |B| away from the mask."""
    away = ~ndimage.binary_dilation(mask, iterations=3)
    b = np.where(away, np.abs(field), -1.0)
    ty, tx = np.unravel_index(int(np.argmax(b)), b.shape)
    cy, cx = (int(round(c)) for c in ndimage.center_of_mass(mask))
    out = np.zeros_like(mask)
    ys, xs = np.nonzero(mask)
    ys, xs = ys + ty - cy, xs + tx - cx
    keep = (ys >= 0) & (ys < mask.shape[0]) & (xs >= 0) & (xs < mask.shape[1])
    out[ys[keep], xs[keep]] = True
    return out


def run_rows(results: Path, dataset: str, model: str, run: int, dilation: int) -> pd.DataFrame:
    """One row per test sample with a cause on the network grid: the three probabilities."""
    shard = results / "shards" / dataset / f"run{run}" / "test.h5"
    features = results / "features" / "features.h5"
    archive = results / "archive"
    net = load_network(results / "models" / dataset / model / f"run{run}" / "model.ckpt", model)
    pre = Preprocessing.from_shard(shard, hmi_subsample_of(features), resize_of(features))
    meta = sample_meta(shard)
    samples = read_samples(results / "labels" / "samples.csv").set_index("sample_id")
    recs = load_archive(archive).records
    ids, masks = [], []
    for sid in meta["sample_id"].astype(str):
        rec = recs.iloc[int(samples.at[sid, "last_record"])]
        sub = pre.hmi_subsample if rec["instrument"] == "HMI" else 1
        m = resize_mask(cause_mask(archive, rec), (pre.image_size,) * 2, sub, dilation)
        if m.any():
            ids.append(sid)
            masks.append(m)
    if not ids:
        return pd.DataFrame()
    _, x = read_shard_samples(shard, "image", ids)
    zero = pre.zero_field()
    cut, ctrl = x.copy(), x.copy()
    for i, m in enumerate(masks):
        cut[i, 0][m] = zero
        ctrl[i, 0][control_mask(m, pre.field_of(x[i, 0]))] = zero
    return pd.DataFrame(
        {
            "run": run,
            "sample_id": ids,
            "label": samples.loc[ids, "label"].to_numpy(),
            "p": probabilities(net, x),
            "p_cause_removed": probabilities(net, cut),
            "p_control_removed": probabilities(net, ctrl),
        }
    )


def describe(df: pd.DataFrame, name: str) -> str:
    """One line of the table."""
    hi = df["p"] >= 0.5
    flip = (df.loc[hi, "p_cause_removed"] < 0.5).mean() if hi.any() else np.nan
    flip_c = (df.loc[hi, "p_control_removed"] < 0.5).mean() if hi.any() else np.nan
    return (
        f"{name:8s} {len(df):7d} {df['p'].mean():7.3f} {df['p_cause_removed'].mean():13.3f} "
        f"{df['p_control_removed'].mean():15.3f} {int(hi.sum()):6d} {flip:11.2f} {flip_c:13.2f}"
    )


def main() -> None:
    """Print the table."""
    results = Path(sys.argv[1])
    dataset = sys.argv[2] if len(sys.argv) > 2 else "SHARP_ONLY"
    model = sys.argv[3] if len(sys.argv) > 3 else "cnn"
    dilation = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    runs = sorted(
        int(p.name[3:]) for p in (results / "models" / dataset / model).glob("run*") if p.is_dir()
    )
    torch.set_num_threads(1)
    print(
        f"{'run':8s} {'samples':>7s} {'p':>7s} {'cause removed':>13s} {'control removed':>15s} "
        f"{'p>=0.5':>6s} {'flip cause':>11s} {'flip control':>13s}"
    )
    frames = []
    for run in runs:
        df = run_rows(results, dataset, model, run, dilation)
        if not df.empty:
            frames.append(df)
            print(describe(df, f"run{run}"))
    if frames:
        print(describe(pd.concat(frames, ignore_index=True), "pooled"))


if __name__ == "__main__":
    main()
