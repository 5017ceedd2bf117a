"""Seeds: the one place where a job's random seed is derived from the configured base seed.

Every rule that draws random numbers gets its seed from :func:`job_seed` (the rules pass it as a
param; the split module calls it for its own draws), so two jobs never derive seeds by two
different formulas by accident, and a new rule states its formula here, in one table.

The formulas are those of flarepipe 0.1, kept so that results do not change::

    rule     seed of run r (base = config split.seed)   used for
    split    derive_seed(base, r)                        region permutation, undersampling
                                                         (k-fold: r is the repetition, run // k)
    train    base * 1000 + r                             network initialisation, batch order
    baseline r  (base not used)                          scikit-learn's random_state

:func:`derive_seed` mixes integers with ``numpy.random.SeedSequence``; it also derives the
sub-streams of one job (e.g. one undersampling stream per split and instrument).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["JOB_SEEDS", "derive_seed", "job_seed"]


def derive_seed(base: int, *keys: int) -> int:
    """A 32-bit seed derived deterministically from a base seed and integer keys.

    Parameters
    ----------
    base
        The base seed (>= 0).
    *keys
        Integers that select the stream (a run, a split index, a hash of a name).

    Returns
    -------
    int
        ``SeedSequence([base, *keys]).generate_state(1)[0]``: equal inputs give equal seeds,
        neighbouring keys give unrelated ones.
    """
    return int(np.random.SeedSequence([int(base), *map(int, keys)]).generate_state(1)[0])


#: rule name -> seed of run ``r`` from the base seed (the table in the module docstring)
JOB_SEEDS: dict[str, Callable[[int, int], int]] = {
    "split": lambda base, run: derive_seed(base, run),
    "train": lambda base, run: base * 1000 + run,
    "baseline": lambda base, run: run,
}


def job_seed(rule: str, base: int, run: int) -> int:
    """The seed of run ``run`` of ``rule``, from the configured base seed.

    Parameters
    ----------
    rule
        A key of :data:`JOB_SEEDS` (``split``, ``train``, ``baseline``).
    base
        The configured base seed (``split.seed``), an integer >= 0.
    run
        The run (repetition or fold) number, an integer >= 0.

    Returns
    -------
    int
        The seed (see the table in the module docstring).

    Raises
    ------
    ValueError
        For a rule without a formula, or a negative or non-integer base or run.
    """
    if rule not in JOB_SEEDS:
        raise ValueError(
            f"job_seed: no seed formula for rule {rule!r}; known: {sorted(JOB_SEEDS)} "
            "(add one to flarepipe.core.seeds.JOB_SEEDS)"
        )
    for name, value in (("base", base), ("run", run)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"job_seed: {name} must be an integer >= 0, got {value!r}")
    return int(JOB_SEEDS[rule](int(base), int(run)))
