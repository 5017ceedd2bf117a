"""Which config file set a key, known to the jobs: job-time errors name the file actually passed.

Config validation (:func:`flarepipe.config.validate_config`) names the file that set a bad value,
but most problems with a user's data show up only in a job: a column map naming a column the
table lacks, a flare list read in a wrong ``local.flares_format``. The modules that find them
phrase their errors with the key path (``archive.local.column_map``, never a file name:
``tests/test_structure.py``); the job knows which files were passed from the environment:

* the workflow (``rules/common.smk``) exports its sources, once validated, with
  :func:`export_sources` to :data:`CONFIGFILES_ENV` (the environment, not params: params are
  stored and compared by Snakemake, and a changed file list would rerun every job);
* a rule script's failure line (:mod:`flarepipe.tools.jobs`) passes the error through
  :func:`name_config_files`, which finds every config key the message names and says which of
  those files set it, or that none did (the schema default).

Without the variable (a stage called from Python, an older workflow) the sources are
``config.yaml`` of the working folder when it exists, else none (the message is left as it is).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from flarepipe.config.load import SCHEMA_PATH, Source, _read_sources, _schema, _setter

__all__ = [
    "CONFIGFILES_ENV",
    "config_keys",
    "export_sources",
    "job_sources",
    "name_config_files",
]

#: the environment variable that carries the workflow's config sources to its jobs (JSON)
CONFIGFILES_ENV = "FLAREPIPE_CONFIGFILES"
_FALLBACK = "config.yaml"
_KEY = re.compile(r"(?<![\w./-])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)")


def _keys_only(tree: Any) -> Any:
    """A mapping's key structure with every value replaced by ``None`` (no value leaves)."""
    if isinstance(tree, Mapping):
        return {str(k): _keys_only(v) for k, v in tree.items()}
    return None


def export_sources(
    sources: Sequence[Source], environ: MutableMapping[str, str] | None = None
) -> str:
    """Put the config sources into :data:`CONFIGFILES_ENV` of ``environ`` (``os.environ``).

    A file goes as its path; a ``("--config", mapping)`` source as its key structure only (a
    value, such as an e-mail address, never enters the environment). Returns the JSON written.
    """
    env = os.environ if environ is None else environ
    out: list = []
    for s in sources:
        if isinstance(s, tuple):
            out.append([str(s[0]), _keys_only(s[1])])
        else:
            out.append(str(s))
    text = json.dumps(out)
    env[CONFIGFILES_ENV] = text
    return text


def job_sources(environ: Mapping[str, str] | None = None) -> list[Source]:
    """The sources exported by the workflow; else ``config.yaml`` when the folder has one.

    Raises
    ------
    ValueError
        :data:`CONFIGFILES_ENV` is set but is not the JSON list :func:`export_sources` writes.
    """
    env = os.environ if environ is None else environ
    text = env.get(CONFIGFILES_ENV)
    if text is None:
        return [_FALLBACK] if Path(_FALLBACK).is_file() else []
    try:
        items = json.loads(text)
        return [
            (str(s[0]), dict(s[1] or {})) if isinstance(s, list) else str(s)
            for s in items  # a list: [name, keys]; else a path
        ]
    except (ValueError, TypeError, IndexError, AttributeError) as exc:
        raise ValueError(
            f"${CONFIGFILES_ENV} is not a JSON list of config files ({exc}): {text[:80]!r}"
        ) from None


def _resolve(node: Any, root: Mapping) -> Any:
    while isinstance(node, Mapping) and "$ref" in node:
        node = root.get("$defs", {}).get(str(node["$ref"]).rsplit("/", 1)[-1], {})
    return node


def _is_key(parts: Sequence[str], root: Mapping) -> bool:
    """Whether ``parts`` is a path of the schema (below a name map, any name is one)."""
    node: Any = root
    for i, part in enumerate(parts):
        node = _resolve(node, root)
        props = node.get("properties") if isinstance(node, Mapping) else None
        if props and part in props:
            node = props[part]
            continue
        if i == 0 or not isinstance(node, Mapping):
            return False
        # a map of names below a known key (column_map.<name>, models.<network>): a key path
        extra = node.get("additionalProperties")
        return isinstance(extra, Mapping) or (node.get("type") == "object" and not props)
    return True


def config_keys(message: str) -> list[str]:
    """The config key paths (``archive.local.column_map``) that ``message`` names, in order.

    A dotted word is a key when the schema has that path (``records.csv`` or
    ``labels.csv`` are file names, not keys).
    """
    root = _schema(str(SCHEMA_PATH))
    found = [m.group(1) for m in _KEY.finditer(message)]
    return [k for k in dict.fromkeys(found) if _is_key(k.split("."), root)]


def name_config_files(message: str, sources: Sequence[Source] | None = None) -> str:
    """``message`` with the config file that set each key it names, e.g. ``... (config:
    archive.local.column_map set in my.yaml)``; ``... at its default (not set in config.yaml,
    my.yaml)`` for a key no file set. Unchanged when it names no key or no source is known.

    Parameters
    ----------
    message
        An error message that names config keys by their path.
    sources
        The workflow's sources (default: :func:`job_sources`).
    """
    keys = config_keys(message)
    if not keys:
        return message
    read = _read_sources(job_sources() if sources is None else list(sources))
    if not read:
        return message
    names = ", ".join(dict.fromkeys(n for n, _ in read))
    parts = []
    for key in keys:
        who = _setter(tuple(key.split(".")), read)
        parts.append(f"{key} set in {who}" if who else f"{key} at its default (not set in {names})")
    return f"{message} (config: {'; '.join(parts)})"
