"""The archive rules (rules/archive.smk): build the raw archive; the synthetic region figure.

Each function takes its rule's declared inputs and outputs; the workflow script calls one of them."""

from __future__ import annotations

import os
from pathlib import Path



__all__ = ["run_archive", "run_unit", "run_merge", "run_catalogue", "run_synthetic_figure"]


def run_archive(cfg: dict, out_dir: str | os.PathLike, workers: int = 1) -> dict:
    """Build the configured archive (``archive`` config section) into ``out_dir``."""
    from flarepipe.archive.build import build_archive

    return build_archive(cfg, out_dir, workers=workers)


def run_unit(cfg: dict, unit: str, archive_dir: str | os.PathLike) -> Path:
    """Fetch one JSOC unit (keywords, export, resumable downloads) into ``archive_dir/units``.

    ``cfg`` is the validated ``archive`` section; the unit reads ``cfg['jsoc']``.
    """
    from flarepipe.archive.sources.jsoc import run_unit as fetch

    return fetch(cfg["jsoc"], unit, archive_dir)


def run_merge(
    units: list, flares_csv: str | os.PathLike, rejected_csv: str | os.PathLike, out_records
) -> None:
    """Merge finished JSOC units and the catalogue into the archive layout."""
    from flarepipe.archive.sources.jsoc import merge_units

    merge_units(list(units), Path(out_records).parent, flares_csv, rejected_flares=rejected_csv)


def run_catalogue(cfg: dict, out_flares, out_rejected, out_repaired) -> None:
    """The flare catalogue (HEK or a catalogue file), with rejected and repaired rows.

    ``cfg`` is the validated ``archive`` section; the catalogue reads ``cfg['catalogue']``.
    """
    from flarepipe.archive.catalogues.flares import build_catalogue, write_catalogue

    write_catalogue(build_catalogue(cfg["catalogue"]), out_flares, out_rejected, out_repaired)


def run_synthetic_figure(archive_dir, out_png, region_id: str | None = None) -> str:
    """A figure of one synthetic patch and its region's flares and keywords (README, report)."""
    from flarepipe.archive.figure import region_figure

    return region_figure(archive_dir, out_png, region_id=region_id)
