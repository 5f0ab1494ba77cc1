"""Shared dashboard pieces: messages never show tracebacks, background work reports back."""

from __future__ import annotations

import logging
import threading

import ipywidgets as widgets

from cpap_lib.dashboard.widgets.common import MessageBar, catch_errors, run_in_background
from cpap_lib.errors import NotFoundError


class Panel(widgets.VBox):
    def __init__(self):
        self.messages = MessageBar()
        super().__init__([self.messages])

    @catch_errors
    def unexpected(self, change=None):
        return {}["missing"]

    @catch_errors
    def expected(self, change=None):
        raise NotFoundError("room 12 not found", url="http://x/rooms/12", status=404)


def test_unexpected_errors_are_logged_with_traceback_and_shown_as_a_sentence(caplog):
    panel = Panel()
    with caplog.at_level(logging.ERROR, logger="cpap_lib.dashboard.widgets.common"):
        assert panel.unexpected() is None
    assert panel.messages.level == "error"
    assert panel.messages.text == "Unexpected error (KeyError). The details are in the dashboard log."
    assert "Traceback" not in panel.messages.value
    assert caplog.records and caplog.records[0].exc_info is not None
    panel.expected()
    assert panel.messages.text == "room 12 not found"


def test_background_errors_from_work_and_from_on_done_reach_on_error():
    seen = []
    task = run_in_background(lambda: 1 / 0, on_error=seen.append, timeout_s=5)
    assert task.wait(5) and isinstance(seen[-1], ZeroDivisionError) and task.error is seen[-1]

    def explode(result):
        raise NotFoundError("gone")

    task = run_in_background(lambda: 1, on_done=explode, on_error=seen.append, timeout_s=5)
    assert task.wait(5) and str(seen[-1]) == "gone"


def test_a_late_result_after_the_timeout_is_dropped():
    release = threading.Event()
    done, errors = [], []
    task = run_in_background(release.wait, on_done=done.append, on_error=errors.append, timeout_s=0.05, name="Sending")
    assert task.wait(5)
    release.set()
    assert str(errors[0]) == "Sending did not finish within 0.05 s." and done == []


def test_message_levels_are_escaped():
    bar = MessageBar()
    bar.show_warning('<script>alert("x")</script>')
    assert "<script>" not in bar.value and "&lt;script&gt;" in bar.value
    bar.show_success("Sent.")
    assert 'role="status"' in bar.value and bar.level == "success"
