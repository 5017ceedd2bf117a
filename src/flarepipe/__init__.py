"""flarepipe: from the JSOC archive and the GOES catalogue to evaluated flare-prediction models.

The package is importable and testable without Snakemake; the workflow's scripts are thin adapters
around the functions of one module per stage.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
