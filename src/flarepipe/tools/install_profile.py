"""Install the repository's Snakemake profiles so that ``snakemake --profile <name>`` finds them.

Snakemake 9 looks a profile *name* up in the working directory, then in its user config
directory (``platformdirs.user_config_dir("snakemake")``: ``$XDG_CONFIG_HOME/snakemake``, by
default ``~/.config/snakemake`` on Linux), then in its site config directory
(``/etc/xdg/snakemake``). A path such as ``profiles/slurm`` is used as given. This tool puts
``profiles/<name>`` of the flarepipe checkout under the user config directory (or ``--dest``)::

    flarepipe-install-profile                  # slurm, local -> ~/.config/snakemake/
    flarepipe-install-profile slurm --as flarepipe-slurm   # keep a site profile named slurm
    flarepipe-install-profile --copy           # a private copy to edit, instead of a link
    snakemake --profile slurm -n               # from the repository root

By default the installed profile is a symbolic link to the repository's folder: edits of
``profiles/slurm/profile.yaml`` apply at once, and a relative path in the profile resolves exactly
as it does with ``--profile profiles/slurm`` (Snakemake joins it to the profile folder it read, and
the link leads back into the repository). ``--copy`` installs a snapshot instead, and refuses a
profile whose relative paths lead out of its folder (the copy would lose them). An existing profile
of the same name is never overwritten silently: ``--force`` moves it aside to ``<name>.bak``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_PROFILES",
    "InstallError",
    "Installed",
    "find_profiles_dir",
    "install_profile",
    "main",
    "snakemake_config_dir",
]

#: Profiles installed when no name is given (profiles/slurm-ci is an overlay for the test cluster).
DEFAULT_PROFILES: tuple[str, ...] = ("slurm", "local")
#: File names Snakemake 9 accepts as a profile's main file.
_PROFILE_FILES = ("profile.yaml", "config.yaml")


class InstallError(Exception):
    """A profile cannot be installed (the message says what, where and what to do)."""


@dataclass(frozen=True)
class Installed:
    """One installed profile: its name for ``--profile``, where it is and how it got there."""

    name: str
    path: Path
    source: Path
    action: str  # "linked", "copied" or "unchanged"
    backup: Path | None = None


def snakemake_config_dir() -> Path:
    """Snakemake's user config directory, where ``--profile <name>`` looks after the cwd.

    The same call Snakemake makes (``platformdirs.AppDirs("snakemake", "snakemake")``); without
    platformdirs (a Snakemake dependency), ``$XDG_CONFIG_HOME/snakemake`` or
    ``~/.config/snakemake``.
    """
    try:
        from platformdirs import AppDirs
    except ImportError:  # pragma: no cover - platformdirs comes with snakemake
        base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        return Path(base) / "snakemake"
    return Path(AppDirs("snakemake", "snakemake").user_config_dir)


def find_profiles_dir(source: str | os.PathLike | None = None) -> Path:
    """Find the ``profiles/`` folder to install from.

    Parameters
    ----------
    source
        Given: that folder. Otherwise ``profiles/`` of the checkout this package is imported from
        (an editable install or ``PYTHONPATH=src``), else ``./profiles``.

    Raises
    ------
    InstallError
        When there is no such folder.
    """
    if source is not None:
        path = Path(source)
        if not path.is_dir():
            raise InstallError(f"--source {path}: no such folder")
        return path.resolve()
    candidates = [Path(__file__).resolve().parents[3] / "profiles", Path.cwd() / "profiles"]
    for path in candidates:
        if path.is_dir():
            return path.resolve()
    raise InstallError(
        "cannot find the profiles/ folder of a flarepipe checkout (looked in "
        + ", ".join(str(p) for p in candidates)
        + "); install flarepipe from its repository (pip install -e <repo>) or pass "
        "--source <repo>/profiles"
    )


def _profile_file(folder: Path) -> Path | None:
    for name in _PROFILE_FILES:
        if (folder / name).is_file():
            return folder / name
    return None


def _escaping_paths(src: Path) -> list[str]:
    """Entries of the profile whose relative paths lead out of its folder ("key: value")."""
    import yaml

    profile = _profile_file(src)
    assert profile is not None
    doc = yaml.safe_load(profile.read_text()) or {}
    found = []
    for key, value in doc.items() if isinstance(doc, dict) else []:
        values = value if isinstance(value, list) else [value]
        for v in values:
            if not isinstance(v, str) or not v or os.path.isabs(os.path.expanduser(v)):
                continue
            target = src / v
            # Snakemake rewrites a value to <profile folder>/<value> only when that exists
            if target.exists() and not target.resolve().is_relative_to(src.resolve()):
                found.append(f"{key}: {v}")
    return found


def _backup_name(path: Path) -> Path:
    backup = path.with_name(path.name + ".bak")
    n = 1
    while backup.exists() or backup.is_symlink():
        backup = path.with_name(f"{path.name}.bak.{n}")
        n += 1
    return backup


def install_profile(
    name: str,
    profiles_dir: str | os.PathLike,
    dest_dir: str | os.PathLike,
    *,
    installed_name: str | None = None,
    copy: bool = False,
    force: bool = False,
) -> Installed:
    """Install ``profiles_dir/name`` as ``dest_dir/installed_name`` (a link, or a copy).

    Parameters
    ----------
    name
        Folder under ``profiles_dir`` (``slurm``, ``local``, ...).
    profiles_dir
        The repository's ``profiles/`` folder.
    dest_dir
        Where Snakemake looks profile names up (:func:`snakemake_config_dir`); created if missing.
    installed_name
        The name for ``--profile`` (default: ``name``).
    copy
        Copy the folder instead of linking to it.
    force
        Move an existing, different profile of that name aside to ``<name>.bak`` first.

    Returns
    -------
    Installed
        What was done; ``action="unchanged"`` when the same link is already in place.

    Raises
    ------
    InstallError
        When the profile does not exist, the name is taken (without ``force``), or a copy would
        break one of the profile's relative paths.
    """
    profiles_dir = Path(profiles_dir).resolve()
    src = profiles_dir / name
    installed_name = installed_name or name
    if not src.is_dir() or _profile_file(src) is None:
        known = sorted(p.name for p in profiles_dir.iterdir() if _profile_file(p) is not None)
        raise InstallError(
            f"{src}: no such profile (a folder with profile.yaml); profiles in {profiles_dir}: "
            f"{', '.join(known) or 'none'}"
        )
    if "/" in installed_name or installed_name in ("", ".", ".."):
        raise InstallError(f"--as {installed_name!r}: a profile name is one folder name")
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / installed_name

    if not copy and target.is_symlink() and target.resolve() == src:
        return Installed(installed_name, target, src, "unchanged")
    if copy:
        escaping = _escaping_paths(src)
        if escaping:
            raise InstallError(
                f"{src / _profile_file(src).name}: a copy in {dest_dir} would break the relative "
                f"path(s) {'; '.join(escaping)} (they lead out of the profile folder); install a "
                "link instead (without --copy)"
            )

    backup = None
    if target.exists() or target.is_symlink():
        if not force:
            what = f"a link to {os.readlink(target)}" if target.is_symlink() else "a folder"
            raise InstallError(
                f"{target} exists ({what}); pass --force to move it aside to "
                f"{_backup_name(target).name}, or --as <other name> to install under another name"
            )
        backup = _backup_name(target)
        target.rename(backup)

    # Build next to the target, then rename into place: never a half-installed profile.
    tmp = dest_dir / f".{installed_name}.tmp-{os.getpid()}"
    if tmp.is_symlink() or tmp.is_file():
        tmp.unlink()
    elif tmp.exists():
        shutil.rmtree(tmp)
    if copy:
        shutil.copytree(src, tmp, symlinks=False)
    else:
        tmp.symlink_to(src, target_is_directory=True)
    os.replace(tmp, target)
    return Installed(installed_name, target, src, "copied" if copy else "linked", backup)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flarepipe-install-profile",
        description=(
            "Install flarepipe's Snakemake profiles (profiles/<name>) under Snakemake's user "
            "config directory, so that `snakemake --profile <name>` finds them by name."
        ),
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"profiles to install (default: {' '.join(DEFAULT_PROFILES)})",
    )
    parser.add_argument(
        "--as",
        dest="installed_name",
        metavar="NEW_NAME",
        help="install the one profile NAME under another name (e.g. flarepipe-slurm)",
    )
    parser.add_argument(
        "--dest",
        metavar="DIR",
        help=f"where to install (default: Snakemake's user config directory, now "
        f"{snakemake_config_dir()}; /etc/xdg/snakemake for everyone on the machine)",
    )
    parser.add_argument(
        "--source",
        metavar="DIR",
        help="the profiles/ folder to install from (default: the checkout flarepipe runs from)",
    )
    parser.add_argument(
        "--copy",
        action="store_true",
        help="copy the profile folder instead of linking to it (later edits of the repository's "
        "profile then do not apply)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="move an existing profile of the same name aside (<name>.bak) instead of stopping",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line: ``flarepipe-install-profile [NAME ...] [--as N] [--dest DIR] [--copy]``.

    Returns
    -------
    int
        0 when every profile is installed, 1 after an :class:`InstallError` (printed to stderr).
    """
    args = _parser().parse_args(argv)
    names = args.names or list(DEFAULT_PROFILES)
    if args.installed_name and len(names) != 1:
        print("flarepipe-install-profile: --as needs exactly one profile NAME", file=sys.stderr)
        return 2
    try:
        profiles_dir = find_profiles_dir(args.source)
        dest = Path(args.dest) if args.dest else snakemake_config_dir()
        for name in names:
            done = install_profile(
                name,
                profiles_dir,
                dest,
                installed_name=args.installed_name,
                copy=args.copy,
                force=args.force,
            )
            how = {"linked": "link to", "copied": "copy of", "unchanged": "already a link to"}
            print(f"{done.name}: {done.path} ({how[done.action]} {done.source})")
            if done.backup is not None:
                print(f"  the profile that was there is now {done.backup}")
    except InstallError as exc:
        print(f"flarepipe-install-profile: {exc}", file=sys.stderr)
        return 1
    shown = args.installed_name or names[0]
    print(f"use: snakemake --profile {shown}   (from the flarepipe repository)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
