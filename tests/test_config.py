"""Configuration: wrong values fail before any job runs, naming the file, field and range."""

import copy
from pathlib import Path

import pytest
import yaml

from flarepipe.config import ConfigError, load_config, validate_config

REPO = Path(__file__).resolve().parents[1]


def _default():
    return yaml.safe_load((REPO / "config.yaml").read_text())


@pytest.mark.parametrize("name", ["config.yaml", "config/tiny.yaml", "config/studies/sun2022.yaml"])
def test_shipped_configs_validate(name):
    paths = [REPO / "config.yaml"] + ([REPO / name] if name != "config.yaml" else [])
    cfg = load_config(*paths)
    assert cfg["experiments"]["runs"] >= 1


@pytest.mark.parametrize(
    "path,value,message",
    [
        (("models", "cnn", "train", "lr"), -1, "models.cnn.train.lr must be > 0"),
        (("quality", "max_cm_distance_deg"), 120, "quality.max_cm_distance_deg must be <= 90"),
        (("archive", "synthetic", "scale"), "huge", "archive.synthetic.scale must be one of"),
        (("experiments", "datasets"), ["SHARP"], "experiments.datasets.0 must be one of"),
        (("labels", "step_minutes"), 0, "labels.step_minutes must be > 0"),
        (("split", "test_frac"), 1.5, "split.test_frac must be < 1"),
    ],
)
def test_bad_value_names_field_and_range(path, value, message):
    cfg = _default()
    node = cfg
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        validate_config(cfg)


def test_unknown_key_is_an_error():
    cfg = _default()
    cfg["quality"]["max_cm_distance"] = 70
    with pytest.raises(ConfigError, match="max_cm_distance"):
        validate_config(cfg)


def test_defaults_filled():
    cfg = copy.deepcopy(_default())
    del cfg["shard"]
    validate_config(cfg)
    assert cfg["shard"]["image_norm"] == "primary_train"


def test_paper_config_trains_without_augmentation():
    """config.yaml mirrors/sign-flips CNN training images; the paper's settings must not."""
    default = load_config(REPO / "config.yaml")
    paper = load_config(REPO / "config.yaml", REPO / "config" / "studies" / "sun2022.yaml")
    assert default["models"]["cnn"]["train"]["augment"] == ["hflip", "vflip", "sign"]
    assert paper["models"]["cnn"]["train"]["augment"] == []


def test_unknown_augmentation_is_named():
    cfg = _default()
    cfg["models"]["cnn"]["train"]["augment"] = ["hflip", "rot90"]
    with pytest.raises(ConfigError, match=r"models\.cnn\.train\.augment\.1"):
        validate_config(cfg)


# one source of truth ---------------------------------------------------------------------------
SECTIONS_WITH_DEFAULTS = ("quality", "labels", "split", "features", "shard", "resources")


def _schema():
    from flarepipe.config import SCHEMA_PATH

    return yaml.safe_load(SCHEMA_PATH.read_text())


@pytest.mark.parametrize("name", SECTIONS_WITH_DEFAULTS)
def test_every_field_has_a_default_and_a_description(name):
    sec = _schema()["properties"][name]
    assert "default" in sec
    for field, spec in sec["properties"].items():
        assert "default" in spec, f"{name}.{field} has no default"
        assert spec.get("description"), f"{name}.{field} has no description"


@pytest.mark.parametrize("name", ["quality", "labels", "split"])
def test_typed_settings_have_exactly_the_schema_fields(name):
    import dataclasses

    from flarepipe.config import settings

    fields = {f.name for f in dataclasses.fields(settings(name))}
    assert fields == set(_schema()["properties"][name]["properties"])


def test_filled_defaults_are_those_of_flarepipe_0_1():
    """The defaults moved from the modules into the schema unchanged (results must not move)."""
    from flarepipe.config import section

    assert section("quality") == {
        "quality_mask": None,
        "max_quality": None,
        "max_abs_obs_vr": None,
        "max_cm_distance_deg": None,
        "require_noaa": False,
        "min_area_mm2": None,
        "area_scope": "record",
        "max_nan_pixels": 0,
        "max_size_deviation_px": 2,
        "check_nan_keywords": True,
        "keywords": ["usfluxl_mx", "meangbl_g_per_px", "r_value", "area_uhem"],
        "require_file": True,
    }
    assert section("labels") == {
        "task": "strong_vs_quiet",
        "obs_hours": 24.0,
        "pred_hours": 24.0,
        "step_minutes": 96.0,
        "n_steps": None,
        "tolerance_minutes": 3.0,
        "grid_origin": "1993-01-01T00:00:00",
        "strong_class": "M1.0",
        "min_class": None,
        "max_bad_records": 2,
        "missing_counts_as_bad": True,
        "noaa_match": "region",
    }
    assert section("split") == {
        "seed": 0,
        "method": "random_regions",
        "test_frac": 0.2,
        "val_frac": 0.2,
        "k": 3,
        "by_class": True,
        "boundaries": None,
        "assign": "region",
        "undersample_ratio": 1.0,
        "exclude_noaa_overlap": False,
        "stratify": True,
    }
    assert section("shard") == {"image_norm": "primary_train", "log_keywords": []}
    # one image size: the schema's default is the embedded configuration's value
    assert section("features") == {
        "image_size": _default()["features"]["image_size"],
        "hmi_subsample": 4,
        "resize": "bilinear",  # added with S2 (bicubic there); bilinear as before
        "fill": "previous",
        "keywords": ["usfluxl_mx", "meangbl_g_per_px", "r_value", "area_uhem"],
    }


def test_resources_fall_back_to_the_default_group():
    from flarepipe.config import resource

    cfg = {"resources": {"default": {"mem_mb": 2000}, "train": {"cpus": 8}}}
    full = {**_default(), **cfg}
    validate_config(full)
    assert resource(full, "train", "cpus") == 8
    assert resource(full, "train", "mem_mb") == 2000  # not in train: the default group's
    assert resource(full, "archive", "runtime") == 120  # the shipped group, filled whole
    assert resource(full, "attribute", "runtime") == 30  # unknown group: default group


def test_cross_field_rule_is_checked_before_any_job():
    cfg = _default()
    cfg["labels"]["tolerance_minutes"] = 50
    with pytest.raises(ConfigError, match=r"labels\.tolerance_minutes \(50\) must be less than"):
        validate_config(cfg)


# errors name the files actually given ---------------------------------------------------------
def test_error_names_the_file_that_set_the_value(tmp_path):
    bad = tmp_path / "mine.yaml"
    bad.write_text("models: {cnn: {train: {lr: -1}}}\n")
    with pytest.raises(ConfigError) as err:
        load_config(REPO / "config.yaml", bad)
    assert str(err.value).startswith(f"{bad}: models.cnn.train.lr must be > 0")
    assert "config.yaml" not in str(err.value)


def test_cross_field_error_names_every_file_involved(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("labels: {step_minutes: 100}\n")  # obs_hours (24, config.yaml) is 14.4 steps
    with pytest.raises(ConfigError) as err:
        load_config(REPO / "config.yaml", mine)
    head, msg = str(err.value).split(": labels.", 1)
    first, second = head.split(", ")
    assert Path(first).resolve() == REPO / "config.yaml" and second == str(mine)
    assert msg.startswith("obs_hours (24 h) must be a whole number of step_minutes (100 min)")


def test_error_of_a_cli_override_names_it():
    from flarepipe.config import workflow_sources

    cfg = _default()
    cfg["split"]["val_frac"] = 2
    src = workflow_sources(["config.yaml"], [], {"split": {"val_frac": 2}})
    with pytest.raises(ConfigError, match=r"^--config: split\.val_frac must be < 1"):
        validate_config(cfg, source=src)


def test_workflow_sources_follow_snakemakes_merge_order(tmp_path):
    from flarepipe.config import workflow_sources

    cli = [tmp_path / "a.yaml", tmp_path / "b.yaml"]
    out = workflow_sources([*cli, "config.yaml"], cli, {"results": "x"})
    assert [str(s) for s in out[:3]] == ["config.yaml", str(cli[0]), str(cli[1])]
    assert out[3] == ("--config", {"results": "x"})
    assert workflow_sources([*cli, "config.yaml"], cli, replace_workflow_config=True) == cli


# canonical params -------------------------------------------------------------------------------
def test_canonical_sorts_keys_recursively_and_keeps_list_order():
    from flarepipe.config import canonical

    a = {"b": {"y": 1, "x": [{"q": 1, "p": 2}, 3]}, "a": None}
    b = {"a": None, "b": {"x": [{"p": 2, "q": 1}, 3], "y": 1}}
    assert repr(canonical(a)) == repr(canonical(b)) != repr(a)
    assert list(canonical(a)) == ["a", "b"] and canonical(a) == a
    assert canonical({"l": [3, 1, 2]})["l"] == [3, 1, 2]


def test_reordered_config_gives_equal_canonical_sections():
    from flarepipe.config import canonical

    def reverse(node):
        if isinstance(node, dict):
            return {k: reverse(node[k]) for k in reversed(list(node))}
        return node

    a, b = _default(), reverse(_default())
    validate_config(a)
    validate_config(b)
    assert repr(a["quality"]) != repr(b["quality"])  # what Snakemake saw before
    for key in a:
        assert repr(canonical(a[key])) == repr(canonical(b[key]))


# seeds ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("base, run", [(0, 0), (0, 2), (7, 1), (123, 9)])
def test_job_seeds_are_those_of_flarepipe_0_1(base, run):
    from flarepipe.core.seeds import derive_seed, job_seed

    assert job_seed("train", base, run) == base * 1000 + run  # rules/train.smk before
    assert job_seed("baseline", base, run) == run
    assert job_seed("split", base, run) == derive_seed(base, run)
    with pytest.raises(ValueError, match="no seed formula for rule 'attribute'"):
        job_seed("attribute", base, run)


def test_section_of_a_nested_path_fills_and_checks_it():
    from flarepipe.config import section

    synth = section("archive.synthetic", {"scale": "tiny"})
    assert synth["scale"] == "tiny" and synth["seed"] == 20220101  # schema default
    with pytest.raises(ConfigError, match=r"archive\.synthetic\.scale must be one of"):
        section("archive.synthetic", {"scale": "huge"})
    with pytest.raises(ConfigError, match="unknown configuration section 'archive.nope'"):
        section("archive.nope")


def test_study_notes_name_only_settings_that_exist():
    """Every ``section.key: value`` the departures note of sun2022.yaml offers is a valid setting
    and changes the filled configuration (a note naming a missing or no-op key fails)."""
    import re

    path = REPO / "config" / "studies" / "sun2022.yaml"
    comments = [ln.split("#", 1)[1] for ln in path.read_text().splitlines() if "#" in ln]
    found = re.findall(r"\b([a-z_]+(?:\.[a-z_]+)+): ([A-Za-z0-9_]+)", " ".join(comments))
    offered = {(k, v) for k, v in found if not k.startswith(("flarepipe.", "hmi.", "mdi."))}
    assert {("features.fill", "next"), ("shard.image_norm", "global")} <= offered
    assert ("evaluation.true_rate", "false") in offered
    import jsonschema

    base = load_config(REPO / "config.yaml", path)
    for key, value in sorted(offered):
        node, schema = base, _schema()
        *parents, leaf = key.split(".")
        for p in parents:
            node, schema = node[p], schema["properties"][p]
        assert leaf in node and leaf in schema["properties"], key
        value = yaml.safe_load(value)
        jsonschema.validate(value, schema["properties"][leaf])  # a value the key takes
        assert node[leaf] != value, f"{key}: {value!r} is the study's value already"
        if parents[0] != "archive":  # another source needs its own blocks
            cfg = copy.deepcopy(base)
            target = cfg
            for p in parents:
                target = target[p]
            target[leaf] = value
            validate_config(cfg)
