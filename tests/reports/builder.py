"""Literal tiny evidence for the checker's tests: a run written line by line.

``baseline()`` is a clean run small enough to read in full: one producer, two
partitions, a consumer killed hard (its uncommitted batch legally
redelivered), a replacement, and a graceful shutdown. Each test changes one
thing and asserts which checks notice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

P = "p1"


@dataclass
class Member:
    name: str
    lines: list[dict[str, Any]] = field(default_factory=list)

    def add(self, kind: str, t: float, **fields: Any) -> Member:
        self.lines.append({"v": 1, "type": kind, "member": self.name, **fields, "t": t})
        return self

    def start(self, t: float) -> Member:
        replica = self.name.rsplit("-", 1)[0]
        return self.add("start", t, replica=replica, pid=1, host="h")

    def assigned(
        self, t: float, partitions: list[int], generation: int | None = 1, **extra: Any
    ) -> Member:
        return self.add("assigned", t, generation=generation, partitions=partitions, **extra)

    def revoked(self, t: float, partitions: list[int], generation: int | None = 1) -> Member:
        return self.add("revoked", t, generation=generation, partitions=partitions)

    def lost(self, t: float, partitions: list[int], generation: int | None = 1) -> Member:
        return self.add("lost", t, generation=generation, partitions=partitions)

    def processed(
        self, t: float, partition: int, records: list[tuple[int, str, str, int]]
    ) -> Member:
        return self.add("processed", t, partition=partition, records=[list(r) for r in records])

    def committed(self, t: float, offsets: dict[int, int], ok: bool = True) -> Member:
        return self.add("committed", t, offsets={str(p): o for p, o in offsets.items()}, ok=ok)

    def invalid(self, t: float, partition: int, offset: int, reason: str = "corrupt") -> Member:
        return self.add("invalid", t, partition=partition, offset=offset, reason=reason)

    def stop(self, t: float, reason: str = "sigterm") -> Member:
        return self.add("stop", t, reason=reason)


@dataclass
class Run:
    spec: dict[str, Any]
    sends: list[dict[str, Any]] = field(default_factory=list)
    members: dict[str, Member] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    group: list[dict[str, Any]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] | None = None
    """evidence/output.jsonl lines (output-topic evidence); None: no such file."""

    def member(self, name: str) -> Member:
        return self.members.setdefault(name, Member(name))

    def send(
        self,
        key: str,
        seq: int,
        partition: int | None,
        offset: int | None,
        status: str = "ok",
        t: float = 1.5,
        producer: str = P,
        file: str = "p1",
    ) -> None:
        self.sends.append(
            {
                "_file": file,
                "v": 1,
                "type": "send",
                "producer": producer,
                "key": key,
                "seq": seq,
                "status": status,
                "partition": partition,
                "offset": offset,
                "t_send": t,
                "t_ack": t + 0.01,
                "error": None if status == "ok" else "KafkaTimeoutError: simulated",
            }
        )

    def record(
        self,
        partition: int,
        offset: int,
        key: str | None,
        seq: int | None,
        sha_ok: bool = True,
        producer: str | None = P,
    ) -> None:
        self.log.append(
            {
                "v": 1,
                "type": "record",
                "partition": partition,
                "offset": offset,
                "producer": producer if key is not None else None,
                "key": key,
                "seq": seq,
                "sha_ok": sha_ok,
            }
        )

    def output(
        self,
        partition: int,
        offset: int,
        key: str | None,
        seq: int | None,
        t: float | None,
        sha_ok: bool | None = True,
        producer: str = P,
        timestamp_type: str | None = None,
    ) -> None:
        """One output of the service: it answers the input (producer, key, seq).
        ``timestamp_type``: who set ``t`` (``LogAppendTime``, ``CreateTime``; None: left
        out, as in older runs)."""
        named = key is not None
        line: dict[str, Any] = {
            "v": 1,
            "type": "output",
            "partition": partition,
            "offset": offset,
            "producer": producer if named else None,
            "key": key,
            "seq": seq if named else None,
            "sha_ok": sha_ok if named else None,
            "identity": "value" if named else None,
            "t": t,
        }
        if not named:
            line["reason"] = "value is not JSON"
        if timestamp_type is not None:
            line["timestamp_type"] = timestamp_type
        if self.outputs is None:
            self.outputs = []
        self.outputs.append(line)

    def fault(
        self,
        t: float,
        landed: bool = True,
        activity: str = "kill-consumer",
        output: list[str] | None = None,
    ) -> None:
        self.faults.append(
            {
                "v": 1,
                "type": "fault",
                "experiment": "kill-consumer-hard",
                "activity": activity,
                "kind": "action",
                "t_start": t,
                "t_end": t + 0.1,
                "status": "succeeded",
                "output": (output or ["consumer-1"]) if landed else [],
                "landed": landed,
            }
        )

    def snapshot(
        self,
        t: float,
        generation: int,
        members: dict[str, list[int]],
        committed: dict[int, int],
        end: dict[int, int],
        state: str = "Stable",
        partitions: int = 2,
        info: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        snap: dict[str, Any] = {
            "v": 1,
            "type": "group",
            "t": t,
            "state": state,
            "generation": generation,
            "members": members,
            "committed": {str(p): o for p, o in committed.items()},
            "end_offsets": {str(p): o for p, o in end.items()},
            "partitions": partitions,
        }
        if info is not None:
            snap["member_info"] = info
        self.group.append(snap)

    def write(self, root: Path) -> Path:
        (root / "evidence" / "acks").mkdir(parents=True, exist_ok=True)
        (root / "evidence" / "consumed").mkdir(parents=True, exist_ok=True)
        (root / "spec.json").write_text(json.dumps(self.spec))
        files: dict[str, list[dict[str, Any]]] = {}
        for s in self.sends:
            files.setdefault(s["_file"], []).append({k: v for k, v in s.items() if k != "_file"})
        for name, lines in files.items():
            _jsonl(root / "evidence" / "acks" / f"{name}.jsonl", lines)
        for m in self.members.values():
            _jsonl(root / "evidence" / "consumed" / f"{m.name}.jsonl", m.lines)
        _jsonl(root / "evidence" / "log.jsonl", self.log)
        # A run written again into the same directory must not keep files it no longer has.
        (root / "evidence" / "group.jsonl").unlink(missing_ok=True)
        (root / "evidence" / "output.jsonl").unlink(missing_ok=True)
        if self.group:
            _jsonl(root / "evidence" / "group.jsonl", self.group)
        _jsonl(root / "evidence" / "faults.jsonl", self.faults)
        if self.outputs is not None:
            _jsonl(root / "evidence" / "output.jsonl", self.outputs)
        return root


def _jsonl(path: Path, lines: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))


def spec(**overrides: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "v": 1,
        "run_id": "tiny",
        "platform": "local",
        "topic": "riverbed-events",
        "partitions": 2,
        "consumers": 2,
        "group": "g",
        "commit_mode": "after-process",
        "assignor": "range",
        "experiments": ["experiments/local/kill-consumer-hard.json"],
        "t_start": 0.0,
        "t_end": 12.0,
        "drain": {"finished": True, "t": 9.5},
        "log_drain": {"finished": True, "t": 11.0, "end_offsets": {"0": 6, "1": 6}},
    }
    out.update(overrides)
    return out


#: Partition 0 holds key a (seq 0..5); partition 1 alternates keys b and c.
P0 = [(o, P, "a", o) for o in range(6)]
P1 = [(o, P, "bc"[o % 2], o // 2) for o in range(6)]


def baseline() -> Run:
    """A clean run: m1 killed after processing 3..4 of partition 0 without committing;
    m2 takes partition 0 over from the committed offset 3 (3 and 4 legally redelivered);
    m3 replaces m1 and takes partition 1; everyone stops gracefully after the drain."""
    run = Run(spec())
    for o, _, key, seq in P0:
        run.send(key, seq, 0, o)
        run.record(0, o, key, seq)
    for o, _, key, seq in P1:
        run.send(key, seq, 1, o)
        run.record(1, o, key, seq)
    m1, m2, m3 = (
        run.member("consumer-1-aaa"),
        run.member("consumer-2-bbb"),
        run.member("consumer-1-ccc"),
    )
    m1.start(1.0).assigned(2.0, [0]).processed(3.0, 0, P0[0:3]).committed(3.1, {0: 3})
    m1.processed(4.0, 0, P0[3:5])  # killed at 4.5: no commit, no stop line
    m2.start(1.0).assigned(2.0, [1]).processed(3.0, 1, P1[0:3]).committed(3.1, {1: 3})
    m2.processed(4.0, 1, P1[3:6]).committed(4.1, {1: 6})
    run.fault(4.5)
    m3.start(6.0)
    m2.revoked(8.0, [1]).assigned(8.1, [0], generation=2)
    m3.assigned(8.1, [1], generation=2)
    m2.processed(9.0, 0, P0[3:6]).committed(9.1, {0: 6})
    m2.revoked(10.0, [0], generation=2).stop(10.1)
    m3.revoked(10.0, [1], generation=2).stop(10.1)
    run.snapshot(2.5, 1, {"consumer-1-aaa": [0], "consumer-2-bbb": [1]}, {}, {0: 6, 1: 6})
    run.snapshot(5.0, 1, {"consumer-1-aaa": [0], "consumer-2-bbb": [1]}, {0: 3, 1: 6}, {0: 6, 1: 6})
    run.snapshot(8.05, 1, {}, {0: 3, 1: 6}, {0: 6, 1: 6}, state="PreparingRebalance")
    run.snapshot(8.5, 2, {"consumer-2-bbb": [0], "consumer-1-ccc": [1]}, {0: 3, 1: 6}, {0: 6, 1: 6})
    run.snapshot(9.5, 2, {"consumer-2-bbb": [0], "consumer-1-ccc": [1]}, {0: 6, 1: 6}, {0: 6, 1: 6})
    return run
