"""Atomic file output: write to a temporary name beside the target, then rename into place.

A killed job therefore never leaves a file that looks complete under its final name. The renamed
file gets the mode an ordinary ``open`` would give it (``0o666`` less the umask), not the
``0o600`` of :func:`tempfile.mkstemp`, so group members of a shared project can read results.
Temporary files that a killed writer left beside the target are removed by the next write of the
same target (one writer per target at a time: Snakemake locks its working directory); a writer of
many files into one folder removes them once with :func:`remove_stale_temporaries` and writes with
``clean=False`` (listing a folder of 10⁴ files for each of them made writing quadratic).
:func:`require_free_space` turns a disk too full for a large write into a clear error before it
starts (h5py crashes on a full disk).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pandas as pd

__all__ = [
    "atomic_path",
    "write_csv",
    "write_json",
    "write_text",
    "write_npz",
    "sha256_file",
    "require_free_space",
    "stale_temporaries",
    "remove_stale_temporaries",
    "IntegrityError",
    "integrity_path",
    "record_integrity",
    "record_table",
    "verify_integrity",
    "LINK_MODES",
    "place_file",
]

#: how :func:`place_file` takes a file into a folder
LINK_MODES = ("symlink", "hardlink", "copy")


def _umask() -> int:
    """The process umask, read without changing it where the system allows (Linux)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: set and restore (a brief window for other threads)
    os.umask(mask)
    return mask


def _temp_pattern(target: Path, suffix: str) -> re.Pattern:
    # tempfile.mkstemp's names: prefix + 8 characters of [a-z0-9_] + suffix
    return re.compile(rf"^\.{re.escape(target.name)}\.[a-z0-9_]{{8}}{re.escape(suffix)}$")


def stale_temporaries(target: str | os.PathLike, suffix: str = ".part") -> list[Path]:
    """Temporary files of ``target`` (made by :func:`atomic_path` with ``suffix``) in its folder."""
    target = Path(target)
    if not target.parent.is_dir():
        return []
    pat = _temp_pattern(target, suffix)
    return sorted(p for p in target.parent.iterdir() if pat.match(p.name) and p.is_file())


def remove_stale_temporaries(folder: str | os.PathLike, suffix: str = ".part") -> int:
    """Remove the temporary files of every target in ``folder`` (made by :func:`atomic_path` with
    ``suffix``), listing the folder once; return how many were removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    pat = re.compile(rf"^\..+\.[a-z0-9_]{{8}}{re.escape(suffix)}$")
    n = 0
    with os.scandir(folder) as it:
        for entry in it:
            if pat.match(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    n += 1
    return n


def require_free_space(
    folder: str | os.PathLike, need_bytes: int, what: str, margin: float = 1.1
) -> None:
    """Raise ``OSError(ENOSPC)`` naming ``what`` when ``folder``'s disk has less than
    ``margin * need_bytes`` free (the folder is created if needed).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    need = int(need_bytes * margin)
    if free < need:
        raise OSError(
            errno.ENOSPC,
            f"{what}: needs about {need / 1e6:.1f} MB, only {free / 1e6:.1f} MB free on the disk "
            f"of {folder}; free space there (or point results at another disk) and rerun",
        )


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None, *, clean: bool = True):
    """Yield a temporary path in the target's folder; rename it onto ``target`` on success.

    Temporary files of the same target left by a killed writer are removed first (``clean=False``:
    the caller has removed them, :func:`remove_stale_temporaries`). On success the
    file gets mode ``0o666 & ~umask``. On an exception the temporary file is removed and the target
    is left untouched.
    """
    target = Path(target)
    suffix = suffix or ".part"
    target.parent.mkdir(parents=True, exist_ok=True)
    for old in stale_temporaries(target, suffix) if clean else ():
        with contextlib.suppress(FileNotFoundError):
            old.unlink()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.is_file():
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_csv(df: pd.DataFrame, target: str | os.PathLike, **kwargs) -> None:
    """Write a DataFrame as CSV atomically (no index unless asked)."""
    kwargs.setdefault("index", False)
    with atomic_path(target) as tmp:
        df.to_csv(tmp, **kwargs)


def write_json(obj, target: str | os.PathLike) -> None:
    """Write JSON atomically, sorted and indented for stable diffs."""
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_text(text: str, target: str | os.PathLike) -> None:
    """Write text atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def write_npz(target: str | os.PathLike, arrays: dict, what: str | None = None) -> None:
    """Write ``arrays`` as a compressed ``.npz`` atomically, after checking the disk has room for
    them uncompressed (:func:`require_free_space`; ``what`` names the output in the error).
    """
    import numpy as np

    need = sum(int(np.asarray(a).nbytes) for a in arrays.values())
    require_free_space(Path(target).parent, need, what or str(target), margin=1.0)
    with atomic_path(target, suffix=".npz") as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


class IntegrityError(ValueError):
    """A stage output no longer is what its writer recorded (truncated or changed since)."""


def integrity_path(target: str | os.PathLike) -> Path:
    """The hidden record beside ``target``: ``.<name>.integrity.json``."""
    target = Path(target)
    return target.with_name(f".{target.name}.integrity.json")


def record_integrity(
    target: str | os.PathLike, rows: int | None = None, checksum: bool = True
) -> dict:
    """Record ``target``'s size, SHA-256 (``checksum``) and row count for :func:`verify_integrity`.

    Called by the writers of stage outputs right after the atomic rename. Large binary outputs
    (shards) record only the size, which a truncation always changes and costs nothing to check.
    """
    target = Path(target)
    rec: dict = {"name": target.name, "size": target.stat().st_size}
    if checksum:
        rec["sha256"] = sha256_file(target)
    if rows is not None:
        rec["rows"] = int(rows)
    write_json(rec, integrity_path(target))
    return rec


def record_table(target: str | os.PathLike) -> dict:
    """:func:`record_integrity` of a written CSV table with its row count (read back)."""
    return record_integrity(target, rows=len(pd.read_csv(target, usecols=[0])))


def verify_integrity(target: str | os.PathLike, rows: int | None = None) -> None:
    """Check ``target`` against its :func:`record_integrity` record (none recorded: nothing to do).

    Raises
    ------
    IntegrityError
        Naming the file, what differs and what to do: the size, checksum or (when ``rows`` is
        given) the row count is not the one recorded when the file was written.
    """
    target = Path(target)
    side = integrity_path(target)
    if not side.is_file():
        return
    try:
        rec = json.loads(side.read_text())
    except (OSError, json.JSONDecodeError):
        return  # a torn record (killed writer) proves nothing; the output rename came after it
    problems = []
    size = target.stat().st_size
    if rec.get("size") is not None and size != rec["size"]:
        problems.append(f"{size} bytes, {rec['size']} when written")
    elif rec.get("sha256") and sha256_file(target) != rec["sha256"]:
        problems.append("its SHA-256 differs from the one recorded when it was written")
    if rows is not None and rec.get("rows") is not None and int(rows) != int(rec["rows"]):
        problems.append(f"{rows} rows, {rec['rows']} when written")
    if problems:
        raise IntegrityError(
            f"{target}: {'; '.join(problems)} (recorded in {side.name}): truncated or changed "
            "outside the workflow. Delete it and rerun: the workflow rebuilds a missing output"
        )


def place_file(src: str | os.PathLike, dst: str | os.PathLike, link: str = "symlink") -> str:
    """Put ``src`` at ``dst`` as a symlink (to its absolute path), a hard link or a copy.

    A copy is written atomically. ``link="hardlink"`` falls back to a copy where the two paths
    are on different filesystems (or the filesystem has no hard links). An existing ``dst`` is
    replaced. Returns the mode used.

    Raises
    ------
    ValueError
        ``link`` is not one of :data:`LINK_MODES`.
    """
    if link not in LINK_MODES:
        raise ValueError(f"link must be one of {LINK_MODES}, got {link!r}")
    src, dst = Path(src), Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    if link == "symlink":
        dst.symlink_to(src.resolve())
        return link
    if link == "hardlink":
        try:
            os.link(src, dst)
            return link
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise
    with atomic_path(dst, suffix=".part") as tmp:
        shutil.copyfile(src, tmp)
    return "copy"
