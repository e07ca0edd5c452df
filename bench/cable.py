"""A cable (`dpipe vde_plug A = ssh HOST vde_plug B`) against one switch: frame
latency and throughput, measured with vde_plug at both ends (bench/frames.py),
HOST being this machine over an sshd on 127.0.0.1 (bench/sshd.py; root).

    .venv/bin/python -m bench.cable [--frames 20000] [--pings 500] [--repeat 5]

Prints one table; the ratios are what carry over to another machine.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.frames import Plug, frame
from bench.sshd import Sshd, running_sshd
from nixvms.supervisor.cables import Cable
from nixvms.supervisor.machines import Switch
from nixvms.supervisor.placement import VmHost

SIZE = 1400  # bytes of payload: a full frame, as bulk traffic has


@contextmanager
def ends(directory: Path, sshd: Sshd | None) -> Iterator[tuple[Plug, Plug]]:
    """Two plugs: on one switch (sshd None), or on two switches joined by a cable."""
    here = Switch(1, None, socket=directory / "here", log=directory / "here.log")
    there = Switch(1, None, socket=directory / "there", log=directory / "there.log")
    cable = None
    plugs: list[Plug] = []
    try:
        here.start()
        if sshd is not None:
            there.start()
            host = VmHost(name="self", ssh="root@127.0.0.1", port=sshd.port,
                          identity=str(sshd.client_key), ssh_options=sshd.ssh_options())
            cable = Cable(1, host, here.socket, str(there.socket), directory / "cable.log")
            cable.start()
            cable.wait_settled(1.0)
        plugs = [Plug(here.socket), Plug(there.socket if sshd else here.socket)]
        for _ in range(100):  # until the path carries frames
            plugs[0].send(frame(1, b"warm"))
            if plugs[1].receive_payload(b"warm", 0.1):
                break
        yield plugs[0], plugs[1]
    finally:
        for plug in plugs:
            plug.close()
        if cable is not None:
            cable.stop(1)
        here.stop(1)
        there.stop(1)


def latency_ms(a: Plug, b: Plug, pings: int) -> float:
    """Median round trip: a frame a -> b, answered b -> a."""
    times = []
    for n in range(pings):
        payload = f"ping {n}".encode()
        began = time.perf_counter()
        a.send(frame(1, payload))
        if not b.receive_payload(payload, 2):
            continue
        b.send(frame(2, b"re " + payload))
        if a.receive_payload(b"re " + payload, 2):
            times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def throughput_mbit(a: Plug, b: Plug, frames: int, window: int = 32) -> tuple[float, float]:
    """Payload megabits per second delivered a -> b, `window` frames in flight at
    most (as a transport's window keeps a path from dropping), and the share delivered."""
    payload = b"T" + bytes(SIZE - 1)
    got = 0
    began = time.perf_counter()
    for _ in range(frames // window):
        for _ in range(window):
            a.send(frame(1, payload))
        arrived = 0
        while arrived < window:
            data = b.receive(0.5)
            if data is None:
                break
            if data[14:15] == b"T":
                arrived += 1
        got += arrived
    took = time.perf_counter() - began
    return got * SIZE * 8 / took / 1e6, got / (frames // window * window)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--pings", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="bench-cable-"))
    try:
        with running_sshd(directory / "sshd") as sshd:
            rows = []
            for name, server in (("one switch", None), ("cable over ssh", sshd)):
                samples = []
                for _ in range(args.repeat):  # the median run of each
                    with ends(directory, server) as (a, b):
                        lat = latency_ms(a, b, args.pings)
                        rate, share = throughput_mbit(a, b, args.frames)
                    samples.append((lat, rate, share))
                lat = statistics.median(x[0] for x in samples)
                rate = statistics.median(x[1] for x in samples)
                share = min(x[2] for x in samples)
                rows.append((name, lat, rate, share))
        print("| path | median frame RTT (ms) | throughput (Mbit/s payload) | delivered |")
        print("|---|---|---|---|")
        for name, lat, rate, share in rows:
            print(f"| {name} | {lat:.3f} | {rate:.0f} | {share:.0%} |")
        base = rows[0]
        cable = rows[1]
        print(f"\ncable / one switch: RTT x{cable[1] / base[1]:.1f}, "
              f"throughput x{cable[2] / base[2]:.2f}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
