"""Cross-field config conflicts (flarepipe.config.checks) fail in validation, naming file, key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from flarepipe.config import ConfigError, validate_config

REPO = Path(__file__).resolve().parents[1]
BASE = yaml.safe_load((REPO / "config.yaml").read_text())


def _validate(tmp_path: Path, override: dict) -> dict:
    """Validate config.yaml with ``override`` given as a second config file (as snakemake does)."""
    over = tmp_path / "mine.yaml"
    over.write_text(yaml.safe_dump(override))
    cfg = copy.deepcopy(BASE)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return validate_config(cfg, source=[REPO / "config.yaml", over])


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"results": "/"}, r"results '/' is the filesystem root"),
        ({"results": "."}, r"results '.' is the working folder itself"),
        ({"labels": {"strong_class": "M0"}}, r"labels.strong_class 'M0' is a zero flux"),
        ({"labels": {"min_class": "A0.0"}}, r"labels.min_class 'A0.0' is a zero flux"),
        ({"split": {"method": "region_kfold"}}, r"split.method region_kfold .* no run has a test"),
        (
            {"archive": {"synthetic": {"instruments": ["HMI"]}}},
            r"experiments.datasets: FUSED_SHARP needs instrument\(s\) \['MDI'\], but the "
            r"synthetic archive has only \['HMI'\]",
        ),
        (
            {
                "archive": {
                    "source": "jsoc",
                    "jsoc": {"series": ["hmi.sharp_cea_720s"]},
                    "catalogue": {"source": "file", "path": "flares.csv"},
                },
                "experiments": {"datasets": ["SMARP_ONLY"], "models": ["lstm"], "runs": 1},
            },
            r"SMARP_ONLY needs instrument\(s\) \['MDI'\], but the jsoc archive has only \['HMI'\]",
        ),
        (
            {"features": {"image_size": 16}},
            r"features.image_size 16 is below 32, the smallest image network 'cnn'",
        ),
        (
            {
                "archive": {
                    "source": "tables",
                    "tables": {"data_dir": "t", "keyword_tables": ["k.csv"], "flares": "f.txt"},
                },
                "experiments": {"models": ["lstm"], "runs": 1},
            },
            r"attribution.enabled is true but archive.source is tables, whose records have no "
            r"magnetogram",
        ),
    ],
)
def test_conflicts_fail_in_validation_naming_the_file_and_key(tmp_path, override, match):
    with pytest.raises(ConfigError, match=match) as err:
        _validate(tmp_path, override)
    assert str(tmp_path / "mine.yaml") in str(err.value)


def test_the_shipped_configs_pass_the_checks(tmp_path):
    _validate(tmp_path, {})
    for extra in (
        "config/tiny.yaml",
        *sorted(str(p) for p in (REPO / "config/studies").glob("*.yaml")),
    ):
        text = yaml.safe_load((REPO / extra).read_text())
        _validate(tmp_path, text)


def test_legacy_stacking_without_its_pair_warns_naming_the_keys(tmp_path):
    with pytest.warns(UserWarning, match=r"experiments.stacking .* lacks \['cnn'\]: no ensemble"):
        _validate(tmp_path, {"experiments": {"models": ["lstm", "logreg"]}})
