"""One start request: the only reader of NIXVMS_*/QEMU_* and of the state-directory rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nixvms.supervisor import accel, errors, launch
from nixvms.supervisor.launch import StartRequest
from nixvms.supervisor.ports import Forward
from nixvms.supervisor.spec import NetworkSpec

REPO = Path(__file__).resolve().parents[2]


def a_spec(tmp_path: Path, state_dir: str | None = "/p/.nixvms/run") -> NetworkSpec:
    directory = tmp_path / "net"
    directory.mkdir()
    (directory / "network.json").write_text(
        '{"machines": [{"name": "a", "vm": "/nix/store/a-vm"}, '
        '{"name": "b", "vm": "/nix/store/b-vm", "targetHost": "b.example"}], "vlans": [1]'
        + (f', "stateDir": "{state_dir}"' if state_dir else "") + "}")
    from nixvms.supervisor.spec import load_network
    return load_network(directory)


@pytest.mark.parametrize(("variable", "value", "field", "expected"), [
    ("QEMU_OPTS", "-m 2048", "qemu_opts", "-m 2048"),
    ("QEMU_NET_OPTS", "hostfwd=tcp::2222-:22", "net_opts", "hostfwd=tcp::2222-:22"),
    ("QEMU_KERNEL_PARAMS", "quiet", "kernel_params", "quiet"),
    ("NIXVMS_SSH_PORT_BASE", "20022", "ssh_port_base", 20022),
    ("NIXVMS_STOP_TIMEOUT", "1.5", "stop_timeout", 1.5),
    ("NIXVMS_ACCEL", "tcg", "accel", "tcg"),
    ("NIXVMS_STATE_DIR", "/elsewhere", "run_dir", "/elsewhere/run"),
])
def test_each_variable_reaches_the_request(tmp_path: Path, variable: str, value: str,
                                           field: str, expected: object) -> None:
    request = launch.start_request(a_spec(tmp_path), environ={variable: value})
    assert getattr(request, field) == expected


def test_without_variables_the_request_has_the_defaults(tmp_path: Path) -> None:
    request = launch.start_request(a_spec(tmp_path), accel="tcg", environ={})
    assert request == StartRequest(
        network=request.network, run_dir="/p/.nixvms/run", machines=("a", "b"), accel="tcg",
        accel_reason="asked for", hosts_accel="tcg")


def test_auto_acceleration_leaves_each_host_to_probe_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accel, "choose",
                        lambda asked, kernel=None: accel.Choice("kvm", "probed"))
    spec = a_spec(tmp_path)
    assert launch.start_request(spec, accel="auto", environ={}).hosts_accel == ""
    assert launch.start_request(spec, environ={"NIXVMS_ACCEL": "kvm"}).hosts_accel == "kvm"


def test_the_kvm_probe_is_given_the_first_machines_kernel_that_exists(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    probed: list[str | None] = []

    def choose(asked: str, kernel: str | None = None) -> accel.Choice:
        probed.append(kernel)
        return accel.Choice("tcg", "probed")
    monkeypatch.setattr(accel, "choose", choose)
    vm = tmp_path / "b-vm"
    (vm / "system").mkdir(parents=True)
    (vm / "system" / "kernel").write_text("")
    directory = tmp_path / "net"
    directory.mkdir()
    (directory / "network.json").write_text(
        '{"machines": [{"name": "a", "vm": "/nix/store/a-vm"}, '
        f'{{"name": "b", "vm": "{vm}"}}], "vlans": [1], "stateDir": "/p/.nixvms/run"}}')
    from nixvms.supervisor.spec import load_network
    launch.start_request(load_network(directory), environ={})
    assert probed == [str(vm / "system" / "kernel")]


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("NIXVMS_SSH_PORT_BASE", "70000", "ssh port base"),
    ("NIXVMS_STOP_TIMEOUT", "soon", "NIXVMS_STOP_TIMEOUT must be a number"),
    ("NIXVMS_ACCEL", "warp", "acceleration must be one of"),
])
def test_a_bad_variable_is_one_usage_error_naming_it(tmp_path: Path, variable: str,
                                                     value: str, message: str) -> None:
    with pytest.raises(errors.UsageError, match=message):
        launch.read_settings({variable: value})


def test_the_state_dir_flag_names_the_project_and_the_network_runs_in_its_run_dir() -> None:
    assert launch.run_dir_path("/proj/state", "/recorded/run", {}) == Path("/proj/state/run")
    assert launch.run_dir_path(None, "/recorded/run", {}) == Path("/recorded/run")
    assert launch.run_dir_path(None, "/recorded/run", {"NIXVMS_STATE_DIR": "/env"}) == Path(
        "/env/run")
    assert launch.run_dir_path("/flag", None, {"NIXVMS_STATE_DIR": "/env"}) == Path("/flag/run")


def test_a_network_directory_without_a_recorded_state_dir_runs_in_vms_state(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert launch.run_dir_path(None, None, {}) == tmp_path / "vms-state" / "run"


def test_machines_are_named_by_name_or_target_host_and_checked(tmp_path: Path) -> None:
    spec = a_spec(tmp_path)
    request = launch.start_request(spec, machines=["b.example"], fresh=["b.example"],
                                   accel="tcg", environ={})
    assert (request.machines, request.fresh) == (("b",), ("b",))
    with pytest.raises(errors.UsageError, match="no machine named 'c'"):
        launch.start_request(spec, machines=["c"], accel="tcg", environ={})
    with pytest.raises(errors.UsageError, match="no machine named 'c'"):
        launch.start_request(spec, forwards=[Forward("c", 8080, 80)], accel="tcg", environ={})


def test_a_request_survives_its_trip_to_the_daemon(tmp_path: Path) -> None:
    request = launch.start_request(a_spec(tmp_path), forwards=[Forward("a", 8080, 80)],
                                   accel="tcg", environ={"QEMU_OPTS": "-m 1G"})
    assert StartRequest.from_json(request.to_json()) == request


@pytest.mark.parametrize("text", ["", "[]", '{"network": 1}', "{" * 5])
def test_a_request_nixvms_did_not_write_is_a_usage_error(text: str) -> None:
    with pytest.raises(errors.UsageError, match="not one nixvms wrote"):
        StartRequest.from_json(text)


def test_a_restart_keeps_every_setting_but_the_machines(tmp_path: Path) -> None:
    request = launch.start_request(a_spec(tmp_path), forwards=[Forward("a", 8080, 80)],
                                   fresh=["a"], accel="tcg",
                                   environ={"QEMU_OPTS": "-m 1G", "QEMU_KERNEL_PARAMS": "x"})
    again = request.but(machines=["b"])
    assert (again.machines, again.fresh) == (("b",), ())
    assert (again.qemu_opts, again.kernel_params, again.forwards) == (
        "-m 1G", "x", (Forward("a", 8080, 80),))


# --- the architecture: one reader, one builder ------------------------------------------

# The variables of a start (launch.py's docstring); NIXVMS_DATA_DIR is the build's.
_VARIABLE_READ = re.compile(
    r"""environ(\.get)?\(?\[?\s*["'](NIXVMS_(ACCEL|SSH_PORT_BASE|STOP_TIMEOUT|STATE_DIR)"""
    r"""|QEMU_)|envvar=["'](NIXVMS_(ACCEL|STATE_DIR)|QEMU_)""")


def test_only_launch_reads_the_run_side_variables() -> None:
    readers = sorted(
        str(path.relative_to(REPO)) for path in (REPO / "nixvms").rglob("*.py")
        if _VARIABLE_READ.search(path.read_text()) and path.name != "launch.py")
    assert readers == []


def test_only_launch_builds_a_start_request() -> None:
    builders = sorted(
        str(path.relative_to(REPO)) for path in (REPO / "nixvms").rglob("*.py")
        if "StartRequest(" in path.read_text() and path.name != "launch.py")
    assert builders == []


# --- forwards, checked before anything starts ------------------------------------------


def test_the_same_host_port_forwarded_twice_is_refused_naming_both(tmp_path: Path) -> None:
    with pytest.raises(errors.UsageError, match=r"--forward b:18080:80: host port 18080 is "
                       r"also forwarded by --forward a:18080:80"):
        launch.start_request(a_spec(tmp_path), accel="tcg", environ={},
                             forwards=[Forward("a", 18080, 80), Forward("b", 18080, 80)])


def test_a_forward_on_a_machines_own_forward_port_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "net"
    directory.mkdir()
    (directory / "network.json").write_text(
        '{"machines": [{"name": "a", "vm": "/nix/store/a-vm", "forwardPorts": '
        '[{"proto": "tcp", "hostPort": 18081, "guestPort": 80}]}]}')
    from nixvms.supervisor.spec import load_network
    with pytest.raises(errors.UsageError, match=r"also forwarded by machine a's "
                       r"virtualisation\.forwardPorts"):
        launch.start_request(load_network(directory), accel="tcg", environ={},
                             forwards=[Forward("a", 18081, 22)])


def test_a_forward_on_a_taken_port_is_refused_naming_the_flag(tmp_path: Path) -> None:
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(errors.PortError, match=rf"--forward a:{port}:80: port {port} "
                           "on 127.0.0.1 is already in use"):
            launch.start_request(a_spec(tmp_path), accel="tcg", environ={},
                                 forwards=[Forward("a", port, 80)])
