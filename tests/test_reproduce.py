"""Sun et al. 2022 on the published keyword tables: the ``tables`` archive source, the relabel
audit, the study config, and a tiny end-to-end workflow run of that config on real table rows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from flarepipe.archive.build import build_archive
from flarepipe.archive.catalogues.flares import read_flare_file, write_flares
from flarepipe.archive.layout import RECORD_COLUMNS, load_archive
from flarepipe.archive.sources import tables as tsrc
from flarepipe.archive.sources.local import load_keyword_tables
from flarepipe.config import load_config, settings
from flarepipe.samples.labels import make_samples, write_samples
from flarepipe.stages.audit import run_audit
from flarepipe.studies.sun2022 import audit

REPO = Path(__file__).resolve().parents[1]
REAL = Path(os.environ.get("FLAREPIPE_REAL_DATA", REPO.parent / "shared" / "data" / "real"))
STUDY = REPO / "config" / "studies" / "sun2022_tables.yaml"
STEP = pd.Timedelta(minutes=96)
T0 = pd.Timestamp("2012-01-01 00:00:00")  # on the 96-minute TAI grid


def _real() -> Path:
    if not (REAL / "keywords" / "sharp_0.csv").exists():
        pytest.skip(
            f"real data not available: {REAL} (set FLAREPIPE_REAL_DATA to the shared "
            "data/real folder)"
        )
    return REAL


# ------------------------------------------------------------------------- generated tables
def _write_tiny_data(root: Path, n_regions: int = 24, edge_region: int | None = None) -> Path:
    """Tables, HARP map and GOES list in the real files' formats, generated with a seed.

    Every even region has one M2.0 flare 10 minutes after a grid time; ``edge_region``'s flare
    starts exactly on a grid time (inside the authors' closed TAI window, outside flarepipe's).
    """
    rng = np.random.default_rng(7)
    (root / "keywords").mkdir(parents=True)
    (root / "goes").mkdir()
    events, harp_lines = [], []
    for prefix, kind, start, noaa0 in (
        ("HARP", "sharp", pd.Timestamp("2012-01-01"), 11400),
        ("TARP", "smarp", pd.Timestamp("2001-01-01"), 9300),
    ):
        rows = []
        for r in range(n_regions):
            arp, noaa = 100 + r, noaa0 + r
            if prefix == "HARP":
                harp_lines.append(f"{arp} {noaa}")
            first = start + r * 4 * pd.Timedelta(days=1)
            flaring = r % 2 == 0
            offset = pd.Timedelta(0) if r == edge_region else pd.Timedelta(minutes=10)
            t_flare = first + 40 * STEP + offset
            if flaring:
                events.append(
                    f"{t_flare:%Y-%m-%dT%H:%M:%S};{t_flare:%Y-%m-%dT%H:%M:%S};"
                    f"{t_flare + pd.Timedelta(minutes=20):%Y-%m-%dT%H:%M:%S};AR{noaa};"
                    "M2.0;N10E10"
                )
            for i in range(45):
                t_end = first + pd.Timedelta(days=1) + i * STEP
                if flaring and t_end >= t_flare:
                    break  # the authors removed rows with a strong flare in the observation only
                label = flaring and t_flare - pd.Timedelta(days=1) <= t_end
                size = (3.0 if flaring else 1.0) * (1 + 0.02 * i)
                rows.append(
                    {
                        "prefix": prefix,
                        "arpnum": arp,
                        "t_start": t_end - pd.Timedelta(days=1),
                        "t_end": t_end,
                        "label": label,
                        "flares": "M2.0" if label else "",
                        "FLARE_INDEX": 0.0,
                        "AREA": 500 * size * rng.lognormal(0, 0.1),
                        "USFLUX": 1e21 * size * rng.lognormal(0, 0.1),
                        "MEANGBZ": 50 * size * rng.lognormal(0, 0.1),
                        "R_VALUE": 2.0 * size + rng.normal(0, 0.1),
                    }
                )
        pd.DataFrame(rows).to_csv(
            root / "keywords" / f"{kind}_0.csv", index=False, date_format="%Y-%m-%d %H:%M:%S"
        )
    (root / "keywords" / "harp_noaa_map.txt").write_text("\n".join(harp_lines) + "\n")
    (root / "goes" / "goes_events_1995_2024.txt").write_text("\n".join(sorted(events)) + "\n")
    return root


def _tables_cfg(data: Path, **over) -> dict:
    cfg = {
        "data_dir": str(data),
        "keyword_tables": ["keywords/sharp_*.csv", "keywords/smarp_*.csv"],
        "harp_noaa_map": "keywords/harp_noaa_map.txt",
        "flares": "goes/goes_events_1995_2024.txt",
    }
    return {**cfg, **over}


def _tables(data: Path) -> list[Path]:
    return tsrc.table_files(["keywords/sharp_*.csv", "keywords/smarp_*.csv"], data)


# ------------------------------------------------------------------------------ the source
def test_tables_source_writes_the_archive_layout(tmp_path):
    data = _write_tiny_data(tmp_path / "data", n_regions=6)
    manifest = build_archive({"source": "tables", "tables": _tables_cfg(data)}, tmp_path / "arc")
    arc = load_archive(tmp_path / "arc")
    table = load_keyword_tables(_tables(data))
    assert list(arc.records.columns) == RECORD_COLUMNS
    assert len(arc.records) == len(table) == manifest["counts"]["records"]
    assert (arc.records["path"].fillna("") == "").all() and (arc.records["nx"] == 0).all()
    assert set(arc.records["instrument"]) == {"HMI", "MDI"}
    # t_rec is UTC: the TAI grid time minus TAI-UTC (35 s in 2012)
    first = arc.records[arc.records["region_id"] == "HARP100"].iloc[0]
    assert first["t_rec_tai"] == "2012.01.02_00:00:00_TAI"
    assert first["t_rec"] == pd.Timestamp("2012-01-01 23:59:26")
    noaa = arc.records.groupby("region_id")["noaa_ars"].first().fillna("")
    # HARPs from JSOC's map; TARPs derived from their listed flares (only the flaring ones)
    assert all(noaa[f"HARP{100 + r}"] == str(11400 + r) for r in range(6))
    assert {r: noaa[f"TARP{100 + r}"] for r in range(6)} == {
        0: "9300",
        1: "",
        2: "9302",
        3: "",
        4: "9304",
        5: "",
    }
    assert len(arc.flares) == 6 and manifest["source"] == "tables"
    assert manifest["counts"]["regions_noaa_derived"] == 3
    assert set(manifest["files"]) >= {"records.csv", "flares.csv"}
    assert len(manifest["inputs"]["keyword_tables"]) == 2


def test_tables_source_accepts_any_flare_list(tmp_path):
    """The same events as GOES text and as a flares.csv give the same archive and relabelling."""
    data = _write_tiny_data(tmp_path / "data", n_regions=6)
    events = read_flare_file(data / "goes" / "goes_events_1995_2024.txt").flares
    write_flares(events, data / "goes" / "events_as_flares.csv")
    build_archive({"source": "tables", "tables": _tables_cfg(data)}, tmp_path / "a")
    build_archive(
        {
            "source": "tables",
            "tables": _tables_cfg(
                data, flares="goes/events_as_flares.csv", flares_format="flares_csv"
            ),
        },
        tmp_path / "b",
    )
    for name in ("records.csv", "flares.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    table = load_keyword_tables(_tables(data))
    for d in ("a", "b"):
        arc = load_archive(tmp_path / d)
        rel = audit.relabel(table, arc.records, arc.flares)
        assert (rel["relabel"].to_numpy() == table["label"].to_numpy()).all()


@pytest.mark.parametrize(
    "change,message",
    [
        ({"flares": None}, "archive.tables.flares is required"),
        ({"keyword_tables": ["keywords/nothing_*.csv"]}, "no file matches"),
        ({"harp_noaa_map": "keywords/missing.txt"}, "archive.tables.harp_noaa_map: no such file"),
        ({"derive_noaa": ["XARP"]}, "unknown prefix"),
        ({"flares_format": "votable"}, "flares_format must be one of"),
        ({"noaa_min_fraction": 0}, "noaa_min_fraction must be in (0, 1]"),
        ({"colour": "red"}, "unknown key(s) ['colour']"),
    ],
)
def test_tables_config_errors_name_the_key(tmp_path, change, message):
    data = _write_tiny_data(tmp_path / "data", n_regions=2)
    with pytest.raises(ValueError) as err:
        tsrc.resolve_tables_config(_tables_cfg(data, **change))
    assert message in str(err.value)


def test_derive_region_noaa_finds_the_flaring_regions(tmp_path):
    data = _write_tiny_data(tmp_path / "data", n_regions=6)
    table = load_keyword_tables([data / "keywords" / "smarp_0.csv"])
    flares = read_flare_file(data / "goes" / "goes_events_1995_2024.txt").flares
    mapping, evidence = tsrc.derive_region_noaa(table, flares)
    assert mapping == {f"TARP{100 + r}": [9300 + r] for r in range(0, 6, 2)}
    assert evidence["accepted"].sum() == 3
    # a flare list the table does not list supports nothing
    other = flares.assign(peak_flux_wm2=flares["peak_flux_wm2"] * 1.5)
    assert tsrc.derive_region_noaa(table, other)[0] == {}


def test_tables_archive_features_have_no_image_and_fill_gaps_as_configured(tmp_path):
    """A missing history row is filled from the next step (``fill: next``, the published S1
    code) or from the previous one (``previous``, the default); the store holds no image."""
    from flarepipe.data.features import extract_features
    from flarepipe.data.shards import ShardReader

    data = _write_tiny_data(tmp_path / "data", n_regions=2)
    path = data / "keywords" / "sharp_0.csv"
    df = pd.read_csv(path)
    df.drop(index=df.index[(df["arpnum"] == 101)][20]).to_csv(path, index=False)  # a gap
    build_archive({"source": "tables", "tables": _tables_cfg(data)}, tmp_path / "arc")
    arc = load_archive(tmp_path / "arc")
    samples = make_samples(arc.records, arc.flares, settings("labels", {"max_bad_records": 15}))
    gap = samples[
        samples["region_id"].eq("HARP101")
        & samples["record_ids"].str.contains("-1;", regex=False)
        & ~samples["record_ids"].str.startswith("-1;")
    ].iloc[[0]]
    ids = [int(x) for x in gap["record_ids"].iloc[0].split(";")]
    j = ids.index(-1)
    area = arc.records["area_uhem"].to_numpy()
    for fill, source in (("next", ids[j + 1]), ("previous", ids[j - 1])):
        out = extract_features(arc.root, arc.records, gap, tmp_path / f"{fill}.h5", fill=fill)
        reader = ShardReader(out)
        assert "image" not in reader.inputs
        seq = reader.read_all(inputs=("sequence",), targets=())["sequence"]
        assert seq[0, j, 3] == np.float32(area[source]), fill
    with pytest.raises(ValueError, match="features.fill must be one of"):
        extract_features(arc.root, arc.records, gap, tmp_path / "x.h5", fill="mean")


# ------------------------------------------------------------------------------- the audit
def test_select_samples_truth_table():
    t = pd.DataFrame(
        {
            "region_id": ["HARP1"] * 5,
            "t_end": [T0 + i * STEP for i in range(5)],
            "label": [True, True, False, False, False],
            "flares": ["M1.0", "C1.0|X2.0", "", "", "C3.0"],
            "flare_index": [0.0, 5.0, 0.0, 1.3, 0.0],
        }
    )
    s = audit.select_samples(t)
    assert list(s.index) == [0, 1, 2]  # QUIET-obs-WEAK-pred and WEAK-obs rows are discarded
    assert s["label"].tolist() == [1, 1, 0]
    assert s["sample_id"].iloc[0] == "HARP1_20120101T000000"


def test_audit_explains_each_disagreement(tmp_path):
    """A flare on a grid time (window edge) and one missing from the list, each with its reason."""
    data = _write_tiny_data(tmp_path / "data", n_regions=6, edge_region=2)
    goes = data / "goes" / "goes_events_1995_2024.txt"
    lines = goes.read_text().splitlines()
    goes.write_text("\n".join(x for x in lines if "AR11404" not in x) + "\n")  # HARP104's flare
    build_archive({"source": "tables", "tables": _tables_cfg(data)}, tmp_path / "arc")
    arc = load_archive(tmp_path / "arc")
    table = load_keyword_tables(_tables(data))
    res = audit.audit_tables(table, arc.records, arc.flares)
    dis = res.disagreements
    assert set(dis["reason"]) <= set(audit.REASONS)
    by_region = dis.groupby("region_id")["reason"].agg(set).to_dict()
    # HARP102 and TARP102: the last positive row's flare starts exactly at t_end_tai + 24 h
    assert by_region["HARP102"] == {"window_edge"} and by_region["TARP102"] == {"window_edge"}
    assert (dis["region_id"] == "HARP102").sum() == 1
    # HARP104: every positive row lacks its flare in the list
    n_pos = int(table.loc[table["region_id"] == "HARP104", "label"].sum())
    assert by_region["HARP104"] == {"flare_missing_from_catalogue"}
    assert (dis["region_id"] == "HARP104").sum() == n_pos > 0
    assert set(by_region) == {"HARP102", "TARP102", "HARP104"}
    agree = res.agreement
    assert (
        agree.groupby("instrument")["count"].sum().to_dict()
        == table["instrument"].value_counts().to_dict()
    )
    assert "| HMI | harp_noaa_map |" in res.report and "window_edge" in res.report


def test_audit_stage_writes_its_declared_outputs(tmp_path):
    data = _write_tiny_data(tmp_path / "data", n_regions=8)
    build_archive({"source": "tables", "tables": _tables_cfg(data)}, tmp_path / "arc")
    arc = load_archive(tmp_path / "arc")
    labels = {"max_bad_records": 15}  # every window whose last record exists
    write_samples(
        make_samples(arc.records, arc.flares, settings("labels", labels)), tmp_path / "samples.csv"
    )
    out = {k: tmp_path / "audit" / f"{k}.csv" for k in ("agree", "dis", "derived", "samples")}
    res = run_audit(
        _tables(data),
        tmp_path / "arc" / "records.csv",
        tmp_path / "arc" / "flares.csv",
        tmp_path / "samples.csv",
        out["agree"],
        out["dis"],
        tmp_path / "audit" / "report.md",
        out["derived"],
        out["samples"],
        labels=labels,
        cross_check=data / "goes" / "goes_events_1995_2024.txt",
    )
    assert res == {"rows": len(load_keyword_tables(_tables(data))), "disagreements": 0}
    assert all(p.exists() for p in out.values())
    sa = pd.read_csv(out["samples"])
    # the generated tables are the workflow's own rule: same samples, same labels
    assert (sa["table"] == sa["workflow"]).all() and (sa["table_only"] == 0).all()
    assert sa["workflow"].sum() == len(pd.read_csv(tmp_path / "samples.csv"))
    with pytest.raises(ValueError, match="not the flares.csv beside"):
        run_audit(
            _tables(data),
            tmp_path / "arc" / "records.csv",
            tmp_path / "samples.csv",
            None,
            *[tmp_path / "x" / n for n in ("a", "b", "c", "d")],
        )


def test_audit_inputs_come_from_the_config(tmp_path):
    data = _write_tiny_data(tmp_path / "data", n_regions=2)
    cfg = {
        "archive": {"tables": _tables_cfg(data)},
        "audit": {"cross_check_flares": "goes/goes_events_1995_2024.txt"},
    }
    got = audit.audit_inputs(cfg)
    assert got == {
        "tables": [str(p) for p in _tables(data)],
        "cross_check": str(data / "goes" / "goes_events_1995_2024.txt"),
    }
    cfg["audit"]["cross_check_flares"] = "goes/none.csv"
    with pytest.raises(ValueError, match="audit.cross_check_flares: no such file"):
        audit.audit_inputs(cfg)


def test_study_configs_validate():
    cfg = load_config(REPO / "config.yaml", STUDY)
    assert cfg["archive"]["source"] == "tables" and cfg["experiments"]["runs"] == 10
    assert set(cfg["experiments"]["models"]) == {"lstm", "logreg"}
    assert cfg["shard"]["log_keywords"] == [] and cfg["audit"]["relabel"] is True
    assert load_config(REPO / "config.yaml", REPO / "config" / "studies" / "sun2022.yaml")


# ------------------------------------------------------------------------------ real data
def test_relabel_real_sharp_fold0_agrees(tmp_path):
    real = _real()
    build_archive(
        {"source": "tables", "tables": _tables_cfg(real, keyword_tables=["keywords/sharp_0.csv"])},
        tmp_path / "arc",
    )
    arc = load_archive(tmp_path / "arc")
    table = load_keyword_tables([real / "keywords" / "sharp_0.csv"])
    assert set(table["fold"]) == {0} and set(table["instrument"]) == {"HMI"}
    res = audit.audit_tables(table, arc.records, arc.flares)
    rel = audit.relabel(table, arc.records, arc.flares)
    agree = (rel["relabel"].to_numpy() == table["label"].to_numpy(bool)).mean()
    assert agree >= 0.995, f"relabelling agrees on {100 * agree:.3f} % of SHARP fold 0"
    assert len(res.disagreements) == int((rel["relabel"] != table["label"]).sum()) > 0
    assert set(res.disagreements["reason"]) <= set(audit.REASONS)


def _real_subset(real: Path, out: Path, n_regions: int = 24) -> Path:
    """A few real regions of each table (half with positives), in the tables' own format."""
    (out / "keywords").mkdir(parents=True)
    for kind in ("sharp", "smarp"):
        df = pd.read_csv(real / "keywords" / f"{kind}_0.csv")
        pos = df.groupby("arpnum")["label"].sum()
        half = n_regions // 2
        pick = list(pos[pos >= 5].index[:half]) + list(pos[pos == 0].index[:half])
        df[df["arpnum"].isin(pick)].to_csv(out / "keywords" / f"{kind}_0.csv", index=False)
    return out


def test_study_config_end_to_end_on_real_rows(tmp_path):
    """The study config through Snakemake on a few real table rows: archive, quality, label,
    split, features, shard, LSTM, logistic regression, evaluate, audit; then nothing to do."""
    real = _real()
    sub = _real_subset(real, tmp_path / "data")
    over = {
        "results": "res",
        "archive": {
            "tables": {
                "data_dir": str(real),
                "keyword_tables": [
                    str(sub / "keywords" / "sharp_0.csv"),
                    str(sub / "keywords" / "smarp_0.csv"),
                ],
            }
        },
        "experiments": {"datasets": ["FUSED_SHARP"], "runs": 1},  # HMI val/test, both in train
        "models": {"lstm": {"train": {"max_epochs": 2, "patience": 1}}},
    }
    (tmp_path / "over.yaml").write_text(yaml.safe_dump(over))
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(tmp_path),
        "--configfile",
        str(STUDY),
        str(tmp_path / "over.yaml"),
        "--cores",
        "2",
    ]
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    res = tmp_path / "res"
    metrics = pd.read_csv(res / "evaluation" / "metrics.csv")
    tss = metrics[(metrics["split"] == "test") & (metrics["metric"] == "TSS")]
    assert sorted(zip(tss["dataset"], tss["model"], strict=True)) == [
        ("FUSED_SHARP", "logreg"),
        ("FUSED_SHARP", "lstm"),
    ]
    assert tss["value"].notna().all()
    report = (res / "audit" / "relabel_agreement.md").read_text()
    assert "| HMI | harp_noaa_map |" in report and "| MDI | derived" in report
    samples = pd.read_csv(res / "labels" / "samples.csv")
    sa = pd.read_csv(res / "audit" / "sample_agreement.csv")
    assert sa["workflow"].sum() == len(samples)
    assert (sa.loc[sa["label"] == 1, "workflow"] > 0).all()
    manifest = yaml.safe_load((res / "archive" / "manifest.json").read_text())
    assert manifest["source"] == "tables" and manifest["counts"]["records_with_file"] == 0
    dry = subprocess.run(
        cmd + ["-n"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr
