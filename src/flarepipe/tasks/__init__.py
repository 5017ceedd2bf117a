"""LightningModules: a task wraps a registered network with its loss, metrics and optimiser."""
