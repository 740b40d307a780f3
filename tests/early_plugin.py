"""Loaded with ``-p early_plugin`` (see ``addopts``): pytest imports it before the plugins it
finds installed, so it runs before nbval first imports nbformat.

It keeps jsonschema's optional IRI checker out of the test processes, as the grading workers
do (:func:`rlcourse._imports.without_iri_checker`): rfc3987-syntax builds a grammar on import,
about 1 s of CPU in the main process and in each parallel worker, at the start of the run.
Nothing in the suite validates IRIs; processes the tests start are not affected.
"""

from __future__ import annotations

from rlcourse._imports import without_iri_checker

without_iri_checker()
