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
        (  # a model's own side, not features.image_size, is what the network reads
            {"models": {"cnn": {"network": {"image_size": 24}}}},
            r"models.cnn.network.image_size 24 is below 32, the smallest image network 'cnn' "
            r"\(in experiments.models\) can take; raise models.cnn.network.image_size",
        ),
        (  # a variant of the CNN at its own side (image size as an experiment axis)
            {
                "experiments": {"models": ["lstm", "cnn", "cnn_16", "logreg"]},
                "models": {"cnn_16": {"arch": "cnn", "network": {"image_size": 16}}},
            },
            r"models.cnn_16.network.image_size 16 is below 32, the smallest image network 'cnn' "
            r"\(model 'cnn_16'\)",
        ),
        (
            {"models": {"cnn_256": {"arch": "resnet"}}},
            r"models.cnn_256.arch must be one of \['lstm', 'cnn'",
        ),
        (  # a registered network names no arch: it is the network
            {"models": {"cnn2": {"arch": "cnn"}}},
            r"models.cnn2: Additional properties are not allowed \('arch' was unexpected\)",
        ),
        (
            {
                "archive": {
                    "source": "tables",
                    "tables": {"data_dir": "t", "keyword_tables": ["k.csv"], "flares": "f.txt"},
                },
                "experiments": {"models": ["lstm"], "runs": 1},
            },
            r"attribution.enabled is true but archive.source is tables: its records have no "
            r"magnetogram",
        ),
        (
            {
                "archive": {
                    "source": "local",
                    "local": {"keyword_tables": ["k.csv"], "flares": "f.txt"},
                },
                "experiments": {"models": ["lstm", "cnn", "logreg"], "runs": 1},
                "attribution": {"enabled": False},
            },
            r"experiments.models \['lstm', 'cnn', 'logreg'\] has image network\(s\) \['cnn'\], but "
            r"archive.local has keyword_tables and no fits_dir: .*\(experiments.models: "
            r"\['lstm', 'logreg'\]\)",
        ),
        (
            {
                "archive": {
                    "source": "local",
                    "local": {"keyword_tables": ["k.csv"], "flares": "f.txt"},
                },
                "experiments": {"models": ["lstm", "logreg"], "runs": 1, "stacking": []},
            },
            r"attribution.enabled is true but archive.local has keyword_tables and no fits_dir",
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


def _jsoc(**jsoc) -> dict:
    return {
        "archive": {
            "source": "jsoc",
            "jsoc": {"series": ["hmi.sharp_cea_720s"], **jsoc},
            "catalogue": {"source": "file", "path": "flares.csv"},
        },
        "experiments": {"datasets": ["SHARP_ONLY"], "models": ["lstm"], "runs": 1},
    }


@pytest.mark.parametrize(
    ("override", "match"),
    [
        (
            {"archive": {"synthetic": {"scale": "large", "days": 20000}}},
            r"the synthetic archive is estimated at about 126.5 GB .* above "
            r"archive.size_limit_gb 100",
        ),
        (
            _jsoc(start="2010-05-01", end="2024-01-01", cadence=None),
            r"the jsoc archive is estimated at about [0-9,.]+ GB .*hmi.sharp_cea_720s: 4,993 days "
            r"at 12 min.* above archive.size_limit_gb 100",
        ),
    ],
)
def test_an_archive_estimated_above_the_limit_fails_before_any_job(tmp_path, override, match):
    override["archive"]["size_limit_gb"] = 100
    with pytest.raises(ConfigError, match=match) as err:
        _validate(tmp_path, override)
    assert str(tmp_path / "mine.yaml") in str(err.value)


def test_a_large_archive_warns_with_its_estimate_and_a_small_one_is_quiet(tmp_path, recwarn):
    with pytest.warns(UserWarning, match=r"synthetic archive is estimated at about 25.3 GB"):
        _validate(tmp_path, {"archive": {"size_warn_gb": 20}})
    _validate(tmp_path, {})  # config.yaml's default archive: below the default warning size
    assert not [w for w in recwarn if "archive is estimated" in str(w.message)]
    with pytest.warns(UserWarning, match=r"jsoc archive is estimated at about 301.0 GB"):
        _validate(tmp_path, _jsoc(start="2010-05-01", end="2026-12-01", cadence="96m"))
    cfg = _validate(tmp_path, {"archive": {"size_limit_gb": None, "size_warn_gb": None}})
    assert cfg["archive"]["size_limit_gb"] is None


def test_the_estimate_is_near_measured_archives():
    """Against archives built before (manifest counts and du): within a factor of 1.6."""
    from flarepipe.archive.size import synthetic_estimate

    # (section, records, bytes) measured: tiny preset; 24 default-scale HMI regions; default
    for section, records, size in [
        ({"scale": "tiny"}, 2163, 311.7e6),
        ({"scale": "default", "n_regions": 24, "instruments": ["HMI"]}, 2124, 1.836e9),
        ({"scale": "default"}, 53285, None),
    ]:
        est = synthetic_estimate(section)
        assert 1 / 1.6 < est.records / records < 1.6, (section, est)
        if size:
            assert 1 / 1.6 < est.bytes / size < 1.6, (section, est)


def test_the_size_estimate_reads_the_generator_presets_without_importing_it():
    import subprocess
    import sys

    code = (
        "import sys; from flarepipe.archive.size import _synthetic_params as p; "
        "m = p(); bad = [x for x in ('scipy', 'torch') if x in sys.modules]; assert not bad, bad; "
        "print(sorted(m.SCALES))"
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    from flarepipe.archive.sources.synthetic import INSTRUMENTS, SCALES

    light = __import__("flarepipe.archive.size", fromlist=["x"])._synthetic_params()
    assert light.SCALES == SCALES
    assert {k: v.cdelt_deg for k, v in light.INSTRUMENTS.items()} == {
        k: v.cdelt_deg for k, v in INSTRUMENTS.items()
    }
