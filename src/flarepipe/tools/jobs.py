"""How a rule script runs its stage: output in the rule's log, a failure said in one line.

Every ``workflow/scripts/<rule>.py`` is::

    from flarepipe.tools.jobs import rule_job

    smk = snakemake  # noqa: F821
    with rule_job(smk):
        from flarepipe.stages.<stage> import run_<rule>

        run_<rule>(**smk.input, ...)

Inside the block, ``stdout`` and ``stderr`` go to the rule's log (``smk.log[0]``, line-buffered),
so the stage's prints, warnings and progress stay with the job. An exception ends the job with
exit status 1 after

* the full traceback and the failure line in the log, and
* one line on the console (the real ``stderr``)::

      rule label failed: ValueError: label: task ... (config: labels.tolerance_minutes at its
      default (not set in config.yaml, my.yaml)) (full detail in results/logs/label.log)

  where the cause is the exception's message on one line, and every config key it names is
  followed by the config file that set it (:func:`flarepipe.config.origin.name_config_files`,
  from the files the workflow exported to ``$FLAREPIPE_CONFIGFILES``).

Snakemake itself then says only that the job failed; the line above says why.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator
from typing import Any

__all__ = ["failure_line", "rule_job"]


def failure_line(rule: str, exc: BaseException, log: str) -> str:
    """The one console line of a failed job: rule, exception type, cause, config files, log."""
    why = " ".join(str(exc).split()) or type(exc).__name__
    try:
        from flarepipe.config.origin import name_config_files

        why = name_config_files(why)
    except Exception as err:  # noqa: BLE001 - the job's own error must never be masked
        why = f"{why} (config files unknown: {err})"
    return f"rule {rule} failed: {type(exc).__name__}: {why} (full detail in {log})"


@contextlib.contextmanager
def rule_job(smk: Any) -> Iterator[None]:
    """Run the block as rule ``smk.rule``'s job (module docstring); exit 1 on an exception.

    Parameters
    ----------
    smk
        The ``snakemake`` object of the script (needs ``log[0]`` and ``rule``).
    """
    log = str(smk.log[0])
    sys.stderr = sys.stdout = open(log, "w", buffering=1)  # noqa: SIM115 - the job's lifetime
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - every failure gets its one line
        traceback.print_exc()
        line = failure_line(str(getattr(smk, "rule", "?")), exc, log)
        print(line, flush=True)
        print(line, file=sys.__stderr__, flush=True)
        raise SystemExit(1) from None
