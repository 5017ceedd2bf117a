#!/usr/bin/env bash
# Post-deployment script of the conda environments in envs/: Snakemake (--sdm conda) runs
# <env>.post-deploy.sh inside a new environment once, right after creating it from <env>.yaml; the
# four <env>.post-deploy.sh are links to this file. It installs flarepipe itself into the
# environment, editable (code changes apply without rebuilding it) and without dependencies
# (<env>.yaml lists them), so that the workflow scripts can `import flarepipe`.
#
# Snakemake runs it from its working directory, normally the repository root; when you run
# Snakemake elsewhere (--directory), set FLAREPIPE_ROOT=<repository>. An environment then imports
# the checkout it was created from: clones that share one --conda-prefix also share environments,
# so give each clone its own prefix (the default, .snakemake/conda, is per clone).
set -euo pipefail
root=${FLAREPIPE_ROOT:-$PWD}
if ! grep -qs '^name = "flarepipe"$' "$root/pyproject.toml"; then
  echo "envs/post-deploy.sh: $root is not a flarepipe checkout (no pyproject.toml naming" \
    "flarepipe); run snakemake from the repository root or set FLAREPIPE_ROOT=<repository>" >&2
  exit 1
fi
python -m pip install --no-deps --disable-pip-version-check -e "$root"
