# Set-up and the two Quick-start commands. Everything installs into .venv from requirements.txt (the
# pinned set of pyproject.toml's dependencies and extras), then the package itself (editable).
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)
CORES ?= 2

.PHONY: run test test-studies lint format install-profiles report dag clean reproduce

$(STAMP): requirements.txt pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	$(VENV)/bin/pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $(STAMP)

## run: set up, then run the workflow on the embedded synthetic archive (config.yaml)
run: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES)

## test: set up, then run the test suite
test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

## test-studies: the study end-to-end tests that take minutes (left out of `make test`; CI runs them)
test-studies: $(STAMP)
	$(VENV)/bin/python -m pytest -q -m study

## reproduce: set up, then Sun et al. 2022 (LSTM + logistic regression, 4 datasets x 10 runs) on the
## real keyword tables in REAL: the workflow with config/studies/sun2022_tables.yaml; writes
## results/sun2022_real/evaluation/metrics.md and results/sun2022_real/audit/relabel_agreement.md
REAL ?= ../shared/data/real
reproduce: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES) --configfile config/studies/sun2022_tables.yaml \
		--config 'archive={tables: {data_dir: "$(REAL)"}}'

## report: self-contained HTML report of the last run, plus rule graph and job DAG (needs graphviz)
report: $(STAMP)
	$(VENV)/bin/snakemake --report results/report.html
	$(VENV)/bin/snakemake --rulegraph > results/rulegraph.dot
	$(VENV)/bin/snakemake --dag > results/dag.dot
	-dot -Tsvg results/rulegraph.dot -o results/rulegraph.svg && dot -Tsvg results/dag.dot -o results/dag.svg

## lint: set up, then ruff check, ruff format --check, snakefmt --check and snakemake --lint (CI runs
## this); every check runs, and the target fails if any of them found something
LINT_CHECKS := "ruff check ." "ruff format --check ." "snakefmt --check Snakefile rules/" "snakemake --lint"
lint: $(STAMP)
	@status=0; for check in $(LINT_CHECKS); do \
	  echo "+ $$check"; $(VENV)/bin/$$check || status=1; \
	done; exit $$status

## format: rewrite the sources the way `make lint` wants them (ruff format and fixes, snakefmt)
format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/snakefmt Snakefile rules/

## install-profiles: link profiles/slurm and profiles/local into Snakemake's user config directory
## (~/.config/snakemake/), so that `snakemake --profile slurm` works by name (docs/HPC.md)
PROFILES ?= slurm local
install-profiles: $(STAMP)
	$(VENV)/bin/flarepipe-install-profile $(PROFILES)

clean:
	rm -rf results .snakemake
