"""What an evaluation read, stored as shared file sets, and whether it changed."""

from __future__ import annotations

import os
import time
from pathlib import Path

from nixvms import deps


def write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def record(paths: dict[str, str], sets: deps.FileSets) -> tuple[str, ...]:
    """Record as an evaluation that started after the files were written."""
    fingerprints, _ = sets.states.record(paths, time.time_ns() + 10**9)
    return sets.save(fingerprints)


def fresh(sets: deps.FileSets) -> deps.FileSets:
    """The same store as the next run sees it: nothing cached."""
    return deps.FileSets(sets.directory, deps.FileStates())


def test_two_machines_reading_the_same_files_share_their_groups(tmp_path: Path) -> None:
    shared = write(tmp_path / "modules" / "common.nix", "{ }")
    sets = deps.FileSets(tmp_path / "sets", deps.FileStates())
    a = record({shared: deps.CONTENT, write(tmp_path / "a.nix", "a"): deps.CONTENT}, sets)
    b = record({shared: deps.CONTENT, write(tmp_path / "b.nix", "b"): deps.CONTENT}, sets)
    assert set(a) & set(b)  # the modules/ group
    assert len(list((tmp_path / "sets").iterdir())) == 3


def test_an_unchanged_set_is_unchanged(tmp_path: Path) -> None:
    sets = deps.FileSets(tmp_path / "sets", deps.FileStates())
    digests = record({write(tmp_path / "a.nix", "a"): deps.CONTENT}, sets)
    assert fresh(sets).unchanged(digests)


def test_a_changed_file_changes_its_set(tmp_path: Path) -> None:
    sets = deps.FileSets(tmp_path / "sets", deps.FileStates())
    path = write(tmp_path / "a.nix", "a")
    digests = record({path: deps.CONTENT}, sets)
    write(tmp_path / "a.nix", "b")
    assert not fresh(sets).unchanged(digests)
    assert fresh(sets).changes(digests) == [path]


def test_touching_a_file_without_changing_it_is_unchanged(tmp_path: Path) -> None:
    sets = deps.FileSets(tmp_path / "sets", deps.FileStates())
    path = write(tmp_path / "a.nix", "a")
    digests = record({path: deps.CONTENT}, sets)
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert fresh(sets).unchanged(digests)


def test_a_path_looked_for_and_missing_is_stale_once_it_appears(tmp_path: Path) -> None:
    sets = deps.FileSets(tmp_path / "sets", deps.FileStates())
    digests = record({str(tmp_path / "later.nix"): deps.EXISTENCE}, sets)
    assert fresh(sets).unchanged(digests)
    write(tmp_path / "later.nix", "x")
    assert not fresh(sets).unchanged(digests)


def test_a_file_changed_while_it_was_evaluated_is_recorded_as_changed(tmp_path: Path) -> None:
    sets = deps.FileSets(tmp_path / "sets", deps.FileStates())
    started = time.time_ns()
    path = write(tmp_path / "a.nix", "edited during the evaluation")
    fingerprints, changed = sets.states.record({path: deps.CONTENT}, started)
    assert changed == [path]
    assert not fresh(sets).unchanged(sets.save(fingerprints))


def test_a_file_older_than_the_evaluation_is_recorded_as_read(tmp_path: Path) -> None:
    path = write(tmp_path / "a.nix", "a")
    time.sleep(0.05)
    fingerprints, changed = deps.FileStates().record({path: deps.CONTENT}, time.time_ns())
    assert changed == []
    assert fingerprints[path].digest == deps.file_digest(path)


def test_a_fifo_is_never_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    fingerprint = deps.FileStates().fingerprint(str(fifo))  # would block if opened
    assert fingerprint.kind == "special"


def test_a_set_no_record_names_is_collected(tmp_path: Path) -> None:
    sets = deps.FileSets(tmp_path / "sets", deps.FileStates())
    kept = record({write(tmp_path / "a" / "a.nix", "a"): deps.CONTENT}, sets)
    record({write(tmp_path / "b" / "b.nix", "b"): deps.CONTENT}, sets)
    assert sets.collect(kept) == 1
    assert sorted(p.stem for p in (tmp_path / "sets").iterdir()) == sorted(kept)


def test_a_lost_or_damaged_group_means_changed(tmp_path: Path) -> None:
    sets = deps.FileSets(tmp_path / "sets", deps.FileStates())
    (digest,) = record({write(tmp_path / "a.nix", "a"): deps.CONTENT}, sets)
    (tmp_path / "sets" / f"{digest}.json").write_text('{"directory": "/", "entries": {}}')
    assert not fresh(sets).unchanged([digest])
    (tmp_path / "sets" / f"{digest}.json").unlink()
    assert not fresh(sets).unchanged([digest])


def test_the_log_names_imports_copies_traced_reads_and_nodes() -> None:
    from nixvms.nix import LogMessage

    reads = deps.reads_from_log([
        LogMessage(5, "evaluating file '/p/a.nix'"),
        LogMessage(5, "copied source '/p/dir' -> '/nix/store/x-dir'"),
        LogMessage(0, "trace: nixvms-dep missing /p/later.nix"),
        LogMessage(0, "trace: nixvms-dep listing /p/d"),
        LogMessage(0, "trace: nixvms-node b"),
        LogMessage(5, "evaluating file '/nix/store/x/default.nix'"),
    ])
    assert reads.files == {"/p/a.nix": deps.CONTENT, "/p/dir": deps.CONTENT,
                           "/p/later.nix": deps.EXISTENCE, "/p/d": deps.LISTING}
    assert reads.nodes == {"b"}


def listed(path: Path, **entries: str) -> str:
    """A directory holding `entries` (name -> "regular", "directory" or "symlink")."""
    path.mkdir(parents=True)
    for name, kind in entries.items():
        if kind == "regular":
            (path / name).write_text(name)
        elif kind == "directory":
            (path / name).mkdir()
        else:
            (path / name).symlink_to("elsewhere")
    return str(path)


def test_a_listing_names_each_entrys_kind_as_readdir_does(tmp_path: Path) -> None:
    one = listed(tmp_path / "one", f="regular", d="directory", s="symlink")
    os.mkfifo(tmp_path / "one" / "p")
    other = listed(tmp_path / "other", f="regular", d="directory", s="regular")
    os.mkfifo(tmp_path / "other" / "p")
    assert deps.listing_digest(one) != deps.listing_digest(other)
    kinds = {e.name: deps.entry_kind(e) for e in os.scandir(one)}
    assert kinds == {"f": "regular", "d": "directory", "s": "symlink", "p": "unknown"}


def test_a_listed_directory_swapped_for_one_with_other_entries_and_the_same_mtime_is_changed(
        tmp_path: Path) -> None:
    sets = deps.FileSets(tmp_path / "sets", deps.FileStates())
    path = listed(tmp_path / "listed", a="regular", b="regular")
    digests = record({path: deps.LISTING}, sets)
    stamp = deps.kind_and_stamp(path, deps.LISTING)
    was = os.stat(path)
    other = listed(tmp_path / "other", a="regular")
    os.rename(path, tmp_path / "old")
    os.rename(other, path)
    os.utime(path, ns=(was.st_atime_ns, was.st_mtime_ns))
    assert not fresh(sets).unchanged(digests)
    assert deps.kind_and_stamp(path, deps.LISTING) != stamp


def test_a_listed_symlink_that_becomes_a_regular_file_is_changed(tmp_path: Path) -> None:
    sets = deps.FileSets(tmp_path / "sets", deps.FileStates())
    path = listed(tmp_path / "listed", a="regular", b="symlink")
    digests = record({path: deps.LISTING}, sets)
    stamp = deps.kind_and_stamp(path, deps.LISTING)
    (tmp_path / "listed" / "b").unlink()
    (tmp_path / "listed" / "b").write_text("b")
    assert not fresh(sets).unchanged(digests)
    assert deps.kind_and_stamp(path, deps.LISTING) != stamp


def test_a_listed_directory_swapped_for_one_with_the_same_entries_is_unchanged(
        tmp_path: Path) -> None:
    sets = deps.FileSets(tmp_path / "sets", deps.FileStates())
    path = listed(tmp_path / "listed", a="regular", d="directory", s="symlink")
    digests = record({path: deps.LISTING}, sets)
    stamp = deps.kind_and_stamp(path, deps.LISTING)
    other = listed(tmp_path / "other", a="regular", d="directory", s="symlink")
    os.rename(path, tmp_path / "old")
    os.rename(other, path)
    assert fresh(sets).unchanged(digests)
    assert deps.kind_and_stamp(path, deps.LISTING) == stamp


def test_touching_a_listed_directory_is_unchanged(tmp_path: Path) -> None:
    path = listed(tmp_path / "listed", a="regular")
    stamp = deps.kind_and_stamp(path, deps.LISTING)
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert deps.kind_and_stamp(path, deps.LISTING) == stamp
