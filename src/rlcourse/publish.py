"""Where the course is published, ``course/publish.toml``: its git repository and the hubs
that launch it (Binder, a JupyterHub with nbgitpuller, Colab).

``rlcourse build`` writes the repository into every lesson's Colab cell; ``rlcourse site``
builds the launch buttons from all of it.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, fields
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from rlcourse.paths import project_root

__all__ = ["Publish", "load_publish", "publish_path"]

_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")
_BRANCH = re.compile(r"^[A-Za-z0-9._/-]+$")


@dataclass(frozen=True)
class Publish:
    """The course's public homes (all URLs without a trailing slash)."""

    repository: str
    branch: str = "main"
    binderhub: str = "https://mybinder.org"
    jupyterhub: str = ""
    colab: str = "https://colab.research.google.com"

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, str):
                raise ValueError(f"{f.name}: expected a string, got {value!r}")
            if f.name == "branch":
                if not _BRANCH.match(value):
                    raise ValueError(f"branch: expected a git branch name, got {value!r}")
            elif (value or f.name == "repository") and not _URL.match(value):
                raise ValueError(f"{f.name}: expected an http(s) URL, got {value!r}")
            object.__setattr__(self, f.name, value.rstrip("/"))

    @property
    def github(self) -> tuple[str, str] | None:
        """``(owner, name)`` when the repository is on github.com, else None."""
        m = re.match(r"^https://github\.com/([^/]+)/([^/]+?)(\.git)?$", self.repository)
        return (m.group(1), m.group(2)) if m else None


def publish_path() -> Path:
    return project_root() / "course" / "publish.toml"


def load_publish(path: Path | None = None) -> Publish:
    """Read ``course/publish.toml`` (unknown keys are an error, to catch typos)."""
    path = path if path is not None else publish_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: {exc}") from None
    known = {f.name for f in fields(Publish)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path}: unknown keys {unknown}; expected some of {sorted(known)}")
    if "repository" not in data:
        raise ValueError(f"{path}: 'repository' is missing")
    try:
        return Publish(**data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
