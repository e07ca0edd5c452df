"""nix.py: the exact command lines nixvms runs, and what it makes of Nix's answers.

Nix is replaced only where run_nix starts it (nix._spawn).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from nixvms import nix
from nixvms.supervisor import typedjson
from nixvms.supervisor.placement import VmHost
from tests.unit.test_facts import machine_facts


class FakeNix:
    def __init__(self) -> None:
        self.commands: list[list[str]] = []
        self.environments: list[dict[str, str]] = []
        self.answers: list[tuple[int, str, str]] = []

    def answer(self, code: int = 0, stdout: str = "", stderr: str = "") -> None:
        self.answers.append((code, stdout, stderr))

    def __call__(self, command: list[str], on_line: object = None,
                 env: Mapping[str, str] | None = None) -> nix.Finished:
        self.commands.append(list(command))
        self.environments.append(dict(env or {}))
        code, stdout, stderr = self.answers.pop(0) if self.answers else (0, "", "")
        return nix.Finished(code, stdout, stderr, peak_rss_kb=1000)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeNix]:
    # A data directory without tinyos's manifest: no -I for it (tested below).
    monkeypatch.setenv("NIXVMS_DATA_DIR", str(tmp_path / "data"))
    fake = FakeNix()
    monkeypatch.setattr(nix, "_spawn", fake)
    monkeypatch.setattr(nix, "_warned", set())
    yield fake


def log_line(**entry: Any) -> str:
    return "@nix " + json.dumps(entry)


def test_realise_adds_an_indirect_root_and_passes_options(fake: FakeNix, tmp_path: Path) -> None:
    root = tmp_path / "gcroots" / "vm-a"
    root.parent.mkdir()
    root.symlink_to("/nix/store/x-vm")
    settings = nix.NixSettings(options=(("max-jobs", "2"),), include=("nixpkgs=/n",))
    assert nix.realise("/nix/store/x.drv", root, settings) == "/nix/store/x-vm"
    assert fake.commands == [["nix-store", "--option", "max-jobs", "2", "--realise",
                              "/nix/store/x.drv", "--add-root", str(root), "--indirect"]]


def test_evaluate_machine_runs_one_instantiate_with_the_plan_and_a_root(
        fake: FakeNix, tmp_path: Path) -> None:
    facts = machine_facts("a")
    record = {"drvPath": "/nix/store/x.drv", "facts": typedjson.to_data(facts)}
    fake.answer(stderr="\n".join([
        log_line(action="msg", level=5, msg="evaluating file '/p/network.nix'"),
        log_line(action="msg", level=0, msg="trace: nixvms-machine " + json.dumps(record)),
    ]))
    result = nix.evaluate_machine("/p/network.nix", "a", "/t", '{"plan":1}', nix.NixSettings(),
                                  tmp_path / "drv-a")
    assert fake.commands == [[
        "nix-instantiate", "-vv", "--log-format", "internal-json",
        nix.glue_path("machine-vm.nix"), "--add-root", str(tmp_path / "drv-a"), "--indirect",
        "--argstr", "networkFile", "/p/network.nix", "--argstr", "nixpkgs", "/t",
        "--argstr", "name", "a", "--argstr", "planJSON", '{"plan":1}',
    ]]
    assert (result.drv_path, result.facts) == ("/nix/store/x.drv", facts)


def test_an_evaluation_whose_record_is_not_whole_is_a_nix_error(
        fake: FakeNix, tmp_path: Path) -> None:
    facts = typedjson.to_data(machine_facts("a"))
    del facts["vm"]
    record = {"drvPath": "/nix/store/x.drv", "facts": facts}
    fake.answer(stderr=log_line(action="msg", level=0,
                                msg="trace: nixvms-machine " + json.dumps(record)))
    with pytest.raises(nix.NixError, match="gave an incomplete record of it"):
        nix.evaluate_machine("/p/network.nix", "a", "/t", "{}", nix.NixSettings(),
                             tmp_path / "drv-a")


def test_parse_runs_once_per_file_stamp(fake: FakeNix) -> None:
    fake.answer(stdout="{ a = { }; }")
    assert nix.parse_file("/p/n.nix", nix.NixSettings(), "stamp-1") == "{ a = { }; }"
    assert nix.parse_file("/p/n.nix", nix.NixSettings(), "stamp-1") == "{ a = { }; }"
    assert fake.commands == [["nix-instantiate", "--parse", "/p/n.nix"]]


def test_a_failure_raises_nixs_own_message_without_its_prefix(fake: FakeNix) -> None:
    fake.answer(code=1, stderr="error: undefined variable 'x'\n       at /p/n.nix:1:3")
    with pytest.raises(nix.NixError) as raised:
        nix.run_nix("nix-instantiate", ["--eval", "/p/n.nix"], nix.NixSettings())
    assert raised.value.message == "undefined variable 'x'\n       at /p/n.nix:1:3"


def test_an_option_nix_does_not_know_is_an_error(fake: FakeNix) -> None:
    fake.answer(stderr="warning: unknown setting 'no-such-setting'\n")
    settings = nix.NixSettings(options=(("no-such-setting", "1"),))
    with pytest.raises(nix.NixError, match="does not know the setting 'no-such-setting'"):
        nix.run_nix("nix-store", ["--realise", "/nix/store/x.drv"], settings)


def test_an_unknown_option_is_a_warning_with_warn_only(
        fake: FakeNix, caplog: pytest.LogCaptureFixture) -> None:
    fake.answer(stderr="warning: unknown setting 'no-such-setting'\n")
    settings = nix.NixSettings(options=(("no-such-setting", "1"),),
                               unknown_options_warn_only=True)
    nix.run_nix("nix-store", ["--realise", "/nix/store/x.drv"], settings)
    assert "warning: unknown setting 'no-such-setting'" in caplog.text


def test_each_warning_is_shown_once(fake: FakeNix, caplog: pytest.LogCaptureFixture) -> None:
    for _ in range(3):
        fake.answer(stderr="warning: unknown setting 'foo' in NIX_CONFIG\n")
        nix.run_nix("nix-instantiate", ["--eval", "-E", "1"], nix.NixSettings())
    assert caplog.text.count("unknown setting 'foo'") == 1


def test_an_unreachable_binary_cache_is_one_warning_naming_the_setting(
        fake: FakeNix, caplog: pytest.LogCaptureFixture) -> None:
    retries = [f"warning: error: unable to download 'https://cache.nixos.org/nix-cache-info': "
               f"Couldn't resolve host name (6); retrying in {ms} ms" for ms in (270, 585)]
    fake.answer(stderr="\n".join(retries))
    nix.run_nix("nix-store", ["--realise", "/nix/store/x.drv"], nix.NixSettings())
    assert caplog.text.count("cannot reach the binary cache https://cache.nixos.org") == 1
    assert "substituters" in caplog.text


def test_the_search_path_candidates_follow_include_then_nix_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIX_PATH", "nixpkgs=/a:/b:other=/c")
    settings = nix.NixSettings(include=("nixpkgs=/i",))
    assert nix.search_path_candidates(settings) == ["/i", "/a", "/b/nixpkgs"]
    monkeypatch.setenv("NIX_PATH", "nixpkgs=https://example.org/n.tar.gz")
    assert nix.search_path_candidates(nix.NixSettings()) is None


def test_a_real_process_reports_its_output_exit_code_and_peak_memory() -> None:
    finished = nix._spawn(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (finished.returncode, finished.stdout, finished.stderr) == (3, "out\n", "err\n")
    assert finished.peak_rss_kb > 0


def test_a_builds_log_lines_are_passed_on_as_they_come() -> None:
    seen: list[str] = []
    finished = nix._spawn(["sh", "-c", "echo one >&2; echo two >&2"], seen.append)
    assert seen == ["one", "two"]
    assert finished.stderr == "one\ntwo\n"


def test_tinyos_manifest_is_passed_to_evaluators_once_set_up(
        fake: FakeNix, tmp_path: Path) -> None:
    manifest = tmp_path / "data" / "tinyos" / "debs.nix"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("{ }")
    nix.run_nix("nix-instantiate", ["--parse", "/p/n.nix"], nix.NixSettings())
    nix.run_nix("nix-store", ["--realise", "/nix/store/x.drv"], nix.NixSettings())
    assert fake.commands == [
        ["nix-instantiate", "-I", f"nixvms-tinyos-debs={manifest}", "--parse", "/p/n.nix"],
        ["nix-store", "--realise", "/nix/store/x.drv"],
    ]


def test_nixos_warnings_traced_by_the_evaluation_are_shown(
        fake: FakeNix, caplog: pytest.LogCaptureFixture) -> None:
    fake.answer(stderr=log_line(action="msg", level=0, msg="trace: warning: this is NixOS's"))
    nix.run_nix("nix-instantiate", ["x.nix"], nix.NixSettings(), json_log=True)
    assert "warning: this is NixOS's" in caplog.text


def test_a_closure_goes_to_a_vm_host_with_nix_copy_closure_and_the_hosts_ssh_options(
        fake: FakeNix) -> None:
    host = VmHost(name="b", ssh="root@10.0.0.2", port=2222, identity="/k/id")
    nix.copy_closure_to(host, ["/nix/store/x-vm", "/nix/store/y-net"], nix.NixSettings())
    assert fake.commands == [["nix-copy-closure", "--to", "root@10.0.0.2", "--gzip",
                              "/nix/store/x-vm", "/nix/store/y-net"]]
    assert fake.environments == [{"NIX_SSHOPTS": (
        "-o BatchMode=yes -o ServerAliveInterval=5 -o ServerAliveCountMax=3 -p 2222 "
        "-i /k/id -o IdentitiesOnly=yes")}]


def test_add_roots_makes_every_path_an_indirect_root_in_one_call(
        fake: FakeNix, tmp_path: Path) -> None:
    link = tmp_path / "gcroots" / "x86_64-linux"
    fake.answer(stdout=f"{link}\n{link}-2\n")
    made = nix.add_roots(["/nix/store/a-x.deb", "/nix/store/b-bb"], link, nix.NixSettings())
    assert fake.commands == [["nix-store", "--realise", "/nix/store/a-x.deb", "/nix/store/b-bb",
                              "--add-root", str(link), "--indirect"]]
    assert made == [link, tmp_path / "gcroots" / "x86_64-linux-2"]


def test_invalid_store_paths_asks_once_without_substituting(fake: FakeNix) -> None:
    fake.answer(stdout="/nix/store/b-gone\n")
    invalid = nix.invalid_store_paths(["/nix/store/a-here", "/nix/store/b-gone"],
                                      nix.NixSettings())
    assert fake.commands == [["nix-store", "--check-validity", "--print-invalid",
                              "/nix/store/a-here", "/nix/store/b-gone"]]
    assert invalid == ["/nix/store/b-gone"]


def test_add_fixed_adds_files_as_require_file_expects(fake: FakeNix, tmp_path: Path) -> None:
    fake.answer(stdout="/nix/store/a-x.deb\n")
    assert nix.add_fixed([tmp_path / "x.deb"], nix.NixSettings()) == ["/nix/store/a-x.deb"]
    assert fake.commands == [["nix-store", "--add-fixed", "sha256", str(tmp_path / "x.deb")]]


def test_a_vm_host_is_sent_its_own_machines_vms_and_no_other_hosts(fake: FakeNix) -> None:
    fake.answer(stdout="/nix/store/a-vm\n/nix/store/b-vm\n/nix/store/p-python3\n")
    assert nix.host_share("/nix/store/n-nixos-vms", ["/nix/store/b-vm"],
                          ["/nix/store/a-vm", "/nix/store/b-vm"], nix.NixSettings()) == [
        "/nix/store/b-vm", "/nix/store/p-python3"]
    assert fake.commands == [["nix-store", "--query", "--references",
                              "/nix/store/n-nixos-vms"]]
