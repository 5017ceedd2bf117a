"""Build the raw archive from the configured source (``archive.source``).

Every source writes the layout of :mod:`flarepipe.archive.layout`; this module only dispatches.
"""

from __future__ import annotations

import os

__all__ = ["build_archive"]


def build_archive(cfg: dict, out_dir: str | os.PathLike, workers: int = 1) -> dict:
    """Write the archive named by ``cfg['source']`` into ``out_dir``; return its manifest.

    ``cfg`` is the ``archive`` section of config.yaml.
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
            raise ValueError(f"config.yaml: archive.synthetic: {exc}") from exc
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
            "config.yaml: archive.source 'jsoc' is built by the jsoc rules (one job per unit); "
            "build_archive handles 'synthetic', 'local' and 'tables'"
        )
    raise ValueError(
        f"config.yaml: archive.source must be synthetic, local, tables or jsoc, got {source!r}"
    )
