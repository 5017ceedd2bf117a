"""The package's shape: no import circle, no arrow running back up (ARCHITECTURE.md).

Every ``import`` of ``src/flarepipe`` is read with :mod:`ast` (module level and inside functions:
a deferred import is still a dependency) and checked against the folders' order::

    core <- io <- archive <- samples <- data <- models <- tasks <- training
    evaluation needs only core and io
    attribution, studies, config and stages sit on top; nothing below imports them,
    and nothing but workflow/scripts imports stages

Inside ``archive``: ``layout`` (the contract) imports no producer; ``catalogues`` import only
``layout``; each source (``sources/<name>``) imports ``layout`` and ``catalogues`` but never
``build`` and never another source. Imports are absolute, and nothing in ``src`` imports
``snakemake``.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "flarepipe"

#: folder -> rank; a module may import modules of its own rank or lower
RANK: dict[str, float] = {
    "": -1,  # the package root (__version__)
    "core": 0,
    "io": 1,
    "evaluation": 1.5,  # needs only core and io; the layers above may use it
    "detection": 1.5,  # region detection and its scores: core and io only, like evaluation
    "archive": 2,
    "samples": 3,
    "data": 4,
    "models": 5,
    "tasks": 6,
    "training": 7,
    "attribution": 9,
    "studies": 9,
    "config": 9,
    "stages": 10,
    "tools": 10,  # command-line tools (flarepipe inspect, profile installer) sit with the stages
}
#: parts of archive, in order
ARCHIVE_RANK = {"layout": 0, "catalogues": 1, "sources": 2}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str:
    """The module ``name`` refers to (an attribute path falls back to its module)."""
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every flarepipe import in ``path``; relative imports are refused."""
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                out.append((node.lineno, "." * node.level + (node.module or "")))
                continue
            mod = node.module or ""
            for a in node.names:
                full = f"{mod}.{a.name}"
                out.append((node.lineno, full if full in MODULES else mod))
    return out


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        deps = set()
        for _, target in _imports(path):
            if target.split(".")[0] == "flarepipe":
                dep = _resolve(target)
                if dep != name:
                    deps.add(dep)
        graph[name] = deps
    return graph


def _folder(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _archive_part(module: str) -> tuple[str, str | None]:
    """(part, source name) of an archive module: layout, catalogues, sources, or top."""
    parts = module.split(".")[2:]
    if not parts:
        return "top", None
    if parts[0] == "sources":
        return "sources", parts[1] if len(parts) > 1 else None
    return (parts[0], None) if parts[0] in ARCHIVE_RANK else ("top", None)


def _violation(src: str, dst: str) -> str | None:
    """Why ``src`` may not import ``dst`` (None when it may)."""
    fs, fd = _folder(src), _folder(dst)
    for f, m in ((fs, src), (fd, dst)):
        if f not in RANK:
            return f"folder {f!r} of {m} has no place in the layer order of tests/test_structure.py"
    if RANK[fs] < RANK[fd]:
        return f"{fs} may not import {fd} (upward import)"
    if fs == fd == "archive":
        (ps, ss), (pd_, sd) = _archive_part(src), _archive_part(dst)
        rank = {**ARCHIVE_RANK, "top": 3}
        if rank[ps] < rank[pd_]:
            return f"archive.{ps} may not import archive.{pd_} (upward import)"
        if ps == pd_ == "sources" and ss and sd and ss != sd:
            return f"source {ss} may not import source {sd} (sources never import each other)"
    return None


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_walk_sees_the_package():
    graph = _graph()
    assert "flarepipe.archive.sources.jsoc.fetch" in graph and "flarepipe.core.keywords" in graph
    assert "flarepipe.archive.catalogues.flares" in graph["flarepipe.archive.sources.jsoc.merge"]
    # deferred (function-level) imports count too
    assert "flarepipe.archive.sources.local" in graph["flarepipe.archive.build"]


def test_no_import_circle():
    cycles = _cycles(_graph())
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_upward_import():
    bad = []
    for name, path in MODULES.items():
        for line, target in _imports(path):
            if target.split(".")[0] != "flarepipe":
                continue
            why = _violation(name, _resolve(target))
            if why:
                bad.append(f"{path.relative_to(SRC.parent)}:{line}: imports {target}: {why}")
    assert not bad, "\n".join(dict.fromkeys(bad))


def test_absolute_imports_and_no_snakemake():
    bad = []
    for path in MODULES.values():
        for line, target in _imports(path):
            if target.startswith("."):
                bad.append(f"{path.relative_to(SRC.parent)}:{line}: relative import {target!r}")
            elif target.split(".")[0] == "snakemake":
                bad.append(f"{path.relative_to(SRC.parent)}:{line}: imports snakemake")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    "src, dst, fails",
    [
        ("flarepipe.io.fitsio", "flarepipe.core.keywords", False),
        ("flarepipe.core.keywords", "flarepipe.io.fitsio", True),
        ("flarepipe.archive.figure", "flarepipe.samples.quality", True),
        ("flarepipe.evaluation.metrics", "flarepipe.archive.layout", True),
        ("flarepipe.tasks.classification", "flarepipe.evaluation.metrics", False),
        ("flarepipe.samples.quality", "flarepipe.config.load", True),
        ("flarepipe.stages.archive", "flarepipe.archive.sources.jsoc", False),
        ("flarepipe.archive.sources.local", "flarepipe.archive.sources.jsoc.settings", True),
        ("flarepipe.archive.sources.jsoc.fetch", "flarepipe.archive.sources.jsoc.client", False),
        ("flarepipe.archive.sources.local", "flarepipe.archive.catalogues.flares", False),
        ("flarepipe.archive.catalogues.flares", "flarepipe.archive.sources.jsoc", True),
        ("flarepipe.archive.sources.local", "flarepipe.archive.build", True),
        ("flarepipe.archive.layout", "flarepipe.archive.catalogues.flares", True),
        ("flarepipe.archive.build", "flarepipe.archive.sources.local", False),
    ],
)
def test_the_rules_themselves(src, dst, fails):
    """The checker refuses what ARCHITECTURE.md forbids (a checker that passes everything would
    hide every violation)."""
    assert (_violation(src, dst) is not None) == fails


def test_a_circle_is_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


# ------------------------------------------------------------------------ names named once


def _name_lists(path: Path, names: set[str]) -> list[int]:
    """Lines of list/tuple/set literals (and name-to-name dicts) spelling two or more ``names``."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            elts = node.elts
        elif isinstance(node, ast.Dict) and all(
            isinstance(v, (ast.Constant, ast.Tuple, ast.List)) for v in node.values
        ):
            elts = [k for k in node.keys if k is not None]
        else:
            continue
        hits = {e.value for e in elts if isinstance(e, ast.Constant) and e.value in names}
        if len(hits) >= 2:
            lines.append(node.lineno)
    return lines


def test_the_keyword_list_is_named_once():
    """The four keywords are listed in core/keywords.py only; every other module imports them."""
    from flarepipe.core.keywords import KEYWORDS

    names = {k.column for k in KEYWORDS} | {k.jsoc for k in KEYWORDS}
    home = PKG / "core" / "keywords.py"
    bad = [
        f"{path.relative_to(SRC.parent)}:{line}"
        for path in MODULES.values()
        if path != home
        for line in _name_lists(path, names)
    ]
    assert not bad, "keyword names listed outside flarepipe.core.keywords: " + ", ".join(bad)


def test_the_name_list_check_sees_lists(tmp_path):
    p = tmp_path / "m.py"
    p.write_text(
        'A = ("usfluxl_mx", "r_value")\nB = {"USFLUXL": ("USFLUXL",), "AREA": ("AREA",)}\n'
        'C = {"USFLUXL": f(x), "AREA": g(x)}\nD = ["usfluxl_mx", "series"]\n'
    )
    names = {"usfluxl_mx", "r_value", "USFLUXL", "AREA"}
    assert _name_lists(p, names) == [1, 2]  # computed values (C) and single names (D) are fine


def test_every_keyword_user_shares_the_registry():
    from flarepipe.archive import layout
    from flarepipe.archive.sources import local
    from flarepipe.core import keywords
    from flarepipe.samples import quality

    assert quality.KEYWORD_COLUMNS is keywords.KEYWORD_COLUMNS
    cols = list(keywords.KEYWORD_COLUMNS)
    i = layout.RECORD_COLUMNS.index(cols[0])
    assert layout.RECORD_COLUMNS[i : i + len(cols)] == cols
    assert [local.DEFAULT_TABLE_COLUMN_MAP[c] for c in cols] == [
        "USFLUX",
        "MEANGBZ",
        "R_VALUE",
        "AREA",
    ]
    assert keywords.keyword("area_uhem").unit == "uhem"
    with pytest.raises(KeyError, match="unknown keyword column 'usflux'"):
        keywords.keyword("usflux")


def test_schema_enums_are_the_registries():
    """Where the schema must spell a registry (enums), it spells exactly that registry."""
    import yaml

    from flarepipe.archive.catalogues import flares
    from flarepipe.archive.sources import local
    from flarepipe.config import SCHEMA_PATH
    from flarepipe.core.keywords import KEYWORD_COLUMNS
    from flarepipe.core.series import SERIES_NAMES
    from flarepipe.io.download import RetryPolicy

    schema = yaml.safe_load(Path(SCHEMA_PATH).read_text())
    arc = schema["properties"]["archive"]["properties"]
    jsoc, loc, cat = (arc[k]["properties"] for k in ("jsoc", "local", "catalogue"))
    assert jsoc["series"]["items"]["enum"] == list(SERIES_NAMES) == jsoc["series"]["default"]
    assert jsoc["regions"]["propertyNames"]["enum"] == list(SERIES_NAMES)
    assert jsoc["keywords"]["propertyNames"]["enum"] == list(KEYWORD_COLUMNS)
    assert loc["column_map"]["propertyNames"]["enum"] == list(local.TABLE_NAMES)
    assert schema["$defs"]["flare_format"]["enum"] == list(flares.FORMATS)
    assert cat["hek"]["properties"]["url"]["default"] == flares.HEK_URL
    retry = schema["$defs"]["retry"]["properties"]
    assert {k: v["default"] for k, v in retry.items()} == vars(RetryPolicy())
    shard = schema["properties"]["shard"]["properties"]
    assert shard["log_keywords"]["items"]["enum"] == list(KEYWORD_COLUMNS)


def test_source_errors_do_not_name_a_config_file():
    """Only flarepipe.config names the file the user passed; the archive sources, catalogues,
    io and core phrase errors with the key path (``archive.jsoc.chunk_days``)."""
    parts = [
        PKG / "archive" / "sources",
        PKG / "archive" / "catalogues",
        PKG / "archive" / "layout.py",
        PKG / "io",
        PKG / "core",
    ]
    bad = []
    for path in MODULES.values():
        if not any(path == p or p in path.parents for p in parts):
            continue
        tree = ast.parse(path.read_text())
        docstrings = {
            id(n.body[0].value)
            for n in ast.walk(tree)
            if isinstance(getattr(n, "body", None), list)
            and n.body
            and isinstance(n.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and "config.yaml" in node.value
                and id(node) not in docstrings
            ):
                bad.append(f"{path.relative_to(SRC.parent)}:{node.lineno}")
    assert not bad, "error text naming config.yaml: " + ", ".join(bad)


#: the modules that may import torch or Lightning at import time: networks, the LightningModule,
#: the training loop and the DataModule; every other module (and so every job except train and
#: attribute) must not pay torch's import time
TORCH_MODULES = {
    "flarepipe.data.datamodule",
    "flarepipe.models.blocks",
    "flarepipe.models.centernet",
    "flarepipe.models.cnn",
    "flarepipe.models.cnn1",
    "flarepipe.models.cnn2",
    "flarepipe.models.densenet",
    "flarepipe.models.flops",
    "flarepipe.models.googlenet",
    "flarepipe.models.lstm",
    "flarepipe.tasks.classification",
    "flarepipe.tasks.detection",
    "flarepipe.tasks.multiclass",
    "flarepipe.tasks.losses",
    "flarepipe.training.fit",
    "flarepipe.models.fcn",
    "flarepipe.training.segments",
    "flarepipe.studies.deoliveira2020.experiment",
    "flarepipe.studies.dhuri2020.experiment",
    "flarepipe.studies.dhuri2020.occlusion",
    "flarepipe.studies.dhuri2020.probes",
}


def test_only_the_training_modules_import_torch() -> None:
    """Import every other module in a fresh interpreter: torch and Lightning stay unloaded."""
    import subprocess
    import sys

    mods = [
        m
        for m in sorted(_modules())
        if m not in TORCH_MODULES
        and not m.startswith("flarepipe.attribution")
        and not any(m.startswith(t + ".") for t in TORCH_MODULES)
    ]
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}:\n"
        "    importlib.import_module(m)\n"
        "    loaded = [x for x in ('torch', 'pytorch_lightning') if x in sys.modules]\n"
        "    if loaded:\n"
        "        sys.exit(f'{m} imports {loaded}')\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ}
    )
    assert res.returncode == 0, res.stderr[-2000:]


def test_no_absolute_path_of_one_machine_in_the_package():
    """Docstrings, messages, rules and scripts reference repository-relative docs, never a path of
    one machine (the package, its schema, workflow/scripts, rules/*.smk, the Snakefile)."""
    import re

    pattern = re.compile(r"(?<![\w.])/(work|home|Users|scratch|tmp)/[\w.-]+/")
    root = Path(__file__).resolve().parents[1]
    files = [
        *(root / "src" / "flarepipe").rglob("*.py"),
        *(root / "src" / "flarepipe").rglob("*.yaml"),
        *(root / "workflow").rglob("*.py"),
        *(root / "rules").rglob("*.smk"),
        root / "Snakefile",
    ]
    hits = [
        f"{p.relative_to(root)}:{i}: {line.strip()}"
        for p in sorted(files)
        for i, line in enumerate(p.read_text().splitlines(), start=1)
        if pattern.search(line)
    ]
    assert len(files) > 50 and not hits, "\n".join(hits)
