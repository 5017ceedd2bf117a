"""Stages mirror rules: each rule's script calls its stage with the rule's declared inputs by name,
and each stage, called here on the tiny synthetic archive, reads only the files it is given."""

from __future__ import annotations

import importlib
import inspect
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from flarepipe.config import section
from flarepipe.evaluation.ceilings import ceiling_names

REPO = Path(__file__).resolve().parents[1]
_RULE = re.compile(r"^\s*rule (\w+):", re.M)


def _rules() -> list[tuple[str, str, list[str], str]]:
    """(rule file stem, rule, declared input names, script) of every rule with a script."""
    out = []
    for smk in sorted((REPO / "rules").glob("*.smk")):
        text = smk.read_text()
        starts = [m.start() for m in _RULE.finditer(text)] + [len(text)]
        for a, b in zip(starts[:-1], starts[1:], strict=True):
            block = text[a:b]
            name = _RULE.match(block).group(1)
            script = re.search(r'script:\s*\n\s*"\.\./workflow/scripts/(\w+)\.py"', block)
            if not script:
                continue
            inputs: list[str] = []
            m = re.search(r"^(\s*)input:\s*\n((?:\1\s+.*\n)+)", block, re.M)
            if m:
                inputs = re.findall(r"^\s+(\w+)=", m.group(2), re.M)
                inputs += re.findall(r'\{"(\w+)":', m.group(2))  # conditional inputs **({...})
            out.append((smk.stem, name, inputs, script.group(1)))
    return out


RULES = _rules()


def test_every_rule_file_has_its_stage_module():
    assert {r[0] for r in RULES} >= {"archive", "quality", "label", "shard", "train", "evaluate"}
    for stem in {r[0] for r in RULES}:
        importlib.import_module(f"flarepipe.stages.{stem}")


@pytest.mark.parametrize("stem, rule, inputs, script", RULES, ids=[f"{r[1]}:{r[3]}" for r in RULES])
def test_script_passes_declared_inputs_to_the_stage_of_its_rule_file(stem, rule, inputs, script):
    text = (REPO / "workflow" / "scripts" / f"{script}.py").read_text()
    m = re.search(r"from flarepipe\.stages\.(\w+) import (\w+)", text)
    assert m, f"{script}.py calls no stage"
    assert m.group(1) == stem, f"rule {rule} lives in rules/{stem}.smk, its stage in {m.group(1)}"
    assert "**smk.input" in text, f"{script}.py must pass the declared inputs by name"
    # the job wrapper (output in the log, one console line on failure), then one stage function
    assert text.count("\nwith rule_job(smk):") == 1, f"{script}.py must run inside rule_job"
    imports = re.findall(r"^\s*(?:from|import) (flarepipe\S*)", text, re.M)
    assert imports == ["flarepipe.tools.jobs", f"flarepipe.stages.{stem}"], imports
    fn = getattr(importlib.import_module(f"flarepipe.stages.{stem}"), m.group(2))
    params = inspect.signature(fn).parameters
    assert fn.__name__.startswith("run_")
    missing = [i for i in inputs if i not in params]
    assert not missing, f"{fn.__name__} does not take the declared input(s) {missing} of {rule}"


# the stages on the tiny archive -----------------------------------------------------------------
@pytest.fixture(scope="module")
def staged(tiny_archive, tmp_path_factory):
    """Quality, label, split, features and shards of the tiny archive, run through the stages."""
    from flarepipe.config import settings
    from flarepipe.samples.labels import read_samples
    from flarepipe.samples.split import make_dataset_splits, write_split
    from flarepipe.stages.label import run_label, run_split
    from flarepipe.stages.quality import run_quality
    from flarepipe.stages.shard import run_features, run_shard

    root, _, _ = tiny_archive
    out = tmp_path_factory.mktemp("staged")
    run_quality(
        records=root / "records.csv",
        cfg={"require_noaa": True},
        out_flagged=out / "flagged.csv",
        out_summary=out / "summary.csv",
        workers=1,
    )
    run_label(
        records=root / "records.csv",
        flares=root / "flares.csv",
        flagged=out / "flagged.csv",
        cfg={},
        out_samples=out / "samples.csv",
        out_counts=out / "counts.csv",
        out_drops=out / "drops.csv",
    )
    # the tiny archive has two HMI regions with samples: too few for three region-grouped
    # splits (the split stage refuses it), so later stages get every HMI region's samples dealt
    # by time (60/20/20)
    with pytest.raises(ValueError, match=r"the val/test parts are empty \(train \d+, val 0"):
        run_split(
            samples=out / "samples.csv",
            dataset="FUSED_SHARP",
            run=0,
            cfg={"undersample_ratio": None},
            out=out / "split.csv",
        )
    one = settings("split", {"undersample_ratio": None})
    split = make_dataset_splits(read_samples(out / "samples.csv"), "FUSED_SHARP", one, 0)
    write_split(split, out / "split.csv")  # what the stage would write: train only
    hmi = split["instrument"] == "HMI"
    rank = split[hmi].groupby("region_id").cumcount() / split[hmi].groupby("region_id")[
        "sample_id"
    ].transform("size")
    split.loc[hmi, "split"] = pd.cut(rank, [-1, 0.6, 0.8, 1], labels=["train", "val", "test"])
    split.to_csv(out / "split_by_time.csv", index=False)
    run_features(
        records=root / "records.csv",
        samples=out / "samples.csv",
        cfg={"image_size": 16},
        out=out / "features.h5",
        threads=1,
    )
    shards = {s: out / "shards" / f"{s}.h5" for s in ("train", "val", "test")}
    run_shard(
        features=out / "features.h5",
        split=out / "split_by_time.csv",
        dataset="FUSED_SHARP",
        cfg={},
        out_train=shards["train"],
        out_val=shards["val"],
        out_test=shards["test"],
    )
    return root, out, shards


def test_quality_stage_flags_every_record(staged):
    from flarepipe.archive.layout import read_records

    root, out, _ = staged
    flagged = pd.read_csv(out / "flagged.csv", keep_default_na=False)
    assert len(flagged) == len(read_records(root / "records.csv"))
    assert flagged["t_rec"].str.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$").all()
    summary = pd.read_csv(out / "summary.csv")
    assert (summary.loc[summary["reason"] == "total", "count"].sum()) == len(flagged)


def test_label_stage_reads_the_flares_it_is_given(staged, tmp_path):
    """The declared flares input is the one used (the stage used to re-read the archive's own)."""
    from flarepipe.stages.label import run_label

    root, out, _ = staged
    samples = pd.read_csv(out / "samples.csv")
    assert samples["label"].sum() > 0  # the archive's flares give positives
    no_flares = tmp_path / "elsewhere" / "flares.csv"
    no_flares.parent.mkdir()
    pd.read_csv(root / "flares.csv").iloc[:0].to_csv(no_flares, index=False)
    # an empty flare list leaves no positive sample: the stage refuses it, naming that file
    with pytest.raises(ValueError, match=rf"{no_flares}: no positive .* flare list is empty"):
        run_label(
            records=root / "records.csv",
            flares=no_flares,
            flagged=out / "flagged.csv",
            cfg={},
            out_samples=tmp_path / "s.csv",
            out_counts=tmp_path / "c.csv",
        )
    assert not (tmp_path / "s.csv").exists()


def test_label_stage_refuses_flags_of_other_records(staged, tmp_path):
    from flarepipe.stages.label import run_label

    root, out, _ = staged
    short = tmp_path / "flagged.csv"
    pd.read_csv(out / "flagged.csv").iloc[:-1].to_csv(short, index=False)
    with pytest.raises(ValueError, match="rows for .* records"):
        run_label(
            records=root / "records.csv",
            flares=root / "flares.csv",
            flagged=short,
            cfg={},
            out_samples=tmp_path / "s.csv",
            out_counts=tmp_path / "c.csv",
        )


def test_split_stage_with_noaa_overlap_needs_and_reads_records(staged, tmp_path):
    import json

    from flarepipe.archive.layout import read_records
    from flarepipe.config import settings
    from flarepipe.samples.labels import read_samples
    from flarepipe.samples.quality import region_noaa
    from flarepipe.samples.split import make_dataset_splits
    from flarepipe.stages.label import run_split

    root, out, _ = staged
    cfg = {"exclude_noaa_overlap": True}
    with pytest.raises(ValueError, match="exclude_noaa_overlap needs records.csv"):
        run_split(
            samples=out / "samples.csv",
            dataset="FUSED_SHARP",
            run=1,
            cfg=cfg,
            out=tmp_path / "split.csv",
        )
    # with the records the overlap check runs; the two HMI regions fill train only, and the
    # stage's diagnosis counts the parts make_dataset_splits made (fused MDI samples in train)
    with pytest.raises(ValueError, match=r"split of FUSED_SHARP run 1: the val/test parts"):
        run_split(
            samples=out / "samples.csv",
            records=root / "records.csv",
            dataset="FUSED_SHARP",
            run=1,
            cfg=cfg,
            out=tmp_path / "split.csv",
        )
    got = json.loads((tmp_path / "split_diagnosis.json").read_text())["parts"]
    want = make_dataset_splits(
        read_samples(out / "samples.csv"),
        "FUSED_SHARP",
        settings("split", cfg),
        1,
        region_noaa=region_noaa(read_records(root / "records.csv")),
    )
    assert {k: v["samples"] for k, v in got.items()} == {
        s: int((want["split"] == s).sum()) for s in ("train", "val", "test")
    }
    assert not (tmp_path / "split.csv").exists()


def _shard(out: Path, split: str, folder: Path, cfg: dict | None = None, train="train.h5"):
    """The shard stage on the staged feature store and ``out / split``, writing into ``folder``."""
    from flarepipe.stages.shard import run_shard

    run_shard(
        features=out / "features.h5",
        split=out / split,
        dataset="FUSED_SHARP",
        cfg=cfg or {},
        out_train=folder / train,
        out_val=folder / "val.h5",
        out_test=folder / "test.h5",
    )


def test_shard_stage_writes_the_declared_files(staged, tmp_path):
    from flarepipe.data.shards import ShardReader

    _, out, shards = staged
    sizes = {s: len(ShardReader(p).labels) for s, p in shards.items()}
    split = pd.read_csv(out / "split_by_time.csv")
    assert sizes == split["split"].value_counts().to_dict()
    with pytest.raises(ValueError, match=r"\{train,val,test\}\.h5"):
        _shard(out, "split_by_time.csv", tmp_path, train="a.h5")


def test_shard_stage_config_errors_name_the_section(staged, tmp_path):
    from flarepipe.config import ConfigError

    _, out, _ = staged
    with pytest.raises(ConfigError, match=r"shard\.image_norm must be one of"):
        _shard(out, "split_by_time.csv", tmp_path, {"image_norm": "per_image"})


def test_shard_stage_on_a_split_with_empty_parts_names_their_sizes(staged, tmp_path):

    _, out, _ = staged
    n = len(pd.read_csv(out / "split.csv"))  # train only (the split stage would refuse it)
    with pytest.raises(
        ValueError,
        match=rf"split of FUSED_SHARP: the val/test split is empty \(train {n}, val 0, test 0 "
        rf"samples of {n} in the split file",
    ):
        _shard(out, "split.csv", tmp_path)
    assert not list(tmp_path.glob("*.h5"))


@pytest.fixture(scope="module")
def predicted(staged, tmp_path_factory):
    """Predictions of the logistic regression, a one-epoch LSTM and the oracle on the shards."""
    from flarepipe.core.seeds import job_seed
    from flarepipe.stages.train import run_baseline, run_oracle, run_train

    root, out, shards = staged
    models = tmp_path_factory.mktemp("models") / "FUSED_SHARP"
    names = ("logreg", "lstm", "oracle", *ceiling_names())
    preds = {m: models / m / "run0" / "predictions.csv" for m in names}
    run_baseline(
        **shards,
        model="logreg",
        cfg={"C": 1.0, "class_weight": "balanced"},
        seed=job_seed("baseline", 0, 0),
        out_predictions=preds["logreg"],
    )
    run_train(
        **shards,
        model="lstm",
        cfg={"train": {"max_epochs": 1, "patience": 0}},
        seed=job_seed("train", 0, 0),
        out_predictions=preds["lstm"],
        out_checkpoint=preds["lstm"].parent / "model.ckpt",
        threads=1,
    )
    run_oracle(
        samples=out / "samples.csv",
        split=out / "split_by_time.csv",
        rates=root / "truth" / "rates.csv",
        manifest=root / "manifest.json",
        out_predictions=preds["oracle"],
        out_ceilings=[preds[c] for c in ceiling_names()],
    )
    return models, preds


def test_train_stages_predict_val_and_test(predicted, staged):
    _, out, _ = staged
    _, preds = predicted
    split = pd.read_csv(out / "split_by_time.csv")
    held = split[split["split"] != "train"]
    for name, p in preds.items():
        df = pd.read_csv(p)
        assert set(df["split"]) == {"val", "test"}, name
        assert len(df) == len(held), name
        assert df["prob"].between(0, 1).all(), name
    assert (preds["lstm"].parent / "model.ckpt").stat().st_size > 0


def test_train_stage_records_the_image_side_of_its_shards(tmp_path):
    """An image network without its own network.image_size is given its shards' side (the
    checkpoint records it); a side the shards do not have is refused naming both."""
    import numpy as np

    from flarepipe.data.shards import write_shard
    from flarepipe.stages.train import _image_side

    shard = tmp_path / "train.h5"
    meta = pd.DataFrame(
        {"sample_id": ["a", "b"], "region_id": ["1", "2"], "instrument": ["HMI"] * 2}
    ).assign(t_end="2011-01-01T00:00:00")
    write_shard(
        shard,
        meta=meta,
        inputs={"image": np.zeros((2, 1, 24, 24), np.float32)},
        targets={"label": np.array([0, 1])},
    )
    assert _image_side("cnn2", {"width": 0.5}, shard) == {"width": 0.5, "image_size": 24}
    assert _image_side("cnn2", {"image_size": 24}, shard) == {"image_size": 24}
    assert _image_side("lstm", None, shard) is None
    with pytest.raises(ValueError, match=r"network.image_size 48 but the shard .* holds 24-px"):
        _image_side("cnn2", {"image_size": 48}, shard)


def test_train_stage_refuses_outputs_it_cannot_name(staged, tmp_path):
    from flarepipe.stages.train import run_baseline

    _, _, shards = staged
    with pytest.raises(ValueError, match="predictions must be named predictions.csv"):
        run_baseline(
            **shards, model="logreg", cfg={}, seed=0, out_predictions=tmp_path / "preds.csv"
        )


def test_stack_and_evaluate_stages(predicted, staged, tmp_path):
    from flarepipe.evaluation.rates import TRUE_RATE_COLUMNS, TRUE_RATE_METRICS
    from flarepipe.stages.evaluate import run_evaluate, run_stack

    models, preds = predicted
    template = str(models / "{ensemble}" / "run0")
    names = ["stack_auc", "avg", "best_tss"]
    outs = [models / n / "run0" / "predictions.csv" for n in names]
    summaries = [models / n / "run0" / "summary.json" for n in names]
    pair = {"lstm": preds["lstm"], "logreg": preds["logreg"]}

    def stacking(*criteria):
        return [
            {"pair": ["lstm", "logreg"], "criteria": list(criteria), "prefix": "", "best": "tss"}
        ]

    alphas = run_stack(stacking("auc"), template, outs + summaries, (), **pair)
    assert set(alphas) == set(names) and all(p.is_file() for p in outs)
    with pytest.raises(ValueError, match="do not match the rule's outputs"):
        run_stack(stacking("auc", "bss"), template, outs + summaries, (), **pair)
    ev = tmp_path / "evaluation"
    run_evaluate(
        predictions=[*preds.values(), *outs],
        out_metrics=ev / "metrics.csv",
        out_table=ev / "metrics.md",
        out_plots=ev / "plots",
        tests=[
            {
                "a": ["FUSED_SHARP", "lstm"],
                "b": ["FUSED_SHARP", "logreg"],
                "metric": "TSS",
                "split": "test",
            }
        ],
    )
    metrics = pd.read_csv(ev / "metrics.csv")
    assert set(metrics["model"]) == {"logreg", "lstm", "oracle", *ceiling_names(), *names}
    assert "## Paired tests" in (ev / "metrics.md").read_text()
    assert (ev / "plots" / "tss_bar.png").stat().st_size > 0

    # with the samples and the split files: true event rate, sample counts, alpha plot
    _, out, _ = staged
    split = tmp_path / "splits" / "FUSED_SHARP" / "split_0.csv"
    split.parent.mkdir(parents=True)
    shutil.copy(out / "split.csv", split)
    ev2 = tmp_path / "evaluation2"
    run_evaluate(
        predictions=[*preds.values(), *outs],
        out_metrics=ev2 / "metrics.csv",
        out_table=ev2 / "metrics.md",
        out_plots=ev2 / "plots",
        samples=out / "samples.csv",
        splits=[split],
        alphas=summaries,
        split_cfg={"undersample_ratio": None},
        out_true_rate=ev2 / "true_rate.csv",
        out_instruments=ev2 / "instruments.csv",
        out_splits=ev2 / "splits.csv",
        base_models=["lstm", "logreg"],
        meta_models=names,
        stacked=["stack_auc"],
    )
    assert pd.read_csv(ev2 / "metrics.csv").equals(metrics)  # the new outputs add nothing here
    true_rate = pd.read_csv(ev2 / "true_rate.csv")
    assert len(true_rate) == len(set(metrics["model"])) * 2 * len(TRUE_RATE_METRICS)
    assert set(true_rate["probability"]) == {"raw", "corrected"}
    # the tiny archive's two HMI regions both fall in train under the region split: no test
    # samples at the true rate, so every score is undefined (tests/test_rates.py has the values)
    assert true_rate["value"].isna().all()
    counts = pd.read_csv(ev2 / "splits.csv")
    assert counts["samples"].sum() == len(pd.read_csv(split))
    inst = pd.read_csv(ev2 / "instruments.csv")
    assert inst["samples"].sum() == len(pd.read_csv(out / "samples.csv"))
    text = (ev2 / "metrics.md").read_text()
    assert "## Test at the true event rate" in text and "## Sample counts" in text
    for png in ("tss_box.png", "stack_alpha.png", "FUSED_SHARP_reliability.png"):
        assert (ev2 / "plots" / png).stat().st_size > 0, png
    off = tmp_path / "off" / "true_rate.csv"
    run_evaluate(
        predictions=[*preds.values(), *outs],
        out_metrics=ev2 / "metrics.csv",
        out_table=ev2 / "metrics.md",
        out_plots=ev2 / "plots",
        samples=out / "samples.csv",
        splits=[split],
        cfg={"true_rate": False},
        out_true_rate=off,
    )
    assert off.read_text().strip() == ",".join(TRUE_RATE_COLUMNS)
    assert "## Test at the true event rate" not in (ev2 / "metrics.md").read_text()


def test_archive_stages(tiny_archive, tmp_path):
    from flarepipe.stages.archive import run_archive, run_synthetic_figure

    root, _, _ = tiny_archive
    png = tmp_path / "fig" / "region.png"
    region = run_synthetic_figure(
        records=root / "records.csv",
        flares=root / "flares.csv",
        rates=root / "truth" / "rates.csv",
        out=png,
    )
    assert png.stat().st_size > 10_000 and isinstance(region, str)

    cfg = {
        "source": "synthetic",
        "synthetic": {"scale": "tiny", "n_regions": 1, "days": 2, "instruments": ["HMI"]},
    }
    arc = tmp_path / "archive"
    run_archive(
        cfg=cfg,
        out_records=arc / "records.csv",
        out_flares=arc / "flares.csv",
        out_manifest=arc / "manifest.json",
        out_rates=arc / "truth" / "rates.csv",
        workers=1,
    )
    assert (arc / "records.csv").is_file() and (arc / "truth" / "rates.csv").is_file()
    with pytest.raises(ValueError, match="share one folder"):
        run_archive(
            cfg=cfg,
            out_records=arc / "records.csv",
            out_flares=tmp_path / "flares.csv",
            out_manifest=arc / "manifest.json",
        )


def test_stage_reads_records_through_the_declared_file_only(staged, tmp_path):
    """A copy of the archive elsewhere is read from where the declared records.csv lies."""
    from flarepipe.stages.quality import run_quality

    root, out, _ = staged
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    (copy / "flares.csv").unlink()  # a stage that re-found sibling files would fail here
    run_quality(
        records=copy / "records.csv",
        cfg=section("quality", {"require_noaa": True}),
        out_flagged=tmp_path / "f.csv",
        out_summary=tmp_path / "s.csv",
        workers=1,
    )
    assert (tmp_path / "f.csv").read_bytes() == (out / "flagged.csv").read_bytes()


def _copy_with_record(src: Path, dst: Path) -> Path:
    """``src`` and its integrity record (``.<name>.integrity.json``) copied to ``dst``."""
    from flarepipe.io.atomic import integrity_path

    dst.write_bytes(src.read_bytes())
    integrity_path(dst).write_text(
        integrity_path(src).read_text().replace(f'"{src.name}"', f'"{dst.name}"')
    )
    return dst


def test_flags_edited_since_quality_wrote_them_are_refused_by_the_label_stage(staged, tmp_path):
    """records_flagged.csv records its row count and checksum; a flag turned by hand (same rows)
    would otherwise change the samples silently."""
    from flarepipe.io.atomic import IntegrityError
    from flarepipe.stages.label import run_label

    root, out, _ = staged
    edited = _copy_with_record(out / "flagged.csv", tmp_path / "flagged.csv")
    flags = pd.read_csv(edited, keep_default_na=False)
    flags.loc[0, "keep"] = not flags.loc[0, "keep"]
    flags.to_csv(edited, index=False)  # the same rows, one flag turned
    with pytest.raises(IntegrityError, match=rf"{edited}: .*Delete it and rerun"):
        run_label(
            records=root / "records.csv",
            flares=root / "flares.csv",
            flagged=edited,
            cfg={},
            out_samples=tmp_path / "s.csv",
            out_counts=tmp_path / "c.csv",
        )
    assert not (tmp_path / "s.csv").exists()


def test_a_split_cut_at_a_line_boundary_is_refused_by_the_stages_that_read_it(staged, tmp_path):
    from flarepipe.io.atomic import IntegrityError
    from flarepipe.samples.split import read_split
    from flarepipe.stages.shard import run_shard

    _, out, _ = staged
    assert len(read_split(out / "split.csv")) > 10  # as written: verified and read
    cut = _copy_with_record(out / "split.csv", tmp_path / "split_0.csv")
    cut.write_text("".join(cut.read_text().splitlines(keepends=True)[:-3]))
    with pytest.raises(IntegrityError, match=rf"{cut}: \d+ bytes, \d+ when written"):
        read_split(cut)
    with pytest.raises(IntegrityError, match=str(cut)):
        run_shard(
            features=out / "features.h5",
            split=cut,
            dataset="FUSED_SHARP",
            cfg={},
            out_train=tmp_path / "sh" / "train.h5",
            out_val=tmp_path / "sh" / "val.h5",
            out_test=tmp_path / "sh" / "test.h5",
        )


@pytest.mark.parametrize("model", ["logreg", "lstm", "oracle", "ceiling_sequence"])
def test_predictions_changed_since_their_stage_wrote_them_are_refused_on_read(
    predicted, tmp_path, model
):
    """Every stage that writes predictions.csv records it; evaluation and stacking read it
    through read_predictions, which refuses a cut or edited file (metrics would change)."""
    from flarepipe.evaluation.evaluate import read_predictions
    from flarepipe.io.atomic import IntegrityError

    _, preds = predicted
    assert len(read_predictions(preds[model])) > 0
    cut = _copy_with_record(preds[model], tmp_path / "predictions.csv")
    cut.write_text("".join(cut.read_text().splitlines(keepends=True)[:-2]))
    with pytest.raises(IntegrityError, match=rf"{cut}: \d+ bytes, \d+ when written"):
        read_predictions(cut)
    edited = _copy_with_record(preds[model], tmp_path / "predictions.csv")
    df = pd.read_csv(edited, dtype={"sample_id": str})
    df.loc[0, "prob"] = 1.0 - df.loc[0, "prob"]
    df.to_csv(edited, index=False)
    with pytest.raises(IntegrityError, match=str(edited)):
        read_predictions(edited)


def test_archive_layout_tables_are_verified_on_read(tiny_archive, tmp_path):
    """records.csv and flares.csv as the archive stage leaves them record their rows and SHA-256;
    a copy cut at a line boundary is refused on read, naming the file."""
    import shutil

    from flarepipe.archive.layout import read_flares, read_records
    from flarepipe.io.atomic import IntegrityError
    from flarepipe.stages.archive import _record_layout

    root, _, _ = tiny_archive
    for name in ("records.csv", "flares.csv"):
        shutil.copy(root / name, tmp_path / name)
    _record_layout(tmp_path / "records.csv", tmp_path / "flares.csv")
    assert len(read_records(tmp_path / "records.csv")) > 0 and len(
        read_flares(tmp_path / "flares.csv")
    )
    for name, reader in (("records.csv", read_records), ("flares.csv", read_flares)):
        lines = (tmp_path / name).read_text().splitlines(keepends=True)
        (tmp_path / name).write_text("".join(lines[:-1]))
        with pytest.raises(IntegrityError, match=name):
            reader(tmp_path / name)
