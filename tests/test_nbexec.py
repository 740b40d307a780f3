"""Notebook execution that cannot miss a reply (``rlcourse._nbexec``)."""

from __future__ import annotations

import asyncio
import time
from queue import Empty

import nbformat
import pytest

from rlcourse._nbexec import SteadyClient, sliced


class _Channel:
    """A channel whose first wait misses the message that is already there (the failure seen
    under load): an unbounded wait never returns, a bounded one returns nothing the first time
    and the message from then on."""

    def __init__(self, asynchronous: bool, arrives_after: float = 0.0) -> None:
        self.asynchronous = asynchronous
        self.ready_at = time.monotonic() + arrives_after
        self.waits: list[float | None] = []

    def _get(self, timeout):
        self.waits.append(timeout)
        if timeout is None:
            raise AssertionError("an unbounded wait: it would never return")
        if len(self.waits) == 1 or time.monotonic() < self.ready_at:
            time.sleep(min(timeout, 0.01))
            raise Empty
        return {"msg_type": "execute_reply"}

    def get_msg(self, timeout=None):
        if not self.asynchronous:
            return self._get(timeout)

        async def later():
            return self._get(timeout)

        return later()


@pytest.mark.parametrize("asynchronous", [True, False], ids=["async", "blocking"])
def test_a_missed_wakeup_is_recovered_within_a_slice(asynchronous):
    channel = _Channel(asynchronous)
    msg = asyncio.run(sliced(channel.get_msg, step=0.05)(None))
    assert msg == {"msg_type": "execute_reply"}
    assert len(channel.waits) == 2 and all(w == 0.05 for w in channel.waits)


def test_a_timeout_is_still_a_timeout():
    channel = _Channel(True, arrives_after=10.0)
    started = time.monotonic()
    with pytest.raises(Empty):
        asyncio.run(sliced(channel.get_msg, step=0.05)(0.3))
    assert 0.25 <= time.monotonic() - started < 5
    assert all(w is not None and w <= 0.05 + 1e-9 for w in channel.waits)


def test_a_message_before_the_deadline_is_returned():
    channel = _Channel(True, arrives_after=0.15)
    assert asyncio.run(sliced(channel.get_msg, step=0.05)(5.0))["msg_type"] == "execute_reply"


def test_step_must_be_positive():
    with pytest.raises(ValueError, match="step: expected a positive number of seconds, got 0"):
        sliced(lambda timeout=None: {}, step=0)


def test_steady_client_runs_a_widget_notebook_and_its_channels_are_sliced(monkeypatch):
    """Both paths nbclient starts a client by (execute, and setup_kernel) wrap the channels."""
    monkeypatch.setenv("RLCOURSE_PROGRESS", "off")
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from rlcourse import widgets\napp = widgets.discount_explorer()\napp"
        ),
        nbformat.v4.new_code_cell('app.controls["gamma"].value = 0.5\nprint(app.state["gamma"])'),
    ]
    client = SteadyClient(nb, timeout=120, kernel_name="python3")
    client.execute()
    assert nb.cells[1].outputs[0]["text"].strip() == "0.5"
    client = SteadyClient(nbformat.v4.new_notebook(), timeout=120, kernel_name="python3")
    with client.setup_kernel():
        assert client.kc.shell_channel.get_msg.__qualname__.startswith("sliced")
        assert client.kc.iopub_channel.get_msg.__qualname__.startswith("sliced")
