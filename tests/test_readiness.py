"""When the supervisor calls a machine ready (issue 28, point 4): the login
prompt, and an SSH banner where openssh is on, whichever comes last, seen
within one turn of its loop. The VM is a stand-in: its console stage, its
login prompt and its ssh probe's answers are set by the test."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from nixvms.supervisor.machines import SSH_PROBE_INTERVAL, BannerProbe, SshProbe
from nixvms.supervisor.snapshotting import MachineRun
from nixvms.supervisor.supervisor import READY_POLL, machine_ready


@dataclass
class Boot:
    stage: str = "kernel"
    login_seen: bool = False


@dataclass
class Machine:
    openssh: bool = True


class StandInProbe:
    """A probe connection whose polls take the next scripted answer."""

    def __init__(self, answers: list[bool | None]) -> None:
        self.answers = answers

    def poll(self) -> bool | None:
        return self.answers.pop(0) if self.answers else None

    def close(self) -> None:
        pass


@dataclass
class StandInVM:
    """What machine_ready reads of a VM. Its sshd's probe connections answer,
    poll after poll, from `answers` (None: not yet; False: the connection
    ended without a banner)."""

    machine: Machine = field(default_factory=Machine)
    boot: Boot = field(default_factory=Boot)
    answers: list[bool | None] = field(default_factory=list)
    ssh_port: int = 2222
    probes_opened: int = 0
    sshd: BannerProbe = field(init=False)

    def __post_init__(self) -> None:
        self.sshd = BannerProbe(opener=self._open)

    def _open(self, port: int) -> SshProbe:
        self.probes_opened += 1
        return cast(SshProbe, StandInProbe(self.answers))


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
    assert vm.sshd.answered
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
    assert vm.probes_opened == 2 and vm.sshd.answered


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


def test_a_machine_started_again_is_not_ready_until_its_sshd_answers_again(
    clock: list[float],
) -> None:
    vm = StandInVM(boot=Boot(stage="login", login_seen=True), answers=[True])
    run = machine_run(vm)
    assert ready(vm, run, clock)
    vm.sshd.reset()  # what VM.start() does
    vm.answers.append(None)
    clock[0] += READY_POLL
    assert not ready(vm, run, clock)
    assert vm.probes_opened == 2 and vm.sshd.probing
