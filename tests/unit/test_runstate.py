"""The run state: one type, one loader, one atomic save."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from nixvms.supervisor import procs, runstate, statedir, typedjson
from nixvms.supervisor.client import running_plan
from nixvms.supervisor.errors import AlreadyRunning
from nixvms.supervisor.launch import StartRequest
from nixvms.supervisor.machines import HostForward
from nixvms.supervisor.ports import Forward
from nixvms.supervisor.runstate import MachineState, Phase, RunState, SwitchState


def a_state(**machines: MachineState) -> RunState:
    me = procs.ProcessRecord.of(os.getpid(), ("python3",), 1.5)
    assert me is not None
    return RunState(
        network="/nix/store/n-nixos-vms",
        supervisor=me,
        request=StartRequest(network="/nix/store/n-nixos-vms", run_dir="/p/.nixvms/run",
                             machines=("a",), accel="tcg", qemu_opts="-m 512",
                             forwards=(Forward("a", 8080, 80),)),
        sockets="/p/.nixvms/run",
        switches=(SwitchState(vlan=1, process=None, running=False),),
        machines=machines or {"a": MachineState(
            vm="/nix/store/a-vm", phase=Phase.RUNNING, process=me, ready_after=5.5,
            ssh_port=10022, forwards=(HostForward(8080, 80),), disk_vm="/nix/store/a-vm")},
    )


@pytest.fixture
def run_dir(tmp_path: Path) -> statedir.RunDir:
    return statedir.prepare(tmp_path / "run")


def test_a_saved_state_loads_as_the_same_record(run_dir: statedir.RunDir) -> None:
    state = a_state()
    runstate.save(run_dir, state)
    assert runstate.load(run_dir) == state


def test_the_state_file_is_private_and_names_its_kind_and_version(
        run_dir: statedir.RunDir) -> None:
    runstate.save(run_dir, a_state())
    raw = json.loads(run_dir.state_file.read_text())
    assert (raw["kind"], raw["version"]) == ("RunState", runstate.VERSION)
    assert run_dir.state_file.stat().st_mode & 0o777 == 0o600


def test_a_missing_state_file_loads_as_none(run_dir: statedir.RunDir) -> None:
    assert runstate.load(run_dir) is None


@pytest.mark.parametrize("damaged", [
    b"", b"{", b"garbage", b"null", b"[]", b'{"kind": "RunState"}',
    b'{"kind": "RunState", "version": 1, "data": {}}',
    b'{"kind": "Evaluation", "version": 2, "data": {}}',
    b'{"kind": "RunState", "version": 2, "data": {"network": 5}}',
    b'{"kind": "RunState", "version": 2, "data": []}',
    b"[" * 100000 + b"]" * 100000,
    b"\xff\xfe",
])
def test_each_damaged_state_file_loads_as_none(run_dir: statedir.RunDir,
                                                damaged: bytes) -> None:
    run_dir.state_file.write_bytes(damaged)
    assert runstate.load(run_dir) is None


def test_a_truncated_state_file_loads_as_none(run_dir: statedir.RunDir) -> None:
    runstate.save(run_dir, a_state())
    whole = run_dir.state_file.read_bytes()
    for cut in range(0, len(whole) - 2, max(1, len(whole) // 50)):
        run_dir.state_file.write_bytes(whole[:cut])
        assert runstate.load(run_dir) is None


def test_a_phase_of_another_name_makes_the_record_untrusted(run_dir: statedir.RunDir) -> None:
    runstate.save(run_dir, a_state())
    raw = json.loads(run_dir.state_file.read_text())
    raw["data"]["machines"]["a"]["phase"] = "exploded"
    run_dir.state_file.write_text(json.dumps(raw))
    assert runstate.load(run_dir) is None


def test_a_save_killed_midway_leaves_the_previous_state(run_dir: statedir.RunDir,
                                                        tmp_path: Path) -> None:
    before = a_state()
    runstate.save(run_dir, before)
    # A child saves a large state forever; it is killed at some moment of a write.
    code = (
        "import sys, dataclasses\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from nixvms.supervisor import runstate, statedir\n"
        "from tests.unit.test_runstate import a_state\n"
        "from nixvms.supervisor.runstate import MachineState\n"
        "big = a_state(**{f'm{i}': MachineState(vm='/nix/store/' + 'x' * 200)"
        " for i in range(2000)})\n"
        "run_dir = statedir.prepare(sys.argv[2])\n"
        "print('ready', flush=True)\n"
        "while True:\n"
        "    runstate.save(run_dir, big)\n"
    )
    repo = Path(__file__).resolve().parents[2]
    child = subprocess.Popen([sys.executable, "-c", code, str(repo), str(run_dir.path)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline() == "ready\n"
    for _ in range(20):
        state = runstate.load(run_dir)
        assert state is not None and (state == before or len(state.machines) == 2000)
    child.send_signal(signal.SIGKILL)
    child.wait()
    state = runstate.load(run_dir)
    assert state is not None and (state == before or len(state.machines) == 2000)


def test_a_machine_is_up_while_starting_or_running() -> None:
    assert [p.value for p in Phase if p.up] == ["starting", "running"]


def test_a_record_of_a_process_that_is_gone_is_not_alive() -> None:
    child = subprocess.Popen(["true"])
    child.wait()
    assert procs.ProcessRecord.of(child.pid, ("true",), 0.0) is None
    me = procs.ProcessRecord.of(os.getpid(), ("python3",), 0.0)
    assert me is not None and me.alive()
    assert not procs.ProcessRecord(me.pid, me.start_time + 1, me.command, 0.0).alive()


def test_a_supervisor_not_holding_the_lock_is_not_alive(run_dir: statedir.RunDir) -> None:
    state = a_state()
    assert not state.supervisor_alive(run_dir)
    lock = statedir.StateLock(run_dir)
    try:
        assert state.supervisor_alive(run_dir)
    finally:
        lock.release()


@pytest.fixture
def locked(run_dir: statedir.RunDir) -> Iterator[statedir.RunDir]:
    """The run directory with its lock held, as by a supervisor that runs."""
    lock = statedir.StateLock(run_dir)
    yield run_dir
    lock.release()


def test_up_on_a_state_dir_whose_supervisor_has_not_written_its_state_says_already_running(
        locked: statedir.RunDir) -> None:
    with pytest.raises(AlreadyRunning, match=r"already running .* still starting"):
        running_plan(locked.path, "/nix/store/n-nixos-vms")


def test_up_on_a_network_still_launching_its_machines_says_already_running(
        locked: statedir.RunDir) -> None:
    runstate.save(locked, dataclasses.replace(a_state(), launching=True))
    with pytest.raises(AlreadyRunning, match=r"already running .* still starting"):
        running_plan(locked.path, "/nix/store/n-nixos-vms")


def test_a_reader_in_a_supervisors_first_instant_waits_for_its_first_state(
        locked: statedir.RunDir) -> None:
    state = a_state()
    saver = threading.Timer(0.3, runstate.save, (locked, state))
    saver.start()
    try:
        assert runstate.load_started(locked) == state
    finally:
        saver.join()


def test_a_missing_state_file_without_a_supervisor_is_not_waited_for(
        run_dir: statedir.RunDir) -> None:
    assert runstate.load_started(run_dir, timeout=60) is None  # at once: nothing to wait for


def test_a_supervisor_that_never_saves_its_state_is_waited_for_only_so_long(
        locked: statedir.RunDir) -> None:
    assert runstate.load_started(locked, timeout=0.2) is None


def test_a_state_file_written_before_launching_was_recorded_reads_as_launched() -> None:
    data = typedjson.to_data(a_state())
    assert isinstance(data, dict)
    del data["launching"]
    loaded = typedjson.from_data(RunState, data)
    assert loaded is not None and loaded.launching is False
