"""Command-line helpers for the machines flarepipe runs on (no workflow logic).

* :mod:`flarepipe.tools.install_profile` -- ``flarepipe-install-profile``: install the repository's
  Snakemake profiles under the user's Snakemake config directory, so that
  ``snakemake --profile slurm`` finds them by name.
"""

__all__: list[str] = []
