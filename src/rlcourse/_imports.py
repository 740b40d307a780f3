"""Import-time savings for the course's own helper processes."""

from __future__ import annotations

import sys

__all__ = ["without_iri_checker"]


def without_iri_checker() -> None:
    """Keep jsonschema's optional IRI format checker (``rfc3987_syntax``) out of this process.

    nbformat validates notebooks with jsonschema, which imports that checker whenever it is
    installed, and the checker builds its grammar on import: about 0.9 s of CPU in every
    process that reads a notebook. Notebook schemas use no IRI formats, so nothing is lost.
    Call it first thing in a process the course starts (a grading worker, a lesson runner),
    never in a user's own interpreter; it does nothing once jsonschema is imported.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
