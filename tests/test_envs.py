"""The package's dependencies, requirements.txt and the conda environments in envs/ agree.

pyproject.toml declares what flarepipe needs: ``dependencies`` (what every part imports) and one
extra per rule group (archive, process, train, evaluate, attribute), plus workflow, test, lint and
dev. requirements.txt pins the whole tested set; envs/<group>.yaml installs a group's packages for
``snakemake --sdm conda`` and <group>.post-deploy.sh installs flarepipe itself into it. conda is
not available where the tests run, so the environments are never built here; instead these tests
keep the three lists consistent, and check them against the code:

* requirements.txt and pyproject.toml name the same packages with the same version specifiers;
* every package an environment installs appears in requirements.txt (names compared after PEP 503
  normalisation, extras such as ``sunpy[net]`` stripped); where requirements.txt pins a version
  (``==``, including ``==3.1.*``), the environment pins the same one; where it gives a range, the
  environment gives the same range or a pin inside it;
* each environment installs exactly pyproject's dependencies plus the extras of its rule group
  (:data:`ENV_EXTRAS`), so adding a dependency to an extra cannot forget the environment;
* every third-party module that a rule's code imports (its script, the stage function it calls and
  every flarepipe module reached from there, read with :mod:`ast`) is installed by the rule's
  ``conda:`` environment; the Snakefile's own imports by pyproject's ``workflow`` extra;
* every environment has a post-deploy script that installs the checkout (editable, no deps), and
  the package really installs that way into a fresh virtual environment;
* Python is 3.11 and the channels are conda-forge only;
* every ``conda:`` directive in the Snakefile and rules/*.smk names an existing file.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
ENVS = ROOT / "envs"
REQUIREMENTS = ROOT / "requirements.txt"
PYPROJECT = ROOT / "pyproject.toml"
SRC = ROOT / "src"

# the environments the workflow's rule groups use
EXPECTED_ENVS = ["archive", "process", "train", "evaluate"]
# the pyproject extras each environment installs (besides the runtime dependencies); the
# attribution maps run in the training environment
ENV_EXTRAS = {
    "archive": ["archive"],
    "process": ["process"],
    "train": ["train", "attribute"],
    "evaluate": ["evaluate"],
}
# requirements that are tooling, not step dependencies: they need not be in any environment
TOOLING = {
    "snakemake",
    "snakemake-executor-plugin-slurm",
    "pytest",
    "hypothesis",
    "ruff",
    "snakefmt",
}
# conda-forge package names that differ from their PyPI names (for plain conda dependencies)
CONDA_TO_PYPI = {"pytorch": "torch", "pytables": "tables", "matplotlib-base": "matplotlib"}
# conda dependencies that are not Python packages from requirements.txt
CONDA_ONLY = {"python", "pip"}
PYTHON = "3.11"


@dataclass(frozen=True)
class Dep:
    name: str  # canonical (PEP 503) name
    extras: frozenset
    spec: SpecifierSet
    raw: str
    where: str


def parse_requirements(path: Path = REQUIREMENTS) -> dict[str, Dep]:
    deps: dict[str, Dep] = {}
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-"):
            pytest.fail(f"{path.name}:{lineno}: pip options are not supported here: {line!r}")
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name not in deps, f"{path.name}:{lineno}: {req.name} listed twice"
        deps[name] = Dep(name, frozenset(req.extras), req.specifier, line, f"{path.name}:{lineno}")
    return deps


def _conda_dep(spec: str, where: str) -> Dep:
    """A plain conda dependency such as ``numpy=1.26``, ``numpy>=1.26,<3``, ``pytorch==2.13.0``."""
    s = spec.strip().split("::")[-1]  # drop a channel prefix
    m = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(.*)$", s)
    assert m, f"{where}: cannot parse conda dependency {spec!r}"
    name, version = m.group(1), m.group(2).strip().split(" ")[0]
    name = canonicalize_name(CONDA_TO_PYPI.get(name.lower(), name))
    if version and version[0].isdigit():
        # conda's `=1.26` / bare `1.26` means 1.26.*; `=1.26.0` means that release line too
        version = f"=={version}" if "*" in version else f"=={version}.*"
    elif version.startswith("=") and not version.startswith("=="):
        version = f"=={version[1:]}" if "*" in version else f"=={version[1:]}.*"
    return Dep(name, frozenset(), SpecifierSet(version), spec, where)


def parse_env(path: Path) -> tuple[dict, list[Dep], list[Dep]]:
    """Return (yaml document, conda dependencies, pip dependencies)."""
    doc = yaml.safe_load(path.read_text())
    conda: list[Dep] = []
    pip: list[Dep] = []
    for item in doc.get("dependencies") or []:
        if isinstance(item, dict):
            assert set(item) == {"pip"}, f"{path.name}: unexpected mapping in dependencies: {item}"
            for line in item["pip"]:
                assert not str(line).startswith("-"), (
                    f"{path.name}: pip options/editable installs are not allowed: {line!r}"
                )
                req = Requirement(str(line))
                pip.append(
                    Dep(
                        canonicalize_name(req.name),
                        frozenset(req.extras),
                        req.specifier,
                        str(line),
                        f"{path.name} (pip)",
                    )
                )
        else:
            conda.append(_conda_dep(str(item), f"{path.name} (conda)"))
    return doc, conda, pip


def env_files() -> list[Path]:
    return sorted(ENVS.glob("*.yaml")) + sorted(ENVS.glob("*.yml"))


def _pinned(spec: SpecifierSet) -> str | None:
    """The version of an exact pin (``==X`` or ``==X.*``), else None."""
    specs = list(spec)
    if len(specs) == 1 and specs[0].operator in ("==", "==="):
        return specs[0].version
    return None


def check_agrees(dep: Dep, req: Dep) -> list[str]:
    """Problems with one environment dependency against its requirements.txt entry."""
    problems = []
    if not dep.extras <= req.extras:
        problems.append(
            f"{dep.where}: {dep.raw!r} asks for extras {sorted(dep.extras - req.extras)} that "
            f"{req.where} ({req.raw!r}) does not"
        )
    req_pin, dep_pin = _pinned(req.spec), _pinned(dep.spec)
    if req_pin is not None:
        if dep_pin != req_pin:
            problems.append(
                f"{dep.where}: {dep.raw!r} must pin the version of {req.where} ({req.raw!r})"
            )
    elif str(dep.spec) != str(req.spec):
        # a range in requirements: the env repeats it, or pins one version inside it
        inside = (
            dep_pin is not None
            and "*" not in dep_pin
            and req.spec.contains(Version(dep_pin), prereleases=True)
        )
        if not inside:
            problems.append(
                f"{dep.where}: {dep.raw!r} must repeat {req.where}'s range ({req.raw!r}) "
                "or pin a version inside it"
            )
    return problems


# --------------------------------------------------------------------------------------------------


def test_requirements_parse():
    reqs = parse_requirements()
    assert "torch" in reqs and "snakemake" in reqs


def test_expected_envs_exist():
    missing = [g for g in EXPECTED_ENVS if not (ENVS / f"{g}.yaml").is_file()]
    assert not missing, f"missing envs/<group>.yaml for: {missing}"


@pytest.mark.parametrize("path", env_files(), ids=lambda p: p.name)
def test_env_agrees_with_requirements(path: Path):
    reqs = parse_requirements()
    doc, conda, pip = parse_env(path)
    problems = []

    # channels: conda-forge only (the anaconda `defaults` channel has licensing terms)
    channels = doc.get("channels") or []
    if "conda-forge" not in channels:
        problems.append(f"{path.name}: channels must include conda-forge: {channels}")
    if "defaults" in channels:
        problems.append(f"{path.name}: do not use the `defaults` channel")
    if not doc.get("name"):
        problems.append(f"{path.name}: no `name:`")

    # python version
    pythons = [d for d in conda if d.name == "python"]
    if len(pythons) != 1:
        problems.append(f"{path.name}: list python exactly once (python={PYTHON})")
    elif not pythons[0].spec.contains(Version(f"{PYTHON}.0")) or pythons[0].spec.contains(
        Version("3.12.0")
    ):
        problems.append(f"{path.name}: python must be {PYTHON}, got {pythons[0].raw!r}")
    if pip and not any(d.name == "pip" for d in conda):
        problems.append(f"{path.name}: has a pip: section but does not install pip")

    seen: dict[str, str] = {}
    for dep in [d for d in conda if d.name not in CONDA_ONLY] + pip:
        if dep.name in seen:
            problems.append(f"{dep.where}: {dep.name} listed twice (also in {seen[dep.name]})")
        seen[dep.name] = dep.where
        req = reqs.get(dep.name)
        if req is None:
            problems.append(
                f"{dep.where}: {dep.raw!r} is not in requirements.txt (add it there first)"
            )
            continue
        problems += check_agrees(dep, req)
    assert not problems, "\n".join(problems)


def test_every_runtime_requirement_is_in_an_env():
    reqs = parse_requirements()
    covered = set()
    for path in env_files():
        _, conda, pip = parse_env(path)
        covered |= {d.name for d in conda + pip}
    missing = sorted(set(reqs) - covered - TOOLING)
    assert not missing, f"requirements.txt packages in no envs/*.yaml: {missing}"


def test_train_env_has_deep_learning_stack():
    _, _, pip = parse_env(ENVS / "train.yaml")
    names = {d.name for d in pip}
    assert {"torch", "pytorch-lightning", "captum", "h5py"} <= names


def _conda_directives() -> list[tuple[Path, str]]:
    files = [ROOT / "Snakefile", ROOT / "workflow" / "Snakefile"]
    files += sorted((ROOT / "rules").glob("*.smk")) + sorted(
        (ROOT / "workflow" / "rules").glob("*.smk")
    )
    found = []
    for f in files:
        if f.is_file():
            for m in re.finditer(
                r"^\s*conda:\s*\n?\s*[rf]?[\"']([^\"'{}]+)[\"']", f.read_text(), re.M
            ):
                found.append((f, m.group(1)))
    return found


def test_conda_directives_point_to_existing_envs():
    directives = _conda_directives()
    if not directives:
        pytest.skip("no literal `conda:` directives in Snakefile/rules (yet)")
    # Snakemake resolves a relative conda: path against the directory of the file declaring it
    bad = [
        f"{f.relative_to(ROOT)}: conda: {p!r}"
        for f, p in directives
        if not (f.parent / p).is_file()
    ]
    assert not bad, (
        "conda: paths that do not exist (relative to the declaring file):\n" + "\n".join(bad)
    )


# ---- pyproject.toml: dependencies and extras ----------------------------------------------------


def _pyproject() -> dict:
    return tomllib.loads(PYPROJECT.read_text())


def pyproject_groups() -> dict[str, list[Requirement]]:
    """``{"": runtime dependencies, extra: its requirements}`` as written (self-references kept)."""
    project = _pyproject()["project"]
    groups = {"": [Requirement(r) for r in project.get("dependencies", [])]}
    for extra, reqs in project.get("optional-dependencies", {}).items():
        groups[extra] = [Requirement(r) for r in reqs]
    return groups


def expand_extras(extras: list[str]) -> dict[str, Requirement]:
    """Runtime dependencies plus ``extras``, self-references (``flarepipe[train]``) followed."""
    groups = pyproject_groups()
    out: dict[str, Requirement] = {canonicalize_name(r.name): r for r in groups[""]}
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        assert extra in groups, f"pyproject.toml: no extra {extra!r} (extras: {sorted(groups)})"
        for req in groups[extra]:
            if canonicalize_name(req.name) == "flarepipe":
                todo += sorted(req.extras)
            else:
                out[canonicalize_name(req.name)] = req
    return out


def test_pyproject_and_requirements_agree():
    reqs = parse_requirements()
    problems, declared = [], set()
    for extra, group in pyproject_groups().items():
        where = f"pyproject.toml {'dependencies' if not extra else f'extra {extra!r}'}"
        for req in group:
            name = canonicalize_name(req.name)
            if name == "flarepipe":
                continue
            declared.add(name)
            pin = reqs.get(name)
            if pin is None:
                problems.append(f"{where}: {req} is not in requirements.txt")
            elif str(req.specifier) != str(pin.spec) or set(req.extras) != set(pin.extras):
                problems.append(f"{where}: {req} differs from {pin.where} ({pin.raw!r})")
    problems += [
        f"{dep.where}: {dep.raw!r} is in no pyproject.toml dependency or extra"
        for name, dep in reqs.items()
        if name not in declared
    ]
    assert not problems, "\n".join(problems)


def test_extras_cover_the_rule_groups():
    extras = set(pyproject_groups()) - {""}
    assert {"archive", "process", "train", "evaluate", "attribute", "workflow", "test"} <= extras
    # the test set installs everything a rule or the Snakefile needs
    everything = set(expand_extras(sorted(extras - {"test", "dev", "lint"})))
    assert everything <= set(expand_extras(["test"]))


@pytest.mark.parametrize("group", EXPECTED_ENVS)
def test_env_installs_its_extras_exactly(group: str):
    """envs/<group>.yaml = pyproject dependencies + the group's extras (no more, no fewer)."""
    _, conda, pip = parse_env(ENVS / f"{group}.yaml")
    installed = {d.name for d in conda + pip if d.name not in CONDA_ONLY}
    wanted = set(expand_extras(ENV_EXTRAS[group]))
    assert installed == wanted, (
        f"envs/{group}.yaml installs {sorted(installed - wanted)} beyond and lacks "
        f"{sorted(wanted - installed)} of pyproject dependencies + extras {ENV_EXTRAS[group]}"
    )


# ---- what the rules' code imports ----------------------------------------------------------------


def _module_file(name: str) -> Path | None:
    path = SRC.joinpath(*name.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _imports(nodes: list[ast.AST], where: str) -> set[str]:
    """Dotted names imported anywhere in ``nodes`` (function bodies included)."""
    found = set()
    for node in nodes:
        for x in ast.walk(node):
            if isinstance(x, ast.Import):
                found |= {a.name for a in x.names}
            elif isinstance(x, ast.ImportFrom):
                assert not x.level, f"{where}: relative import (the house rule is absolute imports)"
                found.add(x.module)
                found |= {f"{x.module}.{a.name}" for a in x.names}  # may be submodules
    return found


def third_party_imports(start: set[str]) -> set[str]:
    """Top-level third-party modules imported from ``start``, following flarepipe's modules."""
    seen, third, todo = set(), set(), list(start)
    while todo:
        name = todo.pop()
        top = name.split(".")[0]
        if top != "flarepipe":
            if top not in sys.stdlib_module_names and top != "__future__":
                third.add(top)
            continue
        path = _module_file(name)
        if path is None or name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages run too
        todo += _imports([ast.parse(path.read_text())], str(path.relative_to(ROOT)))
    return third


def _script_imports(script: Path) -> set[str]:
    """What a workflow script imports: a stage's module level and the functions it takes from it."""
    start = set()
    for x in ast.walk(ast.parse(script.read_text())):
        if isinstance(x, ast.ImportFrom) and (x.module or "").startswith("flarepipe.stages."):
            path = _module_file(x.module)
            assert path is not None, f"{script.name}: imports {x.module}, which does not exist"
            stage = ast.parse(path.read_text())
            wanted = {a.name for a in x.names}
            body = [n for n in stage.body if not isinstance(n, (ast.FunctionDef, ast.ClassDef))]
            body += [n for n in stage.body if isinstance(n, ast.FunctionDef) and n.name in wanted]
            start |= _imports(body, str(path.relative_to(ROOT)))
        elif isinstance(x, (ast.Import, ast.ImportFrom)):
            start |= _imports([x], script.name)
    return start


def rule_scripts() -> list[tuple[str, Path, Path]]:
    """(rule, conda env file, script) for every rule with both directives in rules/*.smk."""
    found = []
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        for block in re.split(r"^[ \t]*(?=rule \w+\s*:)", smk.read_text(), flags=re.M)[1:]:
            name = re.match(r"rule (\w+)", block).group(1)
            block = re.split(r"^[ \t]*(?:rule \w+\s*:|else:|if )", block[5:], flags=re.M)[0]
            env = re.search(r"conda:\s*\n?\s*[\"']([^\"']+)[\"']", block)
            script = re.search(r"script:\s*\n?\s*[\"']([^\"']+)[\"']", block)
            if env and script:
                found.append(
                    (name, (smk.parent / env[1]).resolve(), (smk.parent / script[1]).resolve())
                )
    return found


@functools.cache
def _module_distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _distribution(module: str) -> str | None:
    dists = _module_distributions().get(module)
    return canonicalize_name(dists[0]) if dists else None


def _uncovered(modules: set[str], installed: set[str]) -> list[str]:
    missing = []
    for module in sorted(modules):
        dist = _distribution(module)
        if dist is None:
            missing.append(f"{module} (not installed here either: which package provides it?)")
        elif dist not in installed:
            missing.append(f"{module} (package {dist})")
    return missing


def test_every_rule_env_covers_its_imports():
    rules = rule_scripts()
    if not rules:
        pytest.skip("no rules with conda: and script: directives (yet)")
    problems = []
    for rule, env_file, script in rules:
        _, conda, pip = parse_env(env_file)
        installed = {d.name for d in conda + pip}
        missing = _uncovered(third_party_imports(_script_imports(script)), installed)
        if missing:
            problems.append(
                f"rule {rule} ({script.relative_to(ROOT)}) imports what "
                f"{env_file.relative_to(ROOT)} does not install: {', '.join(missing)}"
            )
    assert not problems, "\n".join(problems)


def test_snakemake_env_covers_the_snakefile_imports():
    """The Snakefile and rules/*.smk import flarepipe (config validation, JSOC units) in Snakemake's
    own environment: pyproject's ``workflow`` extra must install what that reaches."""
    start = set()
    for f in [ROOT / "Snakefile", *sorted((ROOT / "rules").glob("*.smk"))]:
        for line in f.read_text().splitlines():
            m = re.match(r"\s*(?:from\s+([\w.]+)\s+import\s+([\w, ]+)|import\s+([\w.]+))", line)
            if m and (m[1] or m[3] or "").startswith("flarepipe"):
                start.add(m[1] or m[3])
                start |= {f"{m[1]}.{n.strip()}" for n in (m[2] or "").split(",") if n.strip()}
    assert start, "the Snakefile no longer imports flarepipe (config validation)?"
    installed = set(expand_extras(["workflow"]))
    missing = _uncovered(third_party_imports(start), installed)
    assert not missing, f"pyproject extra 'workflow' lacks: {', '.join(missing)}"


def test_import_walk_finds_lazy_imports():
    """The walk sees imports inside functions, and only the stage functions a script calls."""
    scripts = ROOT / "workflow" / "scripts"
    if not (scripts / "train.py").is_file() or not (scripts / "oracle.py").is_file():
        pytest.skip("no train/oracle scripts to check the walk on")
    # run_train imports torch inside the function; fit.py imports Lightning
    assert {"torch", "pytorch_lightning"} <= third_party_imports(
        _script_imports(scripts / "train.py")
    )
    # the oracle script takes run_oracle from the same stage module, which needs no torch
    assert "torch" not in third_party_imports(_script_imports(scripts / "oracle.py"))


# ---- envs/<group>.post-deploy.sh: flarepipe itself in the environment -------------------------


@pytest.mark.parametrize("group", EXPECTED_ENVS)
def test_env_has_the_post_deploy_script(group: str):
    script = ENVS / f"{group}.post-deploy.sh"
    assert script.is_file(), f"{script.relative_to(ROOT)} missing: the env would lack flarepipe"
    assert script.resolve() == (ENVS / "post-deploy.sh").resolve(), "one script for all envs"


def _fake_python(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """PATH with a `python` that records its arguments instead of running pip."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "argv.txt"
    fake = bin_dir / "python"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{record}"\n')
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "FLAREPIPE_ROOT"}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env, record


def test_post_deploy_installs_the_checkout(tmp_path: Path):
    script = ENVS / "post-deploy.sh"
    env, record = _fake_python(tmp_path)
    # Snakemake runs it with the interpreter of its shebang, from its working directory
    res = subprocess.run(["bash", str(script)], cwd=ROOT, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert record.read_text().split() == [
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--disable-pip-version-check",
        "-e",
        str(ROOT),
    ]
    record.unlink()
    # from elsewhere it refuses, naming the fix; FLAREPIPE_ROOT points it at the checkout
    res = subprocess.run(
        ["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert res.returncode != 0 and "FLAREPIPE_ROOT" in res.stderr and not record.exists()
    env["FLAREPIPE_ROOT"] = str(ROOT)
    res = subprocess.run(
        ["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert res.returncode == 0 and record.read_text().split()[-1] == str(ROOT)


def _offline_build_path(tmp_path: Path) -> Path:
    """A folder holding only this interpreter's setuptools, to build without the package index."""
    try:
        dist = importlib.metadata.distribution("setuptools")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("no setuptools here to build flarepipe with (pip would need the package index)")
    build_req = next(
        Requirement(r)
        for r in _pyproject()["build-system"]["requires"]
        if canonicalize_name(Requirement(r).name) == "setuptools"
    )
    if not build_req.specifier.contains(dist.version):
        pytest.skip(f"setuptools {dist.version} here does not satisfy build-system {build_req}")
    site = Path(dist.locate_file(""))
    only = tmp_path / "build-path"
    only.mkdir()
    names = ["setuptools", "_distutils_hack", "pkg_resources"]
    names += [p.name for p in site.glob(f"setuptools-{dist.version}.dist-info")]
    for name in names:
        if (site / name).exists():
            (only / name).symlink_to(site / name)
    return only


@pytest.mark.slow
def test_package_installs_editable_into_a_fresh_venv(tmp_path: Path):
    """What the post-deploy script does, for real and offline: pyproject builds, flarepipe imports
    from src/, its package data (the config schema) is there, and pip writes the console script."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    env = {**os.environ, "PYTHONPATH": str(_offline_build_path(tmp_path)), "PIP_NO_INDEX": "1"}
    cmd = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps"]
    cmd += ["--no-build-isolation", "--disable-pip-version-check", "-e", str(ROOT)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "BuildBackendWarning" not in res.stdout + res.stderr, res.stdout + res.stderr
    probe = (
        "import importlib.resources, flarepipe; print(flarepipe.__file__); "
        "print(importlib.resources.files('flarepipe').joinpath('config', 'schema.yaml').is_file())"
    )
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [str(python), "-c", probe], cwd=tmp_path, env=clean, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    path, has_schema = out.stdout.split()
    assert Path(path) == SRC / "flarepipe" / "__init__.py" and has_schema == "True", out.stdout
    assert (venv / "bin" / "flarepipe-install-profile").is_file()


# ---- the checker itself ------------------------------------------------------------------------


def _dep(line: str, where: str = "x") -> Dep:
    r = Requirement(line)
    return Dep(canonicalize_name(r.name), frozenset(r.extras), r.specifier, line, where)


@pytest.mark.parametrize(
    "env_line, req_line, ok",
    [
        ("torch==2.13.0", "torch==2.13.0", True),
        ("torch==2.12.0", "torch==2.13.0", False),
        ("torch", "torch==2.13.0", False),
        ("pandas==3.1.*", "pandas==3.1.*", True),
        ("pandas==3.1.2", "pandas==3.1.*", False),
        ("numpy>=1.26,<3", "numpy>=1.26,<3", True),
        ("numpy==2.1.0", "numpy>=1.26,<3", True),
        ("numpy==1.20.0", "numpy>=1.26,<3", False),
        ("numpy", "numpy>=1.26,<3", False),
        ("sunpy==7.0.5", "sunpy[net]==7.0.5", True),
        ("sunpy[net]==7.0.5", "sunpy[net]==7.0.5", True),
        ("sunpy[all]==7.0.5", "sunpy[net]==7.0.5", False),
        ("PyYAML>=6", "pyyaml>=6", True),
        ("scikit_learn>=1.5", "scikit-learn>=1.5", True),
    ],
)
def test_check_agrees(env_line, req_line, ok):
    dep, req = _dep(env_line), _dep(req_line)
    assert dep.name == req.name
    assert (check_agrees(dep, req) == []) is ok


@pytest.mark.parametrize(
    "spec, name, version_ok, version_bad",
    [
        ("pytorch=2.13.0", "torch", "2.13.0", "2.12.0"),
        ("numpy>=1.26,<3", "numpy", "2.0.0", "1.20.0"),
        ("conda-forge::h5py=3.16", "h5py", "3.16.1", "3.15.0"),
        ("python=3.11", "python", "3.11.9", "3.12.0"),
    ],
)
def test_conda_dep_parsing(spec, name, version_ok, version_bad):
    d = _conda_dep(spec, "x")
    assert d.name == name
    assert d.spec.contains(version_ok) and not d.spec.contains(version_bad)
