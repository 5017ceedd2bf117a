"""Train one model on the shards of one dataset run and write its checkpoint and predictions.

Outputs (``results/models/<dataset>/<model>/run<run>/``, see docs/FILES.md):

* ``model.ckpt`` -- the checkpoint of the epoch with the best validation TSS (weights and the
  task's hyperparameters: ``FlareTask.load_from_checkpoint`` rebuilds the network);
* ``metrics.csv`` -- Lightning's CSV log, one row per epoch (``train_loss``, ``val_loss``,
  ``val_tss``, ``val_acc``);
* ``predictions.csv`` -- ``sample_id, split, label, prob`` for the val and test shards, from the
  best checkpoint.

Everything is first written under ``<out_dir>/.train_tmp/`` and moved into place at the end, each
file atomically, so a killed job leaves no file that looks complete.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import sys
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger

from flarepipe.data.datamodule import SPLITS, FlareDataModule
from flarepipe.data.shards import ShardReader
from flarepipe.io.atomic import atomic_path, write_csv
from flarepipe.models.registry import network_spec
from flarepipe.tasks.classification import FlareTask
from flarepipe.training.settings import TrainSettings

__all__ = [
    "check_shards",
    "resolve_precision",
    "train_one",
]

_QUIET_WARNINGS = (
    r".*does not have many workers.*",
    r".*number of training batches.*is smaller than the logging interval.*",
    r".*Checkpoint directory .* exists and is not empty.*",
    r".*to sync_dist=True.*",
    r".*The `srun` command is available.*",
    r".*isinstance\(treespec, LeafSpec\)` is deprecated.*",
)


class _DropTips(logging.Filter):
    """Drop Lightning's advertising 'Tip' lines from the job log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Tip:" not in record.getMessage()


_TIPS_FILTER = _DropTips()
logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(_TIPS_FILTER)


def _cuda_used(accelerator: str) -> bool:
    return accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()


def resolve_precision(precision: str, accelerator: str = "auto", model_name: str = "cnn") -> str:
    """Lightning precision for ``precision="auto"``: bf16-mixed on bf16-capable CUDA.

    Networks registered with ``auto_bf16=False`` (the LSTM: tiny and launch-bound, so reduced
    precision buys nothing) stay in 32-true. Any other value is returned unchanged.
    """
    if precision != "auto":
        return precision
    auto_bf16 = network_spec(model_name).auto_bf16
    if auto_bf16 and _cuda_used(accelerator) and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32-true"


def check_shards(shard_paths: Mapping[str, str | os.PathLike | ShardReader]) -> dict[str, int]:
    """Check that train/val/test shards exist, are readable and hold both classes.

    ``shard_paths`` maps each split to its shard file or to a
    :class:`~flarepipe.data.shards.ShardReader` of it (then not opened again).

    Returns
    -------
    dict
        Samples per split.

    Raises
    ------
    ValueError
        Naming the shard, when a split is missing, empty or has a single class.
    """
    missing = [s for s in SPLITS if s not in shard_paths]
    if missing:
        raise ValueError(f"shard_paths lacks split(s) {missing}; it needs {list(SPLITS)}")
    counts = {}
    for split in SPLITS:
        shard = shard_paths[split]
        reader = shard if isinstance(shard, ShardReader) else ShardReader(shard)
        labels = reader.labels
        if len(labels) == 0:
            raise ValueError(
                f"shard {reader.path} ({split}) is empty; cannot train or evaluate on it "
                "(check the split and label stages for this dataset/run)"
            )
        classes = np.unique(labels)
        if len(classes) < 2:
            raise ValueError(
                f"shard {reader.path} ({split}) holds only class {int(classes[0])} "
                f"({len(labels)} samples); TSS and training need both classes"
            )
        counts[split] = len(labels)
    return counts


def _one_row_per_epoch(log: pd.DataFrame) -> pd.DataFrame:
    """Merge Lightning's separate train and val rows of an epoch into one row."""
    if "epoch" not in log.columns or log.empty:
        return log
    merged = log.groupby("epoch", sort=True).agg("last").reset_index()
    return merged[[c for c in log.columns if c in merged.columns]]


def _device_name(trainer: pl.Trainer) -> str:
    dev = trainer.strategy.root_device
    if dev.type == "cuda":
        return f"{dev} ({torch.cuda.get_device_name(dev)})"
    return str(dev)


class _MetricsLogger(CSVLogger):
    """Lightning's CSV log of the metrics, without ``hparams.yaml``.

    The hyperparameters are in the checkpoint; the log folder is temporary and only
    ``metrics.csv`` is kept.
    """

    def log_hyperparams(self, params: Any = None, *args: Any, **kwargs: Any) -> None:
        """Nothing to write."""


def _predict(
    trainer: pl.Trainer, task: FlareTask, dm: FlareDataModule, splits: tuple[str, ...]
) -> pd.DataFrame:
    """``sample_id, split, label, prob`` of ``splits``, in shard order, from one predict run."""
    loaders = [dm.predict_dataloader(split) for split in splits]
    per_loader = trainer.predict(task, dataloaders=loaders)
    if len(loaders) == 1:
        per_loader = [per_loader]
    frames = []
    for split, batches in zip(splits, per_loader, strict=True):
        reader = dm.reader(split)
        meta = reader.meta()
        probs = torch.cat([b.float() for b in batches]).numpy() if batches else np.array([])
        if len(probs) != len(meta):
            raise RuntimeError(
                f"got {len(probs)} predictions for {len(meta)} samples of {reader.path}"
            )
        frames.append(
            pd.DataFrame(
                {
                    "sample_id": meta["sample_id"].to_numpy(),
                    "split": split,
                    "label": meta["label"].to_numpy(),
                    "prob": probs.astype(np.float64),
                }
            )
        )
    return pd.concat(frames)


def train_one(
    shard_paths: Mapping[str, str | os.PathLike],
    model_name: str,
    model_params: Mapping[str, Any] | None,
    train_params: TrainSettings | Mapping[str, Any],
    out_dir: str | os.PathLike,
    seed: int = 0,
) -> dict[str, Any]:
    """Train ``model_name`` on the train shard, early-stop on val TSS, predict val and test.

    Parameters
    ----------
    shard_paths
        ``{"train": path, "val": path, "test": path}``.
    model_name
        A registered network (:mod:`flarepipe.models.registry`): ``"lstm"`` (reads the
        sequences), ``"cnn"`` or ``"cnn2"`` (read the images), or a plug-in's.
    model_params
        Network constructor parameters (:func:`flarepipe.models.model_defaults`).
    train_params
        The network's filled training parameters: a
        :class:`flarepipe.training.settings.TrainSettings` (``flarepipe.config.train_settings``) or
        a complete ``models.<name>.train`` block of a validated configuration.
    out_dir
        Folder for ``model.ckpt``, ``metrics.csv``, ``predictions.csv``.
    seed
        Seed of Python, NumPy, torch and the loader workers.

    Returns
    -------
    dict
        ``best_epoch`` (0-based), ``best_val_tss``, ``epochs_run``, ``stopped_early``, ``n_train``,
        ``n_val``, ``n_test``, ``n_params``, ``fit_seconds``, ``predict_seconds``,
        ``train_samples_per_second``, ``device``, ``precision``, ``seed``, ``model``, and the
        output paths.

    Raises
    ------
    ValueError
        For unknown models/parameters, or a missing, empty or single-class shard (named).
    """
    params = TrainSettings.of(train_params)
    # each shard opened once, for the checks, the data and the predictions' metadata
    readers = {s: ShardReader(shard_paths[s]) for s in SPLITS if s in shard_paths}
    counts = check_shards(readers)
    out_dir = Path(out_dir)
    work = out_dir / ".train_tmp"
    if work.exists():
        shutil.rmtree(work)  # left by a killed run
    work.mkdir(parents=True)

    accelerator = str(params.accelerator)
    cuda = _cuda_used(accelerator)
    precision = resolve_precision(str(params.precision), accelerator, model_name)
    deterministic = params.deterministic
    if deterministic == "auto":
        deterministic = not cuda
    data_device = params.data_device
    if data_device == "auto":
        data_device = "cuda" if (cuda and params.preload and not params.num_workers) else "cpu"

    # A fixed thread count: CPU reductions split over threads sum in another order, so results
    # would otherwise depend on how many cores the job was given.
    was_threads = torch.get_num_threads()
    torch.set_num_threads(int(params.cpu_threads))
    pl.seed_everything(seed, workers=True, verbose=False)
    task = FlareTask(
        model_name,
        dict(model_params or {}),
        lr=float(params.lr),
        weight_decay=float(params.weight_decay),
        class_weight=params.class_weight,
        pos_weight=params.pos_weight,
        channels_last=params.channels_last,
        augment=params.augment,
        loss=str(params.loss),
        optimizer=str(params.optimizer),
        momentum=float(params.momentum),
    )
    dm = FlareDataModule(
        readers,
        batch_size=int(params.batch_size),
        num_workers=int(params.num_workers),
        inputs=(task.input_key,),
        preload=bool(params.preload),
        device=data_device,
        targets=(task.target_key,),
    )
    dm.check(needed_by=f"model {model_name!r}")  # e.g. an image network on image-less shards
    n_batches = max(1, counts["train"] // int(params.batch_size))
    ckpt_cb = ModelCheckpoint(
        dirpath=work / "checkpoints",
        filename="best",
        monitor="val_tss",
        mode="max",
        save_top_k=1,
        save_weights_only=True,
        enable_version_counter=False,
    )
    stop_cb = EarlyStopping(
        monitor="val_tss",
        mode="max",
        patience=int(params.patience),
        min_delta=float(params.min_delta),
    )
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    was_matmul = torch.get_float32_matmul_precision()
    if cuda:
        torch.set_float32_matmul_precision("high")  # TF32 tensor cores for fp32 work
    with warnings.catch_warnings():
        for pattern in _QUIET_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)
        trainer = pl.Trainer(
            accelerator=accelerator,
            devices=1,
            precision=precision,
            max_epochs=int(params.max_epochs),
            deterministic=deterministic,
            # cudnn autotuning pays off for the fixed input sizes here (off when deterministic).
            benchmark=bool(cuda and not deterministic),
            callbacks=[ckpt_cb, stop_cb],
            logger=_MetricsLogger(work, name="", version=""),
            enable_progress_bar=sys.stdout.isatty(),
            enable_model_summary=False,
            # No sanity validation before the first epoch: the checks above already read the
            # shards' layout, and Lightning runs it under isolate_rng, so skipping it leaves every
            # random draw (and result) as it was.
            num_sanity_val_steps=0,
            log_every_n_steps=min(50, n_batches),
            default_root_dir=work,
        )
        try:
            t0 = time.perf_counter()
            trainer.fit(task, datamodule=dm)
            fit_s = time.perf_counter() - t0
            best_path = ckpt_cb.best_model_path
            if not best_path or not Path(best_path).exists():
                raise RuntimeError(f"training of {model_name} in {out_dir} saved no checkpoint")
            best = torch.load(best_path, map_location="cpu", weights_only=True)
            best_epoch = int(best["epoch"])
            # The best epoch's weights into the trained task (what load_from_checkpoint would
            # rebuild: the same network and hyperparameters)
            task.load_state_dict(best["state_dict"])
            t0 = time.perf_counter()
            preds = _predict(trainer, task, dm, ("val", "test"))
            predict_s = time.perf_counter() - t0
        finally:
            torch.use_deterministic_algorithms(was_deterministic)
            torch.set_float32_matmul_precision(was_matmul)
            torch.set_num_threads(was_threads)

    # Move everything into place, each file atomically; predictions last.
    with atomic_path(out_dir / "model.ckpt") as tmp:
        shutil.move(best_path, tmp)
    metrics_src = work / "metrics.csv"
    log = (
        _one_row_per_epoch(pd.read_csv(metrics_src))
        if metrics_src.exists()
        else pd.DataFrame(columns=["epoch", "train_loss", "val_loss", "val_tss"])
    )
    write_csv(log, out_dir / "metrics.csv")  # a declared output: written even when empty
    write_csv(preds, out_dir / "predictions.csv")
    shutil.rmtree(work, ignore_errors=True)

    epochs_run = int(trainer.current_epoch)
    score = ckpt_cb.best_model_score
    best_val_tss = float(score) if score is not None else math.nan
    return {
        "model": model_name,
        "seed": int(seed),
        "best_epoch": best_epoch,
        "best_val_tss": best_val_tss,
        "epochs_run": epochs_run,
        "stopped_early": bool(stop_cb.stopped_epoch > 0),
        "n_train": counts["train"],
        "n_val": counts["val"],
        "n_test": counts["test"],
        "n_params": int(sum(p.numel() for p in task.network.parameters())),
        "fit_seconds": round(fit_s, 3),
        "predict_seconds": round(predict_s, 3),
        "train_samples_per_second": round(counts["train"] * max(epochs_run, 1) / fit_s, 1),
        "device": _device_name(trainer),
        "precision": precision,
        "preload": bool(params.preload),
        "data_device": str(data_device),
        "cpu_threads": int(params.cpu_threads),
        "checkpoint": str(out_dir / "model.ckpt"),
        "metrics": str(out_dir / "metrics.csv"),
        "predictions": str(out_dir / "predictions.csv"),
    }
