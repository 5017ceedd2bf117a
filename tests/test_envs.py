"""The conda environments in envs/ (for `snakemake --sdm conda`) agree with requirements.txt.

conda is not available where the tests run, so the environments are never built here; instead
these tests keep them consistent with the project's own dependency list:

* every package an environment installs appears in requirements.txt (names compared after PEP 503
  normalisation, extras such as ``sunpy[net]`` stripped);
* where requirements.txt pins a version (``==``, including ``==3.1.*``), the environment pins the
  same one; where it gives a range, the environment gives the same range or a pin inside it;
* every runtime requirement is in at least one environment (tooling such as snakemake and pytest
  excepted), so a dependency added to requirements.txt is not forgotten in envs/;
* Python is 3.11 and the channels are conda-forge only;
* every ``conda:`` directive in the Snakefile and rules/*.smk names an existing file.
"""

from __future__ import annotations

import re
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

# the environments the workflow's rule groups use
EXPECTED_ENVS = ["archive", "process", "train", "evaluate"]
# requirements that are tooling, not step dependencies: they need not be in any environment
TOOLING = {"snakemake", "snakemake-executor-plugin-slurm", "pytest"}
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
