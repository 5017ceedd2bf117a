"""Train/validation/test splits grouped by active region, undersampling, and dataset fusion.

Every split keeps all samples of one region together (a region in two splits is leakage, which
:func:`check_leakage` refuses with :class:`LeakageError`). All randomness comes from
``numpy.random.default_rng`` seeded explicitly, and regions/samples are put in sorted order before
shuffling, so a split depends only on the set of samples and the seed, not on row order.

Split frames carry ``sample_id, region_id, instrument, split`` (the ``split_<run>.csv`` layout of
``docs/FILES.md``) plus ``label`` while it is needed for undersampling; :func:`make_dataset_splits`
returns the file columns only.

Datasets are registered in :data:`flarepipe.samples.registry.DATASETS` (S1's four)::

    name          split by region         added to train only
    SHARP_ONLY    HMI samples             -
    SMARP_ONLY    MDI samples             -
    FUSED_SHARP   HMI samples             all MDI samples
    FUSED_SMARP   MDI samples             all HMI samples

Settings are the fields of :class:`SplitSettings` (defaults and bounds: the config schema,
section ``split``). Seeds come from :func:`flarepipe.core.seeds.job_seed` (rule ``split``).
For one ``run`` the seed is the same for every dataset, so FUSED_SHARP has exactly the
validation and test sets of SHARP_ONLY and its training set is SHARP_ONLY's plus the other
instrument's samples (undersampling draws per (split, instrument) from its own seeded stream).
"""

from __future__ import annotations

import dataclasses
import os
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from flarepipe.core.seeds import derive_seed, job_seed
from flarepipe.io.atomic import record_integrity, verify_integrity, write_csv
from flarepipe.samples.registry import DATASETS

__all__ = [
    "SPLITS",
    "SPLIT_COLUMNS",
    "DATASETS",
    "METHODS",
    "SplitSettings",
    "LeakageError",
    "derive_seed",
    "region_split",
    "kfold_regions",
    "chronological_split",
    "undersample",
    "full_split",
    "fuse",
    "check_leakage",
    "make_dataset_splits",
    "write_split",
    "read_split",
]

SPLITS: tuple[str, ...] = ("train", "val", "test")
SPLIT_COLUMNS: list[str] = ["sample_id", "region_id", "instrument", "split"]
METHODS = ("random_regions", "region_kfold", "chronological", "chronological_kfold")


class LeakageError(ValueError):
    """A region (or, when checked, a NOAA region) appears in more than one split."""


@dataclass(frozen=True)
class SplitSettings:
    """How one dataset run is split and undersampled (see :func:`make_dataset_splits`).

    Build it from the configuration with ``flarepipe.config.settings("split", ...)``, which fills
    the schema defaults and checks each field's bounds; the constructor checks that the
    chronological methods have valid ``boundaries``.
    """

    seed: int
    method: str
    test_frac: float
    val_frac: float
    k: int
    by_class: bool
    boundaries: Mapping[str, Sequence] | None
    assign: str
    undersample_ratio: float | None
    stratify: bool
    exclude_noaa_overlap: bool

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.method.startswith("chronological"):
            if not self.boundaries:
                raise ValueError(f"boundaries is required for method {self.method!r}")
            _intervals(self.boundaries)


def _require(df: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; have {list(df.columns)}")


def _frame(samples: pd.DataFrame, split: pd.Series | np.ndarray | str) -> pd.DataFrame:
    cols = ["sample_id", "region_id", "instrument"] + (["label"] if "label" in samples else [])
    out = samples[cols].copy()
    out["split"] = split
    return out


def _check_fraction(x: float, name: str) -> float:
    if not isinstance(x, (int, float)) or isinstance(x, bool) or not 0.0 <= x < 1.0:
        raise ValueError(f"{name} must be a number in [0, 1), got {x!r}")
    return float(x)


def region_split(
    samples: pd.DataFrame,
    test_frac: float = 0.2,
    val_frac: float = 0.2,
    seed: int = 0,
    stratify: bool = False,
) -> pd.DataFrame:
    """Random split by region: ``test_frac`` of regions to test, ``val_frac`` of the rest to val.

    Region counts are ``round(test_frac · n_regions)`` and ``round(val_frac · n_rest)``; regions
    are sorted, then permuted with ``default_rng(seed)``. With ``stratify`` (needs a ``label``
    column) regions holding any positive sample and the others are split separately with the same
    fractions, each split getting at least one positive region when there are three or more, so
    rare positives reach train, val and test. Returns the split frame in the order of ``samples``.
    """
    _require(samples, ["sample_id", "region_id", "instrument"], "samples")
    test_frac = _check_fraction(test_frac, "test_frac")
    val_frac = _check_fraction(val_frac, "val_frac")
    regions = np.sort(samples["region_id"].astype(str).unique())
    rng = np.random.default_rng(seed)
    if stratify:
        _require(samples, ["label"], "samples (split.stratify needs labels)")
        pos = samples.loc[samples["label"].astype(int) == 1, "region_id"].astype(str).unique()
        groups = [np.sort(pos), np.setdiff1d(regions, pos)]
    else:
        groups = [regions]
    where: dict[str, str] = {}
    for group in groups:
        perm = rng.permutation(group)
        n_test = int(round(test_frac * len(perm)))
        n_val = int(round(val_frac * (len(perm) - n_test)))
        if stratify and len(perm) >= 3:
            n_test, n_val = max(n_test, 1), max(n_val, 1)
        where.update({r: "test" for r in perm[:n_test]})
        where.update({r: "val" for r in perm[n_test : n_test + n_val]})
        where.update({r: "train" for r in perm[n_test + n_val :]})
    return _frame(samples, samples["region_id"].astype(str).map(where).to_numpy())


def kfold_regions(
    samples: pd.DataFrame, k: int, seed: int = 0, by_class: bool = False
) -> list[pd.DataFrame]:
    """K folds over regions: fold ``i`` puts part ``i`` of the regions in val, the rest in train.

    Regions are sorted, permuted with ``default_rng(seed)`` and dealt into ``k`` near-equal parts
    (``numpy.array_split``). With ``by_class`` the regions of each class (a region's class is
    the maximum ``label`` of its samples) are dealt separately, so every part has about
    ``1/k`` of the positive and of the negative regions (S2). When ``samples`` has a ``split``
    column, its ``test`` rows stay ``test`` and only the other rows are folded.

    Returns
    -------
    list of pandas.DataFrame
        ``k`` split frames, in the order of ``samples``.
    """
    _require(samples, ["sample_id", "region_id", "instrument"], "samples")
    if not isinstance(k, int) or isinstance(k, bool) or k < 2:
        raise ValueError(f"k must be an integer >= 2, got {k!r}")
    is_test = (
        (samples["split"] == "test").to_numpy()
        if "split" in samples
        else np.zeros(len(samples), dtype=bool)
    )
    pool = samples[~is_test]
    rng = np.random.default_rng(seed)
    regions = pool["region_id"].astype(str)
    if by_class:
        _require(samples, ["label"], "samples (kfold by_class)")
        cls = pool["label"].astype("int64").groupby(regions).max()
        groups = [np.sort(cls.index[cls == c].to_numpy()) for c in sorted(cls.unique())]
    else:
        groups = [np.sort(regions.unique())]
    part_of: dict[str, int] = {}
    for g in groups:
        for i, chunk in enumerate(np.array_split(rng.permutation(g), k)):
            part_of.update({r: i for r in chunk})
    if len(part_of) < k:
        raise ValueError(f"kfold_regions: {len(part_of)} region(s) cannot fill k={k} folds")
    parts = samples["region_id"].astype(str).map(part_of)
    folds = []
    for i in range(k):
        split = np.where(is_test, "test", np.where(parts.to_numpy() == i, "val", "train"))
        folds.append(_frame(samples, split))
    return folds


def _intervals(
    boundaries: Mapping[str, Sequence[str | pd.Timestamp]],
) -> list[tuple[pd.Timestamp, pd.Timestamp, str]]:
    """Parse ``{split: [start, end)}`` into sorted ``(start, end, split)``; refuse overlaps."""
    if not boundaries:
        raise ValueError("boundaries: give at least one {split: [start, end]}")
    ivals = []
    for name, be in boundaries.items():
        if name not in SPLITS:
            raise ValueError(f"boundaries: unknown split {name!r}; use {SPLITS}")
        if isinstance(be, (str, bytes)) or len(be) != 2:
            raise ValueError(f"boundaries.{name} must be [start, end], got {be!r}")
        try:
            start, end = pd.Timestamp(be[0]), pd.Timestamp(be[1])
        except (ValueError, TypeError):
            raise ValueError(f"boundaries.{name}: cannot parse {be!r} as times") from None
        if not start < end:
            raise ValueError(f"boundaries.{name}: start must precede end, got {be!r}")
        ivals.append((start, end, name))
    ivals.sort()
    for (_, e0, n0), (s1, _, n1) in zip(ivals[:-1], ivals[1:], strict=True):
        if s1 < e0:
            raise ValueError(f"boundaries: {n0} and {n1} overlap")
    return ivals


def chronological_split(
    samples: pd.DataFrame,
    boundaries: Mapping[str, Sequence[str | pd.Timestamp]],
    assign: str = "region",
) -> pd.DataFrame:
    """Split by time intervals ``{split: [start, end)}`` (ISO UTC).

    E.g. S2's ``{"train": ["2010-05-01", "2015-10-01"], "test": ["2015-10-01", "2019-01-01"]}``.

    With ``assign="region"`` (default) a whole region goes to the interval holding its earliest
    ``t_end``, so no region straddles a boundary; ``assign="sample"`` places each sample by its own
    ``t_end`` (a region crossing a boundary then leaks, and :func:`check_leakage` will say so).
    Samples outside every interval are left out. Intervals must not overlap.
    """
    _require(samples, ["sample_id", "region_id", "instrument", "t_end"], "samples")
    if assign not in ("region", "sample"):
        raise ValueError(f"assign must be 'region' or 'sample', got {assign!r}")
    ivals = _intervals(boundaries)
    t = pd.to_datetime(samples["t_end"])
    if assign == "region":
        t = t.groupby(samples["region_id"].astype(str)).transform("min")
    split = pd.Series(np.full(len(samples), None, dtype=object), index=samples.index)
    for start, end, name in ivals:
        split[((t >= start) & (t < end)).to_numpy()] = name
    inside = split.notna().to_numpy()
    return _frame(samples[inside], split[inside].to_numpy())


def undersample(split_df: pd.DataFrame, ratio: float | None = 1.0, seed: int = 0) -> pd.DataFrame:
    """Keep all positives and ``min(n_neg, round(ratio · n_pos))`` random negatives per group.

    Groups are (``split``, ``instrument``), each drawn from its own stream
    ``default_rng(derive_seed(seed, split index, crc32(instrument)))`` over negatives sorted by
    ``sample_id``, so one group's draw does not depend on the others (FUSED datasets share
    SHARP_ONLY's val/test/train draws). A group without positives keeps no negatives.
    ``ratio=None`` returns the frame unchanged. Row order is preserved.
    """
    if ratio is None:
        return split_df.copy()
    if not isinstance(ratio, (int, float)) or isinstance(ratio, bool) or ratio <= 0:
        raise ValueError(f"undersample_ratio must be > 0 or None, got {ratio!r}")
    _require(split_df, ["sample_id", "instrument", "split", "label"], "split frame")
    keep = np.ones(len(split_df), dtype=bool)
    label = split_df["label"].astype("int64").to_numpy()
    groups = split_df.groupby(
        [split_df["split"].astype(str), split_df["instrument"].astype(str)], sort=True
    ).indices
    for (split, inst), pos_idx in sorted(groups.items()):
        neg = pos_idx[label[pos_idx] == 0]
        n_pos = int((label[pos_idx] == 1).sum())
        n_keep = min(len(neg), int(round(ratio * n_pos)))
        if n_keep == len(neg):
            continue
        neg = neg[np.argsort(split_df["sample_id"].to_numpy()[neg].astype(str), kind="stable")]
        code = SPLITS.index(split) if split in SPLITS else len(SPLITS)
        rng = np.random.default_rng(derive_seed(seed, code, zlib.crc32(str(inst).encode())))
        chosen = rng.choice(len(neg), size=n_keep, replace=False)
        drop = np.setdiff1d(np.arange(len(neg)), chosen)
        keep[neg[drop]] = False
    return split_df[keep].copy()


def fuse(
    split_a: pd.DataFrame,
    samples_b: pd.DataFrame,
    region_noaa: Mapping[str, Sequence[int]] | None = None,
) -> pd.DataFrame:
    """Add every sample of dataset B to the training split of A's split frame (S1's FUSED_*).

    With ``region_noaa`` (region_id → NOAA numbers), B regions sharing a NOAA number with an A
    region in val or test are left out, so the same physical region cannot reach train and test
    through the two instruments (not done in Sun et al. 2022; off unless given).

    Raises
    ------
    LeakageError
        When a B region is also an A region.
    """
    _require(split_a, SPLIT_COLUMNS, "split frame")
    _require(samples_b, ["sample_id", "region_id", "instrument"], "samples to fuse")
    both = set(split_a["region_id"].astype(str)) & set(samples_b["region_id"].astype(str))
    if both:
        raise LeakageError(f"fuse: region {sorted(both)[0]!r} is in both datasets")
    b = samples_b
    if region_noaa is not None:
        held = split_a.loc[split_a["split"] != "train", "region_id"].astype(str).unique()
        held_noaa = {n for r in held for n in region_noaa.get(r, ())}
        clash = (
            b["region_id"]
            .astype(str)
            .map(lambda r: bool(held_noaa.intersection(region_noaa.get(r, ()))))
        )
        b = b[~clash.to_numpy(dtype=bool)]
    out = pd.concat([split_a, _frame(b, "train")], ignore_index=True)
    return out


def check_leakage(
    split_df: pd.DataFrame, region_noaa: Mapping[str, Sequence[int]] | None = None
) -> None:
    """Raise :class:`LeakageError` when a region appears in two splits.

    With ``region_noaa``, also when one NOAA number belongs to regions in different splits. The
    message names the region (or NOAA number) and the splits.
    """
    _require(split_df, ["region_id", "split"], "split frame")
    per = split_df.groupby(split_df["region_id"].astype(str))["split"].agg(
        lambda s: tuple(sorted(set(s)))
    )
    bad = per[per.map(len) > 1]
    if len(bad):
        more = f" (and {len(bad) - 1} more region(s))" if len(bad) > 1 else ""
        raise LeakageError(
            f"region {bad.index[0]} appears in splits {', '.join(bad.iloc[0])}{more}"
        )
    if region_noaa is not None:
        seen: dict[int, dict[str, str]] = {}
        for region, splits in per.items():
            for n in region_noaa.get(region, ()):
                seen.setdefault(int(n), {})[region] = splits[0]
        for n, regs in sorted(seen.items()):
            if len(set(regs.values())) > 1:
                desc = ", ".join(f"{r} in {s}" for r, s in sorted(regs.items()))
                raise LeakageError(f"NOAA region {n} is split across splits: {desc}")


def make_dataset_splits(
    samples: pd.DataFrame,
    dataset_name: str,
    settings: SplitSettings,
    run: int,
    region_noaa: Mapping[str, Sequence[int]] | None = None,
) -> pd.DataFrame:
    """Build the ``split_<run>.csv`` frame of one dataset and run.

    Steps: select the dataset's primary instrument (:data:`DATASETS`); split it by ``method``;
    add all samples of its extra instruments to train (:func:`fuse`; S1's FUSED datasets);
    undersample negatives per (split, instrument); :func:`check_leakage`.

    Methods (``settings.method``; ``job_seed`` is :func:`flarepipe.core.seeds.job_seed`)::

        random_regions        region_split(test_frac, val_frac),
                              seed = job_seed("split", seed, run)
        region_kfold          kfold_regions(k, by_class): fold = run % k, repetition = run // k,
                              seed = job_seed("split", seed, repetition)
        chronological         chronological_split(boundaries, assign)
        chronological_kfold   chronological test interval, k-fold train/val over the rest
                              (S2: boundaries {train: [2010-05, 2015-10), test: [2015-10, 2019)})

    Undersampling uses ``job_seed("split", seed, run)`` and ``undersample_ratio`` (``None`` keeps
    all). ``exclude_noaa_overlap`` needs ``region_noaa`` (region_id → NOAA numbers,
    :func:`flarepipe.samples.quality.region_noaa` of the records).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SPLIT_COLUMNS`.
    """
    if dataset_name not in DATASETS:
        raise ValueError(f"dataset {dataset_name!r} unknown; use one of {sorted(DATASETS)}")
    if not isinstance(run, (int, np.integer)) or run < 0:
        raise ValueError(f"run must be an integer >= 0, got {run!r}")
    s = settings
    _require(samples, ["sample_id", "region_id", "instrument", "label"], "samples")
    primary, extra = DATASETS[dataset_name].primary, DATASETS[dataset_name].extra
    inst = samples["instrument"].astype(str)
    a = samples[(inst == primary).to_numpy()]
    if a.empty:
        raise ValueError(f"dataset {dataset_name}: no samples of instrument {primary}")
    seed_run = job_seed("split", s.seed, int(run))
    method = s.method
    if method == "random_regions":
        split = region_split(a, s.test_frac, s.val_frac, seed_run, stratify=s.stratify)
    elif method == "region_kfold":
        rep, fold = divmod(int(run), int(s.k))
        split = kfold_regions(a, s.k, job_seed("split", s.seed, rep), s.by_class)[fold]
    elif method == "chronological":
        split = chronological_split(a, s.boundaries, s.assign)
    else:  # chronological_kfold
        chrono = chronological_split(a, s.boundaries, s.assign)
        chrono["split"] = np.where(chrono["split"] == "test", "test", "train")
        rep, fold = divmod(int(run), int(s.k))
        pool = a.set_index("sample_id").loc[chrono["sample_id"]].reset_index()
        pool["split"] = chrono["split"].to_numpy()
        split = kfold_regions(pool, s.k, job_seed("split", s.seed, rep), s.by_class)[fold]
    if s.exclude_noaa_overlap and region_noaa is None:
        raise ValueError(
            "exclude_noaa_overlap needs the region → NOAA map "
            "(make_dataset_splits(..., region_noaa=...))"
        )
    if extra:
        b = samples[inst.isin(extra).to_numpy()]
        split = fuse(split, b, region_noaa if s.exclude_noaa_overlap else None)
    split = undersample(split.reset_index(drop=True), s.undersample_ratio, seed_run)
    check_leakage(split)
    return split[SPLIT_COLUMNS].reset_index(drop=True)


def full_split(samples: pd.DataFrame, dataset: str, settings, run: int) -> pd.DataFrame:
    """The split of ``dataset`` run ``run`` before undersampling (same regions, all samples).

    :func:`flarepipe.samples.split.make_dataset_splits` with ``undersample_ratio = None``: the
    region assignment is made before undersampling with the same seed, so the undersampled split
    is a subset of this one. ``exclude_noaa_overlap`` only removes fused train samples and is
    left out here (the train and test rates are those of the primary instrument's regions).
    """
    s = dataclasses.replace(settings, undersample_ratio=None, exclude_noaa_overlap=False)
    return make_dataset_splits(samples, dataset, s, int(run))


def write_split(split_df: pd.DataFrame, target: str | os.PathLike) -> None:
    """Write a split frame atomically with the ``split_<run>.csv`` columns; its row count and
    checksum are recorded beside it and verified by :func:`read_split`.
    """
    _require(split_df, SPLIT_COLUMNS, "split frame")
    write_csv(split_df[SPLIT_COLUMNS], target)
    record_integrity(target, rows=len(split_df))


def read_split(path: str | os.PathLike) -> pd.DataFrame:
    """Read a ``split_<run>.csv`` (ids as strings), verified against what :func:`write_split`
    recorded.

    Raises
    ------
    flarepipe.io.atomic.IntegrityError
        The file was cut or edited since it was written (the message names it and the fix).
    ValueError
        A column of :data:`SPLIT_COLUMNS` is missing (named with the file).
    """
    verify_integrity(path)
    df = pd.read_csv(path, dtype={"sample_id": str, "region_id": str})
    _require(df, SPLIT_COLUMNS, str(path))
    verify_integrity(path, rows=len(df))
    return df
