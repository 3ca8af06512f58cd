"""Synthetic run directories: evidence of a simulated run, clean or with one anomaly.

The simulation follows the evidence contract and Kafka's consumer-group
behaviour closely enough for the checks to be exercised for real:

- producers send keyed messages (partition = hash(key) mod partition count),
  every send is acknowledged with its partition and offset; some sends end
  ``unknown`` (half of those still reach the log);
- consumers in one group (eager protocol, range assignor) process batches per
  partition and commit after processing (``after-process``), before it
  (``before-process``) or on a timer (``auto``);
- faults: a hard kill (no ``stop`` line, the uncommitted batch is redelivered),
  a graceful stop, lost partitions, partitions added, and a fault with no
  effect on the group (a broker kill); a killed or stopped replica comes back
  as a new incarnation;
- a group monitor snapshot every 0.5 s, the fault timeline, the final drain
  of the log, and a spec.json saying both drains finished.

``inject`` adds exactly one anomaly of a named class (see :data:`ANOMALIES`),
so tests can check that each check flags its own anomaly and only it. The
benchmark uses the same generator at millions of messages.
"""

from __future__ import annotations

import json
import random
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from reports.model import CHECK_NAMES
from workloads.evidence.schema import RunLayout

#: Anomaly classes ``inject`` understands, named after the check that must flag them:
#: every check but ``indeterminate`` (unknown sends are reported, never failed).
ANOMALIES = tuple(name for name in CHECK_NAMES if name != "indeterminate")

FAULT_KINDS = ("kill", "stop", "lost", "add-partitions", "noop")

T0 = 1_800_000_000.0


@dataclass(frozen=True)
class Fault:
    """One fault of the simulated experiment."""

    kind: str
    """``kill`` (SIGKILL a consumer), ``stop`` (SIGTERM it), ``lost`` (it loses its
    partitions, e.g. a poll timeout), ``add-partitions``, or ``noop`` (landed, no
    effect on the group, like a broker kill)."""
    at: float = 0.5
    """When, as a fraction of the load phase (0..1)."""
    member: int = 0
    """Which running consumer (index into the running ones, modulo their count)."""
    count: int = 1
    """Partitions to add (``add-partitions``)."""
    replace: bool = True
    """A killed or stopped replica comes back as a new incarnation."""


@dataclass(frozen=True)
class Scenario:
    """What to simulate. Times are simulated seconds; everything is seeded."""

    messages: int = 1000
    partitions: int = 3
    consumers: int = 3
    producers: int = 2
    keys: int = 20
    rate: float = 400.0
    """Messages per second during the load phase."""
    batch: int = 50
    """Most records a consumer processes per partition per poll."""
    commit_mode: str = "after-process"
    faults: tuple[Fault, ...] = (Fault("kill", 0.5),)
    unknown_sends: int = 0
    """Sends recorded as ``unknown``; every other one still reaches the log."""
    duplicate_acks: int = 0
    """Sends recorded twice (as when an HTTP client and the service both record)."""
    poison: int = 0
    """Undecodable records in the log, refused and reported by the consumers."""
    inject: str | None = None
    """One of :data:`ANOMALIES`, or None for a clean run."""
    seed: int = 0
    tick_s: float = 0.05
    session_timeout_s: float = 3.0
    restart_s: float = 1.0
    metadata_s: float = 1.0
    auto_commit_s: float = 1.0
    snapshot_s: float = 0.5
    drain_deadline_s: float = 30.0
    """Simulated seconds after the load before the drain gives up (no consumer left)."""
    chaos_journal: bool = True
    locust_csv: bool = True


@dataclass
class Truth:
    """What the simulation knows happened: the checker must agree."""

    sent: int = 0
    acknowledged: int = 0
    unknown: int = 0
    recovered: int = 0
    processed: int = 0
    redelivered: int = 0
    """Extra processings (each legal in a clean run)."""
    invalid: int = 0
    rebalances: int = 0
    faults: int = 0
    drained: bool = True
    """The group caught up before the drain deadline."""
    injected: str | None = None
    """The anomaly class that was really injected (None for a clean run, or when the
    simulated run gave it no opportunity)."""
    detail: dict[str, Any] = field(default_factory=dict)


def _hash(key: str) -> int:
    return zlib.crc32(key.encode())


class _Member:
    def __init__(self, sim: _Sim, replica: int, incarnation: int, t: float) -> None:
        self.replica = f"consumer-{replica}"
        self.id = f"{self.replica}-{incarnation:06x}"
        # The coordinator's id for the member: the client id and a suffix, like kafka-python's.
        self.member_id = f"{self.id}-{zlib.crc32(self.id.encode()):08x}"
        self.sim = sim
        self.alive = True
        self.in_group = True
        self.owned: list[int] = []
        self.position: dict[int, int] = {}
        self.uncommitted: dict[int, int] = {}
        self.fh: TextIO = (sim.layout.consumed_dir / f"{self.id}.jsonl").open("w")
        self.buf: list[str] = []
        self.last_auto = t
        self.write(
            {
                "type": "start",
                "member": self.id,
                "replica": self.replica,
                "pid": 1000 + replica * 10 + incarnation % 10,
                "host": "sim",
                "t": t,
                "commit_mode": sim.sc.commit_mode,
                "assignor": "range",
            }
        )

    def write(self, rec: dict[str, Any]) -> None:
        self.buf.append(json.dumps({"v": 1, **rec}, separators=(",", ":")))

    def flush(self) -> None:
        if self.buf:
            self.fh.write("\n".join(self.buf) + "\n")
            self.buf.clear()

    def close(self) -> None:
        self.flush()
        self.fh.close()

    def commit(self, t: float, partitions: list[int] | None = None) -> None:
        ps = self.owned if partitions is None else partitions
        offsets = {str(p): self.position[p] for p in ps if p in self.uncommitted}
        if not offsets:
            return
        self.write({"type": "committed", "member": self.id, "offsets": offsets, "ok": True, "t": t})
        for p in ps:
            if p in self.uncommitted:
                self.sim.committed[p] = self.position[p]
                del self.uncommitted[p]


class _Sim:
    def __init__(self, run_dir: Path, sc: Scenario) -> None:
        self.sc = sc
        self.rng = random.Random(sc.seed)
        self.layout = RunLayout(run_dir).make()
        self.truth = Truth()
        self.P = sc.partitions
        self.log: list[list[tuple[int, int, int, bool] | None]] = [[] for _ in range(self.P)]
        """Per partition: (producer, key, seq, valid) or None for a poison record."""
        self.base = [0] * self.P
        self.committed: dict[int, int] = {}
        self.high_water: dict[int, int] = {}
        self.forget_commit_of: str | None = None
        self.members: list[_Member] = []
        self.group: dict[str, list[int]] = {}
        self.generation = 0
        self.rebalancing_until = -1.0
        self.pending: list[tuple[float, str, Any]] = []
        self.incarnations = [0] * sc.consumers
        self.producers = [f"lw-sim-{4000 + i}-{i:06x}" for i in range(sc.producers)]
        self.keys = [f"k{i}" for i in range(sc.keys)]
        self.acks = [(self.layout.acks_dir / f"{p}.jsonl").open("w") for p in self.producers]
        self.dup_acks = (
            (self.layout.acks_dir / "http-service.jsonl").open("w") if sc.duplicate_acks else None
        )
        self.logf = self.layout.log.open("w")
        self.group_f = self.layout.group.open("w")
        self.faults_f = self.layout.faults.open("w")
        self.next_snapshot = T0
        self.ack_buf: list[list[str]] = [[] for _ in self.producers]
        self.log_buf: list[str] = []
        self.sent = 0
        self.injected_done = False
        self.processed_total = 0
        self.plan_inject()

    # --- injection planning ---------------------------------------------------

    def plan_inject(self) -> None:
        sc = self.sc
        self.inject_at = max(1, sc.messages // 2)
        spread = random.Random(sc.seed + 1)

        def pick(k: int) -> set[int]:
            return set(spread.sample(range(sc.messages), min(k, sc.messages))) if k else set()

        self.unknown_at = pick(sc.unknown_sends) - {self.inject_at}
        self.poison_at = pick(sc.poison) - {self.inject_at}
        self.dup_ack_at = pick(sc.duplicate_acks) - {self.inject_at}
        self.special = self.unknown_at | self.poison_at | self.dup_ack_at
        if sc.inject in ("duplicate-in-log", "lost-from-log", "corruption"):
            self.special.add(self.inject_at)
        self.reorder_pending = sc.inject == "key-order"
        n_k = len(self.keys)
        self.seq_flat = [0] * (len(self.producers) * n_k)
        self.ack_pre = [
            f'{{"v":1,"type":"send","producer":"{p}","key":"{k}","seq":'
            for p in self.producers
            for k in self.keys
        ]
        self.log_mid = [
            f'"producer":"{p}","key":"{k}","seq":' for p in self.producers for k in self.keys
        ]
        self.rec_mid = [f',"{p}","{k}",' for p in self.producers for k in self.keys]
        self.repartition()

    def repartition(self) -> None:
        """Which partition each key maps to (hash(key) mod the partition count)."""
        self.key_partition = [_hash(k) % self.P for k in self.keys]

    # --- producing ------------------------------------------------------------

    def produce(self, t: float, n: int) -> None:
        """Send ``n`` messages during the tick ending at ``t``."""
        sc = self.sc
        rnd = self.rng.random
        n_p, n_k = len(self.producers), len(self.keys)
        kp, seqs, special = self.key_partition, self.seq_flat, self.special
        log, base, ack_bufs, log_buf = self.log, self.base, self.ack_buf, self.log_buf
        tick = sc.tick_s
        sent = 0
        for _ in range(n):
            i = self.sent
            if i >= sc.messages:
                break
            self.sent = i + 1
            pi, ki = int(rnd() * n_p), int(rnd() * n_k)
            k = pi * n_k + ki
            seq = seqs[k]
            seqs[k] = seq + 1
            p = kp[ki]
            t_send = t - tick + rnd() * tick * 0.8
            if i in special or (self.reorder_pending and i >= self.inject_at):
                self.produce_special(i, pi, ki, seq, p, t_send)
                continue
            # The common case, written out for speed: an acknowledged send and its log record.
            entries = log[p]
            offset = base[p] + len(entries)
            entries.append((pi, ki, seq, True))
            t_ack = t_send + 0.001 + rnd() * 0.004
            ack_bufs[pi].append(
                f'{self.ack_pre[k]}{seq},"status":"ok","partition":{p},"offset":{offset},'
                f'"t_send":{t_send:.6f},"t_ack":{t_ack:.6f},"error":null}}'
            )
            log_buf.append(
                f'{{"v":1,"type":"record","partition":{p},"offset":{offset},'
                f'{self.log_mid[k]}{seq},"sha_ok":true}}'
            )
            sent += 1
        self.truth.acknowledged += sent
        self.truth.sent += sent

    def produce_special(self, i: int, pi: int, ki: int, seq: int, p: int, t_send: float) -> None:
        """A send that is not plain: unknown, duplicated, reordered, or followed by poison."""
        sc = self.sc
        status = "ok"
        written = True
        if i in self.unknown_at:
            status = "unknown"
            written = self.truth.unknown % 2 == 0
            self.truth.unknown += 1
            self.truth.recovered += int(written)
        if self.reorder_pending and i >= self.inject_at and status == "ok":
            # A producer retry reordered two messages of one key: seq n+1 lands before seq n.
            self.reorder_pending = False
            self.seq_flat[pi * len(self.keys) + ki] = seq + 2
            self.append(p, (pi, ki, seq + 1, True), t_send, "ok")
            self.append(p, (pi, ki, seq, True), t_send + 0.0005, "ok")
            self.truth.detail["key-order"] = {"partition": p, "key": self.keys[ki], "seq": seq}
            self.truth.injected = "key-order"
            return
        if written:
            self.append(p, (pi, ki, seq, True), t_send, status)
        else:
            self.ack(pi, ki, seq, status, None, None, t_send)
        if sc.inject == "duplicate-in-log" and i == self.inject_at:
            # A retry without idempotence: the same message lands twice.
            self.append(p, (pi, ki, seq, True), t_send + 0.001, "ok")
            self.truth.injected = "duplicate-in-log"
        if i in self.poison_at:
            self.truth.detail["poison"] = self.truth.detail.get("poison", 0) + 1
            self.append(p, None, t_send, None)

    def append(
        self, p: int, entry: tuple[int, int, int, bool] | None, t_send: float, status: str | None
    ) -> None:
        offset = self.base[p] + len(self.log[p])
        self.log[p].append(entry)
        self.log_offset_written(p, offset, entry, t_send, status)

    def log_offset_written(
        self,
        p: int,
        offset: int,
        entry: tuple[int, int, int, bool] | None,
        t_send: float,
        status: str | None,
    ) -> None:
        sc = self.sc
        if entry is None:
            self.log_buf.append(
                f'{{"v":1,"type":"record","partition":{p},"offset":{offset},"producer":null,'
                f'"key":null,"seq":null,"sha_ok":false,"reason":"undecodable"}}'
            )
            return
        pi, ki, seq, _ = entry
        if status is not None:
            self.ack(pi, ki, seq, status, p, offset, t_send)
        idx = self.sent - 1
        sha_ok = "true"
        if sc.inject == "lost-from-log" and idx == self.inject_at:
            self.truth.detail["lost"] = {"partition": p, "offset": offset}
            self.truth.injected = "lost-from-log"
            return
        if sc.inject == "corruption" and idx == self.inject_at:
            sha_ok = "false"
            self.truth.detail["corrupt"] = {"partition": p, "offset": offset}
            self.truth.injected = "corruption"
        self.log_buf.append(
            f'{{"v":1,"type":"record","partition":{p},"offset":{offset},'
            f'"producer":"{self.producers[pi]}","key":"{self.keys[ki]}","seq":{seq},"sha_ok":{sha_ok}}}'
        )

    def ack(
        self,
        pi: int,
        ki: int,
        seq: int,
        status: str,
        p: int | None,
        offset: int | None,
        t_send: float,
    ) -> None:
        t_ack = t_send + 0.001 + self.rng.random() * 0.004
        part = "null" if p is None else p
        off = "null" if offset is None else offset
        err = "null" if status == "ok" else '"KafkaTimeoutError: simulated"'
        line = (
            f'{{"v":1,"type":"send","producer":"{self.producers[pi]}","key":"{self.keys[ki]}",'
            f'"seq":{seq},"status":"{status}","partition":{part},"offset":{off},'
            f'"t_send":{t_send:.6f},"t_ack":{t_ack:.6f},"error":{err}}}'
        )
        self.ack_buf[pi].append(line)
        if status == "ok":
            self.truth.acknowledged += 1
        self.truth.sent += 1
        if self.dup_acks is not None and self.sent - 1 in self.dup_ack_at:
            self.truth.detail["dup_acks"] = self.truth.detail.get("dup_acks", 0) + 1
            self.dup_acks.write(line + "\n")

    # --- the group ------------------------------------------------------------

    def live(self) -> list[_Member]:
        return [m for m in self.members if m.alive]

    def join(self, replica: int, t: float) -> _Member:
        inc = self.incarnations[replica]
        self.incarnations[replica] += 1
        m = _Member(self, replica, (replica * 7919 + inc * 104729 + self.sc.seed) & 0xFFFFFF, t)
        self.members.append(m)
        return m

    def rebalance(self, t: float) -> None:
        """Eager protocol, range assignor: everyone revokes, then gets a new range."""
        sc = self.sc
        if any(what == "expire" for _, what, _ in self.pending):
            # A killed member is still in the group: the coordinator waits for its
            # session to expire; that expiry runs the rebalance.
            return
        alive = [m for m in self.members if m.alive and m.in_group]
        for m in alive:
            forgets = sc.inject == "redelivered" and self.forget_commit_of == m.id
            if sc.commit_mode in ("after-process", "auto") and not forgets:
                m.commit(t)
            revoked = list(m.owned)
            m.write(
                {
                    "type": "revoked",
                    "member": m.id,
                    "generation": self.generation,
                    "partitions": revoked,
                    "t": t,
                }
            )
            m.owned = []
            m.uncommitted.clear()
        self.generation += 1
        self.truth.rebalances += 1
        alive.sort(key=lambda m: m.id)
        per, extra = divmod(self.P, max(1, len(alive)))
        start = 0
        self.group = {}
        t_assign = t + 0.1
        for i, m in enumerate(alive):
            n = per + (1 if i < extra else 0)
            ps = list(range(start, start + n))
            start += n
            m.owned = ps
            for p in ps:
                m.position[p] = self.committed.get(p, 0)
            self.group[m.member_id] = ps
            m.write(
                {
                    "type": "assigned",
                    "member": m.id,
                    "generation": self.generation,
                    "partitions": ps,
                    "t": t_assign,
                    "member_id": m.member_id,
                    "client_id": m.id,
                }
            )
        self.rebalancing_until = t_assign

    def schedule(self, t: float, what: str, arg: Any = None) -> None:
        self.pending.append((t, what, arg))
        self.pending.sort(key=lambda x: (x[0], x[1]))

    def fault(self, f: Fault, t: float) -> None:
        sc = self.sc
        live = [m for m in self.members if m.alive and m.in_group]
        landed = True
        output: Any = None
        # A fault aimed at a consumer hits one doing work, when there is one.
        working = [m for m in live if m.owned] or live
        victim = working[f.member % len(working)] if working else None
        if f.kind in ("kill", "stop", "lost") and victim is None:
            landed = False
        elif f.kind == "kill":
            assert victim is not None
            before_process = sc.commit_mode == "before-process"
            self.kill(victim, t, mid_batch=before_process)
            output = [victim.replica]
            self.schedule(t + sc.session_timeout_s, "expire", victim.member_id)
            if f.replace:
                self.schedule(t + sc.restart_s, "join", int(victim.replica.split("-")[1]))
        elif f.kind == "stop":
            assert victim is not None
            if sc.inject == "redelivered" and not self.injected_done:
                # The stopping consumer forgets to commit its last batch.
                self.injected_done = True
                self.forget_commit_of = victim.id
                self.ensure_pending(victim, t, 1)
                self.process(victim, t, commit=False)
                if any(victim.uncommitted.values()):
                    self.truth.injected = "redelivered"
                victim.write(
                    {
                        "type": "revoked",
                        "member": victim.id,
                        "generation": self.generation,
                        "partitions": victim.owned,
                        "t": t,
                    }
                )
            else:
                if sc.commit_mode in ("after-process", "auto"):
                    victim.commit(t)
                victim.write(
                    {
                        "type": "revoked",
                        "member": victim.id,
                        "generation": self.generation,
                        "partitions": victim.owned,
                        "t": t,
                    }
                )
            victim.write({"type": "stop", "member": victim.id, "reason": "sigterm", "t": t + 0.01})
            victim.alive = False
            victim.in_group = False
            victim.owned = []
            victim.close()
            output = [victim.replica]
            self.schedule(t + 0.05, "rebalance")
            if f.replace:
                self.schedule(t + sc.restart_s, "join", int(victim.replica.split("-")[1]))
        elif f.kind == "lost":
            assert victim is not None
            self.process(victim, t, commit=False)
            victim.write(
                {
                    "type": "lost",
                    "member": victim.id,
                    "generation": self.generation,
                    "partitions": victim.owned,
                    "t": t + 0.01,
                }
            )
            victim.owned = []
            victim.uncommitted.clear()
            output = [victim.replica]
            self.schedule(t + 0.05, "rebalance")
        elif f.kind == "add-partitions":
            old = self.P
            self.P += f.count
            for _ in range(f.count):
                self.log.append([])
                self.base.append(0)
            self.repartition()
            # The shape riverbed.chaos.kafka.actions.add_partitions returns.
            output = {"topic": "riverbed-events", "before": old, "after": self.P, "added": f.count}
            self.schedule(t + sc.metadata_s, "rebalance")
        else:
            output = ["broker-2"]
        landed_flag = landed and sc.inject != "vacuity"
        if landed_flag:
            self.truth.faults += 1
        rec = {
            "v": 1,
            "type": "fault",
            "experiment": f"sim-{f.kind}",
            "activity": f"{f.kind}-{f.member}",
            "kind": "action",
            "t_start": t,
            "t_end": t + 0.05,
            "status": "succeeded" if landed else "failed",
            "output": output if landed_flag else [],
            "landed": landed_flag,
            "phase": "method",
        }
        self.faults_f.write(json.dumps(rec, separators=(",", ":")) + "\n")
        self.faults_f.write(
            json.dumps(
                {
                    "v": 1,
                    "type": "fault",
                    "experiment": f"sim-{f.kind}",
                    "activity": "group-is-stable",
                    "kind": "probe",
                    "t_start": t + 0.06,
                    "t_end": t + 0.07,
                    "status": "succeeded",
                    "output": True,
                    "phase": "steady-state-after",
                },
                separators=(",", ":"),
            )
            + "\n"
        )

    def ensure_pending(self, m: _Member, t: float, n: int) -> None:
        """Make sure ``m`` has at least ``n`` records to process on one of its partitions."""
        if not m.owned:
            return
        p = m.owned[0]
        pending = self.base[p] + len(self.log[p]) - m.position[p]
        keys = [ki for ki, kp in enumerate(self.key_partition) if kp == p]
        for _ in range(max(0, n - pending) if keys else 0):
            ki = keys[0]
            seq = self.seq_flat[ki]
            self.seq_flat[ki] = seq + 1
            self.append(p, (0, ki, seq, True), t - 0.01, "ok")

    def kill(self, m: _Member, t: float, mid_batch: bool) -> None:
        """SIGKILL: the last batch is processed but its commit never happens."""
        if mid_batch:
            # before-process: commit the batch, then die halfway through processing it.
            if self.sc.inject == "never-processed":
                self.ensure_pending(m, t, 2)
            self.process(m, t, commit=False, half=True)
            if any(self.committed.get(p, 0) > m.position.get(p, 0) for p in m.owned):
                self.truth.injected = self.sc.inject
        else:
            self.process(m, t, commit=False)
        m.alive = False
        m.close()

    # --- consuming ------------------------------------------------------------

    def process(self, m: _Member, t: float, commit: bool = True, half: bool = False) -> None:
        sc = self.sc
        if t < self.rebalancing_until:
            return  # assignments of the current rebalance are not in effect yet
        if sc.commit_mode == "before-process":
            # Commit what this poll will return, then process it.
            ends = {}
            for p in m.owned:
                end = self.base[p] + len(self.log[p])
                ends[p] = min(end, m.position[p] + sc.batch)
            offsets = {str(p): ends[p] for p in m.owned if ends[p] > m.position[p]}
            if offsets:
                m.write(
                    {"type": "committed", "member": m.id, "offsets": offsets, "ok": True, "t": t}
                )
                for key, o in offsets.items():
                    self.committed[int(key)] = o
        for p in list(m.owned):
            pos = m.position[p]
            end = min(self.base[p] + len(self.log[p]), pos + sc.batch)
            if end <= pos:
                continue
            if half:
                end = pos + max(1, (end - pos) // 2)
            records: list[str] = []
            rec_mid, n_k = self.rec_mid, len(self.keys)
            hw = self.high_water.get(p, 0)
            if pos < hw:
                # Offsets processed before: redelivered (poison records are refused, not processed).
                again = range(pos, min(end, hw))
                self.truth.redelivered += sum(
                    1 for off in again if self.log[p][off - self.base[p]] is not None
                )
            self.high_water[p] = max(hw, end)
            for off in range(pos, end):
                e = self.log[p][off - self.base[p]]
                if e is None:
                    if records:
                        self.write_processed(m, p, records, t)
                        records = []
                    if sc.inject == "invalid-handling":
                        self.truth.injected = "invalid-handling"
                    else:
                        m.write(
                            {
                                "type": "invalid",
                                "member": m.id,
                                "partition": p,
                                "offset": off,
                                "reason": "undecodable",
                                "t": t,
                            }
                        )
                        self.truth.invalid += 1
                    continue
                records.append(f"[{off}{rec_mid[e[0] * n_k + e[1]]}{e[2]}]")
            if records:
                self.write_processed(m, p, records, t)
            m.position[p] = end
            m.uncommitted[p] = end
        if sc.commit_mode == "after-process" and commit:
            m.commit(t + 0.001)
        elif sc.commit_mode == "auto" and commit and t - m.last_auto >= sc.auto_commit_s:
            m.last_auto = t
            m.commit(t + 0.001)
        elif sc.commit_mode == "before-process":
            m.uncommitted.clear()

    def write_processed(self, m: _Member, p: int, records: list[str], t: float) -> None:
        if self.sc.inject == "partition-order" and not self.injected_done and len(records) >= 2:
            a, b = json.loads(records[0]), json.loads(records[1])
            if a[2] != b[2] and self.processed_total >= self.inject_at // 2:
                self.injected_done = True
                records[0], records[1] = records[1], records[0]
                self.truth.detail["partition-order"] = {"partition": p, "offsets": [a[0], b[0]]}
                self.truth.injected = "partition-order"
        self.processed_total += len(records)
        m.buf.append(
            f'{{"v":1,"type":"processed","member":"{m.id}","partition":{p},'
            f'"records":[{",".join(records)}],"t":{t:.6f}}}'
        )

    # --- evidence of the monitor and the log ------------------------------------

    def snapshot(self, t: float) -> None:
        state = "Stable" if t >= self.rebalancing_until else "CompletingRebalance"
        end = {str(p): self.base[p] + len(self.log[p]) for p in range(self.P)}
        rec = {
            "v": 1,
            "type": "group",
            "t": round(t, 6),
            "state": state,
            "generation": self.generation,
            "members": self.group,
            "member_info": {
                m.member_id: {"client_id": m.id, "host": "/10.0.0.1", "instance_id": None}
                for m in self.members
                if m.member_id in self.group
            },
            "committed": {str(p): o for p, o in sorted(self.committed.items())},
            "end_offsets": end,
            "partitions": self.P,
        }
        self.group_f.write(json.dumps(rec, separators=(",", ":")) + "\n")

    def trim(self) -> None:
        """Forget log entries everyone has committed past (keeps memory flat)."""
        for p in range(self.P):
            keep_from = self.committed.get(p, 0)
            for m in self.members:
                if m.alive and p in m.position:
                    keep_from = min(keep_from, m.position[p])
            drop = keep_from - self.base[p] - 1000
            if drop > 10_000:
                del self.log[p][:drop]
                self.base[p] += drop

    def flush(self) -> None:
        for f, buf in zip(self.acks, self.ack_buf, strict=True):
            if buf:
                f.write("\n".join(buf) + "\n")
                buf.clear()
        if self.log_buf:
            self.logf.write("\n".join(self.log_buf) + "\n")
            self.log_buf.clear()
        for m in self.members:
            if m.alive:
                m.flush()

    # --- the run ----------------------------------------------------------------

    def run(self) -> Truth:
        sc = self.sc
        t = T0
        for r in range(sc.consumers):
            self.join(r, t)
        self.rebalance(t + 0.3)
        load_start = t + 1.0
        duration = sc.messages / sc.rate
        faults = sorted(sc.faults, key=lambda f: f.at)
        for f in faults:
            self.schedule(load_start + f.at * duration, "fault", f)
        per_tick = sc.rate * sc.tick_s
        owed = 0.0
        t_drained: float | None = None
        tick = 0
        while True:
            tick += 1
            t = T0 + tick * sc.tick_s
            # The monitor's view at the start of the tick: what was committed by now.
            while self.next_snapshot <= t:
                self.snapshot(self.next_snapshot)
                self.next_snapshot += sc.snapshot_s
            if t >= load_start and self.sent < sc.messages:
                owed += per_tick
                n = int(owed)
                owed -= n
                self.produce(t, n)
            while self.pending and self.pending[0][0] <= t:
                _, what, arg = self.pending.pop(0)
                # Events happen on the tick, so every member's lines stay in time order.
                self.event(t, what, arg)
            if t >= self.rebalancing_until:
                for m in sorted(self.live(), key=lambda m: m.id):
                    if m.in_group and m.owned:
                        self.process(m, t + 0.002)
            if tick % 200 == 0:
                self.flush()
                self.trim()
            settled = not self.pending and t >= self.rebalancing_until
            if self.sent >= sc.messages and settled and self.drained():
                t_drained = t
                break
            if t > load_start + duration + sc.drain_deadline_s:
                # Like the harness: give up after the drain deadline (no consumer left, …).
                break
        self.truth.drained = t_drained is not None
        # Final commits (auto mode), then a graceful shutdown of every consumer.
        t_end = (t_drained if t_drained is not None else t) + 0.5
        for m in sorted(self.live(), key=lambda m: m.id):
            m.commit(t_end)
        self.snapshot(t_end + 0.1)
        for m in sorted(self.live(), key=lambda m: m.id):
            m.write(
                {
                    "type": "revoked",
                    "member": m.id,
                    "generation": self.generation,
                    "partitions": m.owned,
                    "t": t_end + 0.2,
                }
            )
            m.write({"type": "stop", "member": m.id, "reason": "sigterm", "t": t_end + 0.3})
        self.flush()
        for m in self.members:
            if m.alive:
                m.close()
        self.finish(T0, t_end + 1.0, t_drained if t_drained is not None else t)
        return self.truth

    def drained(self) -> bool:
        for p in range(self.P):
            end = self.base[p] + len(self.log[p])
            owner = [m for m in self.live() if p in m.owned]
            if not owner or owner[0].position.get(p, 0) < end:
                return False
            if self.sc.commit_mode != "auto" and self.committed.get(p, 0) < end:
                return False
        return True

    def event(self, t: float, what: str, arg: Any) -> None:
        if what == "fault":
            self.fault(arg, t)
        elif what == "expire":
            self.group.pop(arg, None)
            self.rebalance(t)
        elif what == "join":
            self.join(arg, t)
            # A join while a dead member is still in the group waits for its expiry.
            if not any(w == "expire" for _, w, _ in self.pending):
                self.rebalance(t + 0.05)
        elif what == "rebalance":
            self.rebalance(t)

    def close_files(self) -> None:
        for f in self.acks:
            if not f.closed:
                f.close()
        for f2 in (self.dup_acks, self.logf, self.group_f, self.faults_f):
            if f2 is not None and not f2.closed:
                f2.close()

    def finish(self, t_start: float, t_end: float, t_drained: float) -> None:
        sc = self.sc
        self.flush()
        self.close_files()
        self.truth.processed = self.processed_total
        if self.truth.drained:
            drain: dict[str, Any] = {
                "finished": True,
                "t": t_drained,
                "deadline_s": sc.drain_deadline_s,
                "detail": "lag 0 on every partition",
            }
        else:
            drain = {
                "finished": False,
                "t": t_drained,
                "deadline_s": sc.drain_deadline_s,
                "detail": "the group did not catch up",
            }
        spec = {
            "v": 1,
            "run_id": f"sim-{sc.seed}-{sc.inject or 'clean'}",
            "platform": "synthetic",
            "bootstrap_servers": "127.0.0.1:19092",
            "topic": "riverbed-events",
            "partitions": sc.partitions,
            "replication_factor": 3,
            "min_insync_replicas": 2,
            "brokers": 3,
            "consumers": sc.consumers,
            "group": "riverbed-consumers",
            "commit_mode": sc.commit_mode,
            "assignor": "range",
            "processing_ms": "0",
            "evidence_topic": None,
            "load": {
                "users": sc.producers,
                "duration_s": sc.messages / sc.rate,
                "key_space": sc.keys,
            },
            "experiments": [f"sim-{f.kind}" for f in sc.faults],
            "t_start": t_start,
            "t_end": t_end,
            "drain": drain,
            "log_drain": {
                "finished": True,
                "t": t_end,
                "end_offsets": {str(p): self.base[p] + len(self.log[p]) for p in range(self.P)},
            },
        }
        if sc.inject == "rebalance":
            # Recovery within half a second: a kill with a 3 s session timeout cannot.
            spec["limits"] = {"time_to_full_ownership_s": 0.5}
            self.truth.injected = "rebalance"
        if sc.inject == "redelivered":
            # A consumer that does not commit on a graceful stop is at-least-once: only the
            # strict delivery setting forbids what it leaves to be delivered again.
            spec["delivery"] = "strict"
        if sc.inject == "vacuity":
            self.truth.injected = "vacuity"
        self.layout.spec.write_text(json.dumps(spec, indent=2) + "\n")
        if sc.chaos_journal:
            _write_journal(self.layout, sc, t_start, t_end)
        if sc.locust_csv:
            _write_locust(self.layout, self.truth, t_start, sc)


def _write_journal(layout: RunLayout, sc: Scenario, t_start: float, t_end: float) -> None:
    from datetime import UTC, datetime

    def iso(t: float) -> str:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")

    run = [
        {
            "activity": {
                "type": "action",
                "name": f"{f.kind}-{f.member}",
                "provider": {"type": "python", "module": "riverbed.chaos.actions", "func": f.kind},
            },
            "status": "succeeded",
            "start": iso(t_start + 1),
            "end": iso(t_start + 1.05),
            "duration": 0.05,
            "output": None,
        }
        for f in sc.faults
    ]
    journal = {
        "chaoslib-version": "1.44.0",
        "platform": "synthetic",
        "experiment": {
            "title": "Synthetic experiment",
            "description": "generated by tests.support.synthetic",
        },
        "start": iso(t_start),
        "end": iso(t_end),
        "duration": t_end - t_start,
        "status": "completed",
        "deviated": False,
        "steady_states": {
            "before": {"steady_state_met": True, "probes": []},
            "after": {"steady_state_met": True, "probes": []},
            "during": [],
        },
        "run": run,
        "rollbacks": [],
    }
    (layout.chaos_dir / "sim.journal.json").write_text(json.dumps(journal, indent=2) + "\n")


def _write_locust(layout: RunLayout, truth: Truth, t_start: float, sc: Scenario) -> None:
    header = (
        "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
        "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
        "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
    )
    rps = sc.rate
    row = f"SEND,riverbed-events,{truth.sent},{truth.unknown},3,3.2,1,40,0,{rps:.1f},0.0,3,3,4,4,5,6,8,10,20,40,40"
    agg = f",Aggregated,{truth.sent},{truth.unknown},3,3.2,1,40,0,{rps:.1f},0.0,3,3,4,4,5,6,8,10,20,40,40"
    (layout.locust_dir / "run_stats.csv").write_text("\n".join([header, row, agg]) + "\n")
    hist = [
        "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,95%,Total Request Count,Total Failure Count"
    ]
    duration = max(1, int(sc.messages / sc.rate))
    for s in range(0, duration + 1):
        hist.append(
            f"{int(t_start) + 1 + s},{sc.producers},,Aggregated,{rps:.1f},0.0,3,6,{int(min(truth.sent, rps * s))},0"
        )
    (layout.locust_dir / "run_stats_history.csv").write_text("\n".join(hist) + "\n")
    (layout.locust_dir / "run_failures.csv").write_text(
        "Method,Name,Error,Occurrences\n"
        + (f"SEND,riverbed-events,KafkaTimeoutError,{truth.unknown}\n" if truth.unknown else "")
    )


def generate(run_dir: Path | str, scenario: Scenario | None = None, **kwargs: Any) -> Truth:
    """Write a synthetic run directory; returns what truly happened in it.

    ``generate(path, messages=10_000, faults=(Fault("kill", 0.3),))`` or with a
    :class:`Scenario`. With ``inject="<check name>"`` exactly one anomaly of that
    class is added.
    """
    sc = scenario if scenario is not None else Scenario(**kwargs)
    if sc.inject is not None and sc.inject not in ANOMALIES:
        raise ValueError(f"unknown anomaly {sc.inject!r}; choose from {', '.join(ANOMALIES)}")
    if sc.inject == "redelivered" and not any(f.kind == "stop" for f in sc.faults):
        sc = _replace(sc, faults=(*sc.faults, Fault("stop", 0.6)))
    if sc.inject == "never-processed":
        sc = _replace(sc, commit_mode="before-process")
        if not any(f.kind == "kill" for f in sc.faults):
            sc = _replace(sc, faults=(*sc.faults, Fault("kill", 0.5)))
    if sc.inject == "invalid-handling" and not sc.poison:
        sc = _replace(sc, poison=1)
    if sc.inject == "rebalance" and not any(f.kind == "kill" for f in sc.faults):
        sc = _replace(sc, faults=(*sc.faults, Fault("kill", 0.5)))
    sim = _Sim(Path(run_dir), sc)
    return sim.run()


def _replace(sc: Scenario, **changes: Any) -> Scenario:
    from dataclasses import replace

    return replace(sc, **changes)
