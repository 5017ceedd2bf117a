"""Command-line helpers for the machines flarepipe runs on (no workflow logic).

* :mod:`flarepipe.tools.install_profile` -- ``flarepipe-install-profile``: install the repository's
  Snakemake profiles under the user's Snakemake config directory, so that
  ``snakemake --profile slurm`` finds them by name.
* :mod:`flarepipe.tools.jobs` -- ``rule_job``: how every ``workflow/scripts/<rule>.py`` runs its
  stage (output in the rule's log; a failure said in one console line naming the config file).
"""

__all__: list[str] = []
