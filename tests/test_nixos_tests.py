"""`nixvms test FILE.nix`: NixOS test files as nixpkgs writes them (the runTest
module form and make-test-python.nix's), run with the driver's NixOS API.

The test files are the project's own (tests/nixos/). The ones that need no
machine run in seconds; tests/nixos/api.nix boots two tinyos machines once
and checks many methods in its subtests; state.nix, polling.nix and
store-paths.nix and store-paths-function.nix boot one machine each.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import time
import zlib
from pathlib import Path

import pytest

from tests.conftest import BIN, Run, nixvms, write

TESTS = Path(__file__).parent / "nixos"

pytestmark = pytest.mark.nix


def copy_test(project: Path, name: str) -> Path:
    return Path(shutil.copy(TESTS / name, project / name))


def nixos_test(project: Path, source: str, name: str = "t.nix") -> Path:
    return write(project / name, source)


def decoded_png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG whose pixels decode (8-bit RGB, as QEMU's)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, width, height = 8, b"", 0, 0
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert (depth, colour) == (8, 2)
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    assert len(zlib.decompress(idat)) == height * (1 + 3 * width)
    return width, height


# --- no machine needed ------------------------------------------------------------


def test_a_test_with_no_nodes_runs_its_script(project: Path) -> None:
    run = nixvms("test", str(copy_test(project, "empty.nix")), cwd=project)
    assert run.code == 0, run.stderr
    assert "no-nodes ran" in run.stdout
    assert "a test with no machines" in run.stderr


def test_a_lint_failure_stops_the_test_before_anything_is_built(project: Path) -> None:
    test = nixos_test(project, """
      { pkgs, ... }: {
        name = "typo";
        nodes.server = { };
        testScript = ''
          start_all()
          sever.succeed("true")
        '';
      }
    """)
    began = time.monotonic()
    run = nixvms("test", str(test), cwd=project)
    assert run.code != 0
    assert "there is no machine named 'sever'" in run.stderr
    assert not run.tasks("evaluating") and not run.tasks("building")
    assert time.monotonic() - began < 30


def test_an_undefined_name_fails_the_lint(project: Path) -> None:
    test = nixos_test(project, """
      { ... }: { name = "undefined"; testScript = "print(undefined_thing)"; }
    """)
    run = nixvms("test", str(test), cwd=project)
    assert run.code != 0
    assert "undefined name 'undefined_thing'" in run.stderr


def test_skip_lint_lets_the_script_run_into_its_own_error(project: Path) -> None:
    test = nixos_test(project, """
      { ... }: { name = "skip"; skipLint = true; testScript = "print(undefined_thing)"; }
    """)
    run = nixvms("test", str(test), cwd=project)
    assert run.code == 1
    assert "undefined name" not in run.stderr
    assert "NameError: name 'undefined_thing' is not defined" in run.stderr


def test_an_unsupported_option_is_refused_by_name(project: Path) -> None:
    test = nixos_test(project, """
      { ... }: {
        name = "unsupported";
        sshBackdoor.enable = true;
        containers = { };
        interactive.sshBackdoor.enable = true;
        testScript = "";
      }
    """)
    run = nixvms("test", str(test), cwd=project)
    assert run.code != 0
    assert "does not support the NixOS test options" in run.stderr
    for name in ("containers", "sshBackdoor", "interactive.sshBackdoor"):
        assert name in run.stderr


def test_extra_python_packages_the_host_has_are_importable(project: Path) -> None:
    test = nixos_test(project, """
      { ... }: {
        name = "python";
        extraPythonPackages = p: [ p.pytest ];
        testScript = "import pytest\\nprint('pytest', pytest.__name__)";
      }
    """)
    run = nixvms("test", str(test), cwd=project)
    assert run.code == 0, run.stderr
    assert "pytest pytest" in run.stdout


def test_extra_python_packages_the_host_lacks_are_a_clear_error(project: Path) -> None:
    test = nixos_test(project, """
      { ... }: {
        name = "python";
        extraPythonPackages = p: [ p.no_such_python_package ];
        testScript = "";
      }
    """)
    run = nixvms("test", str(test), cwd=project)
    assert run.code != 0
    assert ("extraPythonPackages asks for the Python package no_such_python_package"
            in run.stderr)


def test_global_timeout_ends_a_test_that_runs_past_it(project: Path) -> None:
    test = nixos_test(project, """
      { ... }: {
        name = "slow";
        globalTimeout = 2;
        testScript = "import time\\ntime.sleep(60)";
      }
    """)
    began = time.monotonic()
    run = nixvms("test", str(test), cwd=project)
    assert run.code == 1
    assert "global timeout (2 s)" in run.stderr
    assert time.monotonic() - began < 40


def test_the_interactive_driver_runs_the_script_with_test_script(project: Path) -> None:
    test = copy_test(project, "empty.nix")
    proc = subprocess.run([str(BIN / "nixvms"), "test", str(test), "--interactive"],
                          input="test_script()\n", cwd=project, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "no-nodes ran" in proc.stdout


# --- booted tinyos machines -----------------------------------------------------------


@pytest.fixture(scope="module")
def api_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Path]:
    """tests/nixos/api.nix, run once: two machines, many checks."""
    project = tmp_path_factory.mktemp("api")
    out = project / "out"
    run = nixvms("test", str(copy_test(project, "api.nix")), "-o", str(out), cwd=project)
    return run, out


@pytest.mark.vm
def test_the_api_test_passes_every_subtest(api_run: tuple[Run, Path]) -> None:
    run, _ = api_run
    assert run.code == 0, run.stderr[-4000:]
    for subtest in ("defaults reach every node", "testScript sees nodes",
                    "address-space randomisation off under TCG unless a sysctl sets it",
                    "a timedelta timeout", "wait_for_open_unix_socket",
                    "send_chars and wait_until_tty_matches", "screenshot", "wait_for_text",
                    "the driver's names", "execute without waiting, then a QMP event",
                    "serial_stdout_on shows the console",
                    "copy_from_machine into the output directory",
                    "reboot with allow_reboot keeps QEMU", "reboot then a command"):
        assert f"  ok   {subtest}" in run.stdout


@pytest.mark.vm
def test_log_info_and_log_nested_reach_the_log(api_run: tuple[Run, Path]) -> None:
    run, _ = api_run
    assert "the server's address: 192.168.1.2" in run.stderr
    assert "a nested step" in run.stderr


@pytest.mark.vm
def test_serial_stdout_on_shows_console_lines_with_the_machines_name(
        api_run: tuple[Run, Path]) -> None:
    run, _ = api_run
    assert "client # serial-marker-77" in run.stderr


@pytest.mark.vm
def test_copy_from_machine_copies_into_the_output_directory(api_run: tuple[Run, Path]) -> None:
    _, out = api_run
    assert (out / "copies" / "out.txt").read_text() == "copied-out\n"


@pytest.mark.vm
def test_an_underscore_node_name_is_a_machine_and_its_python_name(
        api_run: tuple[Run, Path]) -> None:
    run, _ = api_run
    assert "server_a: booted" in run.stderr


@pytest.mark.vm
def test_screenshot_writes_a_png_that_decodes_into_the_output_directory(
        api_run: tuple[Run, Path]) -> None:
    _, out = api_run
    width, height = decoded_png_size(out / "server-screen.png")
    assert width >= 640 and height >= 400


@pytest.mark.vm
def test_polling_condition_fails_the_test_at_the_next_command(project: Path) -> None:
    run = nixvms("test", str(copy_test(project, "polling.nix")), cwd=project)
    assert run.code == 1
    assert "Polling condition failed: the alive file exists" in run.stderr
    # the failure names the command's line, which never ran, nor did the rest
    assert "echo never-runs" in run.stderr
    assert not re.search(r"exit status \d+ after [\d.]+ s: echo never-runs", run.stderr)
    assert "sleep 600" not in run.stderr


@pytest.mark.vm
def test_machine_state_is_fresh_unless_keep_machine_state(project: Path) -> None:
    test = str(copy_test(project, "state.nix"))
    first = nixvms("test", test, cwd=project)
    assert first.code == 0, first.stderr[-3000:]
    assert "found: nothing" in first.stdout
    kept = nixvms("test", test, "-K", cwd=project)
    assert kept.code == 0, kept.stderr[-3000:]
    assert "found: kept-file" in kept.stdout
    fresh = nixvms("test", test, cwd=project)
    assert fresh.code == 0, fresh.stderr[-3000:]
    assert "found: nothing" in fresh.stdout


@pytest.fixture(scope="module")
def store_paths_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Run]:
    """tests/nixos/store-paths.nix run, then run again after an edit of its
    script's text that names no other store path."""
    project = tmp_path_factory.mktemp("store-paths")
    test = copy_test(project, "store-paths.nix")
    first = nixvms("test", str(test), cwd=project)
    test.write_text(test.read_text().replace(
        '    machine.succeed("${pkgs.lynx}', '    machine.log("an edited script")\n'
        '    machine.succeed("${pkgs.lynx}'))
    second = nixvms("test", str(test), cwd=project)
    return first, second


@pytest.mark.vm
def test_store_paths_a_string_script_names_are_in_the_guests_store(
        store_paths_runs: tuple[Run, Run]) -> None:
    first, _ = store_paths_runs
    assert first.code == 0, first.stderr[-3000:]
    assert "greeting: hello from a path only the script names" in first.stdout
    assert re.search(r"exit status 0 after [0-9.]+ s: /nix/store/\w+-lynx-[^ ]*/bin/lynx -version",
                     first.stderr)


@pytest.mark.vm
def test_editing_the_scripts_text_rebuilds_and_reboots_no_machine(
        store_paths_runs: tuple[Run, Run]) -> None:
    _, second = store_paths_runs
    assert second.code == 0, second.stderr[-3000:]
    assert "an edited script" in second.stderr
    assert " 0 built," in second.stderr
    assert "restored from its ready snapshot (not booted)" in second.stderr


@pytest.mark.vm
def test_store_paths_a_function_script_names_are_in_the_guests_store(tmp_path: Path) -> None:
    test = copy_test(tmp_path, "store-paths-function.nix")
    run = nixvms("test", str(test), cwd=tmp_path)
    assert run.code == 0, run.stderr[-3000:]
    assert "greeting: hello from a path only the function names" in run.stdout
    assert "hostname: fnhost" in run.stdout
    assert "etc source: from the node's configuration" in run.stdout
    assert re.search(r"^system: /nix/store/\w{32}-tinyos-system-fnhost$", run.stdout, re.M)
