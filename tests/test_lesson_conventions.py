"""Conventions every lesson keeps: what a student needs after a kernel restart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = [p for d in ("solutions", "lessons") for p in sorted((ROOT / d).glob("*.ipynb"))]
WIDGET = re.compile(r"^\w+ = widgets\.\w+\(", re.M)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_widget_cell_says_to_rerun_it_after_a_kernel_restart(path):
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and WIDGET.search(c.source)]
    assert cells, f"{path.name}: expected at least one widget cell"
    for cell in cells:
        assert "kernel restart" in cell.source and "again" in cell.source, (
            f"{path.name}: a widget cell does not say to run it again after a kernel restart:\n"
            + cell.source[:200]
        )
