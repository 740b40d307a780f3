"""The suite's own set-up: parallel by default, each test file (each notebook) whole in one
worker."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest


def _config(**option):
    base = dict(
        numprocesses=None,
        dist="no",
        distload=False,
        collectonly=False,
        usepdb=False,
        loadscopereorder=True,  # xdist's default: files with the most tests first
    )
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
    # files are handed out in the collection order (slowest first), not by their test count
    assert cfg.option.loadscopereorder is False


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


def test_slow_files_start_first_and_files_stay_whole():
    import conftest

    class Item:
        def __init__(self, path: str, n: int) -> None:
            self.path, self.n = conftest.ROOT / path, n

    names = ["tests/test_mdp.py", "lessons/05_reproducing_the_paper.ipynb", "tests/test_site.py"]
    items = [Item(name, n) for name in names for n in range(3)]
    ordered = conftest.slow_first(items)
    assert [(i.path.name, i.n) for i in ordered] == [
        (name.split("/")[-1], n)
        for name in ["tests/test_site.py", "lessons/05_reproducing_the_paper.ipynb", names[0]]
        for n in range(3)
    ]
    assert all((conftest.ROOT / name).is_file() for name in conftest.SLOW_FIRST)


def test_a_hanging_test_fails_instead_of_holding_ci(pytestconfig):
    """pytest-timeout is active with a limit far above the slowest test (about 1 min), in
    thread mode: the exercise checks run under this process's SIGALRM timer themselves."""
    assert pytestconfig.pluginmanager.hasplugin("timeout")
    assert float(pytestconfig.getini("timeout")) == 900
    assert pytestconfig.getini("timeout_method") == "thread"


def test_the_early_plugin_kept_the_iri_checker_out_of_this_process(pytestconfig):
    """``-p early_plugin`` ran before nbval imported nbformat (and with it jsonschema)."""
    assert pytestconfig.pluginmanager.has_plugin("early_plugin")
    assert "jsonschema" in sys.modules  # nbval's nbformat imported it after the plugin ran
    assert sys.modules.get("rfc3987_syntax", None) is None
