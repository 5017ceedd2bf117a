"""The archive rules (``rules/archive.smk``): the raw archive, JSOC units, catalogue, figure."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "run_archive",
    "run_jsoc_unit",
    "run_catalogue",
    "run_jsoc_merge",
    "run_synthetic_figure",
]


def _one_folder(*paths: str | os.PathLike) -> Path:
    """The common folder of files a builder writes side by side (the archive layout)."""
    folders = {Path(p).parent for p in paths}
    if len(folders) != 1:
        raise ValueError(
            f"archive outputs must share one folder (docs/FILES.md), got "
            f"{sorted(map(str, folders))}"
        )
    return folders.pop()


def run_archive(
    cfg: dict,
    out_records,
    out_flares,
    out_manifest,
    out_rates=None,
    workers: int = 1,
    sources=(),
    out_pixels=None,
) -> dict:
    """Rule ``archive`` (synthetic, local or tables source): build the configured archive.

    ``cfg`` is the ``archive`` section; the outputs are the layout files of one archive folder
    (``out_rates`` is the synthetic archive's ``truth/rates.csv``, ``out_pixels`` its
    ``pixels.csv``, written by every source). ``sources`` are the local
    files the source reads (:func:`flarepipe.archive.build.source_files`), declared by the rule so
    that an edit reruns it; the builder finds them through ``cfg``.
    """
    from flarepipe.archive.build import build_archive

    outs = [out_records, out_flares, out_manifest] + ([out_pixels] if out_pixels else [])
    root = _one_folder(*outs)
    manifest = build_archive(cfg, root, workers=workers)
    _record_layout(out_records, out_flares)
    if out_rates is not None and not Path(out_rates).is_file():
        raise FileNotFoundError(f"{out_rates}: the archive source wrote no planted rates")
    if out_pixels is not None and not Path(out_pixels).is_file():
        raise FileNotFoundError(f"{out_pixels}: the archive source wrote no pixel statistics")
    return manifest


def run_jsoc_unit(cfg: dict, unit: str, archive, out) -> Path:
    """Rule ``jsoc_unit``: fetch one JSOC unit (keywords, export, resumable downloads).

    ``cfg`` is the validated ``archive.jsoc`` section; ``archive`` the archive folder (a param);
    the unit's files go under ``archive/units``.
    """
    from flarepipe.archive.sources.jsoc import run_unit as fetch

    done = Path(fetch(cfg, unit, archive))
    if done.resolve() != Path(out).resolve():
        raise ValueError(f"jsoc unit {unit}: wrote {done}, the rule declares {out}")
    return done


def run_jsoc_merge(
    units: list, flares, rejected, out_records, out_flares, out_manifest, out_pixels=None
) -> None:
    """Rule ``archive`` (jsoc source): merge finished units and the catalogue into the layout."""
    from flarepipe.archive.sources.jsoc import merge_units

    root = _one_folder(out_records, out_flares, out_manifest, *([out_pixels] if out_pixels else []))
    merge_units(list(units), root, flares, rejected_flares=rejected)
    _record_layout(out_records, out_flares)


def _record_layout(records, flares) -> None:
    """Row count and SHA-256 of the archive's records.csv and flares.csv, whatever the source,
    verified by :func:`flarepipe.archive.layout.read_records` / ``read_flares`` on every read.
    """
    from flarepipe.io.atomic import record_table

    for path in (records, flares):
        record_table(path)


def run_catalogue(cfg: dict, out_flares, out_rejected, out_repaired, sources=()) -> None:
    """Rule ``catalogue``: the flare catalogue (HEK or a catalogue file), rejected/repaired rows.

    ``cfg`` is the validated ``archive.catalogue`` section; ``sources`` the catalogue file it
    names (:func:`flarepipe.archive.build.catalogue_files`), declared so that an edit reruns it.
    """
    from flarepipe.archive.catalogues.flares import build_catalogue, write_catalogue

    write_catalogue(build_catalogue(cfg), out_flares, out_rejected, out_repaired)


def run_synthetic_figure(records, flares, rates, out, region_id: str | None = None) -> str:
    """Rule ``synthetic_figure``: one synthetic patch, its region's flares, keywords and rates."""
    from flarepipe.archive.figure import region_figure

    return region_figure(records, flares, rates, out, region_id=region_id)
