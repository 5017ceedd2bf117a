"""Cross-field checks of a schema-valid configuration: conflicts that would fail only mid-run.

Each check here finds a combination of settings that every field allows alone but that cannot
work together, and that a job would otherwise find only after the stages before it ran (or, worse,
never: a silently different result). :func:`config_problems` is called once by
:func:`flarepipe.config.validate_config`, after the schema and the typed settings accepted the
configuration, so the workflow refuses it before its first job; each problem names the config
keys it is about (the loader turns them into the file that set them). Like all of config
validation, it runs in Snakemake's own environment and in every job: it imports neither torch nor
h5py, scipy or sklearn (``tests/test_models.py::test_registry_imports_without_torch``).

Checks, in order::

    key(s)                               refused when
    results                              the filesystem root, the home folder or the working
                                         folder itself (every stage writes and reruns there)
    labels.strong_class, labels.min_class  a class of zero flux (``M0``, ``A0.0``): every flare,
                                         however weak, would be a strong flare
    split.method                         region_kfold: its folds are train/val only, so the
                                         shards have no test split (use chronological_kfold)
    experiments.stacking                 (a warning, not an error) the list form (criteria only)
                                         while experiments.models lacks lstm or cnn: the
                                         documented shorthand then makes no ensemble
    experiments.datasets, archive.*      a dataset needs an instrument the configured archive
                                         cannot have (synthetic instruments, jsoc series): a
                                         FUSED dataset would report single-instrument numbers
    features.image_size, experiments.models  an image smaller than a configured image network's
                                         registered min_image_size (the CNN's five poolings)
    archive.local/tables.column_map      a keyword table (its header, read now) lacks a column the
                                         map or the defaults need, or map and constants disagree
    attribution.enabled, archive.source  the tables source, whose records have no magnetograms:
                                         the attribution stage needs the images the networks saw
                                         (its preprocessing, probes and PIL analysis)
    archive.size_limit_gb, archive.*     the synthetic or jsoc archive estimated above the limit
                                         (flarepipe.archive.size); from archive.size_warn_gb on
                                         a warning with the estimate
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["config_problems"]

#: a problem: the config paths it is about, and its message (as in :mod:`flarepipe.config.load`)
Problem = tuple[list[tuple], str]


def _results(config: Mapping) -> list[Problem]:
    value = str(config.get("results", ""))
    where = Path(os.path.expanduser(value)).resolve()
    bad = {Path("/").resolve(): "the filesystem root", Path.home().resolve(): "the home folder"}
    bad.setdefault(Path.cwd().resolve(), "the working folder itself")
    if where in bad:
        return [
            (
                [("results",)],
                f"results {value!r} is {bad[where]}: every stage writes (and a rerun replaces) "
                "files there; name a folder of its own, e.g. results",
            )
        ]
    return []


def _classes(config: Mapping) -> list[Problem]:
    from flarepipe.core.flareclass import class_to_flux

    out = []
    labels = config.get("labels") or {}
    for key in ("strong_class", "min_class"):
        value = labels.get(key)
        if value is None:
            continue
        try:
            flux = class_to_flux(str(value))
        except ValueError as exc:
            out.append(([("labels", key)], f"labels.{key} {value!r}: {exc}"))
            continue
        if not flux > 0:
            out.append(
                (
                    [("labels", key)],
                    f"labels.{key} {value!r} is a zero flux: every flare would pass it; give a "
                    "class with a magnitude, e.g. M1.0",
                )
            )
    return out


def _split(config: Mapping) -> list[Problem]:
    if (config.get("split") or {}).get("method") == "region_kfold":
        return [
            (
                [("split", "method")],
                "split.method region_kfold deals regions into train/val folds only, so no run "
                "has a test split and the shard job would fail; use chronological_kfold (a "
                "test interval from split.boundaries, k-fold train/val over the rest) or "
                "random_regions",
            )
        ]
    return []


def _stacking(config: Mapping) -> list[Problem]:
    """The S1 shorthand (a list of criteria) is documented to stack lstm and cnn only when both
    are trained; without one of them it is not an error (a study config may inherit the list) but
    a ``UserWarning`` naming the keys, so that no ensemble silently goes missing.
    """
    from flarepipe.config.experiments import LEGACY_STACK_PAIR

    exp = config.get("experiments") or {}
    value = exp.get("stacking") or []
    models = list(exp.get("models") or [])
    if isinstance(value, Mapping) or not value or not all(isinstance(v, str) for v in value):
        return []  # the mapping forms name their pair: experiment_problems checks them
    missing = [m for m in LEGACY_STACK_PAIR if m not in models]
    if missing:
        warnings.warn(
            f"experiments.stacking {list(value)} stacks {list(LEGACY_STACK_PAIR)}, but "
            f"experiments.models {models} lacks {missing}: no ensemble will be made; add them, "
            "set experiments.stacking: [] (no ensembles), or name another pair "
            "({pair: [a, b], criteria: [...]})",
            UserWarning,
            stacklevel=2,
        )
    return []


def _archive_instruments(archive: Mapping) -> tuple[tuple[str, ...] | None, list[tuple]]:
    """Instruments the configured archive can hold and the keys that say so; None: unknown."""
    source = archive.get("source", "synthetic")
    if source == "synthetic":
        syn = archive.get("synthetic") or {}
        if "instruments" in syn:
            return tuple(syn["instruments"]), [("archive", "synthetic", "instruments")]
        return None, []  # the generator's default: every instrument
    if source == "jsoc":
        from flarepipe.core.series import SERIES

        series = (archive.get("jsoc") or {}).get("series") or []
        return tuple(SERIES[s].instrument for s in series if s in SERIES), [
            ("archive", "jsoc", "series")
        ]
    return None, []  # local files and tables: known only once read (the split stage checks)


def _datasets(config: Mapping) -> list[Problem]:
    from flarepipe.samples.registry import DATASETS

    have, keys = _archive_instruments(config.get("archive") or {})
    if have is None:
        return []
    out = []
    for d in (config.get("experiments") or {}).get("datasets") or []:
        if d not in DATASETS:
            continue
        lacking = [i for i in DATASETS[d].instruments if i not in have]
        if lacking:
            out.append(
                (
                    [("experiments", "datasets"), *keys],
                    f"experiments.datasets: {d} needs instrument(s) {lacking}, but the "
                    f"{config['archive'].get('source', 'synthetic')} archive has only "
                    f"{list(have)}; drop {d} or add the instrument to the archive",
                )
            )
    return out


def _image_size(config: Mapping) -> list[Problem]:
    from flarepipe.models.registry import NETWORKS

    size = (config.get("features") or {}).get("image_size")
    models = (config.get("experiments") or {}).get("models") or []
    out = []
    for m in models:
        spec = NETWORKS.get(m) if m in NETWORKS else None
        if spec is None or spec.input != "image" or spec.min_image_size is None or size is None:
            continue
        if int(size) < spec.min_image_size:
            out.append(
                (
                    [("features", "image_size"), ("experiments", "models")],
                    f"features.image_size {size} is below {spec.min_image_size}, the smallest "
                    f"image network {m!r} (in experiments.models) can take; raise "
                    "features.image_size or drop the network",
                )
            )
    return out


def _attribution(config: Mapping) -> list[Problem]:
    enabled = (config.get("attribution") or {}).get("enabled", True)
    source = (config.get("archive") or {}).get("source")
    if enabled and source == "tables":
        return [
            (
                [("attribution", "enabled"), ("archive", "source")],
                "attribution.enabled is true but archive.source is tables, whose records have no "
                "magnetogram files: the attribution stage needs the images the networks saw; set "
                "attribution.enabled: false",
            )
        ]
    return []


def _keyword_tables(config: Mapping) -> list[Problem]:
    """Keyword tables of a local/tables archive lack a column their column map needs."""
    import glob

    arch = config.get("archive") or {}
    src = arch.get("source")
    if src not in ("local", "tables"):
        return []
    sec = arch.get(src) or {}
    tables = sec.get("keyword_tables") or []
    if not tables:
        return []
    from flarepipe.archive.catalogues.keyword_tables import TableOptions, table_column_problems

    keys = ("constants", "sep", "decimal", "time_format", "time_scale", "grid_minutes")
    keys += ("grid_tolerance_minutes", "keep_extra")
    where = [("archive", src, "column_map"), ("archive", src, "constants")]
    try:
        opts = TableOptions(
            column_map=dict(sec.get("column_map") or {}),
            section=f"archive.{src}",
            **{k: sec[k] for k in keys if k in sec},
        )
    except ValueError as exc:
        return [(where, str(exc))]
    data_dir = sec.get("data_dir") if src == "tables" else None
    out = []
    for pattern in [tables] if isinstance(tables, str) else tables:
        full = Path(os.path.expanduser(str(pattern)))
        if data_dir is not None and not full.is_absolute():
            full = Path(os.path.expanduser(str(data_dir))) / full
        for f in sorted(glob.glob(str(full))):
            why = table_column_problems(f, opts)
            if why:
                out.append((where, why))
                break  # one file per pattern says it
    return out


def _archive_size(config: Mapping) -> list[Problem]:
    """The synthetic or jsoc archive's estimated size (:mod:`flarepipe.archive.size`): a
    ``UserWarning`` with the estimate from ``archive.size_warn_gb`` on, an error above
    ``archive.size_limit_gb``, naming the keys that set the size.
    """
    from flarepipe.archive.size import estimate_archive

    archive = config.get("archive") or {}
    try:
        est = estimate_archive(archive)
    except (KeyError, ValueError, TypeError):
        return []  # a setting the estimate cannot read: the source's own checks report it
    if est is None:
        return []
    source = archive.get("source", "synthetic")
    drivers = (
        "archive.synthetic.scale/n_regions/days/max_patch_deg/instruments"
        if source == "synthetic"
        else "archive.jsoc.start/end/cadence/series/regions"
    )
    keys = [("archive", "synthetic" if source == "synthetic" else "jsoc")]
    limit, warn = archive.get("size_limit_gb"), archive.get("size_warn_gb")
    if limit is not None and est.gb > float(limit):
        return [
            (
                [("archive", "size_limit_gb"), *keys],
                f"the {source} archive is estimated at {est.describe()}, above "
                f"archive.size_limit_gb {limit:g}: shrink it ({drivers}) or raise "
                "archive.size_limit_gb (null: no limit) if the disk can take it",
            )
        ]
    if warn is not None and est.gb >= float(warn):
        warnings.warn(
            f"the {source} archive is estimated at {est.describe()} (archive.size_warn_gb "
            f"{warn:g}; set by {drivers}); make sure the disk of 'results' can take it",
            UserWarning,
            stacklevel=2,
        )
    return []


_CHECKS = (
    _results,
    _classes,
    _split,
    _stacking,
    _datasets,
    _image_size,
    _attribution,
    _keyword_tables,
    _archive_size,
)


def config_problems(config: Mapping[str, Any]) -> list[Problem]:
    """Every cross-field conflict of a schema-valid, filled configuration (module docstring).

    Returns
    -------
    list
        ``(paths, message)`` pairs, empty when the configuration can run; ``paths`` are the
        config keys (tuples) the message is about.
    """
    return [p for check in _CHECKS for p in check(config)]
