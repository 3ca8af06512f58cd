"""Key order of outputs (output-topic strength), against its definition pair by pair.

``first_output_order`` judges every message in a few vectorised passes; here each
message is judged against every later seq of its key, one pair at a time, on random
tiny sets of first outputs: ties, producer timestamps, missing times, several output
and input partitions.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.checks.outputs import first_output_order
from reports.evidence import POS_SHIFT
from reports.outputs import SKEW_S

#: Times with ties, near-ties (within the tolerance) and clear gaps.
TIMES = [None, 0.0, 0.5, 1.0, 1.0005, 2.0, 2.2, 3.5]

outputs = st.lists(
    st.tuples(
        st.sampled_from(["a", "b"]),  # key
        st.integers(0, 3),  # output partition
        st.sampled_from(TIMES),
        st.booleans(),  # append time
        st.integers(0, 2),  # input partition
    ),
    min_size=1,
    max_size=14,
)


def frame(rows: list[tuple[str, int, float | None, bool, int]], seqs: list[int]) -> pl.DataFrame:
    """First outputs in write order: seqs per key as given, offsets per output partition."""
    offsets: dict[int, int] = {}
    out: list[dict[str, Any]] = []
    next_seq: dict[str, int] = {}
    for i, (key, opart, t, appended, part) in enumerate(rows):
        n = next_seq.get(key, 0)
        next_seq[key] = n + 1
        off = offsets.get(opart, 0)
        offsets[opart] = off + 1
        out.append(
            {
                "producer": "p",
                "key": key,
                "seq": seqs[i] * 100 + n if seqs else n,
                "pos": part * POS_SHIFT + i,
                "opos": opart * POS_SHIFT + off,
                "t": t,
                "appended": appended,
                "opart": opart,
                "partition": part,
            }
        )
    schema = {
        "producer": pl.String,
        "key": pl.String,
        "seq": pl.Int64,
        "pos": pl.Int64,
        "opos": pl.Int64,
        "t": pl.Float64,
        "appended": pl.Boolean,
        "opart": pl.Int32,
        "partition": pl.Int32,
    }
    return pl.DataFrame(out, schema=schema)


def by_pairs(rows: list[dict[str, Any]], changed: bool) -> dict[tuple[str, int], tuple]:
    """The definition: (late, hazard, tie) per message that is late or a tie."""
    out = {}
    for i in rows:
        later = [j for j in rows if j["key"] == i["key"] and j["seq"] > i["seq"]]
        late_by = []
        unknown = False
        for j in later:
            if j["opart"] == i["opart"]:
                if j["opos"] < i["opos"]:
                    late_by.append(j)
                continue
            if i["t"] is not None and j["t"] is not None and j["t"] < i["t"] - SKEW_S:
                late_by.append(j)
            elif (
                i["t"] is None
                or j["t"] is None
                or not (i["appended"] and j["appended"])
                or j["t"] <= i["t"] + SKEW_S
            ):
                unknown = True
        late = bool(late_by)
        same_input = any(j["partition"] == i["partition"] for j in late_by)
        hazard = late and changed and not same_input
        tie = unknown and not late
        if late or tie:
            out[(i["key"], i["seq"])] = (late, hazard, tie)
    return out


@settings(max_examples=300, deadline=None)
@given(outputs, st.booleans(), st.lists(st.integers(0, 20), min_size=14, max_size=14))
def test_first_output_order_matches_its_definition_pair_by_pair(rows, changed, shuffle):
    # Seqs either in write order or shuffled (a service that reorders).
    firsts = frame(rows, shuffle if shuffle[0] % 2 else [])
    firsts = firsts.unique(subset=["key", "seq"], keep="first", maintain_order=True)
    got = first_output_order(firsts, changed)
    assert set(got.columns) >= {"producer", "key", "seq", "pos", "opos", "t", "late", "tie"}
    found = {
        (r["key"], r["seq"]): (r["late"], r["hazard"], r["tie"]) for r in got.iter_rows(named=True)
    }
    assert found == by_pairs(firsts.to_dicts(), changed)


def test_keyed_outputs_need_no_times_at_all():
    # Every key on one output partition: offsets alone order it, timestamps unused.
    rows = [("a", 0, None, False, 0), ("a", 0, None, False, 0), ("b", 1, None, False, 1)]
    assert first_output_order(frame(rows, []), changed=False).height == 0
    swapped = frame(rows, [])
    swapped = swapped.with_columns(
        pl.when(pl.col("key") == "a").then(1 - pl.col("seq")).otherwise(pl.col("seq")).alias("seq")
    )
    (late,) = first_output_order(swapped, changed=False).to_dicts()
    assert (late["key"], late["seq"], late["late"], late["tie"]) == ("a", 0, True, False)
