"""``flarepipe inspect PATH``: what flarepipe reads from a keyword table, FITS folder or flare list.

Run it on an input before the workflow, to see what the archive stage will make of it::

    flarepipe inspect export.csv --config my.yaml     # a keyword table, with my archive options
    flarepipe inspect /data/sharp                     # a folder of FITS exports
    flarepipe inspect flares.tsv --kind flares        # a flare list

It reads the input with the same functions as the ``local``/``tables`` sources (the options of
``archive.local`` or ``archive.tables`` from ``--config`` files, else the defaults) and prints:
for a table, its format, the columns mapped to each flarepipe name, those recognised by their
JSOC names, the extra keyword columns kept and the columns ignored, the rows rejected per reason
and repaired, the time range (UTC) and the regions; for a FITS folder, the files per segment, the
records, where each keyword will come from (header card, alias, computed from the map), the time
range and regions; for a flare list, its format and columns, flares read, rejected and repaired
per reason, the time range and NOAA regions. A problem is printed as one line, exit status 1.
"""

from __future__ import annotations

import argparse
import glob
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["KINDS", "detect_kind", "inspect_path", "main"]

#: what ``--kind`` may name
KINDS: tuple[str, ...] = ("table", "fits", "flares")


def detect_kind(path: str | Path) -> str:
    """``fits`` for a folder, ``flares`` for a file a flare-list reader knows, else ``table``."""
    from flarepipe.archive.catalogues.flares import detect_flare_format

    p = Path(path)
    if p.is_dir():
        return "fits"
    return "flares" if detect_flare_format(p) else "table"


def _reasons(df: pd.DataFrame) -> dict[str, int]:
    if not len(df):
        return {}
    kinds = (
        df["reason"]
        .astype(str)
        .str.replace(r"\[[^\]]*\]|'[^']*'|\S*\d\S*", "", regex=True)
        .str.split()
        .str.join(" ")
    )
    return {str(k): int(v) for k, v in kinds.value_counts().items()}


def _time_range(t: pd.Series) -> str:
    t = pd.to_datetime(t)
    return f"{t.min()} .. {t.max()} UTC" if len(t) else "(none)"


def _table(path: Path, sec: Mapping[str, Any], name: str) -> list[str]:
    from flarepipe.archive.catalogues.flares import read_harp_noaa_map
    from flarepipe.archive.catalogues.keyword_tables import (
        DEFAULT_TABLE_COLUMN_MAP,
        TableOptions,
        read_keyword_tables,
    )

    keys = (
        "constants",
        "sep",
        "decimal",
        "time_format",
        "time_scale",
        "grid_minutes",
        "grid_tolerance_minutes",
        "keep_extra",
    )
    opts = TableOptions(
        column_map=dict(sec.get("column_map") or {}),
        section=name,
        **{k: sec[k] for k in keys if k in sec},
    )
    harp = read_harp_noaa_map(sec["harp_noaa_map"]) if sec.get("harp_noaa_map") else None
    res = read_keyword_tables([path], opts, harp_noaa=harp)
    info, t = res.info[0], res.table
    mapped = info["mapped"]
    explicit = set(opts.column_map)
    lines = [f"keyword table {path}", f"  format: {info['format']}"]
    lines.append("  columns mapped ({flarepipe name: table column}):")
    for k, v in mapped.items():
        how = (
            f"{name}.column_map"
            if k in explicit
            else ("default" if DEFAULT_TABLE_COLUMN_MAP.get(k) == v else "recognised by name")
        )
        lines.append(f"    {k:<18} <- {v!r} ({how})")
    for k, v in info["constants"].items():
        lines.append(f"    {k:<18} = {v!r} ({name}.constants)")
    lines.append(f"  extra keyword columns kept: {info['extra_columns'] or 'none'}")
    lines.append(f"  columns ignored: {info['ignored_columns'] or 'none'}")
    lines.append(
        f"  rows: {info['rows']} read, {info['rows_rejected']} rejected "
        f"{_reasons(res.rejected)}, {info['rows_repaired']} repaired {_reasons(res.repaired)}"
    )
    lines.append(f"  times: scale {info['time_scale']}, {_time_range(t['t_end'])}")
    regions = sorted(t["region_id"].unique())
    lines.append(f"  regions: {len(regions)} {regions[:8]}{' ...' if len(regions) > 8 else ''}")
    if info["regions_from_noaa"]:
        lines.append(f"  region numbers from NOAA numbers: {info['regions_from_noaa']} rows")
    return lines


def _fits(path: Path, sec: Mapping[str, Any]) -> list[str]:
    from flarepipe.archive.catalogues.fits_keywords import complete_keywords, file_segment
    from flarepipe.io.fitsio import header_to_record, read_patch

    pattern = sec.get("fits_glob") or "**/*.fits"
    segment = sec.get("segment") or "magnetogram"
    files = sorted(Path(f) for f in glob.glob(str(path / pattern), recursive=True))
    per_seg: dict[str, int] = {}
    recs, prov, bad = [], [], []
    for f in files:
        seg = file_segment(f) or "(not a JSOC name)"
        per_seg[seg] = per_seg.get(seg, 0) + 1
        if seg not in (segment, "(not a JSOC name)"):
            continue
        try:
            data, header = read_patch(f)
            rec = header_to_record(header, f)
            prov += complete_keywords(
                rec,
                data,
                header,
                f,
                aliases=sec.get("header_keywords") or {},
                recompute=sec.get("recompute_keywords") or "missing",
            )
            recs.append(rec)
        except ValueError as exc:
            bad.append(str(exc))
    lines = [f"FITS folder {path} (glob {pattern!r})", f"  files per segment: {per_seg}"]
    lines.append(f"  records (segment {segment!r}): {len(recs)}; unreadable: {len(bad)}")
    lines += [f"    {b}" for b in bad[:5]]
    if prov:
        src = pd.DataFrame(prov).groupby(["keyword", "source"]).size()
        lines.append("  keywords come from:")
        for (k, s), n in src.items():
            lines.append(f"    {k:<18} {s} ({n} records)")
    if recs:
        df = pd.DataFrame(recs)
        lines.append(f"  times: {_time_range(df['t_rec'])}")
        lines.append(f"  regions: {sorted(df['region_id'].unique())[:8]}")
    return lines


def _flares(path: Path, sec: Mapping[str, Any], name: str) -> list[str]:
    from flarepipe.archive.catalogues.flares import read_flare_file

    res = read_flare_file(
        path,
        sec.get("flares_format") or "auto",
        columns=sec.get("flares_columns") or None,
        time_format=sec.get("flares_time_format"),
        key=f"{name}.flares_format",
    )
    f = res.flares
    noaa = f["noaa_ar"].dropna()
    return [
        f"flare list {path}",
        f"  format: {res.format}",
        f"  flares: {len(f)} read, {len(res.rejected)} rejected {_reasons(res.rejected)}, "
        f"{len(res.repaired)} repaired {_reasons(res.repaired)}",
        f"  times: {_time_range(f['start_utc'])}",
        f"  NOAA regions: {noaa.nunique()}; without a region: {int(f['noaa_ar'].isna().sum())}",
    ]


def inspect_path(
    path: str | Path, *, kind: str | None = None, config: Sequence[str | Path] = ()
) -> str:
    """The report ``flarepipe inspect`` prints (module docstring).

    The ``archive`` sections of the ``config`` files are merged (later files win, key by key)
    and validated as the workflow does; the options come from ``archive.local``
    (``archive.tables`` when ``archive.source`` is ``tables``).

    Raises
    ------
    ValueError
        The input cannot be read as ``kind`` (the message names the file, column or key).
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such file or folder")
    kind = kind or detect_kind(path)
    if kind not in KINDS:
        raise ValueError(f"--kind must be one of {list(KINDS)}, got {kind!r}")
    sec: Mapping[str, Any] = {}
    name = "archive.local"
    if config:
        import yaml

        from flarepipe.config import section

        merged: dict = {}
        for f in config:
            merged.update((yaml.safe_load(Path(f).read_text()) or {}).get("archive") or {})
        arch = section("archive", merged, source=[str(f) for f in config])
        src = "tables" if arch.get("source") == "tables" else "local"
        name, sec = f"archive.{src}", arch.get(src) or {}
    if kind == "fits":
        if not path.is_dir():
            raise ValueError(f"{path}: --kind fits needs a folder")
        return "\n".join(_fits(path, sec))
    if kind == "flares":
        return "\n".join(_flares(path, sec, name))
    return "\n".join(_table(path, sec, name))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="flarepipe", description="flarepipe command-line tools")
    sub = p.add_subparsers(dest="command", required=True)
    ins = sub.add_parser("inspect", help="show what flarepipe will read from an input")
    ins.add_argument("path", help="a keyword table, a folder of FITS exports or a flare list")
    ins.add_argument("--kind", choices=KINDS, help="what PATH is (default: guessed)")
    ins.add_argument(
        "--config",
        action="append",
        default=[],
        help="config file(s) whose archive.local/tables options apply (repeatable, merged)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Command line ``flarepipe inspect PATH [--kind K] [--config FILE ...]``; its exit status."""
    args = _parser().parse_args(argv)
    try:
        print(inspect_path(args.path, kind=args.kind, config=args.config))
    except (ValueError, OSError) as exc:
        print(f"flarepipe inspect: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
