"""When the supervisor calls a machine ready (issue 28, point 4): the login
prompt, and an SSH banner where openssh is on, whichever comes last, seen
within one turn of its loop. The VM is a stand-in: its console stage, its
login prompt and its ssh probe's answers are set by the test."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from nixvms.supervisor.machines import SshProbe
from nixvms.supervisor.snapshotting import MachineRun
from nixvms.supervisor.supervisor import READY_POLL, SSH_PROBE_INTERVAL, machine_ready


@dataclass
class Boot:
    stage: str = "kernel"
    login_seen: bool = False


@dataclass
class Machine:
    openssh: bool = True


@dataclass
class StandInVM:
    """What _ready reads of a VM; each ssh_answers() call takes the next answer."""

    machine: Machine = field(default_factory=Machine)
    boot: Boot = field(default_factory=Boot)
    answers: list[bool | None] = field(default_factory=list)  # None: a probe stays open
    probing: bool = False
    probes_opened: int = 0

    @property
    def ssh_probing(self) -> bool:
        return self.probing

    def ssh_answers(self) -> bool:
        if not self.probing:
            self.probes_opened += 1
        answer = self.answers.pop(0) if self.answers else None
        self.probing = answer is None
        return bool(answer)


def ready(vm: StandInVM, run: MachineRun, clock: list[float]) -> bool:
    return machine_ready(run, clock[0])


def machine_run(vm: StandInVM) -> MachineRun:
    return MachineRun(vm=cast(Any, vm))


@pytest.fixture
def clock() -> list[float]:
    return [1000.0]  # the supervisor's monotonic clock, moved by the test


def test_sshd_is_not_probed_before_multi_user(clock: list[float]) -> None:
    vm = StandInVM(boot=Boot(stage="services"), answers=[True])
    run = machine_run(vm)
    assert not ready(vm, run, clock)
    assert vm.probes_opened == 0


def test_a_banner_before_the_login_prompt_makes_the_machine_ready_at_the_prompt(
    clock: list[float],
) -> None:
    vm = StandInVM(boot=Boot(stage="multi-user"), answers=[True])
    run = machine_run(vm)
    assert not ready(vm, run, clock)  # the banner came, the prompt not yet
    assert run.ssh_answered
    vm.boot = Boot(stage="login", login_seen=True)
    assert ready(vm, run, clock)
    assert vm.probes_opened == 1  # not asked again


def test_the_login_prompt_alone_is_not_ready_where_openssh_is_on(clock: list[float]) -> None:
    vm = StandInVM(boot=Boot(stage="login", login_seen=True), answers=[False])
    assert not ready(vm, machine_run(vm), clock)


def test_the_login_prompt_alone_is_ready_where_openssh_is_off(clock: list[float]) -> None:
    vm = StandInVM(machine=Machine(openssh=False), boot=Boot(stage="login", login_seen=True))
    assert ready(vm, machine_run(vm), clock)
    assert vm.probes_opened == 0


def test_an_open_probe_is_looked_at_on_every_turn(clock: list[float]) -> None:
    vm = StandInVM(boot=Boot(stage="login", login_seen=True), answers=[None, None, True])
    run = machine_run(vm)
    assert not ready(vm, run, clock)
    clock[0] += READY_POLL
    assert not ready(vm, run, clock)
    clock[0] += READY_POLL
    assert ready(vm, run, clock)  # the banner seen on the next turn, not an interval later
    assert vm.probes_opened == 1


def test_a_new_probe_is_opened_at_most_every_interval_after_one_ended(clock: list[float]) -> None:
    vm = StandInVM(boot=Boot(stage="multi-user"), answers=[False, True])
    run = machine_run(vm)
    assert not ready(vm, run, clock)  # the first connection closed without a banner
    clock[0] += READY_POLL
    assert not ready(vm, run, clock)
    assert vm.probes_opened == 1
    clock[0] += SSH_PROBE_INTERVAL
    ready(vm, run, clock)
    assert vm.probes_opened == 2 and run.ssh_answered


def test_a_probe_connection_that_brings_nothing_for_long_counts_as_ended(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # QEMU's user-mode network holds a forwarded connection open while the
    # guest drops its SYN; the probe must not wait on it for slirp's 75 s
    with socket.socket() as listener:  # accepts, never says anything
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        probe = SshProbe(listener.getsockname()[1])
        try:
            assert probe.poll() is None
            monkeypatch.setattr(SshProbe, "STALE_AFTER", 0.0)
            assert probe.poll() is False
        finally:
            probe.close()
