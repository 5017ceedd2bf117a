"""The Bhattacharjee et al. 2020 study (S2): its configuration, the checks that refuse an archive
lacking what it needs before any job, and the tiny variant end to end through the workflow."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from conftest import run_study
from flarepipe.config import ConfigError, load_config, settings
from flarepipe.config.experiments import experiment_plan
from flarepipe.samples.quality import check_required_columns

REPO = Path(__file__).resolve().parents[1]
STUDY = REPO / "config" / "studies" / "bhattacharjee2020.yaml"
TINY = REPO / "config" / "studies" / "bhattacharjee2020_tiny.yaml"


def _load(tmp_path: Path, extra: dict | None = None, base: Path = STUDY) -> dict:
    files = [REPO / "config.yaml", base]
    if extra is not None:
        (tmp_path / "extra.yaml").write_text(yaml.safe_dump(extra))
        files.append(tmp_path / "extra.yaml")
    return load_config(*files)


def test_study_config_is_the_papers_selection_and_split(tmp_path: Path) -> None:
    cfg = _load(tmp_path)
    q = cfg["quality"]
    assert int(str(q["max_quality"]), 0) == 0x10000  # QUALITY < 0x10000
    assert (q["max_abs_obs_vr"], q["max_cm_distance_deg"]) == (3500, 45)
    assert (q["min_area_mm2"], q["area_scope"]) == (25, "region_max")
    lab = cfg["labels"]
    assert (lab["task"], lab["strong_class"], lab["obs_hours"], lab["step_minutes"]) == (
        "flaring_region",
        "M1.0",
        0,
        60,
    )
    assert cfg["archive"]["synthetic"]["cadence_min"] == 60  # hourly records
    s = settings("split", cfg["split"])
    assert (s.method, s.k, s.by_class) == ("chronological_kfold", 3, True)
    assert cfg["features"]["resize"] == "bicubic"
    plan = experiment_plan(cfg)
    assert plan.networks == ("cnn1", "cnn2", "cnn2_256", "cnn2_identity")
    # image size as an experiment axis: CNN-2 at the paper's two sides in one run
    assert plan.network_of("cnn2_256") == "cnn2"
    assert (plan.image_size_of("cnn2"), plan.image_size_of("cnn2_256")) == (128, 256)
    assert plan.extra_image_sizes == (256,)
    assert cfg["models"]["cnn2_256"]["train"] == cfg["models"]["cnn2"]["train"]
    assert plan.baselines == ("logreg", "svm", "svm_area_flux")
    assert plan.runs == tuple(range(30))  # 10 repetitions x 3 folds
    assert cfg["models"]["cnn1"]["train"]["loss"] == "skill_weighted_mse"
    assert cfg["models"]["cnn2_identity"]["network"]["activation"] == "identity"
    # the tiny variant overlays it and stays valid
    tiny = load_config(REPO / "config.yaml", STUDY, TINY)
    assert tiny["experiments"]["runs"] == 1 and tiny["features"]["image_size"] == 32
    assert experiment_plan(tiny).extra_image_sizes == (48,)  # two sides in the tiny run too


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (  # no hourly records
            {"archive": {"synthetic": {"cadence_min": 96}}},
            "labels.step_minutes 60 needs HMI records every 60 min (or a divisor of it), but "
            "archive.synthetic.cadence_min gives records every 96 min",
        ),
        (
            {
                "archive": {
                    "source": "jsoc",
                    "jsoc": {"series": ["hmi.sharp_cea_720s"]},
                    "catalogue": {"path": "flares.txt"},
                }
            },
            "but archive.jsoc.cadence gives records every 96 min",
        ),
        (  # no OBS_VR column
            {
                "archive": {
                    "source": "tables",
                    "tables": {"keyword_tables": ["t.csv"], "flares": "f.txt"},
                },
                "attribution": {"enabled": False},
            },
            "quality.max_abs_obs_vr needs the records' OBS_VR (column obs_vr), but "
            "archive.source tables (published keyword tables) has no OBS_VR column",
        ),
        (  # no region areas
            {
                "archive": {
                    "source": "local",
                    "local": {"flares": "f.txt", "column_map": {"area_uhem": None}},
                }
            },
            "quality.min_area_mm2 needs the region areas (column area_uhem), but "
            "archive.local.column_map skips area_uhem",
        ),
        (
            {"models": {"cnn2_256": {"arch": "cnn3"}}},
            "models.cnn2_256.arch must be one of ['lstm', 'cnn', 'cnn2'",
        ),
    ],
)
def test_an_archive_lacking_what_the_study_needs_is_refused(
    tmp_path: Path, extra: dict, message: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        _load(tmp_path, extra)
    assert message in str(exc.value)
    assert str(exc.value).split(": ")[0].endswith(".yaml")  # names the file(s) that set it


def test_a_network_at_its_own_side_is_planned_beside_the_features_side(tmp_path: Path) -> None:
    """A side other than features.image_size is no conflict any more: it adds a side."""
    cfg = _load(tmp_path, {"models": {"cnn1": {"network": {"image_size": 64}}}})
    plan = experiment_plan(cfg)
    assert plan.image_size_of("cnn1") == 64 and plan.extra_image_sizes == (64, 256)
    assert plan.image_size_of("logreg") is None


def test_the_cadence_check_knows_the_generators_default() -> None:
    from flarepipe.archive.sources.synthetic.params import SyntheticParams
    from flarepipe.config.checks import SYNTHETIC_CADENCE_MIN

    assert SyntheticParams().cadence_min == SYNTHETIC_CADENCE_MIN


def test_records_without_the_filtered_columns_are_refused() -> None:
    q = settings("quality", {"max_abs_obs_vr": 3500, "min_area_mm2": 25})
    records = pd.DataFrame(
        {"obs_vr": [float("nan")] * 2, "lon_fwt": [1.0, 2.0], "area_uhem": [100.0, 90.0]}
    )
    with pytest.raises(ValueError, match=r"no value .* 'obs_vr', which quality.max_abs_obs_vr"):
        check_required_columns(records, q, "archive/records.csv")
    with pytest.raises(ValueError, match=r"missing column 'area_uhem', which quality.min_area_mm2"):
        check_required_columns(records.drop(columns="area_uhem").fillna(0.0), q)
    check_required_columns(records.fillna(0.0), q)  # both present: fine


def _smk(workdir: Path, *args: str, extra: list | tuple = ()) -> subprocess.CompletedProcess:
    return run_study(workdir, [STUDY, TINY, *extra], *args, timeout=1500)


@pytest.mark.study  # 4.5 min on 2 idle cores: run by .ci/run and make test-studies
def test_tiny_study_runs_end_to_end(tmp_path: Path) -> None:
    res = _smk(tmp_path)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-6000:]
    out = tmp_path / "results" / "bhattacharjee2020_tiny"
    samples = pd.read_csv(out / "labels" / "samples.csv")
    # flaring_region: one label per region, every kept record a sample
    assert (samples.groupby("region_id")["label"].nunique() == 1).all()
    assert set(samples["label"]) == {0, 1}
    flagged = pd.read_csv(out / "quality" / "records_flagged.csv")
    kept = flagged[flagged["keep"]]
    assert (kept["obs_vr"].abs() < 3500).all() and (kept["lon_fwt"].abs() <= 45).all()
    assert (
        flagged["far_from_cm"].any() and not flagged.loc[flagged["keep"], "reasons"].notna().any()
    )
    # chronological: test samples lie in the test interval, no region in two splits
    split = pd.read_csv(out / "splits" / "SHARP_ONLY" / "split_0.csv").merge(
        samples[["sample_id", "t_end"]], on="sample_id"
    )
    assert split.groupby("region_id")["split"].nunique().max() == 1
    metrics = pd.read_csv(out / "evaluation" / "metrics.csv")
    assert {"cnn1", "cnn2", "cnn2_48", "logreg"} <= set(metrics["model"])
    # two image sides in one run: cnn2_48 trained CNN-2 on its own 48 px shards
    from flarepipe.data.shards import ShardReader

    shards = out / "shards" / "SHARP_ONLY" / "run0"
    assert ShardReader(shards / "test.h5").image_shape[-1] == 32
    assert ShardReader(shards / "48px" / "test.h5").image_shape[-1] == 48
    hp48 = torch.load(
        out / "models" / "SHARP_ONLY" / "cnn2_48" / "run0" / "model.ckpt",
        map_location="cpu",
        weights_only=False,
    )["hyper_parameters"]
    assert hp48["model"] == "cnn2" and hp48["model_params"]["image_size"] == 48
    ckpt = torch.load(
        out / "models" / "SHARP_ONLY" / "cnn1" / "run0" / "model.ckpt",
        map_location="cpu",
        weights_only=False,
    )
    hp = ckpt["hyper_parameters"]
    assert (hp["loss"], hp["optimizer"], hp["pos_weight"]) == ("skill_weighted_mse", "sgd", 4.5)
    for model in ("cnn2", "cnn2_48"):
        assert (out / "attribution" / "SHARP_ONLY" / model / "run0" / "maps.npz").stat().st_size > 0
    # the report: measured beside published, and recall vs time to the nearest flare (Fig 5)
    table = (out / "evaluation" / "metrics.md").read_text()
    assert "## Bhattacharjee et al. 2020: measured beside published" in table
    assert "| test TSS (2015-10..2018) | SHARP_ONLY | cnn2 | 32 | 1 |" in table
    assert "| CV TSS (10x3 folds) | SHARP_ONLY | cnn2_48 | 48 | 1 |" in table
    recall = pd.read_csv(out / "evaluation" / "recall_time" / "SHARP_ONLY_cnn2.csv")
    assert recall["n_pos"].sum() > 0 and recall["recall"].between(0, 1).any()
    assert (out / "evaluation" / "recall_time" / "SHARP_ONLY_logreg.png").stat().st_size > 5000
    # Figs 6, 8, 13 and Table 1
    ra = out / "evaluation" / "region_analyses" / "SHARP_ONLY"
    hist = pd.read_csv(ra / "output_histogram.csv")
    n_test = (split["split"] == "test").sum()
    assert (
        set(hist["model"]) == {"cnn1", "cnn2", "cnn2_48"}
        and (hist.groupby("model")["n"].sum() == n_test).all()
    )
    res = pd.read_csv(ra / "resolution.csv")
    assert res.groupby("axis")["n"].sum().tolist() == [len(samples)] * 2
    losses = pd.read_csv(ra / "loss_curves.csv")
    assert set(losses["model"]) == {"cnn1", "cnn2", "cnn2_48"}
    assert losses["train_loss"].notna().all()
    t1 = (ra / "table1.md").read_text()
    assert "| train/val |" in t1 and "| cnn2 | 1 |" in t1
    for fig in ("output_histogram.png", "resolution.png", "loss_curves.png"):
        assert (ra / fig).stat().st_size > 5000


def test_report_places_measured_beside_published() -> None:
    from flarepipe.studies.bhattacharjee2020.published import (
        comparison_markdown,
        comparison_table,
    )

    rows = [("SHARP_ONLY", "cnn2", k, "val", "TSS", v) for k, v in enumerate([0.4, 0.5, 0.6])]
    rows += [("SHARP_ONLY", "cnn2", k, "test", "TSS", v) for k, v in enumerate([0.5, 0.5, 0.8])]
    rows += [("SHARP_ONLY", "cnn1", 0, "val", "TSS", 0.9)]  # another network: not compared
    rows += [("SHARP_ONLY", "cnn2_256", 0, "val", "TSS", 0.7)]
    tidy = pd.DataFrame(rows, columns=["dataset", "model", "run", "split", "metric", "value"])
    table = comparison_table(tidy, {"cnn2": 256}).set_index("split")
    assert table.loc["val", "measured_mean"] == pytest.approx(0.5)
    assert table.loc["val", "measured_sd"] == pytest.approx(0.1)
    assert (table.loc["val", "published_mean"], table.loc["val", "published_sd"]) == (0.51, 0.06)
    assert table.loc["test", "measured_mean"] == pytest.approx(0.6)
    assert table.loc["test", "published_mean"] == 0.52
    # two sides in one run: each CNN-2 model beside the paper's value at its side
    sizes = {"cnn1": 128, "cnn2": 128, "cnn2_256": 256}
    arch = {"cnn1": "cnn1", "cnn2": "cnn2", "cnn2_256": "cnn2"}
    text = comparison_markdown(tidy, sizes, arch)
    assert "CNN-2 at 128, 256 px." in text and "| cnn1 |" not in text
    for row in (
        "| CV TSS (10x3 folds) | SHARP_ONLY | cnn2 | 128 | 3 | 0.50 ± 0.10 | 0.45 ± 0.07 |",
        "| test TSS (2015-10..2018) | SHARP_ONLY | cnn2 | 128 | 3 | 0.60 ± 0.17 | 0.52 |",
        "| CV TSS (10x3 folds) | SHARP_ONLY | cnn2_256 | 256 | 1 | 0.70 | 0.51 ± 0.06 |",
    ):
        assert row in text
