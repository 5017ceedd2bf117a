"""Name registries and plug-in modules.

A :class:`Registry` maps the names a configuration file uses (a network, a label task, a dataset,
a baseline, a stacking criterion) to their entries, in one place per kind. The config schema's
enums, the workflow's wildcard constraints and the experiment expansion read the registries, so a
name is written once.

Entries may point at their implementation with a ``"package.module:attribute"`` string that
:func:`resolve` imports on first use: registries stay cheap to import (config validation reads
them when Snakemake starts and in every job) even when the implementation needs torch.

Plug-ins are user modules that register more entries. :func:`load_plugins` imports them (dotted
module names, or paths of ``.py`` files), once per process, and every entry remembers the plug-in
that registered it (:meth:`Registry.origin`), so that a job can import exactly the plug-in its
entry came from.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, Generic, TypeVar

__all__ = [
    "call_or_decorate",
    "NAME_PATTERN",
    "PluginError",
    "Registry",
    "UnknownNameError",
    "current_plugin",
    "load_plugins",
    "origins",
    "resolve",
]

T = TypeVar("T")

#: Registered names: a letter, then letters, digits or underscores (they become path parts and
#: Snakemake wildcard values).
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_MODULE_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

_CURRENT_PLUGIN: list[str] = []  # stack of plug-ins being imported
_LOADED: dict[str, ModuleType] = {}  # plug-in key (module name or resolved path) -> module


class UnknownNameError(KeyError, ValueError):
    """A name that is not registered; the message lists the registered ones."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class PluginError(ImportError):
    """A plug-in module could not be found or imported."""


def current_plugin() -> str | None:
    """The plug-in (as written in the configuration) being imported now, or None."""
    return _CURRENT_PLUGIN[-1] if _CURRENT_PLUGIN else None


class Registry(Mapping[str, T], Generic[T]):
    """Entries of one kind by name, in registration order.

    Parameters
    ----------
    kind
        What is registered, for messages (``"network"``, ``"label task"``, ...).
    how
        The function that registers one, for messages (``"flarepipe.models.register_network"``).
    """

    def __init__(self, kind: str, how: str) -> None:
        self.kind = kind
        self.how = how
        self._entries: dict[str, T] = {}
        self._origins: dict[str, str | None] = {}

    def register(self, name: str, entry: T, *, replace: bool = False) -> T:
        """Register ``entry`` under ``name`` and return it.

        Registering an equal entry again is a no-op; a different entry under a taken name needs
        ``replace=True``.

        Raises
        ------
        ValueError
            For a malformed name or a taken one.
        """
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise ValueError(
                f"{self.kind} name {name!r} is not allowed: use a letter followed by letters, "
                "digits or underscores"
            )
        if name in self._entries and not replace:
            if self._entries[name] == entry:
                return entry
            by = self._origins.get(name)
            raise ValueError(
                f"{self.kind} {name!r} is already registered"
                + (f" (by plug-in {by!r})" if by else " (built in)")
                + "; pick another name, or pass replace=True to override it"
            )
        self._entries[name] = entry
        self._origins[name] = current_plugin()
        return entry

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests and interactive sessions)."""
        self._entries.pop(name, None)
        self._origins.pop(name, None)

    def origin(self, name: str) -> str | None:
        """The plug-in that registered ``name`` (as configured), None for built-in entries."""
        self[name]  # noqa: B018 -- raises for an unknown name
        return self._origins.get(name)

    def names(self) -> tuple[str, ...]:
        """Registered names in registration order."""
        return tuple(self._entries)

    def __getitem__(self, name: str) -> T:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; registered: {list(self._entries)} "
                f"(add one with {self.how}, in a plug-in module listed under `plugins`)"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._entries)})"


def call_or_decorate(make: Callable[[Any], Any], target: Any) -> Any:
    """``make(target)`` now; with ``target`` None, a decorator calling ``make`` on its object.

    The shape every ``register_*`` function shares: ``register_x("name", obj, ...)`` registers at
    once, ``@register_x("name", ...)`` registers the decorated class or function, left as it is.
    """
    if target is None:

        def decorate(obj: Any) -> Any:
            make(obj)
            return obj

        return decorate
    return make(target)


def resolve(target: Any, what: str = "target") -> Any:
    """The object named by ``"package.module:attribute"``; any other value is returned as is.

    Raises
    ------
    ValueError
        When the module cannot be imported or has no such attribute (naming ``what``).
    """
    if not isinstance(target, str):
        return target
    module_name, sep, attr = target.partition(":")
    if not sep or not attr or not _MODULE_PATTERN.match(module_name):
        raise ValueError(f"{what}: {target!r} is not of the form 'package.module:attribute'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"{what}: cannot import module {module_name!r} ({exc})") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(f"{what}: module {module_name!r} has no attribute {attr!r}") from None
    return obj


def _is_path(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or os.sep in spec


def _load_file(path: Path) -> ModuleType:
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"flarepipe_plugin_{re.sub(r'[^A-Za-z0-9_]', '_', path.stem)}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def load_plugins(
    specs: Iterable[str] | None,
    *,
    base_dir: str | os.PathLike | None = None,
    where: str = "plugins",
) -> list[ModuleType]:
    """Import plug-in modules (each once per process) so that they register their entries.

    Parameters
    ----------
    specs
        Dotted module names (``my_lab.flare_nets``, importable from ``sys.path``) or paths of
        ``.py`` files (relative ones are taken from ``base_dir``).
    base_dir
        Folder relative paths start from (default: the working directory, as Snakemake does).
    where
        The configuration key, for messages (``plugins`` gives ``plugins[1]: ...``).

    Returns
    -------
    list of module
        The plug-in modules, in order.

    Raises
    ------
    PluginError
        Naming the entry, when a module is not found or fails to import.
    """
    modules = []
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    for i, spec in enumerate(specs or []):
        label = f"{where}[{i}]"
        if not isinstance(spec, str) or not spec.strip():
            raise PluginError(f"{label}: a plug-in is a module name or a .py path, got {spec!r}")
        if _is_path(spec):
            path = Path(spec).expanduser()
            path = (path if path.is_absolute() else base / path).resolve()
            key = str(path)
            if key not in _LOADED and not path.is_file():
                raise PluginError(
                    f"{label}: plug-in file {spec!r} not found (looked for {path}; relative "
                    "paths start from the working directory)"
                )
        else:
            if not _MODULE_PATTERN.match(spec):
                raise PluginError(f"{label}: {spec!r} is neither a module name nor a .py path")
            key = spec
        if key in _LOADED:
            modules.append(_LOADED[key])
            continue
        _CURRENT_PLUGIN.append(spec)
        try:
            module = _load_file(path) if _is_path(spec) else importlib.import_module(spec)
        except ModuleNotFoundError as exc:
            if not _is_path(spec) and exc.name is not None and spec.startswith(exc.name):
                raise PluginError(
                    f"{label}: no module named {spec!r} (install it, or add its folder to "
                    "PYTHONPATH, or give the path of its .py file)"
                ) from exc
            raise PluginError(f"{label}: importing plug-in {spec!r} failed: {exc}") from exc
        except Exception as exc:
            raise PluginError(
                f"{label}: importing plug-in {spec!r} failed: {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            _CURRENT_PLUGIN.pop()
        _LOADED[key] = module
        modules.append(module)
    return modules


def origins(registry: Mapping[str, Any], names: Iterable[str]) -> list[str]:
    """The distinct plug-ins that registered ``names`` in ``registry`` (built-ins add none)."""
    out: list[str] = []
    for name in names:
        by = registry.origin(name) if isinstance(registry, Registry) else None
        if by is not None and by not in out:
            out.append(by)
    return out
