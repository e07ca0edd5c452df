"""A catalogue of bad input: each is one clear first `error:` line naming the
problem, a nonzero exit, no traceback, and the previous `result` untouched.

(tests/test_cli.py has more: a missing network file, a directory, a syntax
error, not an attribute set, an empty network, an invalid hostname, a machine
that is not a module, a missing -I path, a malformed --option, -j 0.)
Some inputs that look odd must work: a path with spaces and non-ASCII
characters, a symlinked network file, `network`/`meta` attributes.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Run, nixvms, write

pytestmark = pytest.mark.nix

RUN_ID = uuid.uuid4().hex

GOOD = f"""\
{{
  a = {{ ... }}: {{ environment.etc."motd".text = "a {RUN_ID}"; }};
  b = {{ ... }}: {{ environment.etc."motd".text = "b {RUN_ID}"; }};
}}
"""


@pytest.fixture(scope="module")
def built_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("bad-input") / "project"
    write(project / "network.nix", GOOD)
    run = nixvms("build", cwd=project)
    assert run.code == 0, run.stderr
    return project


@pytest.fixture
def good(built_once: Path) -> Iterator[Path]:
    """The project with its good network built; the test swaps in bad input."""
    yield built_once
    write(built_once / "network.nix", GOOD)


def result_target(project: Path) -> str:
    return os.readlink(project / "result")


def error_lines(run: Run) -> list[str]:
    return [line for line in run.stderr.splitlines() if line.startswith("error:")]


def fails_clearly(project: Path, *args: str, naming: tuple[str, ...], code: int = 1) -> Run:
    """Run `nixvms build ARGS` and check the failure is a clear one that lost nothing."""
    before = result_target(project)
    run = nixvms("build", *args, cwd=project)
    assert run.code == code, run.stderr
    assert "Traceback" not in run.stderr
    lines = error_lines(run)
    assert lines, run.stderr
    for words in naming:
        assert words in lines[0], f"{words!r} not in the first error line:\n{run.stderr}"
    assert result_target(project) == before
    valid = subprocess.run(["nix-store", "--check-validity", before], check=False)
    assert valid.returncode == 0
    return run


def bad_network(project: Path, text: str) -> None:
    write(project / "network.nix", text)


# --- the network file --------------------------------------------------------------


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file of mode 000")
def test_unreadable_network_file(good: Path) -> None:
    network = good / "network.nix"
    network.chmod(0)
    try:
        fails_clearly(good, naming=("network.nix is not readable",))
    finally:
        network.chmod(0o644)


def test_network_file_that_is_a_function(good: Path) -> None:
    bad_network(good, "{ pkgs, ... }: { a = { }; }\n")
    fails_clearly(good, naming=("network.nix is a function", "attribute set of machines"))


def test_network_file_importing_a_missing_file(good: Path) -> None:
    bad_network(good, "import ./elsewhere.nix\n")
    fails_clearly(good, naming=("elsewhere.nix", "No such file"))


def test_network_file_in_infinite_recursion(good: Path) -> None:
    bad_network(good, "let network = network // { }; in network\n")
    fails_clearly(good, naming=("infinite recursion",))


def test_network_of_only_reserved_attributes_has_no_machines(good: Path) -> None:
    bad_network(good, '{ network.description = "n"; meta = { }; defaults = { }; }\n')
    fails_clearly(good, naming=("has no machines",))


def test_more_machines_than_the_address_plan_allows(good: Path) -> None:
    machines = "".join(f"  m{i} = {{ }};\n" for i in range(255))
    bad_network(good, "{\n" + machines + "}\n")
    fails_clearly(good, naming=("255 machines", "at most 254"))


def test_machine_name_longer_than_a_hostname_label(good: Path) -> None:
    name = "m" * 64
    bad_network(good, f"{{ {name} = {{ }}; }}\n")
    fails_clearly(good, naming=(f"'{name}' is not a valid hostname label",))


def test_machine_module_file_that_does_not_exist(good: Path) -> None:
    bad_network(good, "{ a = ./machines/missing.nix; }\n")
    fails_clearly(good, naming=("machine 'a'", "machines/missing.nix", "No such file"))


# --- one machine's evaluation ---------------------------------------------------


def test_evaluation_error_in_one_machine_names_it(good: Path) -> None:
    bad_network(good, GOOD.replace('"b ', 'throw "b is broken" + "'))
    run = fails_clearly(good, naming=("evaluation of machine 'b' failed", "b is broken"))
    assert not run.made_network


def test_keep_going_builds_the_others_and_names_the_failed_machine_last(good: Path) -> None:
    marker = uuid.uuid4().hex  # c is new: it must really be built
    bad_network(good, GOOD.replace('"b ', 'throw "b is broken" + "').replace(
        "}\n", f'  c = {{ ... }}: {{ environment.etc."motd".text = "c {marker}"; }};\n}}\n'))
    run = fails_clearly(good, "--keep-going",
                        naming=("evaluation of machine 'b' failed", "b is broken"))
    assert run.tasks("building") == {"a", "c"}  # a's /etc/hosts now lists c
    assert not run.made_network
    last = error_lines(run)[-1]
    assert "failed machines: b" in last and "network was not made" in last, run.stderr


def test_infinite_recursion_in_a_machine(good: Path) -> None:
    bad_network(good, '{ b = { config, ... }: {'
                      ' environment.etc."motd".text = config.environment.etc."motd".text; }; }\n')
    fails_clearly(good, naming=("machine 'b'", "infinite recursion"))


def test_unsupported_system_names_the_machine_and_the_supported_ones(good: Path) -> None:
    bad_network(good, '{ a = { ... }: { nixpkgs.system = "aarch64-linux"; }; }\n')
    fails_clearly(good, naming=("machine 'a'", "aarch64-linux", "x86_64-linux", "i686-linux"))


def test_defaults_module_with_an_error(good: Path) -> None:
    bad_network(good, "{ defaults = { services.noSuchService.enable = true; }; a = { }; }\n")
    run = fails_clearly(good, naming=("machine 'a'", "services.noSuchService"))
    assert "network.nix@defaults" in run.stderr


def test_defaults_that_is_not_a_module(good: Path) -> None:
    bad_network(good, "{ defaults = 3; a = { }; }\n")
    fails_clearly(good, naming=("'defaults'", "not a NixOS module"))


def test_undefined_option(good: Path) -> None:
    bad_network(good, "{ a = { services.frobnicator.enable = true; }; }\n")
    fails_clearly(good, naming=("machine 'a'", "services.frobnicator", "does not exist"))


def test_option_value_of_the_wrong_type(good: Path) -> None:
    bad_network(good, '{ a = { virtualisation.memorySize = "lots"; }; }\n')
    fails_clearly(good, naming=("machine 'a'", "virtualisation.memorySize", "is not of type"))


def test_target_host_of_the_wrong_type(good: Path) -> None:
    bad_network(good, "{ a = { deployment.targetHost = 42; }; }\n")
    fails_clearly(good, naming=("deployment.targetHost", "is not of type"))


def test_conflicting_definitions_name_both_files(good: Path) -> None:
    bad_network(good, '{ defaults = { networking.hostName = "x"; };'
                      ' a = { networking.hostName = "y"; }; }\n')
    run = fails_clearly(good, naming=("networking.hostName", "conflicting definition"))
    assert "network.nix@defaults" in run.stderr and "network.nix@node-a" in run.stderr


def test_vlan_out_of_range(good: Path) -> None:
    bad_network(good, "{ a = { virtualisation.vlans = [ 300 ]; }; }\n")
    fails_clearly(good, naming=("machine 'a'", "VLAN 300 is out of range", "1 to 255"))


def test_vlan_listed_twice(good: Path) -> None:
    bad_network(good, "{ a = { virtualisation.vlans = [ 1 2 1 ]; }; }\n")
    fails_clearly(good, naming=("machine 'a'", "VLAN 1 more than once"))


def test_nodes_reference_to_a_machine_that_does_not_exist(good: Path) -> None:
    bad_network(good, "{ a = { nodes, ... }: {"
                      " networking.extraHosts = nodes.ghost.config.networking.hostName; }; }\n")
    fails_clearly(good, naming=("machine 'a'", "attribute 'ghost' missing"))


# --- flags ---------------------------------------------------------------------------


def test_extra_dep_that_does_not_exist_is_a_usage_error(good: Path) -> None:
    fails_clearly(good, "--extra-dep", "no-such-file", naming=("--extra-dep", "no-such-file"),
                  code=2)


def test_out_link_onto_an_existing_file_refuses_and_keeps_it(good: Path) -> None:
    mine = write(good / "notes.txt", "my notes\n")
    fails_clearly(good, "-o", "notes.txt", naming=("notes.txt", "already exists"))
    assert mine.read_text() == "my notes\n"


def test_out_link_onto_an_existing_directory_refuses_and_keeps_it(good: Path) -> None:
    kept = write(good / "somedir" / "kept", "kept\n")
    fails_clearly(good, "-o", "somedir", naming=("somedir", "already exists"))
    assert kept.read_text() == "kept\n"


# --- odd but fine ----------------------------------------------------------------


def test_out_link_into_a_missing_directory_is_made_as_nix_build_does(good: Path) -> None:
    run = nixvms("build", "-o", "links/net", cwd=good)
    assert run.code == 0, run.stderr
    assert os.readlink(good / "links" / "net") == result_target(good)


def test_network_and_meta_attributes_are_not_machines(good: Path) -> None:
    bad_network(good, GOOD.replace("{\n", '{\n  network.description = "n";\n  meta = { };\n', 1))
    run = nixvms("build", cwd=good)
    assert run.code == 0, run.stderr
    description = json.loads((good / "result" / "network.json").read_text())
    assert [m["name"] for m in description["machines"]] == ["a", "b"]


def test_network_path_with_spaces_and_non_ascii_characters_builds(tmp_path: Path) -> None:
    project = tmp_path / "my net é"
    write(project / "machines" / "ü b.nix",
          f'{{ ... }}: {{ environment.etc."motd".text = "ü {RUN_ID}"; }}\n')
    write(project / "network.nix", '{ a = import "${./machines}/ü b.nix"; }\n')
    run = nixvms("build", cwd=project)
    assert run.code == 0, run.stderr
    assert (project / "result" / "vms" / "a" / "bin" / "run-a-vm").exists()
    # run-vms names the project's ssh key by its path: still a valid script.
    syntax = subprocess.run(["bash", "-n", str(project / "result" / "bin" / "run-vms")],
                            capture_output=True, text=True, check=False)
    assert syntax.returncode == 0, syntax.stderr
    again = nixvms("build", cwd=project)
    assert again.tasks("evaluating") == set()


def test_symlinked_network_file_builds_and_follows_edits_of_its_target(tmp_path: Path) -> None:
    real = write(tmp_path / "elsewhere" / "net.nix",
                 f'{{ a = {{ ... }}: {{ environment.etc."motd".text = "one {RUN_ID}"; }}; }}\n')
    project = tmp_path / "project"
    project.mkdir()
    (project / "network.nix").symlink_to(real)
    first = nixvms("build", cwd=project)
    assert first.code == 0, first.stderr
    before = result_target(project)
    write(real, real.read_text().replace('"one ', '"two '))
    second = nixvms("build", cwd=project)
    assert second.code == 0, second.stderr
    assert second.tasks("evaluating") == {"a"}
    assert result_target(project) != before


# --- special files, Nix's settings, hostile state (issue 16) ------------------------


def settle(project: Path) -> None:
    """Build the good network, so that its records are the ones the next check compares."""
    run = nixvms("build", cwd=project)
    assert run.code == 0, run.stderr


def next_build_is_a_no_op(project: Path) -> None:
    """After a refused build, the good network builds again without redoing anything."""
    run = nixvms("build", cwd=project)
    assert run.code == 0, run.stderr
    assert not run.tasks("evaluating") and not run.tasks("building"), run.stderr


def test_network_file_that_is_a_fifo_is_named_without_hanging(good: Path) -> None:
    settle(good)
    fifo = good / "fifo.nix"
    os.mkfifo(fifo)
    try:
        fails_clearly(good, "fifo.nix", naming=("fifo.nix", "not a regular file"))
    finally:
        fifo.unlink()
    next_build_is_a_no_op(good)


def test_extra_dep_that_is_a_fifo_is_named_without_hanging(good: Path) -> None:
    os.mkfifo(good / "pipe")
    try:
        fails_clearly(good, "--extra-dep", "pipe", naming=("--extra-dep", "pipe",
                                                           "not a regular file"), code=2)
    finally:
        (good / "pipe").unlink()


def test_a_module_that_is_a_fifo_is_named_without_hanging(good: Path) -> None:
    os.mkfifo(good / "fifo-module.nix")
    try:
        bad_network(good, "{ a = ./fifo-module.nix; b = { }; }\n")
        fails_clearly(good, naming=("fifo-module.nix", "not a regular file"))
    finally:
        (good / "fifo-module.nix").unlink()


def test_an_option_nix_does_not_know_is_an_error_naming_it(good: Path) -> None:
    fails_clearly(good, "--option", "no-such-setting-xyz", "1",
                  naming=("no-such-setting-xyz", "--option-warn-only"))


def test_an_unknown_option_with_warn_only_builds_and_shows_nixs_warning(good: Path) -> None:
    run = nixvms("build", "--option", "no-such-setting-xyz", "1", "--option-warn-only",
                 cwd=good)
    assert run.code == 0, run.stderr
    assert run.stderr.count("warning: unknown setting 'no-such-setting-xyz'") == 1


def test_state_directory_that_is_a_file_is_named(good: Path, tmp_path: Path) -> None:
    project = tmp_path / "p"
    write(project / "network.nix", GOOD)
    write(project / ".nixvms", "not a directory")
    run = nixvms("build", cwd=project)
    assert run.code == 1 and "Traceback" not in run.stderr
    assert ".nixvms is not a directory" in error_lines(run)[0]
    assert "--state-dir" in error_lines(run)[0]


@pytest.mark.parametrize(("part", "kind"), [("lock", "dir"), ("gcroots", "file"),
                                             ("records", "file"), ("filesets", "file")])
def test_a_state_part_of_the_wrong_kind_is_named(good: Path, part: str, kind: str) -> None:
    settle(good)
    path = good / ".nixvms" / part
    aside = good / f"aside-{part}"
    os.replace(path, aside)
    try:
        path.mkdir() if kind == "dir" else path.write_text("wrong kind")
        run = fails_clearly(good, naming=(str(path),))
        assert "remove it" in error_lines(run)[0]
    finally:
        if path.is_dir():
            path.rmdir()
        else:
            path.unlink()
        os.replace(aside, path)
    next_build_is_a_no_op(good)


def test_state_dir_option_keeps_the_state_elsewhere(tmp_path: Path) -> None:
    project = tmp_path / "p"
    write(project / "network.nix", GOOD)
    run = nixvms("build", "--state-dir", str(tmp_path / "state"), cwd=project)
    assert run.code == 0, run.stderr
    assert (tmp_path / "state" / "records").is_dir()
    assert not (project / ".nixvms").exists()


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True, check=False).returncode == 0


@pytest.fixture
def read_only_project(tmp_path: Path) -> Iterator[Path]:
    """A project directory on a read-only mount (root ignores file modes)."""
    project = tmp_path / "ro"
    write(project / "network.nix", GOOD)
    if not _mount("--bind", str(project), str(project)):
        pytest.skip("cannot bind-mount here")
    try:
        if not _mount("-o", "remount,ro,bind", str(project)):
            pytest.skip("cannot remount read-only here")
        yield project
    finally:
        subprocess.run(["umount", str(project)], check=False)


def test_read_only_project_directory_names_where_and_the_way_out(read_only_project: Path,
                                                                  tmp_path: Path) -> None:
    run = nixvms("build", cwd=read_only_project)
    assert run.code == 1 and "Traceback" not in run.stderr, run.stderr
    first = error_lines(run)[0]
    assert str(read_only_project / ".nixvms") in first and "--state-dir" in first
    elsewhere = nixvms("build", "--state-dir", str(tmp_path / "s"), "--no-out-link",
                       cwd=read_only_project)
    assert elsewhere.code == 0, elsewhere.stderr


def test_project_path_that_is_not_utf8_is_named_in_escaped_form(tmp_path: Path) -> None:
    project = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9"))
    write(project / "network.nix", GOOD)
    run = nixvms("build", cwd=project)
    assert run.code == 2 and "Traceback" not in run.stderr, run.stderr
    assert "caf\\udce9" in error_lines(run)[0] and "not valid UTF-8" in error_lines(run)[0]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)):
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_names_the_file_and_keeps_the_previous_records(small_disk: Path) -> None:
    project = small_disk / "p"
    write(project / "network.nix", GOOD)
    assert nixvms("build", cwd=project).code == 0
    before = result_target(project)
    # The run deletes the last run's record first (lastrun.py); without it the
    # disk stays full for the whole run.
    (project / ".nixvms" / "records" / "last-run.json").unlink()
    records = {p: p.read_bytes() for p in (project / ".nixvms" / "records").rglob("*.json")}
    filler = small_disk / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
        except OSError:
            pass
    write_ok = True
    try:
        (project / "network.nix").write_text(GOOD.replace('"a ', '"a edited '))
    except OSError:
        write_ok = False
    if write_ok:
        run = nixvms("build", cwd=project)
        assert run.code == 1 and "Traceback" not in run.stderr, run.stderr
        assert "No space left on device" in run.stderr
        assert result_target(project) == before
        for path, content in records.items():
            assert not path.exists() or json.loads(path.read_bytes()) is not None
            assert path.read_bytes() == content or path.name == "network.json"
    filler.unlink()
    again = nixvms("build", cwd=project)
    assert again.code == 0, again.stderr


def test_extra_dep_given_to_a_built_project_is_tracked_from_then_on(good: Path) -> None:
    write(good / "motd.txt", "first")
    run = nixvms("build", "--extra-dep", "motd.txt", cwd=good)
    assert run.code == 0 and run.tasks("evaluating") == {"a", "b"}, run.stderr
    write(good / "motd.txt", "second")
    run = nixvms("build", "--extra-dep", "motd.txt", cwd=good)
    assert run.tasks("evaluating") == {"a", "b"}, run.stderr
    run = nixvms("build", "--extra-dep", "motd.txt", cwd=good)
    assert not run.tasks("evaluating"), run.stderr
    run = nixvms("build", cwd=good)  # dropping it is a change of parameters too
    assert run.tasks("evaluating") == {"a", "b"}, run.stderr
