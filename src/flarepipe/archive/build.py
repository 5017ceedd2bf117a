"""Build the raw archive from the configured source (``archive.source``).

Every source writes the layout of :mod:`flarepipe.archive.layout`; this module only dispatches.
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["build_archive", "source_files", "fits_listing", "catalogue_files"]


def _globbed(patterns: str | os.PathLike | Iterable | None, data_dir=None) -> list[str]:
    """Files matching paths or globs (a pattern matching nothing is kept as it is written, so that
    the workflow reports it as a missing input file before any job runs).
    """
    if not patterns:
        return []
    if isinstance(patterns, (str, os.PathLike)):
        patterns = [patterns]
    out: list[str] = []
    for p in patterns:
        p = Path(os.path.expanduser(str(p)))
        if data_dir is not None and not p.is_absolute():
            p = Path(os.path.expanduser(str(data_dir))) / p
        hits = sorted(glob.glob(str(p)))
        out += hits or [str(p)]
    return out


def source_files(cfg: Mapping) -> list[str]:
    """The local files the archive rule reads besides FITS exports (declared as its inputs).

    ``cfg`` is the ``archive`` section. ``local``: ``keyword_tables``, ``flares`` and
    ``harp_noaa_map``; ``tables``: the same keys, relative to ``data_dir``; ``synthetic`` and
    ``jsoc``: none (the jsoc catalogue's file is :func:`catalogue_files`). The FITS exports of
    ``local.fits_dir`` are too many to declare: :func:`fits_listing` fingerprints them instead.
    """
    source = cfg.get("source", "synthetic")
    if source not in ("local", "tables"):
        return []
    sec = cfg.get(source) or {}
    data_dir = sec.get("data_dir") if source == "tables" else None
    files = _globbed(sec.get("keyword_tables"), data_dir)
    for key in ("flares", "harp_noaa_map"):
        files += _globbed(sec.get(key), data_dir)
    return files


def fits_listing(cfg: Mapping) -> str:
    """SHA-256 over the sorted (path, size, mtime) of the local source's FITS exports.

    A param of the archive rule: adding, removing, replacing or touching one export changes it,
    so the archive reruns (listing 10⁵ files costs a ``stat`` each, not a read). Empty for the
    other sources and when ``local.fits_dir`` is not set.
    """
    if cfg.get("source") != "local":
        return ""
    sec = cfg.get("local") or {}
    if not sec.get("fits_dir"):
        return ""
    root = Path(os.path.expanduser(str(sec["fits_dir"])))
    pattern = sec.get("fits_glob") or "**/*.magnetogram.fits"
    h = hashlib.sha256()
    for f in sorted(glob.glob(str(root / pattern), recursive=True)):
        st = os.stat(f)
        h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def catalogue_files(catalogue: Mapping) -> list[str]:
    """The file the catalogue rule reads (``archive.catalogue.path`` of ``source: file``)."""
    if catalogue.get("source") == "file" and catalogue.get("path"):
        return _globbed(catalogue["path"])
    return []


def _require_room(synthetic: Mapping, out_dir: str | os.PathLike) -> None:
    """Refuse to start a synthetic archive the disk has no room for (its size estimate, less
    the FITS files a former build left, which the new ones replace one by one).
    """
    from flarepipe.archive.size import synthetic_estimate
    from flarepipe.io.atomic import require_free_space

    est = synthetic_estimate(synthetic)
    fits = Path(out_dir) / "fits"
    have = sum(p.stat().st_size for p in fits.rglob("*.fits")) if fits.is_dir() else 0
    require_free_space(
        out_dir,
        max(est.bytes - have, 0),
        f"synthetic archive {out_dir} (archive.synthetic, estimated {est.describe()})",
        margin=1.0,
    )


def build_archive(cfg: dict, out_dir: str | os.PathLike, workers: int = 1) -> dict:
    """Write the archive named by ``cfg['source']`` into ``out_dir``; return its manifest.

    ``cfg`` is the ``archive`` section of config.yaml. A synthetic archive first checks the disk
    has room for its estimated size (:mod:`flarepipe.archive.size`): ``OSError(ENOSPC)`` naming
    the folder and the estimate, before any file is written.
    """
    source = cfg.get("source", "synthetic")
    if source == "synthetic":
        from flarepipe.archive.sources.synthetic import SyntheticParams, generate_archive

        scfg = dict(cfg.get("synthetic", {}))
        scfg.pop("workers", None)
        if "instruments" in scfg:
            scfg["instruments"] = tuple(scfg["instruments"])
        try:
            params = SyntheticParams(**scfg)
        except TypeError as exc:
            raise ValueError(f"archive.synthetic: {exc}") from exc
        _require_room(cfg.get("synthetic", {}), out_dir)
        return generate_archive(out_dir, params, workers=workers)
    if source == "local":
        from flarepipe.archive.sources import local

        return local.build_local_archive(cfg.get("local", {}), out_dir)
    if source == "tables":
        from flarepipe.archive.sources import tables

        settings = tables.resolve_tables_config(cfg.get("tables", {}))
        return tables.build_tables_archive(out_dir, **settings)
    if source == "jsoc":
        raise ValueError(
            "archive.source 'jsoc' is built by the jsoc rules (one job per unit); "
            "build_archive handles 'synthetic', 'local' and 'tables'"
        )
    raise ValueError(f"archive.source must be synthetic, local, tables or jsoc, got {source!r}")
