"""A build after no edit starts no Nix process at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from nixvms import builder, nix, options
from nixvms.errors import NixvmsError
from tests.conftest import nixvms, write

pytestmark = pytest.mark.nix


def refuse_nix(*args: object, **kwargs: object) -> nix.NixOutput:
    raise AssertionError(f"a no-op ran Nix: {args}")


@pytest.fixture
def built(tmp_path: Path) -> Path:
    project = tmp_path / "p"
    write(project / "network.nix", "{ a = { }; b = { virtualisation.vlans = [ 2 ]; }; }\n")
    assert nixvms("build", cwd=project).code == 0
    return project


def build_in_process(project: Path) -> options.BuildResult:
    return builder.build(project / "network.nix", project / "result", nix.NixSettings(),
                        lambda event: None)


def test_a_no_op_starts_no_nix_process(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nix, "run_nix", refuse_nix)
    result = build_in_process(built)
    assert (result.evaluated, result.built) == ((), ())


def test_a_comment_starts_one_parse_and_then_none(built: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (built / "network.nix").write_text("# a comment\n" + (built / "network.nix").read_text())
    calls: list[list[str]] = []
    real = nix.run_nix

    def counting(program: str, args: list[str], *rest: object, **kw: object) -> nix.NixOutput:
        calls.append([program, *args])
        return real(program, args, *rest, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(nix, "run_nix", counting)
    assert build_in_process(built).evaluated == ()
    assert [c[:2] for c in calls] == [["nix-instantiate", "--parse"]]
    monkeypatch.setattr(nix, "run_nix", refuse_nix)
    assert build_in_process(built).evaluated == ()


def test_a_no_op_checks_the_files_and_the_store(built: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (built / "network.nix").write_text("{ a = { }; }\n")
    monkeypatch.setattr(nix, "run_nix", refuse_nix)
    with pytest.raises((AssertionError, NixvmsError)):
        build_in_process(built)
