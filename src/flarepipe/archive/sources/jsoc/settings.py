"""Typed settings of the JSOC source, built from the validated ``archive.jsoc`` config section.

The schema (``src/flarepipe/config/schema.yaml``, section ``archive.jsoc``) is the one place for
the keys, their bounds and their defaults: :func:`flarepipe.config.validate_config` fills and
checks the section, and :meth:`JsocSettings.from_section` only converts it (tuples, the hex
``max_quality``, the keyword map over :data:`flarepipe.core.keywords.JSOC_NAMES`) and checks what a
schema cannot say (``start`` and ``end`` readable as times, ``start`` before ``end``). The
dataclass defaults equal the schema's (tested), for callers that build settings in code.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flarepipe.archive.sources.jsoc.query import as_tai
from flarepipe.core.keywords import JSOC_NAMES
from flarepipe.core.series import SERIES_NAMES
from flarepipe.io.download import RetryPolicy

__all__ = ["EMAIL_ENV", "SECTION", "JsocSettings", "resolve_email", "move_email_to_env"]

#: environment variable holding the JSOC export e-mail (wins over ``archive.jsoc.email``)
EMAIL_ENV = "FLAREPIPE_JSOC_EMAIL"
#: where the section lives in the configuration (for messages)
SECTION = "archive.jsoc"
#: keys of the section that are not settings (the e-mail is never held: settings go to manifests)
_NOT_SETTINGS = ("email",)


def _time_text(value: object) -> str | None:
    """A configured time as text (YAML reads ``2011-01-01`` as a date)."""
    return None if value is None else str(value).strip()


@dataclass(frozen=True)
class JsocSettings:
    """What :func:`~flarepipe.archive.sources.jsoc.units.plan_units` and
    :func:`~flarepipe.archive.sources.jsoc.fetch.fetch_unit` read from ``archive.jsoc``.

    Every attribute is described, with its bounds and default, in the schema section
    ``archive.jsoc``. ``keywords`` maps each archive keyword column to the JSOC keywords tried in
    order (the configured map merged over :data:`flarepipe.core.keywords.JSOC_NAMES`);
    ``max_quality`` is an integer (``QUALITY < max_quality`` is queried). The export e-mail is
    deliberately not a field (see :func:`resolve_email`).
    """

    server: str = "jsoc"
    cgi_path: str = "cgi-bin/ajax/"
    series: tuple[str, ...] = SERIES_NAMES
    start: str | None = None
    end: str | None = None
    chunk_days: float = 30.0
    regions: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    cadence: str | None = "96m"
    where: str | None = None
    max_quality: int | None = None
    segment: str = "magnetogram"
    download_images: bool = True
    keywords: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(JSOC_NAMES))
    timeout_s: float = 60.0
    poll_interval_s: float = 10.0
    export_timeout_s: float = 3600.0
    pending_export_wait_s: float = 7200.0
    notfound_polls: int = 5
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    progress: bool | None = None
    verify_existing: bool = False

    def __post_init__(self) -> None:
        times = {}
        for key in ("start", "end"):
            value = getattr(self, key)
            if value is not None:
                try:
                    times[key] = as_tai(value)
                except ValueError:
                    raise ValueError(
                        f"{SECTION}.{key} must be a date/time or a T_REC, got {value!r}"
                    ) from None
        if len(times) == 2 and times["start"] >= times["end"]:
            raise ValueError(
                f"{SECTION}.start must be before {SECTION}.end, got {self.start} >= {self.end}"
            )

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> JsocSettings:
        """Settings from the ``archive.jsoc`` section as :mod:`flarepipe.config` validated it.

        Parameters
        ----------
        section
            The validated section: every key present (the schema fills the defaults).

        Raises
        ------
        ValueError
            A key is missing or unknown (the section was not validated), or ``start`` is not
            before ``end``.
        """
        d = dict(section)
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(d) - set(names) - set(_NOT_SETTINGS))
        missing = [n for n in names if n not in d]
        if unknown or missing:
            raise ValueError(
                f"{SECTION}: {'unknown keys ' + str(unknown) if unknown else ''}"
                f"{'; ' if unknown and missing else ''}"
                f"{'missing keys ' + str(missing) if missing else ''}: pass the section as "
                "flarepipe.config.validate_config checked and filled it"
            )
        mq = d["max_quality"]
        return cls(
            server=str(d["server"]).strip(),
            cgi_path=str(d["cgi_path"]),
            series=tuple(d["series"]),
            start=_time_text(d["start"]),
            end=_time_text(d["end"]),
            chunk_days=float(d["chunk_days"]),
            regions={s: tuple(sorted({int(n) for n in nums})) for s, nums in d["regions"].items()},
            cadence=str(d["cadence"]) if d["cadence"] else None,
            where=str(d["where"]).strip() if d["where"] else None,
            max_quality=None if mq is None else (int(mq, 0) if isinstance(mq, str) else int(mq)),
            segment=str(d["segment"]),
            download_images=bool(d["download_images"]),
            keywords={
                **JSOC_NAMES,
                **{
                    col: (names,) if isinstance(names, str) else tuple(names)
                    for col, names in d["keywords"].items()
                },
            },
            timeout_s=float(d["timeout_s"]),
            poll_interval_s=float(d["poll_interval_s"]),
            export_timeout_s=float(d["export_timeout_s"]),
            pending_export_wait_s=float(d["pending_export_wait_s"]),
            notfound_polls=int(d["notfound_polls"]),
            retry=RetryPolicy.from_section(d["retry"], f"{SECTION}.retry"),
            progress=None if d["progress"] is None else bool(d["progress"]),
            verify_existing=bool(d["verify_existing"]),
        )

    def to_dict(self) -> dict:
        """JSON-ready view (for manifests); holds no secret."""
        out = dataclasses.asdict(self)
        out["series"] = list(self.series)
        out["regions"] = {k: list(v) for k, v in self.regions.items()}
        out["keywords"] = {k: list(v) for k, v in self.keywords.items()}
        return out


def resolve_email(section: Mapping[str, Any] | None = None) -> str | None:
    """The JSOC export e-mail: ``$FLAREPIPE_JSOC_EMAIL`` if set, else ``email`` of the
    ``archive.jsoc`` section, else None.

    The environment wins so that an address need never be committed in a config file.
    """
    env = os.environ.get(EMAIL_ENV, "").strip()
    if env:
        return env
    value = (section or {}).get("email")
    return str(value).strip() if value else None


def move_email_to_env(config: dict) -> None:
    """Take ``archive.jsoc.email`` out of a loaded configuration into ``$FLAREPIPE_JSOC_EMAIL``.

    Snakemake stores every rule's params in ``.snakemake/metadata`` and the rules pass config
    sections as params, so an address left in ``config`` would reach disk in clear text. The
    workflow calls this once, after validation: the key is removed (in place) and its value
    exported to the environment unless the variable is already set (the environment wins, as in
    :func:`resolve_email`); jobs inherit the environment and read it from there. Local and cluster
    executors re-parse the workflow in each job, which moves the address again the same way.
    """
    section = (config.get("archive") or {}).get("jsoc")
    if not isinstance(section, dict) or "email" not in section:
        return
    value = section.pop("email")
    if value and not os.environ.get(EMAIL_ENV, "").strip():
        os.environ[EMAIL_ENV] = str(value).strip()
