"""Bring your own data: third-party tables, FITS folders and flare lists through archive ->
quality -> labels, and a clear error for every way they go wrong (docs/SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from archive_config import local_section
from byo_data import (
    STEP,
    T0,
    TRUTH,
    flare_tsv,
    harp_noaa_map,
    sharp_fits_folder,
    third_party_table,
)
from conftest import real_path, run_rule_script
from flarepipe.archive.catalogues import flares as cat
from flarepipe.archive.catalogues.keyword_tables import TableOptions, read_keyword_tables
from flarepipe.archive.layout import load_archive
from flarepipe.archive.sources import local
from flarepipe.config import settings
from flarepipe.core.keywords import KEYWORD_COLUMNS
from flarepipe.samples.labels import apply_task, label_windows
from flarepipe.samples.quality import flag_records

FLARE_COLUMNS = {"start": "begin", "peak": "max", "end": "stop", "goes_class": "goes"}
TABLE_MAP = {
    "noaa": "NOAA",
    "t_end": "Zeit",
    "region": None,
    "t_start": None,
    "label": None,
    "flares": None,
    "flare_index": None,
}


def _section(tmp: Path, **over) -> dict:
    sec = {
        "keyword_tables": [str(third_party_table(tmp))],
        "harp_noaa_map": str(harp_noaa_map(tmp)),
        "flares": str(flare_tsv(tmp)),
        "flares_format": "csv",
        "flares_columns": {**FLARE_COLUMNS, "noaa_ar": "region"},
        "flares_time_format": "%Y/%m/%d %H:%M",
        "column_map": TABLE_MAP,
        "constants": {"prefix": "HARP"},
        "time_format": "%d.%m.%Y %H:%M",
        "grid_minutes": 96,
        "grid_tolerance_minutes": 10,
        "fits_dir": str(sharp_fits_folder(tmp / "fits")),
        "fits_glob": "**/*.fits",
    }
    sec.update(over)
    return local_section(sec)


@pytest.fixture(scope="module")
def byo_archive(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("byo")
    manifest = local.build_local_archive(_section(tmp), tmp / "archive")
    return manifest, load_archive(tmp / "archive")


def test_third_party_inputs_go_through_archive_quality_and_labels(byo_archive):
    manifest, arc = byo_archive
    root = arc.root
    counts = manifest["counts"]
    # 45 + 1 grid rows of HARP 101, 3 of HARP 102 (via NOAA numbers), 2 FITS records of HARP 201
    assert counts["records"] == 51 and counts["records_with_file"] == 2
    assert arc.records.groupby("region_id").size().to_dict() == {
        "HARP101": 46,
        "HARP102": 3,
        "HARP201": 2,
    }
    info = manifest["tables"][0]
    assert info["format"].startswith("text, separator semicolon, decimal ','")
    assert info["extra_columns"] == ["totusjh"] and info["ignored_columns"] == ["comment"]
    assert info["regions_from_noaa"] == TRUTH["table_rows"] - TRUTH["ambiguous"] - 1
    rej = pd.read_csv(root / "rejected_records.csv")["reason"].tolist()
    assert len(rej) == 3
    assert "-12.0 min off the 96-minute T_REC grid" in rej[0] and "23:48" in rej[0]
    assert "NOAA [11503] is ambiguous: HARPs [103, 104]" in rej[1]
    assert "NOAA [11599] is in no HARP" in rej[2]
    rep = pd.read_csv(root / "repaired_records.csv")["reason"].tolist()
    assert rep == [
        "NOAA [1500] +10000 (leading 1 dropped)",
        "t_end 2012-03-01 08:05:00 TAI snapped -5.0 min to the grid",
    ]
    # QUALITY, positions, OBS_VR and the extra keyword carried through
    h101 = arc.records[arc.records["region_id"] == "HARP101"].reset_index(drop=True)
    assert h101.loc[TRUTH["bad_quality_row"], "quality"] == 65536
    assert h101["lat_fwt"].eq(12.5).all() and h101["obs_vr"].notna().all()
    assert h101["noaa_ars"].eq("11500").all() and h101["totusjh"].notna().all()
    assert (pd.DatetimeIndex(h101["t_rec"]) == pd.Timestamp("2012-03-01 07:59:26")).sum() == 1
    # flare list: tab-separated, other names and date format, with the shared repairs
    fl = pd.read_csv(root / "rejected_flares.csv")["reason"].tolist()
    assert fl == ["duplicate of line 2", "bad GOES class 'Q5'"]
    assert arc.flares["noaa_ar"].tolist() == [11501, 11500, 11600]
    # FITS folder: only the magnetogram segment is a record; keywords recomputed from the map
    assert counts["fits_ignored_segments"] == {"Bp": 2, "Br": 2, "Bt": 2, "bitmap": 2}
    prov = pd.read_csv(root / "keyword_provenance.csv")
    assert prov.groupby("keyword")["source"].first().to_dict() == {
        "area_uhem": "header:AREA",
        "meangbl_g_per_px": "computed:bitmap",
        "r_value": "computed:bitmap",
        "usfluxl_mx": "computed:bitmap",
    }
    # quality: QUALITY 65536 rejected, table-only records not 'missing_file' by default
    flagged = flag_records(arc.records, settings("quality", {"max_quality": 65536}), None, root)
    assert flagged["bad_quality"].sum() == 1 and not flagged["missing_file"].any()
    assert not flagged["nan_keyword"].any()
    # labels: the M2.0 of NOAA 11500 (2012-03-03 06:00 UTC) makes grid points 19..33 positive
    lab = settings("labels", {})
    cand = label_windows(arc.records, arc.flares, lab, flagged)
    samples = apply_task(cand, lab.task)
    pos = samples[samples["label"] == 1]
    expect = [(T0 + i * STEP - pd.Timedelta(seconds=34)) for i in range(19, 34)]  # TAI - 34 s = UTC
    assert pd.DatetimeIndex(pos["t_end"]).tolist() == expect
    assert len(samples) == 20  # + 5 quiet windows (grid points 14..18)
    drops = cand.groupby("dropped").size().to_dict()
    assert drops == {"": 32, "bad_last_record": 1, "too_many_bad": 18}


def test_parquet_table_and_utc_scale(tmp_path):
    df = pd.DataFrame(
        {
            "prefix": ["HARP", "HARP"],
            "arpnum": [7, 7],
            "t_end": ["2012-03-01T00:00:00", "2012-03-01T01:35:26"],
            "USFLUXL": [1e22, 2e22],
            "MEANGBL": [40.0, 41.0],
            "R_VALUE": [3.0, 3.1],
            "AREA": [500.0, 510.0],
            "QUALITY": ["0x00000000", "0x00010000"],
        }
    )
    p = tmp_path / "kw.parquet"
    df.to_parquet(p)
    opts = TableOptions(time_scale="UTC", grid_minutes=96, grid_tolerance_minutes=1)
    res = read_keyword_tables([p], opts)
    t = res.table
    assert t["quality"].tolist() == [0, 65536]
    # UTC times: 00:00 UTC is 34 s past the TAI grid point, snapped back (within 1 min)
    assert t["t_end_tai"].tolist() == [
        pd.Timestamp("2012-03-01 00:00:00"),
        pd.Timestamp("2012-03-01 01:36:00"),
    ]
    assert len(res.repaired) == 1 and "snapped" in res.repaired["reason"].iloc[0]
    assert "Parquet" in res.info[0]["format"]


def test_column_map_errors_name_the_key_and_both_names(tmp_path):
    p = third_party_table(tmp_path)
    with pytest.raises(
        ValueError,
        match=r"archive\.local\.column_map: unknown flarepipe name.*"
        r"'Zeit' -> 't_end'.*other way round",
    ):
        TableOptions(column_map={"Zeit": "t_end"})
    with pytest.raises(
        ValueError,
        match=r"columns not found for .*t_end -> 'Time'.*"
        r"archive\.local\.column_map.*the table has \['Zeit'",
    ):
        read_keyword_tables([p], TableOptions(column_map={**TABLE_MAP, "t_end": "Time"}))
    # no prefix column and no constant: a clear error, not KeyError: 'prefix'
    with pytest.raises(
        ValueError,
        match=r"prefix -> 'prefix'.*archive\.local\.constants.*"
        r"prefix: HARP",
    ):
        read_keyword_tables([p], TableOptions(column_map=TABLE_MAP))
    with pytest.raises(ValueError, match=r"prefix -> None"):
        read_keyword_tables([p], TableOptions(column_map={**TABLE_MAP, "prefix": None}))
    with pytest.raises(
        ValueError, match=r"archive\.local: \['prefix'\] set both in column_map and in constants"
    ):
        TableOptions(column_map={"prefix": "kind"}, constants={"prefix": "HARP"})


def test_every_row_off_the_grid_is_an_error_with_the_reason(tmp_path):
    p = third_party_table(tmp_path)
    opts = TableOptions(
        column_map=TABLE_MAP,
        constants={"prefix": "HARP"},
        time_format="%d.%m.%Y %H:%M",
        grid_minutes=60,  # the rows lie on the 96-minute grid, not this one
        grid_tolerance_minutes=0,
    )
    # without a HARP map every row is rejected (NOAA numbers only): counted and explained
    with pytest.raises(ValueError, match=r"every row rejected.*no harp_noaa_map set"):
        read_keyword_tables([p], opts)
    from flarepipe.archive.catalogues.flares import read_harp_noaa_map

    harp = read_harp_noaa_map(harp_noaa_map(tmp_path))
    res = read_keyword_tables([p], opts, harp_noaa=harp)  # 96-min rows on a 60-min grid
    assert res.rejected["reason"].str.contains("off the 60-minute T_REC grid").sum() > 20


def test_flare_list_forced_to_a_wrong_format_fails_with_the_diagnosis(tmp_path):
    from flarepipe.config import ConfigError

    # before any job: the list's first line is a csv header, not a GOES event line
    with pytest.raises(
        ConfigError,
        match=r"flares\.tsv: archive\.local\.flares_format is 'goes_txt', but its first line "
        r"reads as 'csv' .*; set archive\.local\.flares_format: csv or auto",
    ):
        _section(tmp_path, flares_format="goes_txt", flares_columns={})
    # a csv list whose header lacks a mapped column, likewise
    with pytest.raises(ConfigError, match=r"columns not found for goes_class -> 'class'"):
        _section(tmp_path, flares_columns={**FLARE_COLUMNS, "goes_class": "class"})
    # in the job (a list the first line cannot tell): every flare rejected is the diagnosis
    sec = {**_section(tmp_path), "flares_format": "goes_txt", "flares_columns": {}}
    with pytest.raises(
        ValueError,
        match=r"no usable flare: all 6 rows rejected when read as "
        r"'goes_txt'.*archive\.local\.flares_format",
    ):
        local.build_local_archive(sec, tmp_path / "archive")


def test_flare_lists_in_other_layouts_get_the_same_repairs(tmp_path):
    # an archive flares.csv (flares_csv) now goes through the shared repairs too
    p = tmp_path / "flares.csv"
    p.write_text(
        "start_utc,peak_utc,end_utc,goes_class,peak_flux_wm2,noaa_ar,region_missing\n"
        "2012-03-03T06:00:00,2012-03-03T06:10:00,2012-03-03T06:30:00,M2.0,2e-05,1500,False\n"
        "2012-03-03T06:00:00,2012-03-03T06:10:00,2012-03-03T06:30:00,M2.0,2e-05,1500,False\n"
    )
    res = cat.read_flare_file(p)
    assert res.flares["noaa_ar"].tolist() == [11500]
    assert res.rejected["reason"].tolist() == ["duplicate of line 2"]
    # a semicolon list with recognised names (auto-detected as csv), no peak or end column
    q = tmp_path / "mine.txt"
    q.write_text("start;class;noaa\n2012-03-03 06:00;M1.0;11500\n2012-03-03 07:00;Z9;11500\n")
    res = cat.read_flare_file(q)
    assert res.format.startswith("csv") and "peak = start" in res.format
    assert len(res.flares) == 1 and "bad GOES class 'Z9'" in res.rejected["reason"].iloc[0]
    with pytest.raises(
        ValueError,
        match=r"columns not found for goes_class.*"
        r"archive\.local\.flares_columns",
    ):
        cat.read_flare_file(q, "csv", columns={"goes_class": "cls"})


def test_real_fits_exports_get_their_missing_keywords_recomputed(tmp_path):
    fits_dir = real_path("fits", "sharp").parent
    flares = tmp_path / "f.txt"
    flares.write_text(
        "2011-02-15T01:44:00;2011-02-15T01:56:00;2011-02-15T02:06:00;AR11158;X2.2;S20W12\n"
    )
    sec = local_section(
        {"fits_dir": str(fits_dir), "fits_glob": "**/*.fits", "flares": str(flares)}
    )
    manifest = local.build_local_archive(sec, tmp_path / "a")
    assert manifest["counts"]["fits_ignored_segments"] == {"Br": 1, "bitmap": 2}
    arc = load_archive(tmp_path / "a")
    prov = pd.read_csv(tmp_path / "a" / "keyword_provenance.csv")
    src = prov.set_index(["region_id", "keyword"])["source"].to_dict()
    # HARP 377's 2011 export has USFLUX/MEANGBZ, not the line-of-sight USFLUXL/MEANGBL
    assert src[("HARP377", "usfluxl_mx")] == "computed:bitmap"
    assert src[("HARP377", "r_value")] == "computed:bitmap"
    assert src[("HARP377", "area_uhem")] == "header:AREA"
    assert all(src[("TARP13520", k)].startswith("header:") for k in KEYWORD_COLUMNS)
    h = arc.records.set_index("region_id")
    # the Sun et al. table value of HARP 377 (USFLUX = USFLUXL 2.31e22 Mx, MEANGBZ 36.2 G/px)
    assert h.loc["HARP377", "usfluxl_mx"] == pytest.approx(2.31e22, rel=0.02)
    assert h.loc["HARP377", "meangbl_g_per_px"] == pytest.approx(36.2, rel=0.02)
    flagged = flag_records(arc.records, settings("quality", {}), None, tmp_path / "a")
    assert not flagged["nan_keyword"].any()


def _off_grid_archive(tmp: Path) -> Path:
    """The third-party table with every time 20 min late and no grid snapping: none on the grid."""
    table = third_party_table(tmp)
    lines = table.read_text().splitlines()
    late = [lines[0], lines[1]]
    for ln in lines[2:]:
        t = pd.Timestamp(pd.to_datetime(ln.split(";")[0], format="%d.%m.%Y %H:%M"))
        late.append((t + pd.Timedelta(minutes=20)).strftime("%d.%m.%Y %H:%M") + ln[16:])
    sec = _section(tmp, grid_minutes=None, fits_dir=None)
    late_table = tmp / "late.csv"
    late_table.write_text("\n".join(late) + "\n")
    sec["keyword_tables"] = [str(late_table)]
    local.build_local_archive(sec, tmp / "archive")
    return tmp / "archive"


def test_label_stage_that_makes_nothing_says_why_in_one_line_and_a_file(tmp_path):
    import json

    from flarepipe.stages.label import run_label
    from flarepipe.stages.quality import run_quality

    root = _off_grid_archive(tmp_path)
    out = tmp_path / "res"
    out.mkdir()
    run_quality(root / "records.csv", {}, out / "flagged.csv", out / "summary.csv")
    with pytest.raises(ValueError) as err:
        run_label(
            root / "records.csv",
            root / "flares.csv",
            out / "flagged.csv",
            {},
            out / "samples.csv",
            out / "counts.csv",
        )
    msg = str(err.value)
    assert "\n" not in msg and "produced no samples" in msg
    assert "none of the 50 records lies within labels.tolerance_minutes (3)" in msg
    assert "median offset 19.4 min" in msg and "grid_tolerance_minutes" in msg
    report = json.loads((out / "label_diagnosis.json").read_text())
    assert report["grid"]["off_grid"] == 50 and report["windows"]["candidates"] == 0
    # every record rejected by a quality filter: the quality stage says so, naming the setting
    with pytest.raises(
        ValueError,
        match=r"^quality: the filters rejected all 50 records of .*records\.csv: small_area 50 "
        r"\(quality\.min_area_mm2 = 1000000000\.0, quality\.area_scope = 'record'\); nothing "
        r"is left to label \(counts per reason in .*quality_diagnosis\.json\)$",
    ):
        run_quality(
            root / "records.csv", {"min_area_mm2": 1e9}, out / "flagged.csv", out / "summary.csv"
        )
    report = json.loads((out / "quality_diagnosis.json").read_text())
    assert report["kept"] == 0 and report["rejected_by"] == {"small_area": 50}
    assert report["first"]["small_area"]["region_id"] == "HARP101"
    run_quality(root / "records.csv", {}, out / "flagged.csv", out / "summary.csv")
    assert not (out / "quality_diagnosis.json").exists()  # a run that keeps records: no stale one


def test_a_failing_rule_script_prints_one_line_and_logs_the_traceback(tmp_path, monkeypatch):
    """The label rule's script, run as Snakemake runs it, on an archive whose times are all off
    the grid: exit status 1, one console line naming the rule, the cause and the log."""
    from types import SimpleNamespace

    from flarepipe.stages.quality import run_quality

    root = _off_grid_archive(tmp_path)
    run_quality(root / "records.csv", {}, tmp_path / "flagged.csv", tmp_path / "summary.csv")
    log = tmp_path / "label.log"
    out = {
        "samples": str(tmp_path / "samples.csv"),
        "counts": str(tmp_path / "counts.csv"),
        "drops": str(tmp_path / "drops.csv"),
    }
    smk = SimpleNamespace(
        input={
            "records": str(root / "records.csv"),
            "flares": str(root / "flares.csv"),
            "flagged": str(tmp_path / "flagged.csv"),
        },
        output=SimpleNamespace(**out),
        params=SimpleNamespace(cfg={}, plugins=[]),
        log=[str(log)],
        rule="label",
    )
    code, line = run_rule_script("label", smk, monkeypatch)
    assert code == 1
    assert line.count("\n") == 1 and line.startswith("rule label failed: ValueError: label: task")
    assert "none of the 50 records lies within labels.tolerance_minutes" in line
    assert line.rstrip().endswith(f"(full detail in {log})")
    assert "Traceback (most recent call last)" in log.read_text()


def test_mixed_archive_features_keep_sequences_without_images(byo_archive, tmp_path):
    from flarepipe.data.features import extract_features
    from flarepipe.data.shards import ShardReader

    _, arc = byo_archive
    lab = settings("labels", {"max_bad_records": 15})  # HARP 201's two FITS records give windows
    samples = apply_task(label_windows(arc.records, arc.flares, lab), lab.task)
    with_file = arc.records.loc[samples["last_record"], "path"].astype(str).str.len() > 0
    assert 0 < with_file.sum() < len(samples)
    store = ShardReader(extract_features(arc.root, arc.records, samples, tmp_path / "f.h5"))
    assert store.inputs == ("sequence",) and store.labels.sum() == 15
    assert (
        f"{int((~with_file).sum())} of {len(samples)} samples' last records"
        in (store.attrs["no_image_reason"])
    )


def _doc_blocks(section: str) -> list[tuple[str, str]]:
    """``(language, text)`` of the fenced blocks of one ``## `` section of docs/SOURCES.md."""
    import re

    text = (Path(__file__).resolve().parents[1] / "docs" / "SOURCES.md").read_text()
    part = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```(\w*)\n(.*?)^```$", part, flags=re.S | re.M)


def test_sources_walkthrough_runs_as_written(tmp_path, monkeypatch, capsys):
    from flarepipe.tools.inspect_inputs import main

    blocks = _doc_blocks("Bring your own data, step by step")
    assert [lang for lang, _ in blocks] == ["text", "text", "text", "yaml", "console", "python"]
    monkeypatch.chdir(tmp_path)
    for lang, body in blocks:
        first = body.splitlines()[0]
        if first.startswith("# file: "):
            name = first[len("# file: ") :].strip()
            (tmp_path / name).write_text(body.split("\n", 1)[1])  # the name line is not content
        elif lang == "console":
            for line in body.splitlines():
                assert line.startswith("$ flarepipe ")
                assert main(line.split()[2:]) == 0, capsys.readouterr().err
            out = capsys.readouterr().out
            assert "t_end              <- 'Zeit' (archive.local.column_map)" in out
            assert "prefix             = 'HARP' (archive.local.constants)" in out
            assert "flares: 1 read, 0 rejected" in out
        else:
            exec(compile(body, "docs/SOURCES.md", "exec"), {})
    # my.yaml passes every check the workflow makes before its first job
    from flarepipe.config import load_config

    repo = Path(__file__).resolve().parents[1]
    assert load_config(repo / "config.yaml", tmp_path / "my.yaml")["archive"]["source"] == "local"
    # the local section's own yaml block is a valid archive section
    from flarepipe.config import section

    yml = [b for lang, b in _doc_blocks("local") if lang == "yaml"]
    import yaml

    local_cfg = section("archive", yaml.safe_load(yml[0])["archive"])["local"]
    assert local.LocalSettings.from_section(local_cfg).column_map == {
        "usfluxl_mx": "USFLUXL",
        "meangbl_g_per_px": "MEANGBL",
    }


def test_inspect_reports_a_bad_input_in_one_line(tmp_path, capsys):
    from flarepipe.tools.inspect_inputs import main

    p = third_party_table(tmp_path)
    assert main(["inspect", str(p)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "columns not found for prefix -> 'prefix'" in err
    assert main(["inspect", str(flare_tsv(tmp_path)), "--kind", "flares"]) == 0
    assert "3 read, 2 rejected" in capsys.readouterr().out
    assert main(["inspect", str(tmp_path / "nothing.csv")]) == 1
    assert "no such file or folder" in capsys.readouterr().err


def test_extra_table_keywords_can_be_sequence_inputs(byo_archive, tmp_path):
    from flarepipe.data.features import extract_features
    from flarepipe.data.shards import ShardReader

    _, arc = byo_archive
    lab = settings("labels", {})
    samples = apply_task(label_windows(arc.records, arc.flares, lab), lab.task)
    kws = [*settings_features()["keywords"], "totusjh"]
    store = ShardReader(
        extract_features(arc.root, arc.records, samples, tmp_path / "f.h5", keywords=kws)
    )
    assert list(store.attrs["keywords"]) == kws
    assert store.read_all()["sequence"].shape[2] == 5
    # the LSTM is built for the shards' five keywords unless its n_features is configured
    from flarepipe.stages.train import _sequence_width

    assert _sequence_width("lstm", {"hidden": 8}, tmp_path / "f.h5") == {
        "hidden": 8,
        "n_features": 5,
    }
    assert _sequence_width("lstm", {"n_features": 5}, tmp_path / "f.h5") == {"n_features": 5}
    assert _sequence_width("cnn", None, tmp_path / "f.h5") is None
    with pytest.raises(ValueError, match=r"features\.keywords \['totusjl'\] are not columns"):
        extract_features(arc.root, arc.records, samples, tmp_path / "g.h5", keywords=["totusjl"])


def settings_features() -> dict:
    from flarepipe.config import section

    return section("features", {})


def test_a_table_without_a_mapped_column_fails_before_any_job_naming_the_config_file(tmp_path):
    import yaml

    from flarepipe.config import ConfigError, load_config

    repo = Path(__file__).resolve().parents[1]
    table = third_party_table(tmp_path)
    mine = tmp_path / "my.yaml"
    mine.write_text(
        yaml.safe_dump(
            {
                "archive": {
                    "source": "local",
                    "local": {
                        "keyword_tables": [str(table)],
                        "flares": str(flare_tsv(tmp_path)),
                        "column_map": {"t_end": "Time"},
                    },
                }
            }
        )
    )
    with pytest.raises(ConfigError) as err:
        load_config(repo / "config.yaml", mine)
    msg = str(err.value)
    assert str(mine) in msg and "archive.local.column_map" in msg
    assert "t_end -> 'Time'" in msg and "prefix -> 'prefix'" in msg and "'Zeit'" in msg


def test_all_negative_labels_while_the_list_has_strong_flares_fail_with_the_diagnosis(
    byo_archive, tmp_path
):
    import json

    from flarepipe.archive.catalogues.flares import write_flares
    from flarepipe.stages.label import run_label
    from flarepipe.stages.quality import run_quality

    _, arc = byo_archive
    flares = arc.flares.copy()
    flares["noaa_ar"] = pd.array([12999] * len(flares), dtype="Int64")  # no record lists it
    write_flares(flares, tmp_path / "flares.csv")
    rec = arc.root / "records.csv"
    run_quality(rec, {}, tmp_path / "flagged.csv", tmp_path / "summary.csv")
    with pytest.raises(
        ValueError,
        match=r"no positive sample although flares.csv has 1 flare.*"
        r"1 a NOAA number that no record's noaa_ars lists",
    ) as err:
        run_label(
            rec,
            tmp_path / "flares.csv",
            tmp_path / "flagged.csv",
            {},
            tmp_path / "samples.csv",
            tmp_path / "counts.csv",
        )
    assert "\n" not in str(err.value)
    report = json.loads((tmp_path / "label_diagnosis.json").read_text())
    assert report["windows"]["kept"] > 0 and report["task"]["samples"] > 0


def test_a_local_archive_that_matches_no_record_says_why(tmp_path):
    import json

    fits = sharp_fits_folder(tmp_path / "fits", n_records=1)
    flares = str(flare_tsv(tmp_path))
    extra = {"flares": flares, "flares_format": "csv", "flares_columns": FLARE_COLUMNS}
    extra["flares_time_format"] = "%Y/%m/%d %H:%M"

    def build(**over):
        sec = local_section({"fits_dir": str(fits), **extra, **over})
        with pytest.raises(ValueError) as err:
            local.build_local_archive(sec, tmp_path / "a")
        report = json.loads((tmp_path / "a" / "archive_diagnosis.json").read_text())
        assert "\n" not in str(err.value) and report["why"] in str(err.value)
        return str(err.value), report

    msg, report = build(fits_glob="**/*.fts")
    assert "archive.local.fits_glob '**/*.fts' matches no file under archive.local.fits_dir" in msg
    assert report["fits_files_matched"] == 0
    msg, report = build(fits_glob="**/*.fits", segment="continuum")
    assert "5 file(s) archive.local.fits_glob '**/*.fits' matches" in msg
    assert "other segments than archive.local.segment 'continuum' (Bp 1, Br 1, Bt 1" in msg
    (tmp_path / "fits" / "hmi.sharp_cea_720s.201.bad.magnetogram.fits").write_text("not FITS")
    for f in (tmp_path / "fits").glob("*_TAI.magnetogram.fits"):
        f.unlink()
    msg, report = build(fits_glob="**/*.fits")
    assert "all 1 file(s) of segment 'magnetogram' (archive.local.segment)" in msg
    assert report["rejected"] == 1 and "bad.magnetogram.fits" in report["first_rejections"][0]


def test_a_split_with_an_empty_part_says_why_in_one_line(byo_archive, tmp_path):
    import json

    from flarepipe.samples.labels import write_samples
    from flarepipe.stages.label import run_split

    _, arc = byo_archive
    lab = settings("labels", {})
    write_samples(apply_task(label_windows(arc.records, arc.flares, lab), lab.task), tmp_path / "s")
    # one region with samples: random_regions can fill only one part
    cfg = {"undersample_ratio": None}
    out = tmp_path / "split_0.csv"
    with pytest.raises(ValueError) as err:
        run_split(tmp_path / "s", "SHARP_ONLY", 0, cfg, out)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("split of SHARP_ONLY run 0: the val/test parts are empty (train 21, ")
    assert "val 0, test 0 samples; 21 HMI samples of 1 regions, t_end 2012-03-01" in msg
    assert "split.method 'random_regions', split.test_frac 0.2, split.val_frac" in msg
    report = json.loads((tmp_path / "split_0_diagnosis.json").read_text())
    assert report["parts"]["test"] == {"samples": 0, "positives": 0, "regions": 0}
    assert not out.exists()
    # a dataset whose instrument has no sample
    with pytest.raises(ValueError, match=r"dataset SMARP_ONLY needs samples of MDI, but samples"):
        run_split(tmp_path / "s", "SMARP_ONLY", 0, cfg, out)


def _my_config(tmp_path: Path, local: dict, **top) -> Path:
    import yaml

    mine = tmp_path / "my.yaml"
    body = {"archive": {"source": "local", "local": {"flares": str(flare_tsv(tmp_path)), **local}}}
    # keyword tables only: sequence models and the baseline, no attribution (images needed)
    body["experiments"] = {"models": ["lstm", "logreg"], "stacking": []}
    body["attribution"] = {"enabled": False}
    mine.write_text(yaml.safe_dump({**body, **top}))
    return mine


def test_a_parquet_table_without_a_mapped_column_fails_before_any_job(tmp_path):
    from flarepipe.config import ConfigError, load_config

    repo = Path(__file__).resolve().parents[1]
    df = pd.DataFrame({"prefix": ["HARP"], "arpnum": [7], "Time": ["2012-03-01T00:00:00"]})
    df.to_parquet(tmp_path / "kw.parquet")
    mine = _my_config(tmp_path, {"keyword_tables": [str(tmp_path / "kw.parquet")]})
    with pytest.raises(ConfigError) as err:  # the schema only is read: t_end and keywords
        load_config(repo / "config.yaml", mine)
    msg = str(err.value)
    assert f"{mine}: " in msg and "kw.parquet: columns not found for t_end -> 't_end'" in msg
    assert "usfluxl_mx -> 'USFLUX'" in msg and "archive.local.column_map" in msg
    assert "the table has ['prefix', 'arpnum', 'Time']" in msg


def test_keyword_columns_a_model_cannot_get_fail_before_any_job(tmp_path):
    from flarepipe.config import ConfigError, load_config

    repo = Path(__file__).resolve().parents[1]
    local = {
        "keyword_tables": [str(third_party_table(tmp_path))],
        "harp_noaa_map": str(harp_noaa_map(tmp_path)),
        "column_map": TABLE_MAP,
        "constants": {"prefix": "HARP"},
        "time_format": "%d.%m.%Y %H:%M",
    }
    # an extra table keyword is a sequence input; a misspelt one is refused, naming both lists
    ok = _my_config(tmp_path, local, features={"keywords": ["usfluxl_mx", "totusjh"]})
    assert load_config(repo / "config.yaml", ok)["features"]["keywords"][1] == "totusjh"
    mine = _my_config(tmp_path, local, features={"keywords": ["usfluxl_mx", "totusjl"]})
    with pytest.raises(ConfigError) as err:
        load_config(repo / "config.yaml", mine)
    msg = str(err.value)
    assert f"{mine}: features.keywords ['totusjl'] are not columns the archive's" in msg
    assert "'r_value', 'area_uhem'], and its keyword tables (archive.local.keyword_tables)" in msg
    assert "can add ['totusjh', 'comment'] (archive.local.keep_extra True)" in msg
    no_extra = _my_config(
        tmp_path, {**local, "keep_extra": False}, features={"keywords": ["totusjh"]}
    )
    with pytest.raises(ConfigError, match=r"can add \[\] \(archive\.local\.keep_extra False\)"):
        load_config(repo / "config.yaml", no_extra)
    # a synthetic archive has the layout's keywords only; quality.keywords is checked alike
    syn = tmp_path / "syn.yaml"
    syn.write_text("quality: {keywords: [usfluxl_mx, totusjh]}\n")
    with pytest.raises(ConfigError, match=r"syn\.yaml: quality\.keywords \['totusjh'\] are not"):
        load_config(repo / "config.yaml", syn)
    # the LSTM reads one input per keyword
    lstm = tmp_path / "lstm.yaml"
    lstm.write_text("models: {lstm: {network: {n_features: 3}}}\n")
    with pytest.raises(
        ConfigError, match=r"models\.lstm\.network\.n_features 3 differs from the 4"
    ):
        load_config(repo / "config.yaml", lstm)


def test_a_filter_on_a_column_no_table_has_fails_before_any_job(tmp_path):
    from flarepipe.config import ConfigError, load_config

    repo = Path(__file__).resolve().parents[1]
    table = tmp_path / "kw.csv"
    table.write_text(
        "prefix,arpnum,t_end,USFLUXL,MEANGBL,R_VALUE,AREA\nHARP,7,2012-03-01T00:00:00,1e22,40,3,5\n"
    )
    mine = _my_config(tmp_path, {"keyword_tables": [str(table)]})
    # config.yaml filters on |LON_FWT| <= 70: the table has no LON_FWT
    with pytest.raises(ConfigError) as err:
        load_config(repo / "config.yaml", mine)
    assert "quality.max_cm_distance_deg filters on lon_fwt, but no keyword table" in str(err.value)
    assert str(err.value).startswith(f"config.yaml, {mine}: ")
    lon = _my_config(tmp_path, {"keyword_tables": [str(table)], "constants": {"lon_fwt": 0}})
    assert load_config(repo / "config.yaml", lon)["quality"]["max_cm_distance_deg"] == 70


def test_the_quality_line_names_the_top_reasons_and_their_settings():
    from flarepipe.samples.diagnose import quality_line, quality_report
    from flarepipe.samples.quality import REASONS

    n = 5
    flagged = pd.DataFrame({r: [False] * n for r in REASONS})
    flagged["region_id"], flagged["t_rec"] = "HARP1", "2012-03-01T00:00:00"
    flagged["read_error"] = ["", "", "", "", "x.fits: not FITS"]
    flagged.loc[:, "far_from_cm"] = True
    flagged.loc[:2, "no_noaa"] = True
    flagged.loc[1:, "nan_keyword"] = True
    flagged.loc[4, "unreadable_file"] = True
    flagged["keep"] = False
    s = settings("quality", {"max_cm_distance_deg": 45, "require_noaa": True})
    report = quality_report(flagged, s)
    assert list(report["rejected_by"]) == [
        "far_from_cm",
        "nan_keyword",
        "no_noaa",
        "unreadable_file",
    ]
    line = quality_line(report, "records.csv")
    assert line == (
        "the filters rejected all 5 records of records.csv: far_from_cm 5 "
        "(quality.max_cm_distance_deg = 45); nan_keyword 4 (quality.check_nan_keywords = True, "
        "quality.keywords = ['usfluxl_mx', 'meangbl_g_per_px', 'r_value', 'area_uhem']); "
        "no_noaa 3 (quality.require_noaa = True); and 1 more reason(s)"
    )
    assert report["first"]["unreadable_file"]["read_error"] == "x.fits: not FITS"
