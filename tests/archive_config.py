"""Archive config sections as the workflow sees them: validated and filled by flarepipe.config.

The sources take typed settings built from the validated ``archive.jsoc`` / ``archive.local`` /
``archive.catalogue`` sections; tests build those sections the same way (schema defaults, bounds),
never by hand.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from flarepipe.config import validate_config

REPO = Path(__file__).resolve().parents[1]
_BASE = yaml.safe_load((REPO / "config.yaml").read_text())


def validated_archive(archive: dict) -> dict:
    """``archive`` placed in the shipped config.yaml, validated; returns the filled section.

    Raises ``flarepipe.config.ConfigError`` as the workflow would.
    """
    cfg = copy.deepcopy(_BASE)
    cfg["archive"] = copy.deepcopy(archive)
    cfg["experiments"]["datasets"] = _datasets_for(archive, cfg["experiments"]["datasets"])
    local = archive.get("local") or {}
    if archive.get("source") == "local" and not local.get("fits_dir"):
        # keyword tables only: no magnetograms, so no image network and no attribution
        from flarepipe.models.registry import NETWORKS

        models = cfg["experiments"]["models"]
        cfg["experiments"]["models"] = [
            m for m in models if m not in NETWORKS or NETWORKS[m].input != "image"
        ]
        cfg["experiments"]["stacking"] = []
        cfg["attribution"] = {**(cfg.get("attribution") or {}), "enabled": False}
    return validate_config(cfg)["archive"]


def _datasets_for(archive: dict, datasets: list[str]) -> list[str]:
    """The shipped datasets a jsoc archive of these series can serve (validation refuses a
    dataset whose instrument the archive will not have; these tests only build archives)."""
    from flarepipe.core.series import SERIES
    from flarepipe.samples.registry import DATASETS

    series = (archive.get("jsoc") or {}).get("series")
    if archive.get("source") != "jsoc" or not series:
        return datasets
    have = {SERIES[s].instrument for s in series if s in SERIES}
    ok = [d for d in datasets if set(DATASETS[d].instruments) <= have]
    return ok or [d.name for d in DATASETS.values() if set(d.instruments) <= have][:1] or datasets


def jsoc_section(section: dict | None = None, catalogue: dict | None = None) -> dict:
    """The validated ``archive.jsoc`` section for ``section``."""
    arc = {
        "source": "jsoc",
        "jsoc": section or {},
        "catalogue": catalogue or {"source": "file", "path": "flares.csv"},
    }
    return validated_archive(arc)["jsoc"]


def catalogue_section(section: dict) -> dict:
    """The validated ``archive.catalogue`` section for ``section``."""
    return validated_archive({"source": "jsoc", "jsoc": {}, "catalogue": section})["catalogue"]


def local_section(section: dict) -> dict:
    """The validated ``archive.local`` section for ``section``."""
    return validated_archive({"source": "local", "local": section})["local"]
