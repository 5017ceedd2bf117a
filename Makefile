# Set-up and the two Quick-start commands. Everything installs into .venv from requirements.txt.
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)
CORES ?= 2

.PHONY: run test lint report dag clean reproduce

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

lint: $(STAMP)
	$(VENV)/bin/snakemake --lint

clean:
	rm -rf results .snakemake
