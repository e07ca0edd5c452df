"""hostssh.py: the exact ssh command lines that reach another host's machines
from here (its ControlMaster, the forwards through it, a log followed, a file
fetched)."""

from __future__ import annotations

from pathlib import Path

from nixvms.supervisor import hostssh
from nixvms.supervisor.placement import VmHost, network_there

HOST = VmHost(name="b", ssh="root@10.0.0.2", port=2222)
OPTIONS = ["-o", "BatchMode=yes", "-o", "ServerAliveInterval=5",
           "-o", "ServerAliveCountMax=3", "-p", "2222", "--", "root@10.0.0.2"]
CONTROL = Path("/s/ssh-b")
MUXED = ["ssh", "-S", "/s/ssh-b", "-o", "ControlMaster=no", "-o", "BatchMode=yes"]


def test_the_master_holds_forwards_without_a_command_and_replaces_stale_sockets() -> None:
    assert hostssh.master_argv(HOST, CONTROL) == [
        "ssh", "-M", "-S", "/s/ssh-b", "-N", "-o", "ControlPersist=no",
        "-o", "StreamLocalBindUnlink=yes", "-o", "ExitOnForwardFailure=yes", *OPTIONS]


def test_forwards_are_added_and_cancelled_through_the_master() -> None:
    pairs = [("/s/b.shell", "/r/run/b.shell"), ("127.0.0.1:2201", "127.0.0.1:2301")]
    assert hostssh.forward_argv(HOST, CONTROL, pairs) == [
        *MUXED, "-O", "forward", "-L", "/s/b.shell:/r/run/b.shell",
        "-L", "127.0.0.1:2201:127.0.0.1:2301", "--", "root@10.0.0.2"]
    assert hostssh.forward_argv(HOST, CONTROL, pairs[:1], cancel=True) == [
        *MUXED, "-O", "cancel", "-L", "/s/b.shell:/r/run/b.shell", "--", "root@10.0.0.2"]


def test_the_master_is_checked_and_ended_by_its_control_socket() -> None:
    assert hostssh.check_argv(HOST, CONTROL) == [*MUXED, "-O", "check", "--", "root@10.0.0.2"]
    assert hostssh.exit_argv(HOST, CONTROL) == [*MUXED, "-O", "exit", "--", "root@10.0.0.2"]


def test_a_console_log_is_followed_from_its_start_and_across_a_new_file() -> None:
    assert hostssh.follow_argv(HOST, CONTROL, "/r/my run/b.log") == [
        *MUXED, "--", "root@10.0.0.2", "tail -n +1 -F '/r/my run/b.log'"]


def test_a_file_qemu_wrote_there_is_read_and_removed_in_one_command() -> None:
    assert hostssh.read_argv(HOST, CONTROL, "/r/run/b/screen.png") == [
        *MUXED, "--", "root@10.0.0.2",
        "cat /r/run/b/screen.png && rm -f /r/run/b/screen.png"]


def test_the_network_directory_is_unpacked_there_once_per_build() -> None:
    assert hostssh.unpack_argv(HOST, "/r/net-abc") == [
        "ssh", *OPTIONS,
        "if test -d /r/net-abc; then cat >/dev/null; else rm -rf /r/net-abc.part && "
        "mkdir -p /r/net-abc.part && tar -x -C /r/net-abc.part && mv /r/net-abc.part "
        "/r/net-abc; fi"]


def test_the_hosts_copy_of_the_network_is_named_by_its_store_hash() -> None:
    assert network_there("/r", "/nix/store/0123abcd-nixos-vms") == "/r/net-0123abcd"
