"""Fit one (dataset, model, run); keyword baselines."""
