"""A failed job says why in one console line naming the config file that set the key it names
(flarepipe.tools.jobs, flarepipe.config.origin; the files travel in $FLAREPIPE_CONFIGFILES)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from byo_data import flare_tsv, harp_noaa_map, third_party_table
from conftest import run_rule_script
from flarepipe.config.origin import (
    CONFIGFILES_ENV,
    config_keys,
    export_sources,
    job_sources,
    name_config_files,
)
from test_byo import TABLE_MAP

REPO = Path(__file__).resolve().parents[1]


def _wrong_time_section(tmp: Path) -> dict:
    """The third-party table and flare list, the table's times read in a wrong format: every row
    is rejected in the archive job (no check before the jobs reads the rows)."""
    return {
        "keyword_tables": [str(third_party_table(tmp))],
        "harp_noaa_map": str(harp_noaa_map(tmp)),
        "flares": str(flare_tsv(tmp)),
        "flares_format": "csv",
        "flares_columns": {"start": "begin", "peak": "max", "end": "stop", "goes_class": "goes"},
        "flares_time_format": "%Y/%m/%d %H:%M",
        "column_map": TABLE_MAP,
        "constants": {"prefix": "HARP"},
        "time_format": "%Y-%m-%d %H:%M",
    }


def test_sources_travel_as_names_and_keys_never_values():
    env: dict = {}
    export_sources(
        [Path("config.yaml"), "my.yaml", ("--config", {"archive": {"jsoc": {"email": "a@b"}}})],
        env,
    )
    assert "a@b" not in env[CONFIGFILES_ENV]
    assert job_sources(env) == [
        "config.yaml",
        "my.yaml",
        ("--config", {"archive": {"jsoc": {"email": None}}}),
    ]
    with pytest.raises(ValueError, match=r"\$FLAREPIPE_CONFIGFILES is not a JSON list"):
        job_sources({CONFIGFILES_ENV: "my.yaml"})


def test_messages_get_the_file_that_set_each_key(tmp_path, monkeypatch):
    mine = tmp_path / "my.yaml"
    mine.write_text(yaml.safe_dump({"archive": {"local": {"flares_format": "goes_txt"}}}))
    sources = [str(REPO / "config.yaml"), str(mine), ("--config", {"labels": {"step_minutes": 1}})]
    msg = "flares.tsv: read as 'goes_txt' (archive.local.flares_format); see records.csv"
    assert config_keys(msg + " labels.csv labels.step_minutes") == [
        "archive.local.flares_format",
        "labels.step_minutes",
    ]
    out = name_config_files(msg + " and labels.step_minutes, labels.tolerance_minutes", sources)
    assert f"archive.local.flares_format set in {mine}" in out
    assert "labels.step_minutes set in --config" in out
    assert "labels.tolerance_minutes at its default (not set in " in out
    assert name_config_files("no key here: records.csv", sources) == "no key here: records.csv"
    # no exported sources: config.yaml of the working folder, else the message as it is
    monkeypatch.delenv(CONFIGFILES_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert name_config_files(msg) == msg
    (tmp_path / "config.yaml").write_text("archive: {local: {flares_format: csv}}\n")
    assert name_config_files(msg).endswith(
        "(config: archive.local.flares_format set in config.yaml)"
    )


def test_a_job_failing_on_a_config_value_names_the_file_passed(tmp_path, monkeypatch):
    """The archive rule's script on a table read with a wrong time format: exit 1, one console
    line naming the rule, the key, the file that set it (from the environment) and the log."""
    from archive_config import validated_archive

    local = _wrong_time_section(tmp_path)
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump({"archive": {"source": "local", "local": local}}))
    monkeypatch.setenv(CONFIGFILES_ENV, "")
    export_sources([REPO / "config.yaml", mine])
    cfg = validated_archive({"source": "local", "local": local})
    arc, log = tmp_path / "archive", tmp_path / "archive.log"
    out = {n: str(arc / f"{n}.csv") for n in ("records", "flares", "pixels")}
    smk = SimpleNamespace(
        input={},
        output=SimpleNamespace(**out, manifest=str(arc / "manifest.json"), get=out.get),
        params=SimpleNamespace(cfg=cfg),
        threads=1,
        log=[str(log)],
        rule="archive",
    )
    code, line = run_rule_script("archive", smk, monkeypatch)
    assert code == 1
    assert line.count("\n") == 1 and line.startswith("rule archive failed: ValueError: ")
    assert "every row rejected ({'cannot read': 52})" in line
    assert f"archive.local.time_format set in {mine}" in line
    assert line.rstrip().endswith(f"(full detail in {log})")
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and text.rstrip().endswith(line.rstrip())


def test_the_workflow_passes_its_config_files_to_the_jobs(tmp_path):
    """snakemake --configfile mine.yaml: the archive job's one console line names mine.yaml as
    the file that set archive.local.time_format (the files travel in the environment)."""
    from conftest import run_study

    local = _wrong_time_section(tmp_path)
    mine = tmp_path / "mine.yaml"
    body = {"archive": {"source": "local", "local": local}, "attribution": {"enabled": False}}
    body["experiments"] = {"models": ["lstm", "logreg"], "stacking": []}
    mine.write_text(yaml.safe_dump(body))
    proc = run_study(tmp_path, [mine], "results/archive/records.csv", timeout=300)
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("rule archive failed: ")]
    assert len(lines) == 1, proc.stderr[-3000:]
    assert "every row rejected" in lines[0]
    assert "archive.local.time_format set in mine.yaml" in lines[0]
    assert lines[0].endswith("(full detail in results/logs/archive.log)")
