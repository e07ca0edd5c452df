"""The supervisor's pure parts: no VM, no Nix, no switch."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from nixvms.cli import nixvms
from nixvms.render import render_launcher, templates_digest
from nixvms.supervisor import accel, errors, ports, spec, statedir, text, views
from nixvms.supervisor.sshconfig import ssh_config_text

# --- console text ------------------------------------------------------------------


def test_strip_controls_removes_csi_osc_and_charset_escapes() -> None:
    raw = "\x1b[2J\x1b[?7l\x1b]0;title\x07\x1b(Bboot\x1b[1;32m ok\x1b[0m"
    assert text.strip_controls(raw) == "boot ok"


def test_strip_controls_turns_crlf_into_lf_and_keeps_what_a_lone_cr_overwrote_last() -> None:
    assert text.strip_controls("one\r\ntwo\r\n") == "one\ntwo\n"
    assert text.strip_controls("progress 10%\rprogress 99%\n") == "progress 99%\n"


def test_strip_controls_drops_other_control_characters_but_tabs() -> None:
    assert text.strip_controls("a\x07b\x00c\td") == "abc\td"


def test_tail_lines_are_the_last_nonempty_stripped_lines(tmp_path: Path) -> None:
    log = tmp_path / "m.log"
    log.write_bytes(b"\x1b[2Jfirst\r\n\r\nsecond\r\nthird\r\n")
    assert text.tail_lines(log, 2) == ["second", "third"]
    assert text.tail_lines(tmp_path / "missing.log", 2) == []


# --- ports and forwards ------------------------------------------------------------


def test_parse_forward_reads_machine_host_port_and_guest_port() -> None:
    assert ports.parse_forward("web:8080:80") == ports.Forward("web", 8080, 80)


@pytest.mark.parametrize("bad", ["web:8080", "web:x:80", ":80:80", "web:0:80", "web:80:70000",
                                 "we b:80:80"])
def test_parse_forward_refuses_anything_else(bad: str) -> None:
    with pytest.raises(errors.UsageError):
        ports.parse_forward(bad)


def test_choose_ports_skips_avoided_ports() -> None:
    chosen = ports.choose_ports(40000, 2, avoid={40000})
    assert 40000 not in chosen and len(set(chosen)) == 2


def test_choose_ports_that_run_out_is_a_port_error_naming_the_base() -> None:
    with pytest.raises(errors.PortError, match="no free ports for 2 ssh forward"):
        ports.choose_ports(65535, 2)


def test_a_port_whose_last_connection_is_in_time_wait_is_free_again() -> None:
    # a machine's ssh port after an ssh session to it: QEMU binds it again
    # (SO_REUSEADDR), so its next start asks for the same port and gets it
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not ports.port_free(port)  # listening: in use
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = listener.accept()
            accepted.close()  # the listening side closes first: its TIME_WAIT
            client.recv(1)
    assert ports.port_free(port)


def test_port_base_must_be_a_port_number() -> None:
    assert ports.parse_port_base("10022") == 10022
    for bad in ("0", "65536", "x", ""):
        with pytest.raises(errors.UsageError):
            ports.parse_port_base(bad)


# --- acceleration ------------------------------------------------------------------


def test_tcg_and_kvm_are_taken_as_asked() -> None:
    assert accel.choose("tcg").accel == "tcg"
    assert accel.choose("kvm").accel == "kvm"


def test_an_unknown_accelerator_is_a_usage_error() -> None:
    with pytest.raises(errors.UsageError, match="auto, kvm, tcg"):
        accel.choose("hvf")


def test_tcg_guests_boot_without_address_space_randomisation_before_the_users_params() -> None:
    assert accel.kernel_params("tcg", "") == "norandmaps"
    assert accel.kernel_params("tcg", "quiet loglevel=3") == "norandmaps quiet loglevel=3"


def test_kvm_guests_get_only_the_users_kernel_params() -> None:
    assert accel.kernel_params("kvm", "quiet") == "quiet"
    assert accel.kernel_params(None, "") == ""


def test_the_kernel_probe_boots_the_kernel_without_a_root_filesystem_to_its_panic() -> None:
    assert accel.kernel_probe_command("/bin/qemu", "/nix/store/k/kernel") == [
        "/bin/qemu", "-accel", "kvm", "-machine", "q35", "-cpu", "max", "-nodefaults",
        "-display", "none", "-m", "256", "-serial", "stdio", "-no-reboot",
        "-kernel", "/nix/store/k/kernel", "-append", "console=ttyS0 panic=-1"]


def _counting_probe(answers: list[str | None]) -> tuple[list[int], Callable[[], str | None]]:
    calls: list[int] = []

    def probe() -> str | None:
        calls.append(1)
        return answers[len(calls) - 1]
    return calls, probe


def test_a_kernel_probes_answer_is_kept_for_this_boot_qemu_and_kernel(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    (tmp_path / "k1").write_text("")
    (tmp_path / "k2").write_text("")
    calls, probe = _counting_probe(["hangs", None])
    qemu = sys.executable
    assert accel._cached(qemu, str(tmp_path / "k1"), probe) == "hangs"
    assert accel._cached(qemu, str(tmp_path / "k1"), probe) == "hangs"
    assert len(calls) == 1
    assert accel._cached(qemu, str(tmp_path / "k2"), probe) is None
    assert len(calls) == 2
    assert stat.S_IMODE((tmp_path / "nixvms").stat().st_mode) == 0o700


def test_a_damaged_probe_cache_is_probed_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    (tmp_path / "nixvms").mkdir()
    (tmp_path / "nixvms" / "kvm-probe.json").write_text('{"boot": ["not", "a boot id"')
    calls, probe = _counting_probe([None])
    assert accel._cached(sys.executable, sys.executable, probe) is None
    assert len(calls) == 1


def _probes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, firmware: str | None,
            kernel: str | None) -> list[str]:
    """Replace both KVM probes (on a host with a usable /dev/kvm); returns
    the kernels the kernel probe was asked about."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setattr(os, "access", lambda path, mode: True)
    monkeypatch.setattr(accel, "_probe_firmware", lambda program, timeout: firmware)
    asked: list[str] = []

    def probe_kernel(program: str, kernel_path: str) -> str | None:
        asked.append(kernel_path)
        return kernel
    monkeypatch.setattr(accel, "probe_kernel", probe_kernel)
    return asked


def test_auto_boots_the_machines_kernel_when_the_firmware_probe_passes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _probes(monkeypatch, tmp_path, firmware=None, kernel="a probe kernel hung")
    choice = accel.choose("auto", kernel=sys.executable)
    assert asked == [sys.executable]
    assert choice == accel.Choice("tcg", "a probe kernel hung")


def test_auto_takes_kvm_when_the_machines_kernel_boots_under_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _probes(monkeypatch, tmp_path, firmware=None, kernel=None)
    assert accel.choose("auto", kernel=sys.executable) == accel.Choice(
        "kvm", "a probe of the machines' kernel runs under KVM")


def test_auto_skips_the_kernel_probe_when_the_firmware_probe_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _probes(monkeypatch, tmp_path, firmware="QEMU aborted", kernel=None)
    assert accel.choose("auto", kernel=sys.executable) == accel.Choice("tcg", "QEMU aborted")
    assert asked == []


def test_auto_answers_on_this_host_with_a_reason() -> None:
    choice = accel.choose("auto")
    assert choice.accel in ("kvm", "tcg") and choice.reason


def test_a_firmware_probe_that_hangs_is_ended_at_its_timeout_and_tcg_says_why(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setattr(os, "access", lambda path, mode: True)
    monkeypatch.setattr(shutil, "which", lambda program: "/usr/bin/" + program)
    timeouts: list[float | None] = []

    def hanging_qemu(argv: list[str], **options: object) -> None:
        timeouts.append(options.get("timeout"))  # type: ignore[arg-type]
        raise subprocess.TimeoutExpired(argv, options["timeout"])  # type: ignore[arg-type]
    monkeypatch.setattr(subprocess, "run", hanging_qemu)
    assert accel.choose("auto") == accel.Choice(
        "tcg", f"a probe guest did not run under KVM within {accel.PROBE_TIMEOUT} s")
    assert timeouts == [accel.PROBE_TIMEOUT]


# --- state directories --------------------------------------------------------------


def test_a_plain_short_state_dir_holds_its_own_sockets(tmp_path: Path) -> None:
    state = Path("/tmp/nixvms-test-plain")
    assert statedir.socket_dir_for(state) == state


def test_a_state_dir_with_a_space_or_a_quote_gets_a_private_socket_dir() -> None:
    for name in ("/tmp/a b", "/tmp/it's", "/tmp/$(x)"):
        sockets = statedir.socket_dir_for(Path(name))
        assert sockets.parent.name == f"nixvms-{os.geteuid()}"
        longest = f"{sockets}/{'m' * 63}.monitor"  # the longest machine name's socket
        assert len(longest) <= statedir.UNIX_PATH_MAX


def test_a_long_state_dir_gets_a_private_socket_dir() -> None:
    long = Path("/tmp/" + "d" * 90)
    assert statedir.socket_dir_for(long) != long


def test_a_state_dir_with_a_comma_is_refused_in_one_line() -> None:
    with pytest.raises(errors.StateDirError, match="contains a comma"):
        statedir.prepare("/tmp/a,b")


def test_prepare_makes_the_state_dir_0700(tmp_path: Path) -> None:
    state = tmp_path / "st"
    state.mkdir(mode=0o755)
    statedir.prepare(state)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700


def test_private_files_are_0600_and_written_whole(tmp_path: Path) -> None:
    path = tmp_path / "f"
    statedir.write_private(path, "content\n")
    assert path.read_text() == "content\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(tmp_path.iterdir()) == [path]


def test_a_symlink_where_a_file_of_ours_goes_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state.json").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(errors.StateDirError, match="is a symlink"):
        statedir.write_private(tmp_path / "state.json", "{}")
    with pytest.raises(errors.StateDirError, match="is a symlink"):
        statedir.open_private(tmp_path / "state.json")
    assert not (tmp_path / "elsewhere").exists()


def test_a_symlink_where_a_machine_directory_goes_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "web").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(errors.StateDirError, match="web is a symlink"):
        statedir.make_private_dir(tmp_path / "web", "machine web's directory", follow=False)


def test_the_lock_refuses_a_second_holder_and_frees_when_released(tmp_path: Path) -> None:
    run_dir = statedir.prepare(tmp_path / "st")
    first = statedir.StateLock(run_dir)
    assert statedir.is_locked(run_dir)
    with pytest.raises(errors.AlreadyRunning, match="nixvms stop"):
        statedir.StateLock(run_dir)
    first.release()
    assert not statedir.is_locked(run_dir)


# --- network.json ------------------------------------------------------------------


def network_json(tmp_path: Path, machines: list[dict[str, object]]) -> Path:
    directory = tmp_path / "net"
    directory.mkdir()
    (directory / "network.json").write_text(json.dumps({"machines": machines, "vlans": [1]}))
    return directory


def test_a_machine_is_found_by_name_or_target_host(tmp_path: Path) -> None:
    net = spec.load_network(network_json(tmp_path, [
        {"name": "web", "vm": "/nix/store/a-vm", "vlans": [1], "targetHost": "web.example"}]))
    assert net.machine("web.example").name == "web"
    with pytest.raises(errors.UsageError, match=r"no machine named 'db'.*machines: web"):
        net.machine("db")


def test_the_vm_script_and_disk_follow_system_name(tmp_path: Path) -> None:
    net = spec.load_network(network_json(tmp_path, [
        {"name": "web", "hostName": "www", "systemName": "websys", "vm": "/nix/store/a-vm"}]))
    assert net.machines[0].run_script == "/nix/store/a-vm/bin/run-websys-vm"
    assert net.machines[0].disk_name == "websys.qcow2"


def test_openssh_is_read_from_the_vm_when_network_json_does_not_say(tmp_path: Path) -> None:
    vm = tmp_path / "vm"
    (vm / "system" / "etc" / "ssh" / "authorized_keys.d").mkdir(parents=True)
    net = spec.load_network(network_json(tmp_path, [
        {"name": "a", "vm": str(vm)}, {"name": "b", "vm": str(tmp_path / "other")},
        {"name": "c", "vm": str(vm), "openssh": False}]))
    assert [m.openssh for m in net.machines] == [True, False, False]


def test_a_directory_without_network_json_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(errors.SupervisorError, match="is not a network directory"):
        spec.load_network(tmp_path)


# --- what the supervisor writes and says --------------------------------------------


def test_ssh_config_lists_target_hosts_and_quotes_the_key(tmp_path: Path) -> None:
    directory = network_json(tmp_path, [
        {"name": "web", "vm": "/v", "targetHost": "web.example"}, {"name": "db", "vm": "/v"}])
    data = json.loads((directory / "network.json").read_text())
    data["sshKey"] = "/home/a b/100%/id"
    (directory / "network.json").write_text(json.dumps(data))
    config = ssh_config_text(statedir.RunDir(tmp_path, tmp_path),
                             spec.load_network(directory), {"web": 10022, "db": 10023})
    assert "\nHost web web.example\n  HostName 127.0.0.1\n  Port 10022\n" in config
    assert '  IdentityFile "/home/a b/100%%/id"\n' in config
    assert "\nHost db\n" in config


def test_a_ready_event_is_one_line_with_the_time() -> None:
    assert views.describe_event({"event": "ready", "machine": "test2", "after": 11.2}) == [
        "test2 ready in 11.2 s"]


def test_a_death_is_one_line_with_its_status_then_the_console() -> None:
    lines = views.describe_event({"event": "died", "machine": "b",
                                   "status": "exit status 3", "lines": ["panic"]})
    assert lines == ["b died (exit status 3); its last console lines:", "  | panic"]


# --- the launcher and the digest ------------------------------------------------------


def test_the_launcher_is_short_shell_running_the_copied_supervisor() -> None:
    launcher = render_launcher("run-vms")
    assert launcher.startswith("#!/bin/sh\n")
    assert len(launcher.splitlines()) < 20
    assert '"$lib"/nixvms_supervisor/__main__.py "$@"' in launcher


def test_the_digest_covers_the_supervisor_sources(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from nixvms import render

    before = templates_digest()
    sources = render.supervisor_sources()
    monkeypatch.setattr(render, "supervisor_sources",
                        lambda: [*sources, ("new.py", b"# changed\n")])
    assert templates_digest() != before


# --- the commands' bad input ------------------------------------------------------------


def test_lifecycle_commands_outside_a_project_say_so_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for command in (["status"], ["stop"], ["ssh", "x"], ["logs", "x"], ["console", "x"]):
        result = CliRunner().invoke(nixvms, command)
        assert result.exit_code != 0
        assert result.output.strip().splitlines() == [
            f"error: no network.nix in {tmp_path} or any directory above it; give one with "
            "-f NETWORK (or the state directory with --state-dir)"]


def test_run_is_up() -> None:
    result = CliRunner().invoke(nixvms, ["run", "--help"])
    assert result.exit_code == 0
    assert "--detach" in result.output


def test_a_missing_state_dir_is_one_line(tmp_path: Path) -> None:
    missing = Path(tempfile.gettempdir()) / "nixvms-no-such-state-dir"
    result = CliRunner().invoke(nixvms, ["status", "--state-dir", str(missing)])
    assert result.exit_code == 0
    assert result.output.strip().splitlines() == [
        f"no network is running from {missing / 'run'} (none has run from there, or it "
        "was destroyed); `nixvms up` starts one"]


def test_forward_ports_are_read_from_the_vm_script_when_network_json_does_not_say(
        tmp_path: Path) -> None:
    vm = tmp_path / "vm"
    (vm / "bin").mkdir(parents=True)
    (vm / "bin" / "run-web-vm").write_text(
        '-netdev user,id=user.0,hostfwd=tcp::8080-:80,hostfwd=udp:127.0.0.1:5353-:53,'
        '"$QEMU_NET_OPTS"\n')
    net = spec.load_network(network_json(tmp_path, [{"name": "web", "vm": str(vm)}]))
    assert [f.describe() for f in net.machines[0].forward_ports] == [
        "0.0.0.0:8080->80", "127.0.0.1:5353->53/udp"]
