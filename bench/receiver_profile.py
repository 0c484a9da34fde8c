"""Where the receiver's CPU goes beyond the ideal receiver's: profiles and syscalls, same load.

Starts the receiver (`calbridge receiver`, as `receiver.py` does) and the publish floor
(`publish_floor.py`, the ideal receiver) on one throwaway vhost, and loads each in turn with
wrk (one thread, `--concurrency` connections, the same requests as `receiver.py --generator wrk`).
Each round runs, per server:

- a plain phase: rate and server CPU per notification (from /proc);
- with `--strace`: the same phase under `strace -c -f` (bench-only; it slows the server, so only
  the counts matter): syscalls per answered request, by name;
- with `--profile DIR`: the same phase under `py-spy record` (`--native` adds the C frames of
  uvloop, httptools and the interpreter; blocking sampling, so it too slows the server a little):
  the samples by library and by function, self and inclusive, printed as CPU us per notification
  (the share of the non-idle samples times the phase's CPU per notification) side by side for
  the two servers. The raw collapsed stacks are kept in DIR.

    python bench/receiver_profile.py [--duration 4] [--concurrency 64] [--rounds 1]
                                     [--strace] [--profile DIR [--native] [--rate 500]]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import signal
import sys
import tempfile
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from receiver_app import load_bench

SERVERS = ("receiver", "publish floor")


def collapsed(path: Path) -> Counter[tuple[str, ...]]:
    """py-spy's raw output: one `frame;frame;... count` line per distinct stack (root first)."""
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


_FRAME = re.compile(r"^(?P<name>.*?) \((?P<where>[^()]*)\)$")


def frame_parts(frame: str) -> tuple[str, str]:
    """(library, function) of a py-spy frame: `name (path:line)` or a native `name (lib.so)`."""
    match = _FRAME.match(frame)
    if not match:
        return "?", frame
    name, where = match["name"], match["where"]
    path = where.rsplit(":", 1)[0]
    if "site-packages/" in path:
        library = path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    elif "/lib/python3" in path:
        module = path.split("/lib/python3", 1)[1].split("/", 1)[1]
        library = "stdlib:" + module.split("/", 1)[0].removesuffix(".py")
    elif path.endswith((".so", ".so.1", ".so.6")) or ".so." in path or path.startswith("lib"):
        library = "native:" + path.rsplit("/", 1)[-1]
    elif "/" in path:
        parts = path.split("/")
        library = next((p for p in ("receiver", "calbridge", "bench") if p in parts), parts[-1])
    else:
        library = "native:" + path
    return library, f"{name} ({path.rsplit('/', 1)[-1]})"


def summarise(stacks: Counter[tuple[str, ...]]) -> dict[str, Counter[str]]:
    """Sample shares (0..1) by library self, library inclusive, function self, function inclusive."""
    total = sum(stacks.values()) or 1
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for stack, count in stacks.items():
        frames = [frame_parts(frame) for frame in stack if not frame.startswith("process ")]
        frames = [f for f in frames if not f[1].startswith("thread (")]
        if not frames:
            continue
        library, function = frames[-1]
        out["library, self"][library] += count / total
        out["function, self"][function] += count / total
        for lib in {lib for lib, _ in frames}:
            out["library, inclusive"][lib] += count / total
        for fn in {fn for _, fn in frames}:
            out["function, inclusive"][fn] += count / total
    return out


def strace_counts(path: Path) -> Counter[str]:
    """`strace -c` summary: calls per syscall name."""
    counts: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        fields = line.split()
        # % time, seconds, usecs/call, calls, [errors,] syscall
        if len(fields) >= 5 and fields[0][0].isdigit() and fields[3].isdigit() and fields[-1] != "total":
            counts[fields[-1]] += int(fields[3])
    return counts


async def phase(
    bench: Any, server: Any, requests: Path, plan: argparse.Namespace, tool: str, out: Path
) -> Any:
    """One wrk phase on `server`, with `tool` ('', 'strace', 'py-spy') attached for its length."""
    pid = str(server.process.pid)
    command: list[str] = []
    if tool == "strace":
        command = ["strace", "-c", "-f", "-p", pid, "-o", str(out)]
    elif tool == "py-spy":
        beside = Path(sys.executable).with_name("py-spy")
        command = [str(beside) if beside.exists() else "py-spy", "record", "--pid", pid,
                   "--duration", str(int(plan.duration) + 1), "--rate", str(plan.rate),
                   "--format", "raw", "--output", str(out)]  # fmt: skip
        command += ["--native"] if plan.native else ["--nonblocking"]
    attached = None
    if command:
        attached = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        await asyncio.sleep(0.5)  # attached before the load starts
    try:
        run = await bench.wrk_loop(server, requests, plan.concurrency, plan.duration)
    finally:
        if attached is not None:
            if tool == "strace":
                attached.send_signal(signal.SIGINT)  # detach and write the summary
            await asyncio.wait_for(attached.wait(), 30)
    return run


def print_profiles(profiles: dict[str, tuple[dict[str, Counter[str]], float]], top: int) -> None:
    names = list(profiles)
    for view in ("library, self", "library, inclusive", "function, self", "function, inclusive"):
        print(f"\n  py-spy by {view}, CPU us per notification (share of samples x CPU/notification):")
        keys: Counter[str] = Counter()
        for shares, cpu in profiles.values():
            for key, share in shares[view].items():
                keys[key] = max(keys[key], share * cpu)
        limit = 30 if view.startswith("library") else top
        print("    " + "".join(f"{name:>15}" for name in names))
        for key, _ in keys.most_common(limit):
            cells = "".join(f"{profiles[name][0][view][key] * profiles[name][1]:15.1f}" for name in names)
            print(f"    {cells}   {key}")


async def run(plan: argparse.Namespace) -> None:
    bench = load_bench()
    vhost = f"calbridge-bench-{uuid.uuid4().hex[:8]}"
    bench.create_vhost(vhost)
    url = f"amqp://guest:guest@{bench.BROKER}:5672/{vhost}"
    keys = {"bench": uuid.uuid4().hex.encode()}
    notes = bench.make_notifications(keys)
    servers: dict[str, Any] = {}
    keep = Path(plan.profile) if plan.profile else None
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="calbridge-profile-") as folder:
        requests = Path(folder) / "requests.bin"
        bench.write_wrk_requests(notes, "127.0.0.1", requests)
        try:
            port = bench.free_port()
            servers["receiver"] = await bench.start_server(
                *bench.receiver_command(url, keys, port), port, Path(folder) / "receiver.log"
            )
            port = bench.free_port()  # after the receiver, which declares the exchange and shards
            servers["publish floor"] = await bench.start_server(
                *bench.floor_command(port, "publish_floor:app", url), port, Path(folder) / "floor.log"
            )
            for server in servers.values():
                await bench.closed_loop(server, notes, 8, 1.0)  # warm up
            bench.purge_shards(vhost)
            tools = [""] + (["strace"] if plan.strace else []) + (["py-spy"] if keep else [])
            syscalls: dict[str, Counter[str]] = {name: Counter() for name in SERVERS}
            answered: Counter[str] = Counter()
            stacks: dict[str, Counter[tuple[str, ...]]] = {name: Counter() for name in SERVERS}
            cpu: dict[str, list[float]] = {name: [] for name in SERVERS}
            for round_ in range(plan.rounds):
                for tool in tools:
                    for name in SERVERS:
                        out = Path(folder) / f"{tool}-{name.replace(' ', '_')}-{round_}.txt"
                        if tool == "py-spy" and keep is not None:
                            out = keep / f"{name.replace(' ', '_')}-{round_}.txt"
                        result = await phase(bench, servers[name], requests, plan, tool, out)
                        bench.purge_shards(vhost)
                        print(
                            f"round {round_ + 1}, {name:<13} {tool or 'plain':<7} {result.rate:7.0f}/s "
                            f"server {result.cpu_us:4.0f} us/notification "
                            f"({result.system_share:.0%} kernel), errors: {result.errors()}"
                        )
                        if tool == "":
                            cpu[name].append(result.cpu_us)
                        elif tool == "strace":
                            syscalls[name] += strace_counts(out)
                            answered[name] += result.answered
                        else:
                            stacks[name] += collapsed(out)
        finally:
            for server in servers.values():
                bench.stop_receiver(server)
            bench.drop_vhost(vhost)
    median_cpu = {name: sorted(values)[len(values) // 2] for name, values in cpu.items()}
    print("\nserver CPU per notification, plain phases (median): "
          + ", ".join(f"{name} {value:.0f} us" for name, value in median_cpu.items()))  # fmt: skip
    if plan.strace:
        print("\n  syscalls per answered request (strace -c -f, whole process):")
        print("    " + "".join(f"{name:>15}" for name in SERVERS))
        totals = {name: sum(syscalls[name].values()) / max(1, answered[name]) for name in SERVERS}
        print("    " + "".join(f"{totals[name]:15.2f}" for name in SERVERS) + "   all")
        every = Counter({k: max(syscalls[n][k] / max(1, answered[n]) for n in SERVERS)
                         for n in SERVERS for k in syscalls[n]})  # fmt: skip
        for key, _ in every.most_common(15):
            cells = "".join(f"{syscalls[name][key] / max(1, answered[name]):15.2f}" for name in SERVERS)
            print(f"    {cells}   {key}")
    if keep is not None:
        samples = {name: sum(stacks[name].values()) for name in SERVERS}
        print(f"\n  py-spy samples (non-idle): {samples}; stacks kept in {keep}")
        print_profiles({name: (summarise(stacks[name]), median_cpu[name]) for name in SERVERS}, plan.top)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per phase")
    parser.add_argument("--concurrency", type=int, default=64, help="wrk connections")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--strace", action="store_true", help="count syscalls with strace -c -f")
    parser.add_argument("--profile", help="sample with py-spy; keep the collapsed stacks in this folder")
    parser.add_argument("--native", action="store_true", help="py-spy --native (C frames)")
    parser.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=40, help="functions to list")
    plan = parser.parse_args()
    if not 0 < plan.duration <= 30 or not 0 < plan.concurrency <= 512 or not 0 < plan.rounds <= 5:
        parser.error("keep it brief: duration <= 30 s, concurrency <= 512, rounds <= 5")
    if shutil.which("wrk") is None or (plan.strace and shutil.which("strace") is None):
        parser.error("needs wrk (and strace for --strace) on the PATH")
    import uvloop

    print(f"started {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC, load average {load_average()}")
    uvloop.run(run(plan))
    print(f"\nfinished {datetime.now(UTC):%H:%M:%S} UTC, load average {load_average()}")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    main()
