"""The suite's own set-up: parallel by default, each test file (each notebook) whole in one
worker."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest


def _config(**option):
    base = dict(numprocesses=None, dist="no", distload=False, collectonly=False, usepdb=False)
    base.update(option)
    return SimpleNamespace(
        pluginmanager=SimpleNamespace(hasplugin=lambda name: name == "xdist"),
        option=SimpleNamespace(**base),
    )


@pytest.fixture
def hook(monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    return sys.modules["conftest"].pytest_cmdline_main


def test_parallel_by_default_one_file_per_worker(hook):
    cfg = _config()
    hook(cfg)
    assert (cfg.option.numprocesses, cfg.option.dist) == ("auto", "loadfile")


def test_explicit_choices_are_kept(hook):
    cfg = _config(numprocesses=0)
    hook(cfg)
    assert (cfg.option.numprocesses, cfg.option.dist) == (0, "no")
    cfg = _config(numprocesses=3)  # -n 3 alone still keeps a notebook in one worker
    hook(cfg)
    assert (cfg.option.numprocesses, cfg.option.dist) == (3, "loadfile")
    cfg = _config(numprocesses=2, dist="loadscope")
    hook(cfg)
    assert cfg.option.dist == "loadscope"
    cfg = _config(usepdb=True)
    hook(cfg)
    assert cfg.option.numprocesses is None
