"""How a rule's script reports a failure: one line on the console, the full detail in its log.

A rule's script sends its output to the rule's log; left alone, a failing stage leaves Snakemake's
console with ``message: None`` and the explanation at the end of a traceback in that log.
:func:`one_line_errors` wraps the stage call: the traceback still goes to the log, and one line
naming the rule, the error and the log goes to the console (the process's original stderr), then
the script exits with status 1.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator

__all__ = ["one_line_errors"]


@contextlib.contextmanager
def one_line_errors(rule: str, log: str) -> Iterator[None]:
    """Run the body; on an exception, log the traceback, print one line, exit with status 1.

    ``KeyboardInterrupt`` and ``SystemExit`` pass through unchanged.
    """
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - every stage error becomes one line and the log
        traceback.print_exc(file=sys.stderr)
        text = " ".join(str(exc).split()) or type(exc).__name__
        line = f"rule {rule} failed: {type(exc).__name__}: {text} (full detail in {log})"
        print(line, file=sys.stderr, flush=True)
        print(line, file=sys.__stderr__, flush=True)
        raise SystemExit(1) from None
