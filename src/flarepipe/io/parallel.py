"""Order-preserving map over many small items in worker processes (FITS reads are CPU-bound)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

__all__ = ["map_chunked"]


def _apply(args: tuple[Callable[[Any], Any], list]) -> list:
    func, chunk = args
    return [func(x) for x in chunk]


def map_chunked(
    func: Callable[[Any], Any],
    items: Iterable,
    workers: int = 1,
    min_items: int = 1000,
    max_chunk: int = 500,
) -> list:
    """``[func(x) for x in items]``, in ``workers`` processes when there are at least ``min_items``.

    Items go to the processes in chunks (at most ``max_chunk``, about eight per worker) so that
    pickling costs little; ``func`` must be picklable (a module-level function or a ``partial`` of
    one). The result, in item order, does not depend on ``workers``.
    """
    items = list(items)
    if workers <= 1 or len(items) < min_items:
        return [func(x) for x in items]
    size = max(1, min(max_chunk, len(items) // (8 * workers)))
    chunks = [(func, items[i : i + size]) for i in range(0, len(items), size)]
    with ProcessPoolExecutor(max_workers=workers) as ex:
        return [r for part in ex.map(_apply, chunks) for r in part]
