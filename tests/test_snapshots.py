"""Snapshots with real QEMU under TCG: `nixvms snapshot save|restore|list|delete`
on a running network, and what must survive a save cut short.

One two-machine network is built and started once for the module; the tests
that only save and restore share it (in file order: the last one kills its
supervisor during a save). The full-disk test runs its own one-machine
network on a small tmpfs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nixvms.supervisor import runstate, statedir
from tests.conftest import BIN, nixvms, write

pytestmark = [pytest.mark.nix, pytest.mark.vm]

NETWORK = """\
{
  defaults = { modulesPath, ... }: {
    imports = [ (modulesPath + "/testing/test-instrumentation.nix") ];
    virtualisation.memorySize = 512;
  };
  server = { pkgs, ... }: {
    networking.firewall.enable = false;
    # a counter that lives only in the process: it counts the USR1 signals it got
    systemd.services.counter = {
      wantedBy = [ "multi-user.target" ];
      path = [ pkgs.busybox ];
      script = ''
        n=0
        trap 'n=$((n + 1)); echo $n > /run/counter' USR1
        echo $$ > /run/counter.pid
        while true; do sleep 1; done
      '';
    };
  };
  client = import ./client.nix;
}
"""
CLIENT = "{ ... }: { networking.firewall.enable = false; }\n"


def snapshot(project: Path, *args: str) -> tuple[int, str, str]:
    done = nixvms("snapshot", *args, cwd=project)
    return done.code, done.stdout, done.stderr


def guest(project: Path, machine: str, command: str) -> str:
    """A command's output on a machine (through its backdoor: nixvms exec)."""
    done = nixvms("exec", "--on", machine, "--", command, cwd=project)
    assert done.code == 0, done.stdout + done.stderr
    prefix = f"{machine} | "
    return "\n".join(line[len(prefix):] for line in done.stdout.splitlines()
                     if line.startswith(prefix))


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The two machines, running."""
    project = tmp_path_factory.mktemp("snapshots")
    write(project / "network.nix", NETWORK)
    write(project / "client.nix", CLIENT)
    up = nixvms("up", "--detach", cwd=project)
    assert up.code == 0, up.stderr
    yield project
    nixvms("destroy", cwd=project)


def test_restore_removes_a_file_written_after_the_save_and_keeps_one_written_before(
        network: Path) -> None:
    guest(network, "server", "echo before > /var/lib/before")
    assert snapshot(network, "save", "files")[0] == 0
    guest(network, "server", "echo after > /var/lib/after")
    code, _, err = snapshot(network, "restore", "files")
    assert code == 0, err
    assert guest(network, "server", "ls /var/lib").split() == ["before", "lost+found"]


def test_a_running_process_continues_from_its_saved_state(network: Path) -> None:
    signal_counter = "kill -USR1 $(cat /run/counter.pid); sleep 2; cat /run/counter"
    for _ in range(3):
        counted = guest(network, "server", signal_counter)
    assert snapshot(network, "save", "counter")[0] == 0
    for _ in range(2):
        guest(network, "server", signal_counter)
    assert snapshot(network, "restore", "counter")[0] == 0
    assert guest(network, "server", signal_counter) == str(int(counted) + 1)


def test_the_machines_reach_each_other_by_name_after_a_restore(network: Path) -> None:
    assert snapshot(network, "save", "net")[0] == 0
    assert snapshot(network, "restore", "net")[0] == 0
    guest(network, "client", "ping -c 1 -W 5 server")
    guest(network, "server", "ping -c 1 -W 5 client")


def test_restore_starts_a_machine_stopped_since_the_save(network: Path) -> None:
    guest(network, "client", "echo here > /var/lib/restarted")
    assert snapshot(network, "save", "one-stopped")[0] == 0
    assert nixvms("stop", "client", cwd=network).code == 0
    code, _, err = snapshot(network, "restore", "one-stopped")
    assert code == 0, err
    assert "restored snapshot 'one-stopped': client, server" in err
    assert guest(network, "client", "cat /var/lib/restarted") == "here"


def test_the_guest_clock_is_set_right_after_a_restore(network: Path) -> None:
    assert snapshot(network, "save", "clock")[0] == 0
    time.sleep(10)  # the snapshot's moment is now 10 s ago
    began = int(time.time())
    assert snapshot(network, "restore", "clock")[0] == 0
    assert int(guest(network, "server", "date +%s")) >= began - 2


def test_list_shows_each_snapshot_with_its_time_machines_and_size(network: Path) -> None:
    assert snapshot(network, "save", "listed")[0] == 0
    code, out, _ = snapshot(network, "list")
    assert code == 0
    assert out.splitlines()[0].split() == ["NAME", "TAKEN", "MACHINES", "SIZE"]
    row = next(line for line in out.splitlines() if line.startswith("listed "))
    assert row.split()[3] == "client,server"
    assert row.split()[-1] in ("KiB", "MiB", "GiB")


def test_delete_removes_the_snapshot(network: Path) -> None:
    assert snapshot(network, "save", "deleted")[0] == 0
    code, _, err = snapshot(network, "delete", "deleted")
    assert code == 0, err
    assert "deleted " not in snapshot(network, "list")[1]
    assert "nixvms-deleted-" not in _qemu_tags(network, "server")


def _qemu_tags(project: Path, machine: str) -> str:
    disk = project / ".nixvms" / "run" / machine / f"{machine}.qcow2"
    return subprocess.run(["qemu-img", "snapshot", "-U", "-l", str(disk)],
                          capture_output=True, text=True, check=False).stdout


def test_restoring_a_missing_name_is_one_line_naming_the_snapshots(network: Path) -> None:
    code, _, err = snapshot(network, "restore", "nonexistent")
    assert code == 1
    assert err.strip().splitlines() == [
        f"error: there is no snapshot named 'nonexistent' in {network}/.nixvms/run "
        f"(snapshots: {_names(network)}; `nixvms snapshot save nonexistent` makes it)"]


def _names(project: Path) -> str:
    out = snapshot(project, "list")[1]
    return ", ".join(line.split()[0] for line in out.splitlines()[1:])


def test_restore_after_nixvms_stop_starts_the_machines_from_the_snapshot(
        network: Path) -> None:
    guest(network, "client", "echo saved > /var/lib/stopped")
    assert snapshot(network, "save", "stopped")[0] == 0
    guest(network, "client", "rm /var/lib/stopped")
    assert nixvms("stop", cwd=network).code == 0
    code, out, err = snapshot(network, "restore", "stopped")
    assert code == 0, err
    assert "client restored from snapshot 'stopped'" in out
    assert guest(network, "client", "cat /var/lib/stopped") == "saved"


def test_a_snapshot_of_another_build_is_refused_for_that_machine_naming_fresh(
        network: Path) -> None:
    assert snapshot(network, "save", "build")[0] == 0
    assert nixvms("stop", cwd=network).code == 0
    write(network / "client.nix", "{ ... }: { environment.etc.edited.text = \"1\"; "
                                  "networking.firewall.enable = false; }\n")
    try:
        assert nixvms("build", cwd=network).code == 0
        code, out, err = snapshot(network, "restore", "build")
    finally:
        write(network / "client.nix", CLIENT)
        assert nixvms("build", cwd=network).code == 0
    assert code == 1, out + err
    assert "server restored from snapshot 'build'" in out, out + err
    refusal = err.strip().splitlines()[-1]
    assert refusal.startswith("error: client: snapshot 'build' was taken from another "
                              "build of it")
    assert "`nixvms up --fresh client`" in refusal
    state = runstate.load(statedir.prepare(network / ".nixvms" / "run", create=False))
    assert state is not None and not state.up("client")
    assert nixvms("up", "--detach", cwd=network).code == 0


def test_a_save_killed_with_kill_9_leaves_the_previous_snapshot_restorable(
        network: Path) -> None:
    assert nixvms("up", "--detach", cwd=network).code == 0
    guest(network, "server", "echo first > /var/lib/generation")
    assert snapshot(network, "save", "killed")[0] == 0
    guest(network, "server", "echo second > /var/lib/generation")
    state = runstate.load(statedir.prepare(network / ".nixvms" / "run", create=False))
    assert state is not None
    disk = network / ".nixvms" / "run" / "server" / "server.qcow2"
    before = disk.stat().st_blocks
    saving = subprocess.Popen([str(BIN / "nixvms"), "snapshot", "save", "killed"],
                              cwd=network, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    while disk.stat().st_blocks == before and saving.poll() is None:
        time.sleep(0.05)  # until QEMU writes the new snapshot
    os.kill(state.supervisor.pid, signal.SIGKILL)
    saving.wait()
    code, _, err = snapshot(network, "restore", "killed")
    assert code == 0, err
    assert guest(network, "server", "cat /var/lib/generation") == "first"


FULL_NETWORK = """\
{
  solo = { modulesPath, ... }: {
    imports = [ (modulesPath + "/testing/test-instrumentation.nix") ];
    virtualisation.memorySize = 512;
  };
}
"""


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=900M", "tmpfs", str(mount)],
                   check=True)
    yield mount
    nixvms("stop", "--state-dir", str(mount), cwd=tmp_path)
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_save_onto_a_full_disk_is_one_line_and_keeps_the_previous_snapshot(
        tmp_path: Path, tmpfs: Path) -> None:
    project = tmp_path / "project"
    write(project / "network.nix", FULL_NETWORK)
    state = ["--state-dir", str(tmpfs)]
    assert nixvms("up", "--detach", *state, cwd=project).code == 0
    guest_cmd = ["exec", *state, "--on", "solo", "--"]
    assert nixvms(*guest_cmd, "echo kept > /var/lib/kept", cwd=project).code == 0
    assert nixvms("snapshot", "save", *state, cwd=project).code == 0
    free = os.statvfs(tmpfs)
    filler = tmpfs / "filler"
    with open(filler, "wb") as handle:  # leave 8 MB: far less than a snapshot
        os.posix_fallocate(handle.fileno(), 0, free.f_bavail * free.f_frsize - (8 << 20))
    full = nixvms("snapshot", "save", *state, cwd=project)
    filler.unlink()
    assert full.code == 1
    lines = full.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: snapshot 'default' not saved: machine solo: QEMU: ")
    assert f"the file system of {tmpfs}/run/solo is full)" in lines[0]
    assert lines[0].endswith("; the previous snapshot 'default' is kept")
    assert nixvms(*guest_cmd, "rm /var/lib/kept", cwd=project).code == 0
    restored = nixvms("snapshot", "restore", *state, cwd=project)
    assert restored.code == 0, restored.stderr
    kept = nixvms(*guest_cmd, "cat /var/lib/kept", cwd=project)
    assert "solo | kept" in kept.stdout
