"""Configuration validation: wrong values fail before any job runs, naming the field and the range."""

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
    """config.yaml mirrors/sign-flips CNN training images; the paper's settings must not inherit it."""
    default = load_config(REPO / "config.yaml")
    paper = load_config(REPO / "config.yaml", REPO / "config" / "studies" / "sun2022.yaml")
    assert default["models"]["cnn"]["train"]["augment"] == ["hflip", "vflip", "sign"]
    assert paper["models"]["cnn"]["train"]["augment"] == []


def test_unknown_augmentation_is_named():
    cfg = _default()
    cfg["models"]["cnn"]["train"]["augment"] = ["hflip", "rot90"]
    with pytest.raises(ConfigError, match=r"models\.cnn\.train\.augment\.1"):
        validate_config(cfg)
