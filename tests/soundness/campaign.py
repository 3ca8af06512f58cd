"""A soundness campaign: N runs of one test consumer, each verdict judged against the truth.

    python -m tests.soundness.campaign --consumer kp_commit_first --runs 20
    python -m tests.soundness.campaign --consumer ck_careful --runs 20

Each run is a `riverbed run --consumer-cmd "python tests/soundness/consumers/<name>.py"`
under a hard consumer kill (the same machinery as tests/soundness/), compared with
the consumer's own record of what it finished (tests/support/truth.py). One row per
run as it ends: run, riverbed's verdict, records the truth shows lost, outcome
(true-fail, true-pass, FALSE-PASS, FALSE-ALARM or inconclusive); then the totals.
Everything lands in ``--out`` (campaign.json, and the run directories and truth
lines of every run that was not a true pass or fail; all of them with
``--keep-all``).

Kafka: a 3-broker cluster of its own on free ports on 127.0.0.1, stopped at the end;
or ``--kafka-state-dir DIR``, a running cluster (``riverbed kafka up``), left running.

Bounded: each run has riverbed's own deadlines and a hard bound of its own; no run
starts once ``--max-minutes`` have passed. Ctrl-C stops the run in progress the way
`riverbed run` stops (rollbacks, teardown) and ends the campaign.

Exit code: 1 when any run was a false pass or a false alarm; 2 when no run could be
judged (all inconclusive, or interrupted before any ended); 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from riverbed.errors import HarnessError
from riverbed.kafka.cluster import LocalKafkaCluster, free_base_port
from tests.soundness.harness import (
    KILL_HARD,
    ROOT,
    WRONG_RECORDS,
    SoundnessRun,
    consumers,
    soundness_run,
)
from tests.support.truth import FALSE_ALARM, FALSE_PASS, INCONCLUSIVE, OUTCOMES

NOT_JUDGED = "not-judged"
"""A run whose truth or verdict could not be read (riverbed crashed, Kafka did not answer)."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.soundness.campaign",
        description="Hard-kill runs of one test consumer, each verdict judged against the "
        "consumer's own record of finished work.",
    )
    parser.add_argument("--consumer", required=True, choices=consumers())
    parser.add_argument("--runs", type=int, default=20, help="runs to do (default 20)")
    parser.add_argument(
        "--experiment",
        type=Path,
        default=KILL_HARD,
        help="the Chaos Toolkit experiment of every run (default: the hard consumer kill)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="where the campaign writes (default test-artifacts/soundness-campaign/"
        "<consumer>-<time>)",
    )
    parser.add_argument(
        "--kafka-state-dir",
        type=Path,
        help="a running local cluster to use and leave running (riverbed kafka up); "
        "default: start one of its own and stop it at the end",
    )
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="start no run after this many minutes (default: 6 per run)",
    )
    parser.add_argument(
        "--keep-all",
        action="store_true",
        help="keep every run's evidence, not only the runs that were not a true pass or fail",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if not args.experiment.is_file():
        parser.error(f"--experiment {args.experiment}: no such file")
    if args.kafka_state_dir and not (args.kafka_state_dir / "cluster.json").is_file():
        parser.error(
            f"--kafka-state-dir {args.kafka_state_dir}: no local Kafka cluster there "
            "(start one with `riverbed kafka up`)"
        )
    return args


def row(index: int, run: SoundnessRun) -> dict[str, Any]:
    """The campaign's record of one run."""
    return {
        "run": f"r{index:02d}",
        "run_id": run.run_dir.name if run.run_dir else None,
        "verdict": run.summary.get("verdict", "missing"),
        "never_processed": (run.summary.get("checks", {}).get("never-processed") or {}).get(
            "status"
        ),
        "truth_lost": run.truth.lost if run.truth else None,
        "truth_finished_twice": run.truth.finished_twice if run.truth else None,
        "outcome": run.outcome.name if run.outcome else NOT_JUDGED,
        "reason": run.outcome.reason if run.outcome else run.error,
        "records": run.records or {},
        "wrong_records": sum(v for k, v in (run.records or {}).items() if k in WRONG_RECORDS),
        "wall_s": round(run.wall_s, 1),
    }


def format_row(r: dict[str, Any]) -> str:
    lost = "-" if r["truth_lost"] is None else str(r["truth_lost"])
    return (
        f"{r['run']:<4} {str(r['run_id']):<58} {r['verdict']:<12} {lost:>5}  "
        f"{r['outcome']:<12} {r.get('wrong_records', 0):>6} {r['wall_s']:>5.0f}s"
    )


HEADER = (
    f"{'run':<4} {'run id':<58} {'verdict':<12} {'lost':>5}  {'outcome':<12} {'wrong':>6} "
    f"{'wall':>6}"
)


def totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts = Counter(r["outcome"] for r in rows)
    return {name: counts.get(name, 0) for name in (*OUTCOMES, NOT_JUDGED)}


def exit_code(rows: list[dict[str, Any]]) -> int:
    """1: a false pass or false alarm (of a run, or of a record: ``wrong_records``);
    2: nothing judged; 0 otherwise."""
    if any(r["outcome"] in (FALSE_PASS, FALSE_ALARM) or r.get("wrong_records") for r in rows):
        return 1
    if not any(r["outcome"] not in (INCONCLUSIVE, NOT_JUDGED) for r in rows):
        return 2
    return 0


def write(out: Path, settings: dict[str, Any], rows: list[dict[str, Any]], done: bool) -> None:
    data = {"settings": settings, "runs": rows, "totals": totals(rows), "finished": done}
    (out / "campaign.json").write_text(json.dumps(data, indent=2) + "\n")


def start_kafka(args: argparse.Namespace, out: Path) -> tuple[LocalKafkaCluster, bool]:
    """The cluster to run on, and whether this campaign started it (and must stop it)."""
    if args.kafka_state_dir:
        cluster = LocalKafkaCluster.open(args.kafka_state_dir)
        if not cluster.running():
            raise HarnessError(
                f"The local Kafka cluster in {args.kafka_state_dir} is not running.",
                fix="start it with `riverbed kafka up`, or leave out --kafka-state-dir.",
            )
        return cluster, False
    cluster = LocalKafkaCluster(out / "kafka", brokers=3, base_port=free_base_port(3), heap="384m")
    print(f"starting a 3-broker Kafka cluster in {cluster.state_dir}", flush=True)
    cluster.up(timeout=240)
    return cluster, True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = args.out or (
        ROOT
        / "test-artifacts"
        / "soundness-campaign"
        / f"{args.consumer}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    out.mkdir(parents=True, exist_ok=True)
    budget_s = 60 * (args.max_minutes if args.max_minutes is not None else 6 * args.runs)
    settings = {
        "consumer": args.consumer,
        "runs": args.runs,
        "experiment": str(args.experiment),
        "max_minutes": budget_s / 60,
    }
    rows: list[dict[str, Any]] = []
    t0 = time.monotonic()
    interrupted = False
    try:
        cluster, owned = start_kafka(args, out)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        print(f"{args.runs} runs of {args.consumer} under {args.experiment.name}; out: {out}")
        print(HEADER, flush=True)
        for index in range(1, args.runs + 1):
            if time.monotonic() - t0 > budget_s:
                print(f"stopping: {budget_s / 60:.0f} minutes passed", flush=True)
                break
            work_dir = out / f"r{index:02d}"
            run = soundness_run(cluster, args.consumer, work_dir, args.experiment)
            r = row(index, run)
            rows.append(r)
            print(format_row(r), flush=True)
            if r["outcome"] not in ("true-pass", "true-fail"):
                print("  " + "\n  ".join(run.describe().splitlines()[:20]), flush=True)
            if args.keep_all or r["outcome"] not in ("true-pass", "true-fail"):
                (work_dir / "riverbed-output.txt").write_text(run.output)
                (work_dir / "diagnosis.txt").write_text(run.describe() + "\n")
            else:
                shutil.rmtree(work_dir, ignore_errors=True)
            write(out, settings, rows, done=False)
    except KeyboardInterrupt:
        interrupted = True
        print("interrupted: the run in progress was stopped", flush=True)
    finally:
        if owned:
            cluster.down()
    write(out, settings, rows, done=not interrupted)
    counts = totals(rows)
    print(
        f"{len(rows)} runs: "
        + ", ".join(f"{n} {name}" for name, n in counts.items() if n)
        + f"; {time.monotonic() - t0:.0f}s; {out / 'campaign.json'}"
    )
    return 2 if interrupted and not rows else exit_code(rows)


if __name__ == "__main__":
    sys.exit(main())
