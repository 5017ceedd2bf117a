"""Registries: names written once, read by the schema, the rules and the experiment expansion;
plug-in modules; validation of registered blocks; the experiment plan."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from flarepipe.config import SCHEMA_PATH, ConfigError, load_config, validate_config
from flarepipe.config.experiments import (
    default_paired_tests,
    experiment_plan,
    model_plugins,
    stacking_plans,
    wildcard_pattern,
)
from flarepipe.config.registries import KINDS, fill_schema, model_names
from flarepipe.core.registry import PluginError, Registry, UnknownNameError, load_plugins, resolve
from flarepipe.evaluation.criteria import CRITERIA
from flarepipe.models.registry import NETWORKS
from flarepipe.samples.registry import DATASETS, TASKS, register_dataset, register_task
from flarepipe.training.registry import BASELINES

REPO = Path(__file__).resolve().parents[1]
ALL_NAMES = {n for kind in KINDS.values() for n in kind()}


def _default() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())


def _errors(cfg: dict) -> str:
    with pytest.raises(ConfigError) as exc:
        validate_config(cfg)
    return str(exc.value)


# --------------------------------------------------------------------------------------------
# the generic registry and plug-in loading
# --------------------------------------------------------------------------------------------
def test_registry_basics() -> None:
    reg: Registry[int] = Registry("widget", "tests.register_widget")
    reg.register("a", 1)
    reg.register("a", 1)  # the same entry again is a no-op
    reg.register("b_2", 2)
    assert list(reg) == ["a", "b_2"] and reg.names() == ("a", "b_2") and "a" in reg
    with pytest.raises(ValueError, match="already registered .built in.; pick another name"):
        reg.register("a", 3)
    reg.register("a", 3, replace=True)
    assert reg["a"] == 3
    with pytest.raises(UnknownNameError, match=r"unknown widget 'c'; registered: \['a', 'b_2'\]"):
        reg["c"]
    assert isinstance(UnknownNameError("x"), ValueError) and reg.get("c") is None
    for bad in ("1a", "a-b", "a/b", "", "a b"):
        with pytest.raises(ValueError, match="not allowed"):
            reg.register(bad, 0)
    assert resolve("flarepipe.core.registry:Registry") is Registry
    with pytest.raises(ValueError, match="has no attribute"):
        resolve("flarepipe.core.registry:Nope", "network 'x'")
    with pytest.raises(ValueError, match="cannot import module"):
        resolve("flarepipe.nope:X")


def test_load_plugins_by_path_and_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "task_plugin.py").write_text(
        "from flarepipe.samples.registry import register_task\n"
        "COUNT = globals().get('COUNT', 0) + 1\n"
        "@register_task('every_window', description='all kept candidates, label = STRONG')\n"
        "def every_window(candidates):\n"
        "    out = candidates.copy()\n"
        "    out['label'] = (out['pred_type'] == 'STRONG').astype('int64')\n"
        "    return out\n"
    )
    (tmp_path / "named_plugin.py").write_text(
        "from flarepipe.training.registry import register_baseline\n"
        "register_baseline('always_half', 'named_plugin:fit', input='image')\n"
        "def fit(shard_paths, out_dir, *, seed):\n"
        "    return {}\n"
    )
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        mods = load_plugins(["sub/task_plugin.py", "named_plugin"], base_dir=tmp_path)
        again = load_plugins([str(tmp_path / "sub" / "task_plugin.py")])
        assert again[0] is mods[0] and mods[0].COUNT == 1  # imported once per process
        assert TASKS.origin("every_window") == "sub/task_plugin.py"
        assert BASELINES.origin("always_half") == "named_plugin"
        assert model_plugins("always_half") == ["named_plugin"] and model_plugins("lstm") == []
        cands = pd.DataFrame({"pred_type": ["STRONG", "QUIET"]})
        assert TASKS["every_window"].label(cands)["label"].tolist() == [1, 0]
        with pytest.raises(PluginError, match=r"plugins\[1\]: plug-in file 'nope.py' not found"):
            load_plugins(["named_plugin", "nope.py"], base_dir=tmp_path)
        with pytest.raises(PluginError, match=r"plugins\[0\]: no module named 'no_such_mod'"):
            load_plugins(["no_such_mod"])
        with pytest.raises(
            PluginError,
            match=r"\[0\]: importing plug-in 'broken.py' failed: "
            r"RuntimeError: boom",
        ):
            load_plugins(["broken.py"], base_dir=tmp_path)
        with pytest.raises(PluginError, match="neither a module name nor a .py path"):
            load_plugins(["not a module"])
    finally:
        TASKS.unregister("every_window")
        BASELINES.unregister("always_half")


# --------------------------------------------------------------------------------------------
# names are written once
# --------------------------------------------------------------------------------------------
def test_schema_and_rules_write_no_registered_name() -> None:
    """Enums of registered kinds come from the registries; the raw schema and rules list none."""
    raw = yaml.safe_load(SCHEMA_PATH.read_text())

    def enums(node):
        if isinstance(node, dict):
            if "enum" in node:
                yield node["enum"]
            for v in node.values():
                yield from enums(v)
        elif isinstance(node, list):
            for v in node:
                yield from enums(v)

    for enum in enums(raw):
        assert not set(map(str, enum)) & ALL_NAMES, enum
    for smk in (REPO / "rules").glob("*.smk"):
        lines = smk.read_text().splitlines()
        code = "\n".join(ln for ln in lines if not ln.lstrip().startswith("#"))
        quoted = set(re.findall(r"[\"']([A-Za-z_][A-Za-z0-9_]*)[\"']", code))
        assert not quoted & ALL_NAMES, (smk.name, quoted & ALL_NAMES)
    filled = fill_schema(raw)
    exp = filled["properties"]["experiments"]["properties"]
    assert exp["datasets"]["items"]["enum"] == list(DATASETS)
    assert exp["models"]["items"]["enum"] == list(NETWORKS) + list(BASELINES)
    assert filled["properties"]["labels"]["properties"]["task"]["enum"] == list(TASKS)
    assert set(filled["properties"]["models"]["properties"]) == set(NETWORKS) | set(BASELINES)


def test_wildcard_pattern_matches_exactly_the_names() -> None:
    pat = re.compile(f"^(?:{wildcard_pattern(NETWORKS)})$")
    assert all(pat.match(n) for n in NETWORKS)
    assert not pat.match("lstm2") and not pat.match("cnn/x") and not pat.match("")
    assert not re.match(f"^(?:{wildcard_pattern([])})$", "")


# --------------------------------------------------------------------------------------------
# validation of registered blocks and cross-field names
# --------------------------------------------------------------------------------------------
def test_model_blocks_follow_the_registered_schemas() -> None:
    cfg = _default()
    cfg["models"]["lstm"]["network"]["hidden"] = 0
    cfg["models"]["cnn2"]["network"] = {"stem": [8]}
    cfg["models"]["logreg"]["C"] = 0
    cfg["models"]["cnn"]["network"]["widht"] = 1
    msg = _errors(cfg)
    assert ": models.lstm.network.hidden must be >= 1" in msg
    assert ": models.cnn2.network.stem: [8] is too short" in msg
    assert ": models.logreg.C must be > 0" in msg
    assert "models.cnn.network: Additional properties are not allowed ('widht'" in msg
    cfg = _default()
    cfg["models"]["resnet"] = {}
    names = list(model_names())
    assert names[:3] == ["lstm", "cnn", "cnn2"] and "logreg" in names
    assert f"models must be one of {names}, got 'resnet'" in _errors(cfg)


def test_plugin_network_block_is_validated(tmp_path: Path) -> None:
    plugin = tmp_path / "conv_plugin.py"
    plugin.write_text(
        "from flarepipe.models.registry import register_network\n"
        "register_network('tiny_conv', 'tiny_conv_impl:TinyConv', input='image',\n"
        "                 train_defaults={'max_epochs': 3, 'patience': 1},\n"
        "                 params_schema={'properties': {'channels': {'type': 'integer',\n"
        "                                                            'minimum': 1}}})\n"
    )
    try:
        cfg = _default()
        cfg["plugins"] = [str(plugin)]
        cfg["experiments"]["models"] = ["tiny_conv", "lstm"]
        cfg["models"]["tiny_conv"] = {"network": {"channels": 0}, "train": {"lr": -1}}
        msg = _errors(cfg)
        assert "models.tiny_conv.network.channels must be >= 1" in msg
        assert "models.tiny_conv.train.lr must be > 0" in msg
        cfg["models"]["tiny_conv"] = {"network": {"channels": 4}}
        validate_config(cfg)  # torch is not needed: the class is registered by string
        plan = experiment_plan(cfg)
        assert plan.networks == ("tiny_conv", "lstm") and plan.stacking == ()  # no cnn: no S1 stack
        assert model_plugins("tiny_conv") == [str(plugin)]
        # a variant of a plug-in network imports that plug-in too
        cfg["models"]["tiny_conv_64"] = {"arch": "tiny_conv", "network": {"image_size": 64}}
        cfg["experiments"]["models"] = ["tiny_conv", "tiny_conv_64", "lstm"]
        validate_config(cfg)
        assert model_plugins("tiny_conv_64", cfg) == [str(plugin)]
        assert experiment_plan(cfg).extra_image_sizes == (64,)
    finally:
        NETWORKS.unregister("tiny_conv")


def test_a_variant_is_its_network_with_its_own_settings() -> None:
    """``models.<name>: {arch: <network>}`` trains that network under another name: the schema
    checks its block as the network's (training defaults included), the plan lists it as a
    network reading images of its own side, the paired tests and wildcards know it."""
    cfg = _default()
    cfg["experiments"]["models"] = ["lstm", "cnn", "cnn_64", "logreg"]
    cfg["models"]["cnn_64"] = {"arch": "cnn", "network": {"image_size": 64, "width": 0.5}}
    cfg["models"]["cnn_64x"] = {"arch": "cnn", "network": {"widht": 1}}  # not in the plan: checked
    assert "models.cnn_64x.network: Additional properties are not allowed ('widht'" in _errors(
        copy.deepcopy(cfg)
    )
    del cfg["models"]["cnn_64x"]
    validate_config(cfg)
    assert cfg["models"]["cnn_64"]["train"]["patience"] == 10  # the CNN's registered default
    plan = experiment_plan(cfg)
    assert plan.networks == ("lstm", "cnn", "cnn_64")
    assert plan.network_of("cnn_64") == "cnn" and plan.image_size_of("cnn_64") == 64
    assert plan.image_size_of("cnn") == cfg["features"]["image_size"] == 32
    assert plan.image_size_of("lstm") is None and plan.extra_image_sizes == (64,)
    tss = [(t["a"][1], t["b"][1]) for t in plan.paired_tests if t["metric"] == "TSS"]
    assert ("cnn", "cnn_64") in tss and ("cnn_64", "logreg") not in tss
    assert model_plugins("cnn_64", cfg) == []
    filled = fill_schema(
        yaml.safe_load((REPO / "src/flarepipe/config/schema.yaml").read_text()),
        {"cnn_64": "cnn"},
    )
    exp = filled["properties"]["experiments"]["properties"]
    assert exp["models"]["items"]["enum"][-1] == "cnn_64"
    assert filled["properties"]["attribution"]["properties"]["models"]["items"]["enum"][-1] == (
        "cnn_64"
    )
    fd = filled["properties"]["fulldisk"]["properties"]["model"]["enum"]
    assert "cnn_64" not in fd  # the full-disk study trains a registered network by its name
    # an ensemble may not take a variant's name
    cfg["experiments"]["stacking"] = [{"pair": ["lstm", "cnn"], "criteria": ["tss"], "prefix": ""}]
    cfg["models"]["stack_tss"] = {"arch": "cnn"}
    assert "ensemble name 'stack_tss' is a registered model name" in _errors(cfg)


def test_bad_registrations_are_reported(tmp_path: Path) -> None:
    try:
        from flarepipe.models.registry import register_network
        from flarepipe.training.registry import register_baseline

        register_network(
            "weird",
            "x:Y",
            input="sequence",
            params_schema={"type": "objekt"},
            train_defaults={"max_epochs": 0},
        )
        register_baseline("lstm", "x:y")
        msg = _errors(_default())
        assert "network 'weird': its params_schema is not a valid JSON schema" in msg
        assert "network 'weird': train_defaults max_epochs: 0 is less than the minimum of 1" in msg
        assert "'lstm' is registered both as a network and as a baseline" in msg
    finally:
        NETWORKS.unregister("weird")
        BASELINES.unregister("lstm")


@pytest.mark.parametrize(
    "change,message",
    [
        (
            {"stacking": {"pair": ["lstm", "cnn2"], "criteria": ["tss"]}},
            "experiments.stacking.pair: 'cnn2' is not in experiments.models",
        ),
        (
            {"stacking": [{"pair": ["lstm", "lstm"], "criteria": ["tss"]}]},
            "experiments.stacking[0].pair: stacks 'lstm' with itself",
        ),
        (
            {
                "stacking": [
                    {"pair": ["lstm", "cnn"], "criteria": ["tss"]},
                    {"pair": ["lstm", "logreg"], "criteria": ["auc"]},
                ]
            },
            "experiments.stacking[1]: ensemble name 'avg' is also made by experiments.stacking[0]",
        ),
        (
            {"stacking": [{"pair": ["lstm", "cnn"], "criteria": ["tss", "f1"]}]},
            "experiments.stacking.0.criteria.1 must be one of ['cross_entropy', 'bss', 'auc',",
        ),
        (
            {"stacking": {"pair": ["lstm", "cnn"], "criteria": ["tss"], "prefix": "1x"}},
            "experiments.stacking.prefix",
        ),
        (
            {"paired_tests": [{"a": ["SMARP_ONLY", "lstm"], "b": ["SHARP_ONLY", "lstm"]}]},
            "experiments.paired_tests[0].a: dataset 'SMARP_ONLY' is not in experiments.datasets",
        ),
        (
            {"paired_tests": [{"a": ["SHARP_ONLY", "cnn2"], "b": ["SHARP_ONLY", "lstm"]}]},
            "experiments.paired_tests[0].a: model 'cnn2' is neither in experiments.models",
        ),
        (
            {
                "paired_tests": [
                    {"a": ["SHARP_ONLY", "lstm"], "b": ["SHARP_ONLY", "avg"], "metric": "F1"}
                ]
            },
            "experiments.paired_tests[0].metric must be one of ['ACC', 'TSS'",
        ),
        (
            {"paired_tests": [{"a": ["SHARP_ONLY"], "b": ["SHARP_ONLY", "avg"]}]},
            "experiments.paired_tests.0.a: ['SHARP_ONLY'] is too short",
        ),
    ],
)
def test_cross_field_errors_name_the_field(change: dict, message: str) -> None:
    cfg = _default()
    cfg["experiments"].update(change)
    assert message in _errors(cfg)


def test_plugin_datasets_and_tasks_are_passed_to_the_jobs_that_use_them(tmp_path: Path) -> None:
    from flarepipe.config.experiments import dataset_plugins, task_plugins
    from flarepipe.samples.registry import TASKS

    plugin = tmp_path / "ds_plugin.py"
    plugin.write_text(
        "from flarepipe.samples.registry import register_dataset, register_task\n"
        "register_dataset('HMI_PLUS', 'HMI', ['MDI'])\n"
        "register_task('everything', lambda c: c.assign(label=0))\n"
    )
    try:
        cfg = _default()
        cfg["plugins"] = [str(plugin)]
        cfg["experiments"]["datasets"] = ["HMI_PLUS", "SHARP_ONLY"]
        cfg["labels"] = {"task": "everything"}
        validate_config(cfg)
        assert dataset_plugins("HMI_PLUS") == [str(plugin)] and dataset_plugins("SHARP_ONLY") == []
        assert task_plugins(cfg) == [str(plugin)]
        assert task_plugins({"labels": {"task": "strong_vs_quiet"}}) == []
    finally:
        DATASETS.unregister("HMI_PLUS")
        TASKS.unregister("everything")


# --------------------------------------------------------------------------------------------
# the experiment plan reproduces the hand-written grid it replaces
# --------------------------------------------------------------------------------------------
def _old_tests(datasets: list[str], models: list[str]) -> list:
    """rules/evaluate.smk before the registries (the set the default must reproduce)."""
    return [
        [[d, m], [d2, m]]
        for m in ["lstm", "cnn"]
        if m in models
        for d, d2 in [("FUSED_SHARP", "SHARP_ONLY"), ("FUSED_SMARP", "SMARP_ONLY")]
        if d in datasets and d2 in datasets
    ] + [[[d, "lstm"], [d, "logreg"]] for d in datasets if {"lstm", "logreg"} <= set(models)]


def _net_pairs(datasets: list[str], models: list[str]) -> list:
    """S1's LSTM vs CNN per dataset (any two networks, in configuration order)."""
    nets = [m for m in models if m in ("lstm", "cnn", "cnn2")]
    return [[[d, a], [d, b]] for d in datasets for i, a in enumerate(nets) for b in nets[i + 1 :]]


@pytest.mark.parametrize("extra", [None, "config/tiny.yaml", "config/studies/sun2022.yaml"])
def test_default_plan_is_the_papers_set(extra: str | None) -> None:
    """Every metric of S1 (ACC, AUC, TSS, BSS) gets FUSED vs ONLY, LSTM vs CNN, network vs
    baseline and each stack vs BEST; the old TSS grid is a part of it."""
    cfg = load_config(REPO / "config.yaml", *([REPO / extra] if extra else []))
    plan = experiment_plan(cfg)
    exp = cfg["experiments"]
    assert cfg["evaluation"]["paired_metrics"] == ["ACC", "AUC", "TSS", "BSS"]
    old_stack = [f"stack_{c}" for c in exp["stacking"]] + ["avg", "best_tss"]
    d, m = exp["datasets"], exp["models"]
    old = _old_tests(d, m)
    fused = [t for t in old if t[0][0] != t[1][0]]
    baseline = [t for t in old if t[0][0] == t[1][0]]
    stack = [[[ds, e], [ds, "best_tss"]] for ds in d for e in old_stack[:-1]]
    expected = fused + _net_pairs(d, m) + baseline + stack
    assert len(expected) > len(old)
    for metric in ("ACC", "AUC", "TSS", "BSS"):
        got = [[t["a"], t["b"]] for t in plan.paired_tests if t["metric"] == metric]
        assert got == expected, metric
    assert len(plan.paired_tests) == 4 * len(expected)
    assert all(t["split"] == "test" for t in plan.paired_tests)
    assert list(plan.ensembles) == old_stack and plan.stack_models == ("lstm", "cnn")
    assert plan.networks == ("lstm", "cnn") and plan.baselines == ("logreg",)
    cfg["evaluation"]["paired_metrics"] = ["HSS"]
    assert {t["metric"] for t in experiment_plan(cfg).paired_tests} == {"HSS"}


@pytest.mark.parametrize(
    "models", [["lstm", "cnn", "logreg"], ["cnn", "logreg"], ["lstm"], ["cnn2", "lstm", "cnn"]]
)
@pytest.mark.parametrize(
    "datasets",
    [["SHARP_ONLY", "FUSED_SHARP"], ["FUSED_SMARP", "SMARP_ONLY", "SHARP_ONLY"], ["FUSED_SHARP"]],
)
def test_default_paired_tests_generalise_the_old_set(models, datasets) -> None:
    got = [[t["a"], t["b"]] for t in default_paired_tests(datasets, models)]
    old = _old_tests(datasets, models)
    fused = [t for t in old if t[0][0] != t[1][0]]
    baseline = [t for t in old if t[0][0] == t[1][0]]
    if "cnn2" not in models:
        assert got == fused + _net_pairs(datasets, models) + baseline
    else:  # per network: cnn2 gets its FUSED vs ONLY tests too
        assert [t for t in got if "cnn2" not in (t[0][1], t[1][1])] == [
            t for t in fused + _net_pairs(datasets, models) + baseline if "cnn2" not in str(t)
        ]


def test_stacking_forms() -> None:
    models = ["lstm", "cnn", "logreg"]
    assert stacking_plans({"models": models, "stacking": []}) == []
    short = stacking_plans({"models": models, "stacking": ["tss"]})
    assert [p.as_dict() for p in short] == [
        {"pair": ["lstm", "cnn"], "criteria": ["tss"], "prefix": "", "best": "tss"}
    ]
    assert stacking_plans({"models": ["lstm", "logreg"], "stacking": ["tss"]}) == []
    cfg = _default()
    cfg["experiments"]["stacking"] = [
        {"pair": ["cnn", "lstm"], "criteria": ["auc"]},
        {"pair": ["lstm", "logreg"], "criteria": ["tss", "bss"], "prefix": "kw_", "best": "auc"},
    ]
    validate_config(cfg)
    plan = experiment_plan(cfg)
    assert plan.ensembles == (
        "stack_auc",
        "avg",
        "best_tss",
        "kw_stack_tss",
        "kw_stack_bss",
        "kw_avg",
        "kw_best_auc",
    )
    assert plan.stack_models == ("cnn", "lstm", "logreg")
    one = copy.deepcopy(_default())
    one["experiments"]["stacking"] = {"pair": ["lstm", "logreg"], "criteria": ["tss"]}
    validate_config(one)
    assert experiment_plan(one).ensembles == ("stack_tss", "avg", "best_tss")


def test_dataset_registry_drives_the_split() -> None:
    """A dataset registered with SHARP_ONLY's / FUSED_SHARP's instruments splits the same."""
    from flarepipe.config import settings
    from flarepipe.samples.split import make_dataset_splits

    rows = []
    for inst in ("HMI", "MDI"):
        for r in range(12):
            for k in range(4):
                rows.append((f"{inst}{r}_{k}", f"{inst}{r}", inst, int(r % 3 == 0)))
    samples = pd.DataFrame(rows, columns=["sample_id", "region_id", "instrument", "label"])
    try:
        register_dataset("HMI_ONLY_COPY", "HMI")
        register_dataset("HMI_FUSED_COPY", "HMI", ["MDI"])
        for mine, theirs in (("HMI_ONLY_COPY", "SHARP_ONLY"), ("HMI_FUSED_COPY", "FUSED_SHARP")):
            a = make_dataset_splits(
                samples, mine, settings("split", {"undersample_ratio": None}), 1
            )
            b = make_dataset_splits(
                samples, theirs, settings("split", {"undersample_ratio": None}), 1
            )
            pd.testing.assert_frame_equal(a, b)
        with pytest.raises(ValueError, match="differ from the primary"):
            register_dataset("BAD", "HMI", ["HMI"])
    finally:
        DATASETS.unregister("HMI_ONLY_COPY")
        DATASETS.unregister("HMI_FUSED_COPY")


def test_task_registry_drives_labelling() -> None:
    from flarepipe.samples.labels import apply_task

    try:
        register_task("strong_only", "flarepipe.samples.labels:strong_vs_quiet")
        assert "strong_only" in TASKS
        with pytest.raises(ValueError, match="unknown label task 'nope'"):
            apply_task(pd.DataFrame(), "nope")
    finally:
        TASKS.unregister("strong_only")
    assert CRITERIA["cross_entropy"].higher_is_better is False
