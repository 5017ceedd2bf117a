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
    models.<m>.network.image_size,       a model's image side (its own, else features.image_size)
    features.image_size, experiments.models  below its image network's registered
                                         min_image_size (the CNN's five poolings)
    archive.local/tables.column_map      a keyword table (its header or Parquet schema, read now)
                                         lacks a column the map or the defaults need, or map and
                                         constants disagree
    features.keywords, quality.keywords  a name that is not a column the archive will have (the
                                         layout's keywords; a table's unmapped columns: extras)
    models.<net>.network.n_features      differs from the number of features.keywords
    quality.max_cm_distance_deg, ...     a filter on a column no keyword table of a local archive
                                         without FITS files has (LON_FWT, OBS_VR, AREA)
    archive.local/tables.flares_format   the flare list's first line reads as another format, or
                                         (csv) its header lacks a column flares_columns needs
    attribution.enabled, archive.source  the tables source (or a local one with keyword tables
                                         and no fits_dir), whose records have no magnetograms:
                                         the attribution stage needs the images the networks saw
                                         (its preprocessing, probes and PIL analysis)
    experiments.models, archive.*        an image network on such an archive (only sequence
                                         models and baselines can train on it)
    archive.size_limit_gb, archive.*     the synthetic or jsoc archive, or a jsoc full-disk
                                         download (fulldisk.jsoc), estimated above the limit
                                         (flarepipe.archive.size); from archive.size_warn_gb on
                                         a warning with the estimate
    labels.step_minutes, archive.*       records sparser than the label grid (S2: hourly samples
                                         need hourly records): the synthetic cadence_min or the
                                         jsoc cadence is not a divisor of step_minutes
    quality.max_abs_obs_vr, quality.max_cm_distance_deg, quality.min_area_mm2, archive.source
                                         a filter on a column the archive cannot have: the
                                         tables source has no OBS_VR, LON_FWT; keyword tables whose
                                         column_map skips area_uhem have no region areas

The archive's own records are checked again where they are first read (the quality stage,
:func:`flarepipe.samples.quality.check_required_columns`): a local archive's columns are known
only there.
    fulldisk.*                           (when fulldisk.enabled) source local without local.dir
                                         or local.flares; source jsoc without archive.jsoc or
                                         archive.catalogue, or jsoc.start not before jsoc.end;
                                         an input.size that does not divide a
                                         synthetic frame side; a test split by instrument whose
                                         instrument is not rendered, or that leaves no other
                                         instrument to train on; val_start not before test_start
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
    from flarepipe.config.experiments import model_image_size, model_network
    from flarepipe.models.registry import NETWORKS

    models = (config.get("experiments") or {}).get("models") or []
    out = []
    for m in models:
        arch = model_network(config, m)
        spec = NETWORKS[arch] if arch is not None else None
        if spec is None or spec.input != "image" or spec.min_image_size is None:
            continue
        size = model_image_size(config, m)
        if size is None or size >= spec.min_image_size:
            continue
        block = ((config.get("models") or {}).get(m) or {}).get("network") or {}
        own = block.get("image_size") is not None
        key = ("models", m, "network", "image_size") if own else ("features", "image_size")
        name = ".".join(key)
        which = f"{m!r} (in experiments.models)" if arch == m else f"{arch!r} (model {m!r})"
        out.append(
            (
                [key, ("experiments", "models")],
                f"{name} {size} is below {spec.min_image_size}, the smallest image network "
                f"{which} can take; raise {name} or drop the model",
            )
        )
    return out


def _keyword_only(config: Mapping) -> tuple[str, list[tuple]] | None:
    """How the archive is known to hold no magnetogram (the tables source, or a local source
    with keyword tables and no fits_dir) and the keys that say so; ``None`` otherwise.
    """
    archive = config.get("archive") or {}
    source = archive.get("source")
    if source == "tables":
        return "archive.source is tables", [("archive", "source")]
    local = archive.get("local") or {}
    if source == "local" and not local.get("fits_dir") and local.get("keyword_tables"):
        return (
            "archive.local has keyword_tables and no fits_dir",
            [("archive", "local", "fits_dir"), ("archive", "local", "keyword_tables")],
        )
    return None


def _attribution(config: Mapping) -> list[Problem]:
    enabled = (config.get("attribution") or {}).get("enabled", True)
    only = _keyword_only(config)
    if enabled and only:
        return [
            (
                [("attribution", "enabled"), *only[1]],
                f"attribution.enabled is true but {only[0]}: its records have no "
                "magnetogram files, and the attribution stage needs the images the networks saw; "
                "set attribution.enabled: false",
            )
        ]
    return []


def _image_models(config: Mapping) -> list[Problem]:
    """An image network asked of an archive without magnetograms (keyword tables only)."""
    from flarepipe.config.experiments import model_network
    from flarepipe.models.registry import NETWORKS

    only = _keyword_only(config)
    models = (config.get("experiments") or {}).get("models") or []
    arch = {m: model_network(config, m) for m in models}
    images = [m for m in models if arch[m] is not None and NETWORKS[arch[m]].input == "image"]
    if not only or not images:
        return []
    rest = [m for m in models if m not in images]
    return [
        (
            [("experiments", "models"), *only[1]],
            f"experiments.models {list(models)} has image network(s) {images}, but {only[0]}: "
            f"no record has a magnetogram; train sequence models and baselines only "
            f"(experiments.models: {rest}) or add the FITS exports",
        )
    ]


def _table_files(config: Mapping):
    """``(source, options, files per pattern)`` of a local/tables archive's keyword tables;
    ``None`` without tables; a :class:`Problem` list when the table options do not build.
    """
    import glob

    arch = config.get("archive") or {}
    src = arch.get("source")
    if src not in ("local", "tables"):
        return None
    sec = arch.get(src) or {}
    tables = sec.get("keyword_tables") or []
    if not tables:
        return None
    from flarepipe.archive.catalogues.keyword_tables import TableOptions

    keys = ("constants", "sep", "decimal", "time_format", "time_scale", "grid_minutes")
    keys += ("grid_tolerance_minutes", "keep_extra")
    try:
        opts = TableOptions(
            column_map=dict(sec.get("column_map") or {}),
            section=f"archive.{src}",
            **{k: sec[k] for k in keys if k in sec},
        )
    except ValueError as exc:
        return [([("archive", src, "column_map"), ("archive", src, "constants")], str(exc))]
    data_dir = sec.get("data_dir") if src == "tables" else None
    files = []
    for pattern in [tables] if isinstance(tables, str) else tables:
        full = Path(os.path.expanduser(str(pattern)))
        if data_dir is not None and not full.is_absolute():
            full = Path(os.path.expanduser(str(data_dir))) / full
        files.append(sorted(glob.glob(str(full))))
    return src, opts, files


def _keyword_tables(config: Mapping) -> list[Problem]:
    """Keyword tables of a local/tables archive lack a column their column map needs (text
    headers and Parquet schemas only are read).
    """
    found = _table_files(config)
    if found is None or isinstance(found, list):
        return found or []
    src, opts, files = found
    from flarepipe.archive.catalogues.keyword_tables import table_column_problems

    where = [("archive", src, "column_map"), ("archive", src, "constants")]
    out = []
    for hits in files:
        for f in hits:
            why = table_column_problems(f, opts)
            if why:
                out.append((where, why))
                break  # one file per pattern says it
    return out


def _keyword_columns(config: Mapping) -> list[Problem]:
    """``features.keywords`` (the sequence models' and baselines' inputs) or ``quality.keywords``
    name a column the archive's records.csv will not have: the layout's keyword columns, plus,
    for keyword tables, the extra columns their headers can give.
    """
    from flarepipe.archive.catalogues.keyword_tables import extra_column_candidates
    from flarepipe.archive.layout import RECORD_COLUMNS
    from flarepipe.core.keywords import KEYWORD_COLUMNS

    found = _table_files(config)
    if isinstance(found, list):
        return []  # the table options are wrong: _keyword_tables says so
    extras: list[str] = []
    tables_keys: list[tuple] = []
    where = ""
    if found is not None:
        src, opts, files = found
        for f in (f for hits in files for f in hits):
            names = extra_column_candidates(f, opts)
            if names is None:
                return []  # a header that does not read: the archive rule reports it
            extras += [n for n in names if n not in extras]
        tables_keys = [("archive", src, "keyword_tables"), ("archive", src, "keep_extra")]
        where = (
            f", and its keyword tables (archive.{src}.keyword_tables) can add {extras} "
            f"(archive.{src}.keep_extra {opts.keep_extra})"
        )
    have = set(RECORD_COLUMNS) | set(extras)
    quality = config.get("quality") or {}
    lists = [("features", (config.get("features") or {}).get("keywords"))]
    if quality.get("check_nan_keywords", True):
        lists.append(("quality", quality.get("keywords")))
    out = []
    for sec, names in lists:
        missing = [k for k in names or [] if k not in have]
        if missing:
            fix = (
                f", or map a table column to one with archive.{found[0]}.column_map"
                if found
                else ""
            )
            out.append(
                (
                    [(sec, "keywords"), *tables_keys],
                    f"{sec}.keywords {missing} are not columns the archive's records.csv will "
                    f"have: its keyword columns are {list(KEYWORD_COLUMNS)}{where}; name those"
                    f"{fix}",
                )
            )
    return out


#: quality filter -> the flarepipe name of the column it reads (flarepipe.samples.quality)
_FILTER_NAMES = {"max_abs_obs_vr": "obs_vr", "max_cm_distance_deg": "lon_fwt"}
_FILTER_NAMES["min_area_mm2"] = "area_uhem"


def _table_filters(config: Mapping) -> list[Problem]:
    """A quality filter on a column that no keyword table of a local archive without FITS files
    gives (e.g. ``quality.max_cm_distance_deg`` and tables without ``LON_FWT``): every record
    would fail it (the quality stage refuses such records; this says it before any job).
    """
    from flarepipe.archive.catalogues.keyword_tables import table_names_given

    arch = config.get("archive") or {}
    if arch.get("source") != "local" or (arch.get("local") or {}).get("fits_dir"):
        return []
    found = _table_files(config)
    if not isinstance(found, tuple):
        return []
    _, opts, files = found
    given: set[str] = set()
    for f in (f for hits in files for f in hits):
        names = table_names_given(f, opts)
        if names is None:
            return []
        given |= names
    if not files or not any(files):
        return []
    quality = config.get("quality") or {}
    out = []
    for key, name in _FILTER_NAMES.items():
        if quality.get(key) is not None and name not in given:
            out.append(
                (
                    [("quality", key), ("archive", "local", "keyword_tables")],
                    f"quality.{key} filters on {name}, but no keyword table of "
                    f"archive.local.keyword_tables has a column for it (and no fits_dir gives "
                    f"it): every record would be rejected; set quality.{key}: null, or map the "
                    f"table's column with archive.local.column_map {{{name}: <column>}}",
                )
            )
    return out


def _flare_list(config: Mapping) -> list[Problem]:
    """The flare list of a local/tables archive contradicts its ``flares_format`` (its first
    line reads as another format), or, read as ``csv``, lacks a column ``flares_columns`` (or a
    required field) needs.
    """
    from flarepipe.archive.catalogues.flares import flare_list_problems

    arch = config.get("archive") or {}
    src = arch.get("source")
    sec = (arch.get(src) or {}) if src in ("local", "tables") else {}
    if not sec.get("flares"):
        return []
    path = Path(os.path.expanduser(str(sec["flares"])))
    if src == "tables" and sec.get("data_dir") is not None and not path.is_absolute():
        path = Path(os.path.expanduser(str(sec["data_dir"]))) / path
    if not path.is_file():
        return []
    key = f"archive.{src}.flares_format"
    why = flare_list_problems(
        path, sec.get("flares_format", "auto"), sec.get("flares_columns"), key
    )
    if why is None:
        return []
    keys = [("archive", src, "flares_format"), ("archive", src, "flares_columns")]
    return [([*keys, ("archive", src, "flares")], why)]


def _lstm_features(config: Mapping) -> list[Problem]:
    """A sequence network's ``n_features`` differs from the number of ``features.keywords``."""
    keywords = (config.get("features") or {}).get("keywords") or []
    out = []
    for m in (config.get("experiments") or {}).get("models") or []:
        net = ((config.get("models") or {}).get(m) or {}).get("network") or {}
        if "n_features" in net and keywords and int(net["n_features"]) != len(keywords):
            out.append(
                (
                    [("models", m, "network", "n_features"), ("features", "keywords")],
                    f"models.{m}.network.n_features {net['n_features']} differs from the "
                    f"{len(keywords)} features.keywords {list(keywords)}: the network reads one "
                    "input per keyword; give it that many or drop n_features (then it is taken "
                    "from the shards)",
                )
            )
    return out


def _archive_size(config: Mapping) -> list[Problem]:
    """The synthetic or jsoc archive's estimated size, and that of a jsoc full-disk download
    (:mod:`flarepipe.archive.size`): a ``UserWarning`` with the estimate from
    ``archive.size_warn_gb`` on, an error above ``archive.size_limit_gb``, naming the keys that
    set the size.
    """
    from flarepipe.archive.size import estimate_archive, fulldisk_jsoc_estimate

    archive = config.get("archive") or {}
    source = archive.get("source", "synthetic")
    fd = config.get("fulldisk") or {}
    wanted = [
        (
            f"{source} archive",
            lambda: estimate_archive(archive),
            "archive.synthetic.scale/n_regions/days/max_patch_deg/instruments"
            if source == "synthetic"
            else "archive.jsoc.start/end/cadence/series/regions",
            [("archive", "synthetic" if source == "synthetic" else "jsoc")],
        )
    ]
    if fd.get("enabled") and fd.get("source") == "jsoc":
        wanted.append(
            (
                "jsoc full-disk download",
                lambda: fulldisk_jsoc_estimate(fd.get("jsoc") or {}),
                "fulldisk.jsoc.start/end/instruments",
                [("fulldisk", "jsoc")],
            )
        )
    limit, warn = archive.get("size_limit_gb"), archive.get("size_warn_gb")
    out: list[Problem] = []
    for what, estimate, drivers, keys in wanted:
        try:
            est = estimate()
        except (KeyError, ValueError, TypeError):
            continue  # a setting the estimate cannot read: the source's own checks report it
        if est is None:
            continue
        if limit is not None and est.gb > float(limit):
            out.append(
                (
                    [("archive", "size_limit_gb"), *keys],
                    f"the {what} is estimated at {est.describe()}, above "
                    f"archive.size_limit_gb {limit:g}: shrink it ({drivers}) or raise "
                    "archive.size_limit_gb (null: no limit) if the disk can take it",
                )
            )
        elif warn is not None and est.gb >= float(warn):
            warnings.warn(
                f"the {what} is estimated at {est.describe()} (archive.size_warn_gb "
                f"{warn:g}; set by {drivers}); make sure the disk of 'results' can take it",
                UserWarning,
                stacklevel=2,
            )
    return out


#: The synthetic generator's default record cadence, minutes (SyntheticParams.cadence_min; not
#: imported: the generator's package loads scipy, and config validation must stay light).
SYNTHETIC_CADENCE_MIN = 96
#: Native record cadence (minutes) of each instrument's patch series (jsoc cadence: null).
_NATIVE_CADENCE_MIN = {"HMI": 12.0, "MDI": 96.0}
_UNITS_MIN = {"s": 1 / 60, "m": 1.0, "h": 60.0, "d": 1440.0}


def _archive_cadences(archive: Mapping) -> tuple[dict[str, float], list[tuple]]:
    """Record cadence (minutes) per instrument of the configured archive, and its keys; empty
    when unknown before the archive is read (local files, tables).
    """
    source = archive.get("source", "synthetic")
    if source == "synthetic":
        syn = archive.get("synthetic") or {}
        cadence = syn.get("cadence_min")
        if cadence is None:
            cadence = SYNTHETIC_CADENCE_MIN
        instruments = syn.get("instruments") or list(_NATIVE_CADENCE_MIN)
        return {i: float(cadence) for i in instruments}, [("archive", "synthetic", "cadence_min")]
    if source == "jsoc":
        from flarepipe.core.series import SERIES

        jsoc = archive.get("jsoc") or {}
        value = jsoc.get("cadence", "96m")
        out = {}
        for s in jsoc.get("series") or []:
            if s not in SERIES:
                continue
            inst = SERIES[s].instrument
            if value:
                out[inst] = float(str(value)[:-1]) * _UNITS_MIN[str(value)[-1]]
            else:
                out[inst] = _NATIVE_CADENCE_MIN.get(inst, 0.0)
        return out, [("archive", "jsoc", "cadence")]
    return {}, []


def _cadence(config: Mapping) -> list[Problem]:
    step = (config.get("labels") or {}).get("step_minutes")
    cadences, keys = _archive_cadences(config.get("archive") or {})
    if step is None or not cadences:
        return []
    out = []
    for inst, cadence in cadences.items():
        if cadence <= 0:
            continue
        ratio = float(step) / cadence
        if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
            key = ".".join(keys[0])
            out.append(
                (
                    [("labels", "step_minutes"), *keys],
                    f"labels.step_minutes {step:g} needs {inst} records every {step:g} min (or a "
                    f"divisor of it), but {key} gives records every {cadence:g} min: most grid "
                    f"points would have no record; set {key} to {step:g} or a divisor of it, or "
                    "labels.step_minutes to a multiple of the cadence",
                )
            )
    return out


def _filter_columns(config: Mapping) -> list[Problem]:
    archive = config.get("archive") or {}
    source = archive.get("source", "synthetic")
    quality = config.get("quality") or {}
    out = []
    for key, keyword in (("max_abs_obs_vr", "OBS_VR"), ("max_cm_distance_deg", "LON_FWT")):
        if source == "tables" and quality.get(key) is not None:
            out.append(
                (
                    [("quality", key), ("archive", "source")],
                    f"quality.{key} needs the records' {keyword} (column {keyword.lower()}), but "
                    f"archive.source tables (published keyword tables) has no {keyword} column; "
                    f"set quality.{key}: null or use the jsoc or local source",
                )
            )
    if source in ("tables", "local") and quality.get("min_area_mm2") is not None:
        cmap = (archive.get(source) or {}).get("column_map") or {}
        if "area_uhem" in cmap and cmap["area_uhem"] is None:
            out.append(
                (
                    [("quality", "min_area_mm2"), ("archive", source, "column_map")],
                    f"quality.min_area_mm2 needs the region areas (column area_uhem), but "
                    f"archive.{source}.column_map skips area_uhem (null): map it to the tables' "
                    "area column or set quality.min_area_mm2: null",
                )
            )
    return out


def _fulldisk(config: Mapping) -> list[Problem]:
    fd = config.get("fulldisk") or {}
    if not fd.get("enabled", False):
        return []
    out: list[Problem] = []
    if fd.get("source") == "local":
        local = fd.get("local") or {}
        for key in ("dir", "flares"):
            if not local.get(key):
                out.append(
                    (
                        [("fulldisk", "local", key), ("fulldisk", "source")],
                        f"fulldisk.source is local but fulldisk.local.{key} is not set",
                    )
                )
    if fd.get("source") == "jsoc":
        archive = config.get("archive") or {}
        for key in ("jsoc", "catalogue"):
            if not isinstance(archive.get(key), Mapping):
                out.append(
                    (
                        [("archive", key), ("fulldisk", "source")],
                        f"fulldisk.source is jsoc but archive.{key} is not set: the full-disk "
                        "download takes its server, retry budget and e-mail from archive.jsoc "
                        "and its flares from archive.catalogue (give them, {} for the defaults)",
                    )
                )
        jsoc = fd.get("jsoc") or {}
        lo, hi = jsoc.get("start"), jsoc.get("end")
        if lo is not None and hi is not None and str(lo)[:10] >= str(hi)[:10]:
            out.append(
                (
                    [("fulldisk", "jsoc", "start"), ("fulldisk", "jsoc", "end")],
                    f"fulldisk.jsoc.start ({lo}) must be before fulldisk.jsoc.end ({hi})",
                )
            )
    split = fd.get("split") or {}
    size = int((fd.get("input") or {}).get("size", 512))
    source = fd.get("source", "synthetic")
    if source in ("synthetic", "jsoc"):
        syn = fd.get(source) or {}
        insts = list(syn.get("instruments", ["MDI", "HMI"]))
        for inst in insts if source == "synthetic" else ():
            key = f"size_{inst.lower()}"
            side = int(syn.get(key, 1024))
            if side % size:
                out.append(
                    (
                        [("fulldisk", "input", "size"), ("fulldisk", "synthetic", key)],
                        f"fulldisk.input.size {size} does not divide fulldisk.synthetic.{key} "
                        f"{side} (frames are block-mean resized)",
                    )
                )
        if split.get("test_start") is None:
            test = split.get("test_instrument", "HMI")
            if test not in insts or len(insts) < 2:
                out.append(
                    (
                        [
                            ("fulldisk", "split", "test_instrument"),
                            ("fulldisk", source, "instruments"),
                        ],
                        f"fulldisk.split.test_instrument is {test} (test_start null) but "
                        f"fulldisk.{source}.instruments is {insts}: the split needs {test} "
                        "for testing and another instrument to train on (or set test_start)",
                    )
                )
    lo, hi = split.get("val_start"), split.get("test_start")
    if lo is not None and hi is not None:

        def day(v) -> str:  # the ISO date of a YAML date, an ISO string or a T_REC
            return str(v)[:10].replace(".", "-")

        if day(lo) >= day(hi):
            out.append(
                (
                    [("fulldisk", "split", "val_start"), ("fulldisk", "split", "test_start")],
                    f"fulldisk.split.val_start ({lo}) must be before test_start ({hi})",
                )
            )
    return out


_CHECKS = (
    _results,
    _classes,
    _split,
    _stacking,
    _datasets,
    _image_size,
    _attribution,
    _image_models,
    _keyword_tables,
    _keyword_columns,
    _table_filters,
    _flare_list,
    _lstm_features,
    _archive_size,
    _cadence,
    _filter_columns,
    _fulldisk,
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
