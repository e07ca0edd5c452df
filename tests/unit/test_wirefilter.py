"""wirefilter.py: a link's settings read as netem spells them, and the exact
management commands and command line they become (as the Nix calls are checked)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nixvms.supervisor import link_client, wirefilter
from nixvms.supervisor.errors import LinkError, UsageError
from nixvms.supervisor.wirefilter import Shape, updated


def test_a_shape_becomes_the_machine_to_vlan_commands_in_wirefilters_units() -> None:
    shape = updated(Shape(), {"delay": "100ms", "jitter": "10ms", "loss": "5%",
                              "lossBurst": "3", "duplicate": "1%", "bandwidth": "10mbit",
                              "mtu": "1400"})
    assert wirefilter.commands(shape) == [
        "delay LR100+10U", "loss LR5", "lostburst LR3", "dup LR1",
        "bandwidth LR1250000", "mtu LR1400"]


def test_no_shape_is_every_value_zero() -> None:
    assert wirefilter.commands(Shape()) == [
        "delay LR0+0U", "loss LR0", "lostburst LR0", "dup LR0", "bandwidth LR0", "mtu LR0"]


def test_settings_not_given_stay_as_they_were() -> None:
    shape = updated(Shape(), {"delay": "1.5s", "loss": "0.5%"})
    assert updated(shape, {"loss": "0"}) == Shape(delay_ms=1500.0)


def test_durations_read_in_microseconds_milliseconds_and_seconds() -> None:
    assert updated(Shape(), {"delay": "250us"}).delay_ms == 0.25
    assert wirefilter.commands(updated(Shape(), {"delay": "250us"}))[0] == "delay LR0.25+0U"


def test_a_shape_describes_itself_as_it_is_written() -> None:
    shape = updated(Shape(), {"delay": "100ms", "loss": "5%", "bandwidth": "1mbit"})
    assert shape.describe() == {"delay": "100ms", "loss": "5%", "bandwidth": "1000000bit"}


@pytest.mark.parametrize(("field", "value", "says"), [
    ("delay", "100", "is not a duration"),
    ("delay", "fast", "is not a duration"),
    ("delay", "2h", "is not a duration"),
    ("loss", "5", "is not a percentage at most 100%"),
    ("loss", "101%", "is not a percentage at most 100%"),
    ("duplicate", "100%", "is not a percentage below 100%"),
    ("bandwidth", "10MB", "is not a rate"),
    ("mtu", "big", "is not a number from 0 to 65535"),
    ("mtu", "70000", "is not a number from 0 to 65535"),
    ("speed", "1", "a link has no setting 'speed'"),
])
def test_a_value_wirefilter_would_read_as_zero_is_refused(field: str, value: str,
                                                          says: str) -> None:
    with pytest.raises(UsageError, match=says):
        updated(Shape(), {field: value})


def test_jitter_beyond_the_delay_is_refused() -> None:
    with pytest.raises(UsageError, match="jitter 20ms is more than its delay 10ms"):
        updated(Shape(), {"delay": "10ms", "jitter": "20ms"})


def test_the_command_line_joins_the_two_switches_and_names_the_management_socket() -> None:
    assert wirefilter.argv("/usr/bin/wirefilter", Path("/s/link1-1"), Path("/s/vde1.ctl"),
                           Path("/s/link1-1.wf")) == [
        "/usr/bin/wirefilter", "-v", "/s/link1-1:/s/vde1.ctl", "-M", "/s/link1-1.wf"]


def test_a_socket_path_with_a_colon_is_refused_not_split() -> None:
    with pytest.raises(LinkError, match="holds a colon"):
        wirefilter.argv("wirefilter", Path("/s:x/link"), Path("/s/vde1.ctl"), Path("/m"))


def test_a_replys_status_is_its_last_line() -> None:
    assert wirefilter.reply_code("0000 DATA END WITH '.'\nWireFilter\n.\n1000 Success\n\n") \
        == 1000
    assert wirefilter.reply_code("1038 Function not implemented\n\n") == 1038
    assert wirefilter.reply_code("") is None


@pytest.mark.parametrize(("text", "target"), [
    ("web", ("web", None)), ("web:2", ("web", 2)), ("web-1:255", ("web-1", 255))])
def test_a_link_is_named_machine_or_machine_colon_vlan(text: str,
                                                       target: tuple[str, int | None]) -> None:
    assert link_client.parse_target(text) == target


@pytest.mark.parametrize("text", [":1", "web:", "web:0", "web:256", "web:x"])
def test_a_bad_link_name_is_one_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        link_client.parse_target(text)
