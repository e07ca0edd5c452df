"""A cable between two VLAN switches over real ssh (an sshd on 127.0.0.1: the
"other host" is this machine): frames cross it both ways, a host ssh cannot
reach is one error naming it, a lost connection is one line naming the host,
and stop leaves no process (issue 27, points 1 and 2)."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.frames import Plug, frame
from bench.sshd import SSHD, Sshd, running_sshd
from nixvms.supervisor import procs
from nixvms.supervisor.cables import Cable, probe
from nixvms.supervisor.errors import StartError
from nixvms.supervisor.machines import Switch
from nixvms.supervisor.placement import VmHost

pytestmark = [pytest.mark.processes]


@pytest.fixture(scope="module")
def sshd() -> Iterator[Sshd]:
    if not SSHD.exists() or os.geteuid() != 0:
        pytest.skip("needs openssh-server and root (sshd's privilege separation)")
    directory = Path(tempfile.mkdtemp(prefix="sshd-"))
    try:
        with running_sshd(directory) as server:
            yield server
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def host_of(sshd: Sshd, port: int | None = None) -> VmHost:
    return VmHost(name="other", ssh="root@127.0.0.1", port=port or sshd.port,
                  identity=str(sshd.client_key), ssh_options=sshd.ssh_options())


class Joined:
    def __init__(self, cable: Cable, here: Plug, there: Plug) -> None:
        self.cable, self.here, self.there = cable, here, there


@pytest.fixture
def joined(sshd: Sshd) -> Iterator[Joined]:
    directory = Path(tempfile.mkdtemp(prefix="cable-"))
    here = Switch(1, None, socket=directory / "here", log=directory / "here.log")
    there = Switch(1, None, socket=directory / "there", log=directory / "there.log")
    cable = Cable(1, host_of(sshd), here.socket, str(there.socket), directory / "cable.log")
    plugs: list[Plug] = []
    try:
        here.start()
        there.start()
        cable.start()
        cable.wait_settled(1.0)
        plugs = [Plug(here.socket), Plug(there.socket)]
        yield Joined(cable, *plugs)
    finally:
        for plug in plugs:
            plug.close()
        cable.stop(1)
        here.stop(1)
        there.stop(1)
        shutil.rmtree(directory, ignore_errors=True)


def crosses(sender: Plug, receiver: Plug, payload: bytes) -> bool:
    # the first frames may go before ssh has connected: send until one arrives
    for _ in range(40):
        sender.send(frame(1, payload))
        if receiver.receive_payload(payload, 0.25):
            return True
    return False


def test_frames_cross_a_cable_both_ways(joined: Joined) -> None:
    assert crosses(joined.here, joined.there, b"to the other host")
    assert crosses(joined.there, joined.here, b"and back")


def test_a_host_ssh_cannot_reach_is_one_error_naming_it(sshd: Sshd) -> None:
    closed = host_of(sshd, port=1)
    with pytest.raises(StartError, match=r"^host other \(root@127.0.0.1\) cannot be reached "
                                         r"over ssh \(exit status 255\)"):
        probe(closed)
    probe(host_of(sshd))  # the one that answers passes


def test_a_lost_connection_is_one_line_naming_the_host(joined: Joined) -> None:
    assert crosses(joined.here, joined.there, b"before")
    assert joined.cable.process is not None
    ssh = [pid for pid in procs.group_members(joined.cable.process.pid)
           if _command(pid).startswith("ssh")]
    assert ssh, "the cable runs ssh"
    os.kill(ssh[0], signal.SIGKILL)
    joined.cable.process.wait(timeout=10)
    line = joined.cable.lost()
    assert line is not None and line.startswith(
        "the cable of VLAN 1 to host other (root@127.0.0.1) was lost")
    assert joined.cable.lost() is None  # said once


def test_stop_leaves_no_process_of_the_cable(joined: Joined) -> None:
    assert joined.cable.process is not None
    group = joined.cable.process.pid
    assert procs.group_members(group)
    joined.cable.stop(1)
    assert procs.group_members(group) == []


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
