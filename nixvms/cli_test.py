"""`nixvms test`: a NixOS test file, or a test script on a network.

A test file (NixOS's format, nixostest.py) is built as a network and its
testScript run by the test driver (supervisor/driver.py) over it; a
script is run on a network built from network.nix. Registered on cli.py's
group by load_all_commands (COMMANDS).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from nixvms import nix
from nixvms.cli_common import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    _build_options,
    _fail,
    _find_network,
    _lifecycle_options,
    _output_options,
    _run_build,
    _setup_logging,
    _state_dir,
    _verbosity,
)
from nixvms.cli_network import _accel_option, _build_beside, _stop_on_signals
from nixvms.nix import NixSettings
from nixvms.state import StateDir
from nixvms.supervisor import launch, load_network
from nixvms.supervisor.spec import NetworkSpec


@click.command("test", context_settings={"help_option_names": ["-h", "--help"]},
                epilog="""\b
Examples:
  nixvms test tests/login.nix        # a NixOS test: { name; nodes; testScript; ... }
  nixvms test tests/login.nix --interactive
  nixvms test ping.py     # ping.py: start_all(); client.succeed('ping -c 1 server')
  nixvms test net.nix t.py --junit-xml report.xml""")
@click.argument("args", nargs=-1, metavar="TEST.nix | [NETWORK] SCRIPT")
@_lifecycle_options
@click.option("--junit-xml", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write the result as JUnit XML (a test case per subtest).")
@click.option("--keep-vms", is_flag=True,
              help="Leave the machines running afterwards (`nixvms stop` stops them).")
@click.option("--no-snapshots", is_flag=True,
              help="Boot every machine from a new disk, as NixOS's driver does (by "
                   "default a machine unchanged since an earlier run is restored from "
                   "the snapshot taken when it first became ready).")
@click.option("-K", "--keep-machine-state", is_flag=True,
              help="Keep the machines' disks from the last run (default: every machine "
                   "starts from no state, as NixOS's driver).")
@click.option("-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path),
              metavar="DIR", help="Where screenshots and copied files go (default: the "
                                  "current directory).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True, help="The driver's least important "
                                                      "message shown.")
@click.option("--interactive", is_flag=True,
              help="A NixOS test: build it with its interactive.nodes and open the "
                   "interactive driver (NixOS's driverInteractive); test_script() runs it.")
@_accel_option
@_build_options
@_output_options
def test_command(
    args: tuple[str, ...],
    file: Path | None,
    state_dir: Path | None,
    junit_xml: Path | None,
    keep_vms: bool,
    no_snapshots: bool,
    keep_machine_state: bool,
    output_dir: Path | None,
    log_level: str,
    interactive: bool,
    accel: str | None,
    options: tuple[tuple[str, str], ...],
    show_trace: bool,
    include: tuple[str, ...],
    jobs: int,
    max_eval_memory: str | None,
    verbose: int,
    quiet: bool,
) -> None:
    """Run a NixOS test, or a test script on a network, building what changed.

    TEST.nix is a NixOS test as nixpkgs writes them (`{ name; nodes; defaults;
    testScript; ... }`, the runTest module or through make-test-python.nix):
    its nodes are built like a network's machines. SCRIPT is Python with
    NixOS's test-driver API in scope: each machine by name, start_all(),
    subtest(), t, log, ... (see the README's "Testing a network"). Machines
    start when the script first uses them, from no state unless -K, restored
    from the snapshot taken when they first became ready where they have one
    of their build (--no-snapshots: booted from new disks). Prints
    each subtest with its time; exits 0 only if the test passed; stops every
    machine it started unless --keep-vms."""
    _setup_logging(verbose, quiet)
    if len(args) == 1 and args[0].endswith(".nix"):
        if file is not None:
            _fail("give either a NixOS test file or -f NETWORK with a script", EXIT_USAGE)
        _run_nixos_test(Path(args[0]), state_dir, junit_xml, keep_vms, keep_machine_state,
                        output_dir, log_level, interactive, accel, not no_snapshots,
                        NixSettings(options=options, include=include, show_trace=show_trace),
                        jobs, max_eval_memory, _verbosity(verbose, quiet))
        return
    if interactive:
        _fail("--interactive takes a NixOS test file (for a network, use "
              "result/bin/nixos-test-driver)", EXIT_USAGE)
    if not 1 <= len(args) <= 2:
        _fail("give a NixOS test file, or the test script: nixvms test [NETWORK] SCRIPT.py",
              EXIT_USAGE)
    script = Path(args[-1])
    positional = Path(args[0]) if len(args) == 2 else None
    if positional is not None and file is not None:
        _fail("give the network either as NETWORK or with -f, not both", EXIT_USAGE)
    if not script.is_file():
        _fail(f"{script}: no such test script", EXIT_USAGE)
    try:
        compile(script.read_bytes(), str(script), "exec")
    except SyntaxError as error:
        _fail(f"{script}:{error.lineno}: {error.msg}")
    network_file = _find_network(positional or file)
    result = _build_beside(network_file, state_dir, NixSettings(
        options=options, include=include, show_trace=show_trace), jobs, max_eval_memory,
        _verbosity(verbose, quiet))
    load_network(result.store_path)  # a network directory the driver can read
    _drive(result.store_path, _state_dir(network_file, state_dir), script, junit_xml,
           keep_vms=keep_vms, keep_machine_state=keep_machine_state, output_dir=output_dir,
           log_level=log_level, accel=accel, snapshots=not no_snapshots)


def _drive(network: str | NetworkSpec, run_dir: Path, script: Path, junit_xml: Path | None,
           *, keep_vms: bool, keep_machine_state: bool, output_dir: Path | None,
           log_level: str, accel: str | None, lint: bool = True, enable_ocr: bool = True,
           global_timeout: float | None = None, interactive: bool = False,
           snapshots: bool = True) -> None:
    """Run a script with the driver on a built network; exit with its outcome."""
    import logging

    from nixvms.supervisor import driver as test_driver
    from nixvms.supervisor import reports

    _stop_on_signals()
    try:
        with test_driver.Driver(network, run_dir, keep_vms=keep_vms, accel_choice=accel,
                                snapshots=snapshots,
                                out_dir=output_dir, keep_machine_state=keep_machine_state,
                                enable_ocr=enable_ocr, global_timeout=global_timeout,
                                log_level=getattr(logging, log_level.upper()),
                                detach=True if interactive else None) as driver:
            if interactive:
                driver.script = script
                driver.interact()
                sys.exit(0)
            outcome = driver.run_script(script, lint=lint)
        code = reports.report(outcome, junit_xml, sys.stdout, sys.stderr)
    except KeyboardInterrupt:
        _fail("interrupted; the machines the test started are stopped", EXIT_INTERRUPTED)
    sys.exit(code)


def _run_nixos_test(test_file: Path, state_dir: Path | None, junit_xml: Path | None,
                    keep_vms: bool, keep_machine_state: bool, output_dir: Path | None,
                    log_level: str, interactive: bool, accel: str | None, snapshots: bool,
                    settings: NixSettings, jobs: int, max_eval_memory: str | None,
                    verbosity: int) -> None:
    """`nixvms test TEST.nix`: read the test, lint its script, build its nodes
    through the network's graph, run its script."""
    from nixvms import nixostest
    from nixvms.supervisor.lint import check_source, script_namespace

    if not test_file.is_file():
        _fail(f"{test_file}: no such NixOS test file", EXIT_USAGE)
    test_file = test_file.resolve()
    nixpkgs = nix.find_nixpkgs(settings) or nix.tinyos_path()
    info = nixostest.read_test(test_file, nixpkgs, settings)
    state = StateDir.for_network(test_file, state_dir)
    state.ensure()
    scripts = state.root / "test-scripts"
    scripts.mkdir(exist_ok=True)
    script = scripts / f"{re.sub(r'[^A-Za-z0-9._-]', '_', info.name)}.py"

    def lint(source: str) -> None:
        check_source(source, str(script), info.node_names,
                     script_namespace(info.node_names), lint=not info.skip_lint)

    if info.test_script is not None:
        script.write_text(info.test_script)
        lint(info.test_script)  # before anything is built or booted
    network: str | NetworkSpec
    if info.node_names:
        built = (nixostest.interactive_file(test_file, state_dir) if interactive
                 else test_file)
        result = _run_build(built, built.parent / "result", settings, jobs,
                            state_dir=state.root, max_eval_memory=max_eval_memory,
                            verbosity=verbosity)
        network = result.store_path
        load_network(network)
        if info.test_script is None:
            plan = nixostest.plan_json(test_file, state.root, info.node_names)
            info = nixostest.read_test(test_file, nixpkgs, settings, plan)
            if info.test_script is None:
                _fail(f"{test_file}: its testScript gave no script")
            script.write_text(info.test_script)
            lint(info.test_script)
    else:
        network = NetworkSpec(path=str(test_file), machines=(), vlans=(), state_dir=None,
                              ssh_key=None)
    _drive(network, launch.run_dir_path(None, str(state.run_dir)), script, junit_xml,
           keep_vms=keep_vms, keep_machine_state=keep_machine_state, output_dir=output_dir,
           log_level=log_level, accel=accel, lint=False, enable_ocr=info.enable_ocr,
           global_timeout=info.global_timeout, interactive=interactive, snapshots=snapshots)


# The commands, by the name they are called (cli.load_all_commands registers them).
COMMANDS: dict[str, click.Command] = {"test": test_command}
