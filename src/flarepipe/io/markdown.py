"""Markdown pipe tables of data frames, without optional dependencies (pandas' ``to_markdown``
needs ``tabulate``, which the job environments do not carry).
"""

from __future__ import annotations

import pandas as pd

__all__ = ["pipe_table"]


def pipe_table(table: pd.DataFrame, digits: int = 3) -> str:
    """A pipe table of ``table``; floats with ``digits`` decimals, missing values empty."""

    def cell(v) -> str:
        if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
            return ""
        return f"{v:.{digits}f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    lines += [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)
    ]
    return "\n".join(lines)
