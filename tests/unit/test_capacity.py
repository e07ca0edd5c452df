"""capacity.py: the machines about to start against the host's MemAvailable."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from nixvms.supervisor import capacity
from nixvms.supervisor.errors import StartError
from nixvms.supervisor.facts import MachineFacts
from tests.unit.test_links_plan import machine


def sized(name: str, mib: int) -> MachineFacts:
    return dataclasses.replace(machine(name, 1, (1,)), memory_size=mib)


def test_memavailable_is_read_in_kib(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24683784 kB\nMemFree: 1 kB\n"
                       "MemAvailable:   18194672 kB\n")
    assert capacity.available_kib(meminfo) == 18194672


def test_a_kernel_that_does_not_say_checks_nothing(tmp_path: Path) -> None:
    assert capacity.available_kib(tmp_path / "missing") is None
    capacity.check_memory([sized("a", 10**6)], None)


def test_machines_that_fit_start() -> None:
    capacity.check_memory([sized("a", 1024), sized("b", 1024)],
                          2048 * 1024)


def test_machines_beyond_memavailable_are_refused_naming_them_and_the_host() -> None:
    with pytest.raises(StartError) as raised:
        capacity.check_memory([sized("a", 2048), sized("b", 1024)],
                              2 * 1024 * 1024, host="hostx")
    assert raised.value.message == (
        "host hostx has 2.0 GiB of memory available (MemAvailable), and the machines to "
        "start there ask for 3.0 GiB (virtualisation.memorySize: a 2048 MiB, b 1024 MiB); "
        "start fewer of them, or give them less memory")
