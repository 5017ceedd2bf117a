"""The workflow on a real (single-node) Slurm cluster, through profiles/slurm.

    bash scripts/slurm-up.sh && pytest -m slurm -rA; bash scripts/slurm-down.sh
    bash scripts/ci-slurm.sh            # the same, with the teardown guaranteed (what CI runs)

The Slurm test (`-m slurm`, excluded by default) copies the repository to a temporary directory and
runs

    snakemake --profile profiles/slurm --profile profiles/slurm-ci --configfile config/tiny.yaml

i.e. the user-facing profile unchanged, with profiles/slurm-ci overriding only what the local test
cluster needs (squeue for job status, short polling, keep the Slurm logs). It then checks, from
Snakemake's log, the plugin's sbatch command lines and each job's Slurm log, that

* the workflow succeeded and every job that is not a `localrule` was submitted with sbatch;
* every submitted job ran inside its Slurm allocation (the job's Slurm log shows SLURM_JOB_ID equal
  to the id sbatch returned);
* every job whose rule declares `gpu=N` asked Slurm for N GPUs (`--gpus=N` on the sbatch line),
  was given them (SLURM_GPUS_ON_NODE in the job), and ran in the partition profiles/slurm assigns;
  all training jobs are among them; no other job asked for a GPU.

It skips (with the reason) when there is no Slurm test cluster: no sbatch, slurmctld not answering,
or a cluster that is not the one scripts/slurm-up.sh makes (ClusterName=flarepipe; the test never
submits to a real cluster). With FLAREPIPE_SLURM_REQUIRED=1 (set by scripts/ci-slurm.sh) these
conditions fail the test instead of skipping it.

The other tests in this module (profiles parse, every entry is commented, set-resources names real
rules) need no Slurm and run in the default suite.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ROOT / "profiles"
TINY_CONFIG = "config/tiny.yaml"
TEST_CLUSTER_NAME = "flarepipe"  # ClusterName in the slurm.conf written by scripts/slurm-up.sh
TRAIN_RULE = re.compile(r"train", re.I)  # rules whose jobs must ask for a GPU
TIMEOUT_S = int(os.environ.get("FLAREPIPE_SLURM_TEST_TIMEOUT", "1800"))
# copied to the temporary workflow directory: everything but these (top level / anywhere)
_IGNORE_TOP = {
    ".git",
    ".venv",
    "venv",
    ".snakemake",
    "results",
    ".pytest_cache",
    ".ruff_cache",
    "tmp",
    ".ci",
    ".mypy_cache",
}
_IGNORE_ANYWHERE = {"__pycache__", ".snakemake"}


def _copy_ignore(directory: str, names: list[str]) -> set[str]:
    top = Path(directory).resolve() == ROOT
    return {
        n
        for n in names
        if n in _IGNORE_ANYWHERE or n.endswith((".pyc", ".egg-info")) or (top and n in _IGNORE_TOP)
    }


# ---- helpers ---------------------------------------------------------------------------------


def _skip_or_fail(reason: str):
    if os.environ.get("FLAREPIPE_SLURM_REQUIRED") == "1":
        pytest.fail(f"FLAREPIPE_SLURM_REQUIRED=1 but: {reason}")
    pytest.skip(reason)


def _run(cmd: list[str], timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_", "SRUN_"))}
    # the jobs run `python -m snakemake` with this interpreter; keep its bin/ first on PATH
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("SNAKEMAKE_PROFILE", None)
    return env


def _scontrol_show_job(jobid: str) -> dict[str, str]:
    """`scontrol show job -o` as a dict; empty once the job left slurmctld (MinJobAge)."""
    try:
        out = _run(["scontrol", "-o", "show", "job", jobid]).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return dict(re.findall(r"(\w+)=(\S*)", out))


@dataclass
class Job:
    rule: str
    jobid: str  # Snakemake's job id
    local: bool
    resources: dict[str, str] = field(default_factory=dict)
    slurm_id: str | None = None
    slurm_log: Path | None = None
    sbatch: str | None = None


def parse_snakemake_log(text: str) -> dict[str, Job]:
    """Jobs from a `snakemake --verbose` log of the Slurm executor, by Snakemake job id."""
    jobs: dict[str, Job] = {}
    for m in re.finditer(r"^(local)?rule (\S+):\n((?:[ \t]+\S.*\n?)+)", text, re.M):
        body = m.group(3)
        jid = re.search(r"^\s+jobid: (\d+)", body, re.M)
        if not jid:
            continue
        res = {}
        r = re.search(r"^\s+resources: (.*)$", body, re.M)
        if r:
            res = dict(kv.split("=", 1) for kv in r.group(1).split(", ") if "=" in kv)
        jobs[jid.group(1)] = Job(m.group(2), jid.group(1), bool(m.group(1)), res)
    sbatch_by_output = {}
    for m in re.finditer(r"^sbatch call: (.*)$", text, re.M):
        out = re.search(r"--output (\S+)", m.group(1))
        if out:
            sbatch_by_output[out.group(1).strip("'\"")] = m.group(1)
    for m in re.finditer(
        r"^Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.$", text, re.M
    ):
        job = jobs.setdefault(m.group(1), Job("?", m.group(1), False))
        job.slurm_id, job.slurm_log = m.group(2), Path(m.group(3))
        pattern = str(job.slurm_log.parent / "%j.log")
        job.sbatch = sbatch_by_output.get(pattern)
    return jobs


def _job_env(slurm_log: Path) -> dict[str, str]:
    """The environment the jobstep executor logs (at --verbose) inside the Slurm job."""
    text = slurm_log.read_text(errors="replace")
    return dict(re.findall(r"'((?:SLURM|CUDA)_[A-Z_]+)': '([^']*)'", text))


def _tail(path: Path, n: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError as e:
        return f"({e})"


def _failure_report(work: Path, text: str) -> str:
    """The failed jobs with the tail of their rule log, then the controller log's tail."""
    parts = []
    errors = re.findall(r"^Error in rule (\S+):\n((?:[ \t]+.*\n?)+)", text, re.M)
    for rule, body in errors[:4]:
        parts.append(f"=== Error in rule {rule}:\n{body.rstrip()}")
        logs = re.search(r"^\s+log: (.*?)(?: \(check log|$)", body, re.M)
        for name in (logs.group(1).split(", ") if logs else [])[:2]:
            path = Path(name) if Path(name).is_absolute() else work / name
            if path.is_file():
                body_lines = [
                    ln for ln in _tail(path, 400).splitlines() if not ln.startswith("environment:")
                ]
                parts.append(f"--- {name} (tail)\n" + "\n".join(body_lines[-15:]))
                break  # the rule's own log if it has one, else the Slurm log
    if len(errors) > 4:
        parts.append(f"... and {len(errors) - 4} more failed jobs")
    if not errors:
        parts.append("=== snakemake log (tail)\n" + "\n".join(text.splitlines()[-40:]))
    ctld = (
        Path(os.environ.get("FLAREPIPE_SLURM_DIR", "/tmp/flarepipe-slurm"))
        / "log"
        / "slurmctld.log"
    )
    if ctld.is_file():
        parts.append("=== slurmctld.log (tail)\n" + _tail(ctld, 12))
    return "\n".join(parts)


def _profile(name: str) -> dict:
    return yaml.safe_load((PROFILES / name / "profile.yaml").read_text())


def _workflow_rules() -> dict[str, str] | None:
    """Rule name -> the text of its definition, from the Snakefile and rules/*.smk."""
    files = [ROOT / "Snakefile", ROOT / "workflow" / "Snakefile"]
    files += sorted((ROOT / "rules").glob("*.smk")) + sorted(
        (ROOT / "workflow" / "rules").glob("*.smk")
    )
    files = [f for f in files if f.is_file()]
    if not files:
        return None
    rules = {}
    for f in files:
        # rules at any indentation (a study's rules sit inside `if <study>.enabled:`)
        parts = re.split(r"^(?=[ \t]*(?:local)?rule\s+\w+\s*:)", f.read_text(), flags=re.M)
        for part in parts:
            m = re.match(r"([ \t]*)rule\s+(\w+)\s*:", part)
            if m:
                # the definition ends at the next non-blank, non-comment line indented no deeper
                # than the rule itself
                indent = len(m.group(1))
                end = re.compile(rf"\n(?=[ \t]{{0,{indent}}}[^\s#])")
                rules[m.group(2)] = end.split(part)[0]
    return rules


# ---- no Slurm needed ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["slurm", "slurm-ci", "local"])
def test_profile_parses_and_every_entry_is_commented(name):
    path = PROFILES / name / "profile.yaml"
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict) and doc
    lines = path.read_text().splitlines()
    uncommented = []
    for i, line in enumerate(lines):
        if not re.match(r"^\s*[A-Za-z_][\w-]*:", line) or line.lstrip().startswith("#"):
            continue
        prev = next((p for p in reversed(lines[:i]) if p.strip()), "")
        if "#" not in line and not prev.lstrip().startswith("#"):
            uncommented.append(f"{path.name}:{i + 1}: {line.strip()}")
    assert not uncommented, "entries without a comment:\n" + "\n".join(uncommented)


def test_slurm_profile_settings():
    prof = _profile("slurm")
    assert prof["executor"] == "slurm"
    assert {"runtime", "mem_mb"} <= set(prof["default-resources"])
    # cpus_per_task would override `threads` of every rule that does not set it
    assert "cpus_per_task" not in prof["default-resources"]
    ci = _profile("slurm-ci")
    assert ci["slurm-status-command"] == "squeue"
    # slurm-up.sh sets MinJobAge=300: squeue is only reliable if 3 x the first delay stays below it
    assert 3 * ci["slurm-init-seconds-before-status-checks"] <= 300
    assert "default-resources" not in ci and "set-resources" not in ci, (
        "slurm-ci is an overlay: replacing these would drop the user profile's entries"
    )
    assert _profile("local").get("executor", "local") == "local"


def test_set_resources_match_rules():
    """set-resources names real rules (Snakemake ignores unknown names silently), and every rule
    that declares a `gpu` resource is sent to a partition in profiles/slurm."""
    rules = _workflow_rules()
    if rules is None:
        pytest.skip("no Snakefile/rules yet")
    for name in ("slurm", "local"):
        unknown = sorted(set(_profile(name).get("set-resources") or {}) - set(rules))
        assert not unknown, f"profiles/{name}: set-resources for rules that do not exist: {unknown}"
    gpu_rules = sorted(r for r, body in rules.items() if re.search(r"^\s+gpus?\s*=", body, re.M))
    routed = {
        r
        for r, v in (_profile("slurm").get("set-resources") or {}).items()
        if "slurm_partition" in v
    }
    assert not set(gpu_rules) - routed, (
        f"rules with a gpu resource but no slurm_partition in profiles/slurm set-resources: "
        f"{sorted(set(gpu_rules) - routed)}"
    )


def test_parse_snakemake_log():
    log = (
        "rule train:\n    output: m.ckpt\n    jobid: 3\n    wildcards: run=0\n"
        "    resources: tmpdir=<TBD>, mem_mb=2000, runtime=10, cpus_per_task=2, gpu=1\n"
        "sbatch call: sbatch --parsable --output /x/rule_train/0/%j.log -p gpu --gpus=1 "
        '--wrap="..."\n'
        "Job 3 has been submitted with SLURM jobid 17 (log: /x/rule_train/0/17.log).\n"
        "localrule all:\n    input: m.ckpt\n    jobid: 0\n"
    )
    jobs = parse_snakemake_log(log)
    assert jobs["3"].rule == "train" and not jobs["3"].local
    assert jobs["3"].resources["gpu"] == "1" and jobs["3"].slurm_id == "17"
    assert "--gpus=1" in jobs["3"].sbatch
    assert jobs["0"].local and jobs["0"].slurm_id is None


# ---- `snakemake --profile slurm` by name (flarepipe-install-profile, docs/HPC.md) -------------


def _user_env(tmp_path: Path) -> dict[str, str]:
    """A user with an empty home: Snakemake's user and site config dirs under tmp_path."""
    env = _clean_env()
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "home" / ".config"),
        XDG_CONFIG_DIRS=str(tmp_path / "site"),  # keeps /etc/xdg/snakemake out of the lookup
        PYTHONPATH=str(ROOT / "src"),
    )
    (tmp_path / "home").mkdir(exist_ok=True)
    return env


def _dry_run(name: str, workdir: Path, env: dict[str, str], *args: str):
    """`snakemake --profile <name> -n` on the tiny config, run from ``workdir``."""
    workdir.mkdir(exist_ok=True)
    shutil.copy(ROOT / "config.yaml", workdir / "config.yaml")
    cmd = [sys.executable, "-m", "snakemake", "--profile", name, "-n"]
    cmd += ["--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir)]
    cmd += ["--configfile", str(ROOT / TINY_CONFIG), *args]
    return subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)


def _install(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "flarepipe.tools.install_profile", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_profile_by_name_after_install(tmp_path):
    """`snakemake --profile slurm` fails in a fresh account, works once the profile is installed."""
    if not (ROOT / TINY_CONFIG).is_file():
        pytest.skip(f"{TINY_CONFIG} does not exist yet")
    env = _user_env(tmp_path)
    before = _dry_run("slurm", tmp_path / "work", env)
    assert before.returncode != 0
    assert "no profile.yaml" in before.stdout + before.stderr

    done = _install(env)  # default: slurm and local, into $XDG_CONFIG_HOME/snakemake
    assert done.returncode == 0, done.stdout + done.stderr
    installed = tmp_path / "home" / ".config" / "snakemake" / "slurm"
    assert installed.is_symlink() and installed.resolve() == (PROFILES / "slurm").resolve()
    assert (installed.parent / "local").resolve() == (PROFILES / "local").resolve()

    after = _dry_run("slurm", tmp_path / "work", env)
    out = after.stdout + after.stderr
    assert after.returncode == 0, out[-4000:]
    assert "This was a dry-run" in out
    # the profile was applied: its set-resources send the training jobs to the GPU partition
    train = [b for b in out.split("\n\n") if re.search(r"^rule train:", b.strip(), re.M)]
    assert train and all("slurm_partition=gpu" in b for b in train), out[-4000:]
    # installing again changes nothing (an existing other profile: test_install_profile_rules)
    again = _install(env, "slurm")
    assert again.returncode == 0 and "already a link" in again.stdout


def test_install_profile_rules(tmp_path):
    from flarepipe.tools.install_profile import InstallError, install_profile, main

    repo = tmp_path / "repo"
    (repo / "profiles" / "p").mkdir(parents=True)
    (repo / "profiles" / "p" / "profile.yaml").write_text("# inside\njobs: 2\n")
    (repo / "profiles" / "p" / "extra.yaml").write_text("x: 1\n")
    dest = tmp_path / "cfg" / "snakemake"

    first = install_profile("p", repo / "profiles", dest)
    assert first.action == "linked" and (dest / "p").resolve() == (repo / "profiles" / "p")
    assert install_profile("p", repo / "profiles", dest).action == "unchanged"
    with pytest.raises(InstallError, match=r"no such profile.*profiles in .*: p$"):
        install_profile("nope", repo / "profiles", dest)

    # a different profile of that name (a site's own `slurm`, say) is never replaced silently
    (dest / "q").mkdir()
    (dest / "q" / "profile.yaml").write_text("jobs: 9\n")
    with pytest.raises(InstallError, match=r"q exists \(a folder\); pass --force"):
        install_profile("p", repo / "profiles", dest, installed_name="q")
    forced = install_profile("p", repo / "profiles", dest, installed_name="q", force=True)
    assert forced.backup == dest / "q.bak" and (dest / "q.bak" / "profile.yaml").exists()
    assert (dest / "q").resolve() == repo / "profiles" / "p"

    # --copy: a snapshot of the whole folder (files next to profile.yaml come along)
    copied = install_profile("p", repo / "profiles", tmp_path / "copy", copy=True)
    assert copied.action == "copied" and not copied.path.is_symlink()
    assert (copied.path / "extra.yaml").read_text() == "x: 1\n"

    # the command line: --as needs one name; errors are one line on stderr, exit status 1
    assert main(["p", "--source", str(repo / "profiles"), "--dest", str(dest), "--as", "r"]) == 0
    assert (dest / "r").resolve() == repo / "profiles" / "p"
    assert main(["p", "q", "--as", "r", "--dest", str(dest)]) == 2
    assert main(["nope", "--source", str(repo / "profiles"), "--dest", str(dest)]) == 1


def test_installed_profile_keeps_relative_paths(tmp_path):
    """A relative path in the profile resolves through the installed link as from profiles/<name>;
    a copy, which would lose it, is refused with the reason."""
    from flarepipe.tools.install_profile import InstallError, install_profile

    repo = tmp_path / "repo"
    (repo / "profiles" / "p").mkdir(parents=True)
    (repo / "cfg.yaml").write_text("marker: from-the-profile\n")
    (repo / "profiles" / "p" / "profile.yaml").write_text(
        "# a file of the repository\nconfigfile: ../../cfg.yaml\n"
    )
    (tmp_path / "wf").mkdir()
    (tmp_path / "wf" / "Snakefile").write_text(
        'print("MARKER=" + str(config.get("marker")))\n\n\nrule all:\n    input: []\n'
    )
    env = _user_env(tmp_path)
    install_profile("p", repo / "profiles", Path(env["XDG_CONFIG_HOME"]) / "snakemake")
    (tmp_path / "elsewhere").mkdir()
    cmd = [sys.executable, "-m", "snakemake", "--profile", "p", "-n"]
    cmd += ["--snakefile", str(tmp_path / "wf" / "Snakefile")]
    res = subprocess.run(
        cmd, cwd=tmp_path / "elsewhere", env=env, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "MARKER=from-the-profile" in res.stdout + res.stderr
    with pytest.raises(InstallError, match=r"configfile: \.\./\.\./cfg\.yaml.*without --copy"):
        install_profile("p", repo / "profiles", tmp_path / "copy", copy=True)


def test_install_profile_entry_point():
    """pyproject's console script names a callable that exists (pip generates the wrapper)."""
    import importlib
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, func = scripts["flarepipe-install-profile"].split(":")
    assert callable(getattr(importlib.import_module(module), func))


# ---- needs the Slurm test cluster --------------------------------------------------------------


@pytest.fixture(scope="module")
def slurm_cluster():
    for tool in ("sbatch", "squeue", "scontrol"):
        if shutil.which(tool) is None:
            _skip_or_fail(
                f"`{tool}` not found: no Slurm here (start one with `bash scripts/slurm-up.sh`)"
            )
    try:
        ping = _run(["scontrol", "ping"])
    except subprocess.TimeoutExpired:
        _skip_or_fail("`scontrol ping` timed out: slurmctld not reachable")
    if "UP" not in ping.stdout:
        _skip_or_fail(
            "slurmctld is not running (`scontrol ping`: "
            f"{(ping.stdout + ping.stderr).strip()!r}); start it with `bash scripts/slurm-up.sh`"
        )
    config = _run(["scontrol", "show", "config"]).stdout
    m = re.search(r"^ClusterName\s*=\s*(\S+)", config, re.M)
    if not m or m.group(1) != TEST_CLUSTER_NAME:
        _skip_or_fail(
            f"Slurm cluster {m.group(1) if m else '?'!r} is not the scripts/slurm-up.sh test "
            f"cluster (ClusterName={TEST_CLUSTER_NAME}); not submitting test jobs to it"
        )
    age = re.search(r"^MinJobAge\s*=\s*(\d+)", config, re.M)
    init = _profile("slurm-ci")["slurm-init-seconds-before-status-checks"]
    if age and int(age.group(1)) < max(120, 3 * init):
        pytest.fail(f"MinJobAge={age.group(1)} s is too short for squeue status checks")
    return config


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster):
    """Run the tiny workflow through profiles/slurm once; return (workdir, log text, jobs, seconds).

    The copy lives in its own temporary directory (not pytest's tmp_path, which a concurrent pytest
    run may prune); it is removed after a successful run and kept, with its path in the failure
    message, after a failed one (FLAREPIPE_SLURM_TEST_KEEP=1 keeps it always).
    """
    if not (ROOT / "Snakefile").is_file() and not (ROOT / "workflow" / "Snakefile").is_file():
        _skip_or_fail("no Snakefile in the repository yet")
    if not (ROOT / TINY_CONFIG).is_file():
        _skip_or_fail(f"{TINY_CONFIG} does not exist yet")
    base = Path(tempfile.mkdtemp(prefix="flarepipe-slurm-test-"))
    work = base / "flarepipe"
    shutil.copytree(ROOT, work, ignore=_copy_ignore, symlinks=True)
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--profile",
        "profiles/slurm",
        "--profile",
        "profiles/slurm-ci",
        "--configfile",
        TINY_CONFIG,
        "--verbose",  # logs the sbatch calls, and makes each job log its environment
    ]
    log_path = work / "snakemake-slurm.log"
    t0 = time.monotonic()
    with open(log_path, "w") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        proc = subprocess.Popen(
            cmd,
            cwd=work,
            env=_clean_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            rc = proc.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGINT)  # Snakemake cancels its Slurm jobs on SIGINT
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            rc = None
    seconds = time.monotonic() - t0
    text = log_path.read_text(errors="replace")
    if rc != 0:
        what = f"timed out after {TIMEOUT_S} s" if rc is None else f"exited with {rc}"
        pytest.fail(
            f"snakemake {what} after {seconds:.0f} s in {work} (kept; full log {log_path.name})\n"
            + _failure_report(work, text),
            pytrace=False,
        )
    yield work, text, parse_snakemake_log(text), seconds
    if os.environ.get("FLAREPIPE_SLURM_TEST_KEEP") != "1":
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slurm
def test_tiny_workflow_runs_through_sbatch(slurm_run):
    work, text, jobs, seconds = slurm_run
    submitted = [j for j in jobs.values() if j.slurm_id]
    local = sorted({j.rule for j in jobs.values() if j.local})
    not_submitted = [
        f"{j.rule} (job {j.jobid})" for j in jobs.values() if not j.local and not j.slurm_id
    ]
    assert submitted, "no job was submitted to Slurm"
    assert not not_submitted, (
        f"jobs that are not localrules but were not submitted: {not_submitted}"
    )

    problems = []
    rows = []
    for j in sorted(submitted, key=lambda j: int(j.slurm_id)):
        if j.sbatch is None:
            problems.append(f"{j.rule} (Slurm {j.slurm_id}): no sbatch call found in the log")
        if not j.slurm_log.is_file():
            problems.append(f"{j.rule} (Slurm {j.slurm_id}): Slurm log {j.slurm_log} missing")
            continue
        env = _job_env(j.slurm_log)
        if env.get("SLURM_JOB_ID") != j.slurm_id:
            problems.append(
                f"{j.rule}: its Slurm log does not show SLURM_JOB_ID={j.slurm_id} "
                f"(found {env.get('SLURM_JOB_ID')!r}): did it run under Slurm?"
            )
        info = _scontrol_show_job(j.slurm_id)
        if info and info.get("JobState") != "COMPLETED":
            problems.append(f"{j.rule} (Slurm {j.slurm_id}): JobState={info.get('JobState')}")
        rows.append(
            f"{j.slurm_id:>5} {j.rule:<24} partition={env.get('SLURM_JOB_PARTITION', '?'):<6} "
            f"cpus={env.get('SLURM_CPUS_PER_TASK', '?'):<3} "
            f"gpus={env.get('SLURM_GPUS_ON_NODE', '-'):<2} "
            f"{info.get('RunTime', '')}"
        )
    print(
        f"\ntiny workflow through Slurm: {len(submitted)} jobs submitted, local rules: {local}, "
        f"wall time {seconds:.1f} s"
    )
    print("\n".join(rows))
    assert not problems, "\n".join(problems)


@pytest.mark.slurm
def test_gpu_jobs_asked_slurm_for_gpus(slurm_run):
    work, text, jobs, seconds = slurm_run
    set_resources = _profile("slurm").get("set-resources") or {}
    submitted = [j for j in jobs.values() if j.slurm_id]
    train = [j for j in submitted if TRAIN_RULE.search(j.rule)]
    assert train, f"no training job among the submitted jobs: {sorted({j.rule for j in submitted})}"
    problems = []
    for j in submitted:
        ngpu = int(j.resources.get("gpu", "0") or 0)
        sbatch = j.sbatch or ""
        if TRAIN_RULE.search(j.rule) and ngpu < 1:
            problems.append(f"{j.rule}: a training rule without a `gpu` resource ({j.resources})")
        if ngpu < 1:
            if re.search(r"--gpus[= ]|--gres[= ]\S*gpu", sbatch):
                problems.append(
                    f"{j.rule}: declares no GPU but sbatch asks for one: {sbatch[:300]}"
                )
            continue
        if f"--gpus={ngpu}" not in sbatch:
            problems.append(
                f"{j.rule}: gpu={ngpu} but the sbatch call lacks --gpus={ngpu}: {sbatch[:300]}"
            )
        env = _job_env(j.slurm_log) if j.slurm_log and j.slurm_log.is_file() else {}
        if env.get("SLURM_GPUS_ON_NODE") != str(ngpu):
            problems.append(
                f"{j.rule} (Slurm {j.slurm_id}): job saw SLURM_GPUS_ON_NODE="
                f"{env.get('SLURM_GPUS_ON_NODE')!r}, expected {ngpu}"
            )
        want_partition = (set_resources.get(j.rule) or {}).get("slurm_partition")
        if not want_partition:
            problems.append(
                f"{j.rule}: asks for a GPU but profiles/slurm gives it no slurm_partition"
            )
        elif env.get("SLURM_JOB_PARTITION") != want_partition:
            problems.append(
                f"{j.rule}: ran in partition {env.get('SLURM_JOB_PARTITION')!r}, "
                f"profiles/slurm says {want_partition!r}"
            )
        info = _scontrol_show_job(j.slurm_id)
        if info and "gpu" not in (info.get("TresPerJob", "") + info.get("TresPerNode", "")):
            problems.append(f"{j.rule} (Slurm {j.slurm_id}): scontrol shows no GPU request: {info}")
    assert not problems, "\n".join(problems)
