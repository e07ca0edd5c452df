"""Snapshots without QEMU: the QMP messages a save sends (against a fake QMP
server), what a failed save leaves, the records and their one loader, and
the reasons said where QEMU cannot snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nixvms.supervisor import snapshots
from nixvms.supervisor.control import parse_request
from nixvms.supervisor.errors import UsageError
from nixvms.supervisor.qemu import QemuClient
from nixvms.supervisor.snapshots import MachineSnapshot, Snapshot, SnapshotError, Target
from nixvms.supervisor.statedir import prepare
from tests.unit.test_qemu import FakeQemu


def _monitor_lines(server: FakeQemu) -> list[str]:
    return [str(r.get("execute")) if r["execute"] != "human-monitor-command"
            else str(r["arguments"]["command-line"])  # type: ignore[index]
            for r in server.requests if r["execute"] != "qmp_capabilities"]


def _target(tmp_path: Path, name: str, answer: dict[str, str]) -> tuple[Target, FakeQemu]:
    def reply(request: dict[str, object]) -> list[dict[str, object]]:
        if request["execute"] == "human-monitor-command":
            line = str(request["arguments"]["command-line"])  # type: ignore[index]
            return [{"return": answer.get(line.split()[0], "")}]
        return [{"return": {}}]

    server = FakeQemu(tmp_path / f"{name}.qmp", reply)
    return Target(name, QemuClient(tmp_path / f"{name}.qmp", name), tmp_path / f"{name}.qcow2",
                  f"/nix/store/x-{name}", tmp_path / f"{name}.shell"), server


def test_a_save_pauses_every_machine_before_saving_any_and_resumes_them_after(
        tmp_path: Path) -> None:
    run_dir = prepare(tmp_path / "run")
    one, first = _target(tmp_path, "one", {})
    two, second = _target(tmp_path, "two", {})
    saved = snapshots.save_all(run_dir, "x", [one, two])
    assert _monitor_lines(first)[0] == "stop" and _monitor_lines(second)[0] == "stop"
    assert _monitor_lines(first)[1] == f"savevm {saved.machines['one'].tag}"
    assert "cont" in _monitor_lines(first) and "cont" in _monitor_lines(second)
    assert snapshots.load(run_dir, "x") == saved


def test_a_failed_save_deletes_what_it_wrote_and_keeps_the_previous_record(
        tmp_path: Path) -> None:
    run_dir = prepare(tmp_path / "run")
    previous = Snapshot("x", 1.0, {"one": MachineSnapshot("/nix/store/x-one", "nixvms-x-old")})
    snapshots.write(run_dir, previous)
    one, server = _target(tmp_path, "one", {
        "savevm": "Error: Error while writing VM state: No space left on device\r\n"})
    with pytest.raises(SnapshotError) as failed:
        snapshots.save_all(run_dir, "x", [one])
    assert "No space left on device" in failed.value.message
    assert failed.value.message.endswith("the previous snapshot 'x' is kept")
    tag = _monitor_lines(server)[1].split()[1]
    assert f"delvm {tag}" in _monitor_lines(server)
    assert _monitor_lines(server)[-1] == "cont"
    assert snapshots.load(run_dir, "x") == previous


def test_a_record_of_another_version_is_no_record(tmp_path: Path) -> None:
    run_dir = prepare(tmp_path / "run")
    snapshots.write(run_dir, Snapshot("x", 1.0))
    path = snapshots.record_path(run_dir, "x")
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "version": snapshots.VERSION + 1}))
    assert snapshots.load(run_dir, "x") is None


def test_a_mounted_9p_store_names_the_nixos_options_that_make_it_snapshottable() -> None:
    said = ("machine web: QEMU: Error: Migration is disabled when VirtFS export path "
            "'/nix/store' is mounted in the guest using mount_tag 'nix-store'")
    reason = snapshots.cannot_snapshot_reason("web", said)
    assert reason is not None
    assert "virtualisation.useNixStoreImage = true" in reason
    assert "virtualisation.mountHostNixStore = false" in reason


def test_a_device_that_cannot_migrate_is_named() -> None:
    said = ("machine web: QEMU: Error: Migration is disabled when using feature 'peer mode' "
            "in device 'ivshmem'")
    reason = snapshots.cannot_snapshot_reason("web", said)
    assert reason is not None and "'ivshmem'" in reason


def test_a_snapshot_name_with_a_slash_is_refused() -> None:
    with pytest.raises(UsageError):
        snapshots.check_name("../x")


def test_the_control_socket_refuses_a_snapshot_name_that_is_not_a_string() -> None:
    with pytest.raises(UsageError, match="must be a snapshot's name"):
        parse_request(b'{"op": "snapshot-save", "name": ["x"]}\n')


def test_a_snapshot_of_another_build_is_refused_naming_the_machine_and_fresh() -> None:
    snap = Snapshot("x", 1.0, {"web": MachineSnapshot("/nix/store/a-web", "t")})
    refused = snapshots.refusals(snap, {"web": "/nix/store/b-web"})
    assert refused["web"].startswith("web: snapshot 'x' was taken from another build of it")
    assert "`nixvms up --fresh web`" in refused["web"]
