"""Metrics, ensembles, tables, paired tests, oracle, plots. Works on prediction files."""
