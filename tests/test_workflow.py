"""The workflow tested like code: lint, dry run, a full run on the tiny config, partial reruns."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def smk(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = SNAKEMAKE + [
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(REPO / "config/tiny.yaml"),
        "--cores",
        "2",
        *args,
    ]
    res = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=900)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{res.stdout[-3000:]}\n{res.stderr[-5000:]}")
    return res


def dry_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """Rule → job count of a dry run (empty when nothing to do)."""
    res = smk(workdir, *args, "-n", "--quiet", "rules")
    out = res.stdout + res.stderr
    counts = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("total", "job"):
            counts[parts[0]] = int(parts[1])
    return counts


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    wd = tmp_path_factory.mktemp("wf")
    shutil.copy(REPO / "config.yaml", wd / "config.yaml")
    return wd


#: Models whose figures come from the data pipeline alone (no fitting): bit-stable.
EXACT_MODELS = ("oracle",)
#: Models fitted by a deterministic solver on the features (no network): their probability scores
#: may move by the solver's rounding between CPUs' BLAS kernels (measured: 3.2e-6 at most, CE of
#: the logistic regression, on an EPYC without AVX-512 against the reference's machine).
SOLVER_MODELS = ("logreg",)
SOLVER_ATOL = 1e-4
#: Per-sample counts of a trained network's forecasts may move by this many samples between CPUs.
COUNT_SLACK = 1
#: Tolerances of a trained network's probability scores between CPUs (measured: 0.0022 at most
#: on an AVX-512 EPYC against the reference's machine; float32 kernels differ by CPU, and training
#: carries a last-bit difference through the epochs).
PROB_ATOL = {"BS": 0.01, "CE": 0.02, "BSS": 0.05, "AUC": 0.05}


def assert_matches_reference(metrics: pd.DataFrame, ref: pd.DataFrame) -> None:
    """The tiny run's metrics against the committed reference, row by row.

    The data pipeline (sample counts, event rates, oracle, ceilings) must match to the last
    digits; the logistic regression's scores within its solver's rounding (``SOLVER_ATOL``).
    A trained network and the ensembles built on it must match within
    what another CPU's float32 kernels move (``PROB_ATOL``; forecast counts within
    ``COUNT_SLACK`` samples): bit-identical training holds per machine, not across machines.
    """
    keys = ["dataset", "model", "run", "split", "metric"]
    got = metrics.set_index(keys)["value"].sort_index()
    want = ref.set_index(keys)["value"].sort_index()
    assert got.index.equals(want.index), sorted(set(got.index) ^ set(want.index))[:10]
    model = got.index.get_level_values("model").astype(str)
    metric = got.index.get_level_values("metric").astype(str)
    exact = model.isin(EXACT_MODELS) | model.str.startswith("ceiling_")
    exact |= metric.isin(["N", "event_rate"])
    g, w = got.to_numpy(), want.to_numpy()
    np.testing.assert_allclose(g[exact], w[exact], rtol=1e-9, atol=1e-12)
    counts = ~exact & metric.isin(["TP", "FP", "TN", "FN"])
    moved = np.abs(g[counts] - w[counts]) > COUNT_SLACK
    assert not moved.any(), got[counts][moved].head(10)
    solver = ~exact & model.isin(SOLVER_MODELS)
    for name, atol in PROB_ATOL.items():
        sel = solver & (metric == name)
        np.testing.assert_allclose(g[sel], w[sel], rtol=0, atol=SOLVER_ATOL, err_msg=name)
        sel = ~exact & ~solver & (metric == name)
        np.testing.assert_allclose(g[sel], w[sel], rtol=0, atol=atol, err_msg=name)


def test_lint(workdir):
    res = smk(workdir, "--lint", check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_invalid_config_fails_before_any_job(workdir, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: {cnn: {train: {lr: -1}}}\n")
    res = smk(workdir, "-n", "--configfile", str(REPO / "config/tiny.yaml"), str(bad), check=False)
    assert res.returncode != 0
    # the message names the file that set the value, not config.yaml
    assert f"{bad}: models.cnn.train.lr must be > 0" in res.stdout + res.stderr


def test_full_run_then_nothing_to_do_then_partial_reruns(workdir):
    assert dry_jobs(workdir).get("archive") == 1
    smk(workdir)
    res_dir = workdir / "results" / "tiny"
    metrics = pd.read_csv(res_dir / "evaluation" / "metrics.csv")
    assert {"lstm", "cnn", "logreg", "oracle", "avg"} <= set(metrics["model"])
    assert (res_dir / "figures" / "synthetic_region.png").stat().st_size > 10_000
    assert "| SHARP_ONLY | lstm | test |" in (res_dir / "evaluation" / "metrics.md").read_text()
    # the metrics of the committed reference (tests/reference/README.md): results did not move
    ref = pd.read_csv(REPO / "tests" / "reference" / "tiny_metrics.csv")
    assert_matches_reference(metrics, ref)
    # a second invocation has nothing to do
    assert dry_jobs(workdir) == {}

    # an equal configuration with its keys in another order (config.yaml and the extra file, at
    # every level) has nothing to do either: params are compared as canonical (key-sorted) text
    original = (workdir / "config.yaml").read_text()
    (workdir / "config.yaml").write_text(_reversed_yaml(original))
    (workdir / "tiny_reordered.yaml").write_text(
        _reversed_yaml((REPO / "config/tiny.yaml").read_text())
    )
    try:
        assert dry_jobs(workdir, "--configfile", str(workdir / "tiny_reordered.yaml")) == {}
    finally:
        (workdir / "config.yaml").write_text(original)

    # a changed model hyperparameter reruns only that model's train job (and what reads it)
    extra = workdir / "lstm_change.yaml"
    extra.write_text("models: {lstm: {train: {max_epochs: 2, patience: 1, lr: 0.002}}}\n")
    jobs = dry_jobs(workdir, "--configfile", str(REPO / "config/tiny.yaml"), str(extra))
    assert jobs.get("train") == 2 and "shard" not in jobs and "archive" not in jobs
    assert set(jobs) <= {"train", "stack", "evaluate", "attribute", "attribution_summary", "all"}

    # a model at another image side (a variant of the CNN) adds the features and shards of that
    # side and its own jobs; the features.image_size store, its shards and the other models stay
    side = workdir / "side_change.yaml"
    side.write_text(
        "experiments: {models: [lstm, cnn, cnn_48, logreg]}\n"
        "models: {cnn_48: {arch: cnn, network: {width: 0.125, hidden: [16, 8], "
        "pooled_size: 2, image_size: 48}, train: {max_epochs: 2, patience: 1}}}\n"
    )
    jobs = dry_jobs(workdir, "--configfile", str(REPO / "config/tiny.yaml"), str(side))
    assert (jobs.get("features_size"), jobs.get("shard_size"), jobs.get("train")) == (1, 2, 2)
    assert not {"features", "shard", "baseline", "stack", "archive"} & set(jobs), jobs
    assert set(jobs) <= {
        "features_size",
        "shard_size",
        "train",
        "evaluate",
        "attribute",
        "attribution_summary",
        "all",
    }

    # a changed quality threshold reruns from quality down, not the archive
    q = workdir / "quality_change.yaml"
    q.write_text("quality: {max_cm_distance_deg: 60}\n")
    jobs = dry_jobs(workdir, "--configfile", str(REPO / "config/tiny.yaml"), str(q))
    assert "archive" not in jobs and jobs.get("quality") == 1 and jobs.get("label") == 1
    assert jobs.get("train") == 4

    # a deleted intermediate is rebuilt alone; then only what depends on it reruns
    split_file = res_dir / "splits" / "SHARP_ONLY" / "split_0.csv"
    before = split_file.read_bytes()
    split_file.unlink()
    assert dry_jobs(workdir, str(split_file.relative_to(workdir))) == {"split": 1}
    smk(workdir, str(split_file.relative_to(workdir)))
    assert split_file.read_bytes() == before  # deterministic
    # identical content: Snakemake 9 compares checksums of small inputs: nothing downstream reruns
    assert dry_jobs(workdir) == {}


def test_exclude_noaa_overlap_runs_the_split(workdir):
    """split.exclude_noaa_overlap: the split rule reads records.csv for the region -> NOAA map
    (before, every split job failed: the map was never passed)."""
    extra = workdir / "noaa_overlap.yaml"
    extra.write_text("split: {exclude_noaa_overlap: true}\n")
    target = "results/tiny/splits/FUSED_SHARP/split_0.csv"
    args = (target, "--configfile", str(REPO / "config/tiny.yaml"), str(extra))
    assert dry_jobs(workdir, *args) == {"split": 1}  # params changed, nothing else
    smk(workdir, *args)
    split = pd.read_csv(workdir / target)
    assert set(split["instrument"]) == {"HMI", "MDI"}
    assert set(split.loc[split["instrument"] == "MDI", "split"]) == {"train"}


def _reversed_yaml(text: str) -> str:
    """The same YAML document with every mapping's keys in reverse order."""
    import yaml

    def rev(node):
        if isinstance(node, dict):
            return {k: rev(node[k]) for k in reversed(list(node))}
        if isinstance(node, list):
            return [rev(v) for v in node]
        return node

    data = yaml.safe_load(text)
    out = yaml.safe_dump(rev(data), sort_keys=False)
    assert yaml.safe_load(out) == data and out != yaml.safe_dump(data, sort_keys=False)
    return out


@pytest.mark.parametrize("email_in", ["env", "config"])
def test_jsoc_source_through_the_workflow(tmp_path, email_in):
    """archive.source = jsoc: unit jobs, catalogue and merge run through Snakemake against a
    loopback server speaking the JSOC protocol (the real drms client); a rerun fetches nothing.
    The e-mail, from the environment or from ``archive.jsoc.email`` of a config file, is in no
    file the run writes (``.snakemake/`` metadata and logs included)."""
    import yaml

    from jsoc_server import FakeJsoc, make_records

    email = "reviewer.secret@example.org"
    flares = tmp_path / "flares_in.csv"
    flares.write_text(
        "start_utc,peak_utc,end_utc,goes_class,peak_flux_wm2,noaa_ar,region_missing\n"
        "2011-02-15T01:44:00,2011-02-15T01:56:00,2011-02-15T02:06:00,X2.2,2.2e-4,11158,False\n"
    )
    records = [r for r in make_records() if r.series == "hmi.sharp_cea_720s"]
    with FakeJsoc(records) as srv:
        cfg = {
            "results": "res",
            # an HMI-only archive: the FUSED dataset of config.yaml would be refused
            "experiments": {"datasets": ["SHARP_ONLY"], "models": ["lstm", "cnn"], "runs": 1},
            "archive": {
                "source": "jsoc",
                "jsoc": {
                    "server": srv.url,
                    "series": ["hmi.sharp_cea_720s"],
                    "start": "2011-02-14",
                    "end": "2011-02-16",
                    "chunk_days": 1,
                    "poll_interval_s": 0,
                    "timeout_s": 5,
                    "progress": False,
                    "retry": {"max_attempts": 3, "base_delay_s": 0.01},
                },
                "catalogue": {"source": "file", "path": str(flares), "format": "flares_csv"},
            },
        }
        env_email = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        env_email.pop("FLAREPIPE_JSOC_EMAIL", None)
        if email_in == "env":
            env_email["FLAREPIPE_JSOC_EMAIL"] = email
        else:
            cfg["archive"]["jsoc"]["email"] = email
        (tmp_path / "jsoc.yaml").write_text(yaml.safe_dump(cfg))
        shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
        cmd = SNAKEMAKE + [
            "res/archive/records.csv",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--configfile",
            str(tmp_path / "jsoc.yaml"),
            "--cores",
            "2",
            "--resources",
            "jsoc_export=1",
        ]
        opts = {"cwd": tmp_path, "env": env_email, "capture_output": True, "text": True}
        run = subprocess.run(cmd, **opts, timeout=600)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
        hits = len(srv.hits)
        rerun = subprocess.run(cmd, **opts, timeout=300)
        assert rerun.returncode == 0 and "Nothing to be done" in rerun.stdout + rerun.stderr
        assert len(srv.hits) == hits  # nothing fetched again
    from flarepipe.archive.layout import load_archive

    arc = load_archive(tmp_path / "res" / "archive")
    assert set(arc.records["region"]) == {377, 401}
    assert (arc.records["path"].str.startswith("fits/")).all()
    assert arc.flares["goes_class"].tolist() == ["X2.2"]
    written = [f for f in tmp_path.rglob("*") if f.is_file() and f != tmp_path / "jsoc.yaml"]
    assert any(".snakemake/metadata" in str(f) for f in written)
    for f in written:
        assert email.encode() not in f.read_bytes(), f


def _local_workdir(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A workdir whose archive is the local source: two small exports and a flare list."""
    import yaml

    from flarepipe.io.fitsio import write_patch

    fits_in = tmp_path / "exports"
    fits_in.mkdir()
    for i, t in enumerate(("02:00:00", "03:36:00")):
        name = f"hmi.sharp_cea_720s.377.20110215_{t.replace(':', '')}_TAI.magnetogram.fits"
        write_patch(
            fits_in / name,
            np.full((20, 30), float(i), np.float32),
            # positions and keywords as every real export carries them (quality's
            # central-meridian filter; a record without keywords is rejected, and a quality
            # stage that keeps no record fails)
            {
                "HARPNUM": 377,
                "T_REC": f"2011.02.15_{t}_TAI",
                "NOAA_ARS": "11158",
                "LON_FWT": 12.0,
                "LAT_FWT": -20.0,
                "USFLUXL": 1e22,
                "MEANGBL": 40.0,
                "R_VALUE": 3.0,
                "AREA": 500.0,
            },
        )
    flares = tmp_path / "flares.txt"
    flares.write_text(
        "2011-02-15T01:44:00;2011-02-15T01:56:00;2011-02-15T02:06:00;AR11158;X2.2;S20W12\n"
        "2011-02-14T10:00:00;2011-02-14T10:05:00;2011-02-14T10:20:00;AR11158;C1.0;\n"
    )
    cfg = {
        "results": "res",
        "archive": {"source": "local", "local": {"fits_dir": str(fits_in), "flares": str(flares)}},
    }
    (tmp_path / "local.yaml").write_text(yaml.safe_dump(cfg))
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    return tmp_path / "local.yaml", fits_in, flares


def _local_smk(wd: Path, cfgfile: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = SNAKEMAKE + ["--snakefile", str(REPO / "Snakefile"), "--directory", str(wd)]
    cmd += ["--configfile", str(cfgfile), "--cores", "1", *args]
    res = subprocess.run(cmd, cwd=wd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    return res


def test_edited_local_inputs_make_the_archive_and_downstream_stale(tmp_path):
    """Every file the local archive reads is an input: editing the flare list, or replacing one
    FITS export, reruns the archive and the stages after it; untouched, nothing is to be done."""
    cfgfile, fits_in, flares = _local_workdir(tmp_path)
    target = "res/quality/records_flagged.csv"
    _local_smk(tmp_path, cfgfile, target)
    again = _local_smk(tmp_path, cfgfile, target, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr

    def stale() -> set[str]:
        res = _local_smk(tmp_path, cfgfile, target, "-n", "--quiet", "rules")
        lines = (res.stdout + res.stderr).splitlines()
        return {p[0] for p in (ln.split() for ln in lines) if len(p) == 2 and p[1].isdigit()}

    # remove the strong flare from the list (the edit of the issue): archive and quality rerun
    flares.write_text(flares.read_text().splitlines()[1] + "\n")
    assert {"archive", "quality"} <= stale()
    _local_smk(tmp_path, cfgfile, target)
    assert pd.read_csv(tmp_path / "res/archive/flares.csv")["goes_class"].tolist() == ["C1.0"]
    # replace one export with another of the same name and size (a new mtime)
    f = sorted(fits_in.iterdir())[0]
    data = f.read_bytes()
    f.unlink()
    f.write_bytes(data)
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    assert {"archive", "quality"} <= stale()
