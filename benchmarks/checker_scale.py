"""How `riverbed report` scales: synthetic runs of 1M, 3M and 10M messages.

For each size, writes a synthetic run directory (with rebalances: a hard kill,
lost partitions, partitions added, a graceful stop), then runs
``riverbed report`` on it as a separate process and measures its wall time,
CPU time and peak resident memory. Figures are printed against the smallest
size measured in the same run (the reference): time ratio vs size ratio, and
the scaling exponent (1.0 = linear).

Target on the project machine (2 cores): 10M messages in at most 60 s and 3 GB.

    .venv/bin/python benchmarks/checker_scale.py                 # 1M, 3M, 10M
    .venv/bin/python benchmarks/checker_scale.py --sizes 200000,1000000 --keep

The machine may be shared with other work: the load average is printed with
the figures, and CPU time is shown beside wall time because it is less
disturbed by other processes.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The simulator is test machinery, importable from a checkout (not from an installed riverbed).
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.synthetic import Fault, Scenario, generate  # noqa: E402

TARGET_S = 60.0
TARGET_GB = 3.0


def scenario(messages: int) -> Scenario:
    return Scenario(
        messages=messages,
        partitions=12,
        consumers=6,
        producers=4,
        keys=10_000,
        rate=20_000.0,
        batch=500,
        faults=(
            Fault("kill", 0.2),
            Fault("lost", 0.4, member=2),
            Fault("add-partitions", 0.6, count=4),
            Fault("stop", 0.8, member=1),
        ),
        unknown_sends=20,
        poison=5,
        seed=1,
    )


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def measure(run_dir: Path, out_dir: Path) -> dict[str, float]:
    """Run `riverbed report` in a child process: wall, CPU and peak RSS of that child."""
    cmd = [sys.executable, "-m", "reports", str(run_dir), "--out", str(out_dir), "-q"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"riverbed report exited {code} on {run_dir}:\n{out}\n{err}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rss_gb": usage.ru_maxrss * 1024 / 1e9,  # ru_maxrss is in KiB on Linux
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--sizes", default="1000000,3000000,10000000", help="comma-separated message counts"
    )
    ap.add_argument(
        "--workdir", type=Path, default=None, help="where to write the runs (default: a temp dir)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the generated runs")
    args = ap.parse_args()
    sizes = sorted(int(float(s)) for s in args.sizes.split(","))
    work = args.workdir or Path(tempfile.mkdtemp(prefix="riverbed-checker-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"cpus {os.cpu_count()}, load average at start {os.getloadavg()[0]:.1f} (shared machine: figures are noisy)"
    )
    rows = []
    try:
        for n in sizes:
            run = work / f"run-{n}"
            if not (run / "spec.json").exists():
                t = time.perf_counter()
                generate(run, scenario(n))
                print(f"generated {n:,} messages in {time.perf_counter() - t:.1f} s", flush=True)
            m = measure(run, work / f"out-{n}")
            m.update(n=n, gb=dir_size(run / "evidence") / 1e9, load=os.getloadavg()[0])
            rows.append(m)
            print(
                f"{n:>11,} messages  {m['gb']:5.2f} GB evidence  wall {m['wall_s']:6.1f} s  "
                f"cpu {m['cpu_s']:6.1f} s  peak RSS {m['rss_gb']:4.2f} GB  (load {m['load']:.1f})",
                flush=True,
            )
            if not args.keep:
                shutil.rmtree(run, ignore_errors=True)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    ref = rows[0]
    print()
    print(f"reference: {ref['n']:,} messages (time and memory ratios are against it)")
    print(
        f"{'messages':>12} {'size x':>7} {'wall x':>7} {'cpu x':>7} {'rss x':>7} {'exponent(cpu)':>14} {'us/msg (cpu)':>13}"
    )
    for r in rows:
        size_x = r["n"] / ref["n"]
        cpu_x = r["cpu_s"] / ref["cpu_s"]
        exp = math.log(cpu_x) / math.log(size_x) if size_x > 1 else float("nan")
        print(
            f"{r['n']:>12,} {size_x:>7.1f} {r['wall_s'] / ref['wall_s']:>7.2f} {cpu_x:>7.2f} "
            f"{r['rss_gb'] / ref['rss_gb']:>7.2f} {exp:>14.2f} {r['cpu_s'] / r['n'] * 1e6:>13.2f}"
        )
    big = rows[-1]
    ok = big["wall_s"] <= TARGET_S and big["rss_gb"] <= TARGET_GB
    print(
        f"\n{big['n']:,} messages: {big['wall_s']:.1f} s wall ({big['cpu_s']:.1f} s cpu), "
        f"{big['rss_gb']:.2f} GB peak — target {TARGET_S:.0f} s and {TARGET_GB:.0f} GB: "
        + ("met" if ok else "NOT met")
    )


if __name__ == "__main__":
    main()
