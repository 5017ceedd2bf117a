"""The full-disk study in the workflow (rules/fulldisk.smk): config checks, split, a tiny run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import run_study
from flarepipe.config import ConfigError, load_config, validate_config
from flarepipe.stages.fulldisk import chronological_split

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "config/studies/yi2021_tiny.yaml"


def _refused(fulldisk: dict) -> str:
    cfg = load_config(REPO / "config.yaml")
    cfg["fulldisk"] = {"enabled": True, **fulldisk}
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    return str(err.value)


def test_fulldisk_defaults_and_study_configs_validate():
    cfg = load_config(REPO / "config.yaml")
    validate_config(cfg)
    fd = cfg["fulldisk"]
    assert fd["enabled"] is False
    assert fd["label"]["min_class"] == "C1.0" and fd["input"]["size"] == 512
    assert fd["input"]["clip_g"] == 100.0 and fd["input"]["mode"] == "bytescale"
    for study in ("yi2021.yaml", "yi2021_tiny.yaml"):
        cfg = load_config(REPO / "config.yaml", REPO / "config/studies" / study)
        validate_config(cfg)
        assert cfg["fulldisk"]["enabled"] is True


@pytest.mark.parametrize(
    ("fulldisk", "words"),
    [
        ({"source": "local"}, ["fulldisk.local.dir", "fulldisk.local.flares"]),
        ({"input": {"size": 300}}, ["fulldisk.input.size 300", "size_mdi 1024"]),
        ({"synthetic": {"instruments": ["MDI"]}}, ["fulldisk.split.test_instrument"]),
        (
            {"split": {"val_start": "2012-01-01", "test_start": "2011.06.01_00:00:00_TAI"}},
            ["fulldisk.split.val_start"],
        ),
        ({"label": {"min_class": "Q1"}}, ["fulldisk.label.min_class"]),
        ({"input": {"mode": "log"}}, ["fulldisk.input.mode"]),
    ],
)
def test_fulldisk_config_refused_naming_the_key(fulldisk, words):
    msg = _refused(fulldisk)
    for w in words:
        assert w in msg, msg


def test_chronological_split_by_instrument_and_by_date():
    t = pd.date_range("2010-01-01", periods=10, freq="D")
    samples = pd.DataFrame(
        {"t_end": t.strftime("%Y-%m-%dT%H:%M:%S"), "instrument": ["MDI"] * 6 + ["HMI"] * 4}
    )
    cut = {"test_start": None, "val_start": None, "test_instrument": "HMI", "val_frac": 0.5}
    assert chronological_split(samples, cut).tolist() == ["train"] * 3 + ["val"] * 3 + ["test"] * 4
    dates = {**cut, "test_start": "2010-01-09", "val_start": "2010.01.03_00:00:00_TAI"}
    assert chronological_split(samples, dates).tolist() == (
        ["train"] * 2 + ["val"] * 6 + ["test"] * 2
    )


def test_table1_of_runs_means_the_runs_beside_baselines_and_published():
    from flarepipe.stages.fulldisk import table1_of_runs

    label = [1, 1, 0, 0]
    runs = [
        pd.DataFrame({"split": "test", "label": label, "prob": p})
        for p in ([0.9, 0.9, 0.1, 0.1], [0.9, 0.1, 0.1, 0.1])  # TSS 1 and 0.5
    ]
    runs[0] = pd.concat([runs[0], pd.DataFrame({"split": ["val"], "label": [0], "prob": [0.9]})])
    base = pd.DataFrame({"model": "climatology", "label": label, "prob": 0.5})
    t = table1_of_runs(runs, base, "net", threshold=0.5).set_index("model")
    assert list(t.index) == ["net", "climatology", "Yi et al. 2021 (published)"]
    assert t.loc["net", "TSS"] == pytest.approx(0.75) and t.loc["net", "runs"] == 2
    assert t.loc["net", "TSS_std"] == pytest.approx(0.3535534, abs=1e-6)
    assert t.loc["net", "N"] == 4 and t.loc["net", "event_rate"] == 0.5  # test rows only
    assert t.loc["climatology", "TSS"] == 0.0 and t.loc["climatology", "runs"] == 1
    assert t.loc["Yi et al. 2021 (published)", "TSS"] == 0.65


def test_local_source_gives_the_synthetic_archives_samples(tmp_path):
    """fulldisk.source local on a folder of the synthetic frames: the same daily samples."""
    import shutil

    from flarepipe.stages.fulldisk import run_fulldisk_archive, run_fulldisk_samples

    cfg = load_config(REPO / "config.yaml", TINY)
    cfg["fulldisk"]["synthetic"]["days"] = 6
    validate_config(cfg)
    syn = cfg["fulldisk"]
    run_fulldisk_archive(syn, tmp_path / "syn")
    folder = tmp_path / "folder"
    for f in (tmp_path / "syn" / "fulldisk").rglob("*.fits"):
        (folder / f.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(f, folder / f.parent.name / f.name)
    local = {**syn, "source": "local"}
    local["local"] = {
        **syn["local"],
        "dir": str(folder),
        "flares": str(tmp_path / "syn/flares.csv"),
    }
    run_fulldisk_archive(local, tmp_path / "loc")
    assert (tmp_path / "loc" / "fulldisk" / "rejected.csv").is_file()
    got = {}
    for name, c in (("syn", syn), ("loc", local)):
        out = [tmp_path / f"{name}_{k}.csv" for k in ("samples", "frames", "rejected")]
        run_fulldisk_samples(tmp_path / name, c, *out)
        got[name] = pd.read_csv(out[0], dtype=str)
    cols = ["sample_id", "t_end", "instrument", "label", "n_flares"]
    assert len(got["syn"]) > 0
    pd.testing.assert_frame_equal(got["syn"][cols], got["loc"][cols])


@pytest.mark.slow
def test_yi2021_tiny_workflow_table1(tmp_path):
    """The tiny study end to end with snakemake (``all``, as a user runs it, so the default patch
    workflow's small side part must run too): Table 1 with the expected rows and counts."""
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())
    out = tmp_path / "results/yi2021_tiny/fulldisk"
    targets = [
        out / "evaluation/metrics.md",
        out / "figures/table1.png",
        out / "attribution/run0/summary.json",
    ]
    env = {"OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    res = run_study(tmp_path, [TINY], "all", timeout=600, env=env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    assert all(t.exists() for t in targets)
    assert (tmp_path / "results/yi2021_tiny/evaluation/metrics.csv").exists()
    table = pd.read_csv(out / "evaluation/metrics.csv")
    assert table["model"].tolist() == [
        "yi_densenet",
        "climatology",
        "persistence",
        "logreg_flux",
        "Yi et al. 2021 (published)",
    ]
    pub = table.iloc[-1]
    assert pub["TSS"] == 0.65 and pub["event_rate"] == 0.55 and pd.isna(pub["ACC"])
    split = pd.read_csv(out / "splits/split.csv")
    test = split[split["split"] == "test"]
    assert set(test["instrument"]) == {"HMI"}
    assert set(split.loc[split["split"] != "test", "instrument"]) == {"MDI"}
    measured = table.iloc[:-1]
    assert (measured["N"] == len(test)).all()
    assert measured["event_rate"].round(9).eq(round(test["label"].mean(), 9)).all()
    assert measured[["ACC", "TSS", "HSS"]].notna().all().all()
    rejected = pd.read_csv(out / "labels/rejected_days.csv")
    frames = pd.read_csv(out / "labels/frames.csv")
    assert len(rejected) > 0 and rejected["detail"].str.len().gt(0).all()
    assert frames.loc[~frames["keep"], "reasons"].str.len().gt(0).all()
    md = targets[0].read_text()
    assert "| yi_densenet |" in md and "0.650" in md
    assert targets[1].stat().st_size > 1000
    pred = pd.read_csv(out / "models/yi_densenet/run0/predictions.csv")
    assert set(pred["split"]) == {"val", "test"}
    assert (pred["split"] == "test").sum() == len(test)
    attr = json.loads(targets[2].read_text())
    assert attr["test_days"] == len(test) and attr["days_with_flaring_region"] > 0
    assert 0 <= attr["gradcam_max_on_flaring"] <= 1 and 0 < attr["chance"] < 1
    assert {r["column"] for r in attr["spearman"]} >= {"usfluxl_mx", "r_value"}
    regions = pd.read_csv(out / "attribution/run0/regions.csv")
    assert set(regions["sample_id"]) <= set(test["sample_id"]) and regions["flaring"].any()
    assert (out / "attribution/run0/overlays.png").stat().st_size > 1000
    # Table 2: one row per map, PIL rows for every test day with a PIL; Figs. 5-7 drawn
    assert [r["map"] for r in attr["pil"]] == ["guided_backprop", "gradcam", "gradcam_negative"]
    days = pd.read_csv(out / "attribution/run0/pil_days.csv")
    assert set(days["sample_id"]) <= set(test["sample_id"]) and days["pil_mean"].notna().any()
    for r in attr["pil"]:
        assert r["days"] == days.loc[days["map"] == r["map"], "pil_mean"].notna().sum() > 0
        assert 0 <= r["share_iou_min"] <= 1 and 0 <= r["pil_mean"] <= 1
    assert "| gradcam_negative |" in (out / "attribution/run0/table2.md").read_text()
    for fig in ("region_crops.png", "region_maxima.png"):
        assert (out / "attribution/run0" / fig).stat().st_size > 1000
