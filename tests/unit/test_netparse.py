"""The network file's parsed form, split into what each machine depends on."""

from __future__ import annotations

from nixvms import netparse

# As `nix-instantiate --parse` prints them (Nix 2.8).
NETWORK = ('(let shared = { x = 1; }; in { defaults = ({ ... }: { networking = { domain = '
           '"example.net"; }; }); a = ({ pkgs, ... }: { x = (shared).x; }); '
           'b = ({ ... }: { y = "a;b}"; }); })')


def test_every_machine_depends_on_the_whole_of_a_file_it_cannot_split() -> None:
    parsed = netparse.parse("(rec { a = { }; b = a; })", ["a", "b"])
    assert not parsed.split
    assert parsed.view("a") == parsed.view("b") == parsed.digest


def test_editing_one_machine_leaves_the_others_views_as_they_were() -> None:
    before = netparse.parse(NETWORK, ["a", "b"])
    after = netparse.parse(NETWORK.replace('"a;b}"', '"changed"'), ["a", "b"])
    assert before.view("a") == after.view("a")
    assert before.view("b") != after.view("b")


def test_editing_a_shared_binding_changes_every_view() -> None:
    before = netparse.parse(NETWORK, ["a", "b"])
    after = netparse.parse(NETWORK.replace("x = 1;", "x = 2;"), ["a", "b"])
    assert before.view("a") != after.view("a")
    assert before.view("b") != after.view("b")


def test_editing_defaults_changes_every_view() -> None:
    before = netparse.parse(NETWORK, ["a", "b"])
    after = netparse.parse(NETWORK.replace("example.net", "example.org"), ["a", "b"])
    assert before.view("b") != after.view("b")


def test_a_machine_that_read_another_through_nodes_keeps_its_expression() -> None:
    before = netparse.parse(NETWORK, ["a", "b"])
    after = netparse.parse(NETWORK.replace('"a;b}"', '"changed"'), ["a", "b"])
    assert before.view("a", ["b"]) != after.view("a", ["b"])


def test_adding_a_machine_changes_every_view() -> None:
    before = netparse.parse(NETWORK, ["a", "b"])
    grown = NETWORK.replace("}); })", "}); c = ({ ... }: { }); })")
    after = netparse.parse(grown, ["a", "b", "c"])
    assert after.split
    assert before.view("a") != after.view("a")


def test_a_function_header_around_the_machines_is_shared() -> None:
    parsed = netparse.parse("({ lib ? null, ... }: { a = { }; b = { }; })", ["a", "b"])
    assert parsed.split
    edited = netparse.parse("({ lib ? null, ... }: { a = { }; b = { x = 1; }; })", ["a", "b"])
    assert parsed.view("a") == edited.view("a")
