"""Parsing of the API's Server-Sent Events, as the client reads job progress and streamed answers."""

from __future__ import annotations

import pytest

from ragline.client import _events

pytestmark = pytest.mark.unit


def test_events_are_split_on_blank_lines_with_their_names() -> None:
    lines = ["event: token", 'data: {"text":"Hi"}', "", ": a comment", "data: one", "data: two", "", "event: done", "data: {}", ""]
    assert list(_events(lines)) == [("token", '{"text":"Hi"}'), ("message", "one\ntwo"), ("done", "{}")]


def test_an_event_without_data_or_cut_off_before_its_blank_line_is_not_delivered() -> None:
    assert list(_events(["event: ping", "", "event: token", 'data: {"text":"cut'])) == []
