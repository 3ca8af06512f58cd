"""Evidence plumbing's pure parts: monitor snapshots, log-drain records, collector routing, sinks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workloads.cli_support import EnvArgumentParser, parse_bool
from workloads.collect import route, safe_name
from workloads.drain import log_record
from workloads.evidence.kafka_sink import record_value
from workloads.evidence.reader import read_jsonl
from workloads.evidence.schema import check
from workloads.evidence.sinks import FileSink, TeeSink
from workloads.message import encode
from workloads.monitor import group_snapshot, member_assignments

DESCRIBED = {
    "group_state": "Stable",
    "members": [
        {
            "member_id": "c1-aaaaaa-uuid",
            "client_id": "c1-aaaaaa",
            "member_assignment": {
                "assigned_partitions": [
                    {"topic": "events", "partitions": [2, 0]},
                    {"topic": "other", "partitions": [9]},
                ]
            },
        },
        {"member_id": "c2-bbbbbb-uuid", "client_id": "c2-bbbbbb", "member_assignment": b""},
    ],
}


def test_members_are_keyed_by_member_id_with_the_topic_s_partitions() -> None:
    assert member_assignments(DESCRIBED, "events") == {
        "c1-aaaaaa-uuid": [0, 2],
        "c2-bbbbbb-uuid": [],
    }
    assert member_assignments({"group_state": "Dead", "members": []}, "events") == {}


def test_replicas_sharing_a_client_id_are_not_merged() -> None:
    # Three replicas of a user's consumer with the library's default client id:
    # merged by client id, partition 1's two owners would read as one member.
    def replica(member_id: str, partitions: list[int]) -> dict[str, object]:
        return {
            "member_id": member_id,
            "client_id": "kafka-python-3.0.12",
            "client_host": "/10.0.0.7",
            "group_instance_id": None,
            "member_assignment": {
                "assigned_partitions": [{"topic": "events", "partitions": partitions}]
            },
        }

    described = {
        "group_state": "Stable",
        "members": [replica("m-1", [0, 1]), replica("m-2", [1]), replica("m-3", [2])],
    }
    snap = group_snapshot(1.0, described, {}, {0: 0, 1: 0, 2: 0}, 3, "events")
    assert snap["members"] == {"m-1": [0, 1], "m-2": [1], "m-3": [2]}
    assert snap["member_info"]["m-2"] == {
        "client_id": "kafka-python-3.0.12",
        "host": "/10.0.0.7",
        "instance_id": None,
    }
    owners = [m for m, parts in snap["members"].items() if 1 in parts]
    assert owners == ["m-1", "m-2"]


def test_a_group_snapshot_follows_the_contract() -> None:
    snap = group_snapshot(5.0, DESCRIBED, {0: 10, 2: -1}, {0: 12, 1: 0, 2: 3}, 3, "events")
    assert snap == {
        "type": "group",
        "t": 5.0,
        "state": "Stable",
        "generation": None,
        "members": {"c1-aaaaaa-uuid": [0, 2], "c2-bbbbbb-uuid": []},
        "member_info": {
            "c1-aaaaaa-uuid": {"client_id": "c1-aaaaaa", "host": None, "instance_id": None},
            "c2-bbbbbb-uuid": {"client_id": "c2-bbbbbb", "host": None, "instance_id": None},
        },
        "committed": {"0": 10},  # -1: nothing committed yet
        "end_offsets": {"0": 12, "1": 0, "2": 3},
        "partitions": 3,
        "group_type": "classic",
    }
    check({"v": 1, **snap}, allowed=frozenset({"group"}))


def test_log_records_carry_identity_and_sha_check() -> None:
    ok = log_record(1, 7, encode("p", "k", 3, {"a": 1}))
    assert ok == {
        "type": "record",
        "partition": 1,
        "offset": 7,
        "producer": "p",
        "key": "k",
        "seq": 3,
        "sha_ok": True,
    }
    tampered = json.loads(encode("p", "k", 4, "x"))
    tampered["body"] = "y"
    corrupt = log_record(1, 8, json.dumps(tampered).encode())
    assert (corrupt["producer"], corrupt["seq"], corrupt["sha_ok"], corrupt["reason"]) == (
        "p",
        4,
        False,
        "corrupt",
    )
    junk = log_record(1, 9, b"\x00")
    assert (junk["producer"], junk["key"], junk["seq"], junk["sha_ok"], junk["reason"]) == (
        None,
        None,
        None,
        False,
        "undecodable",
    )
    for r in (ok, corrupt, junk):
        check({"v": 1, **r}, allowed=frozenset({"record"}))


def test_a_log_record_keeps_the_brokers_append_time_only() -> None:
    from workloads.drain import append_time
    from workloads.topic_reader import TopicRecord

    value = encode("p", "k", 3, {"a": 1})
    appended = TopicRecord(0, 7, value, [], 1_700_000_000_123, timestamp_type=1)
    created = TopicRecord(0, 7, value, [], 1_700_000_000_123, timestamp_type=0)
    assert append_time(appended) == 1_700_000_000.123
    # The producer's create time says nothing of when the broker had the record.
    assert append_time(created) is None
    assert append_time(appended._replace(timestamp_ms=-1)) is None
    line = log_record(0, 7, value, append_time(appended))
    assert line["t_append"] == 1_700_000_000.123
    check({"v": 1, **line}, allowed=frozenset({"record"}))
    assert "t_append" not in log_record(0, 7, value, append_time(created))


@pytest.mark.parametrize(
    ("record", "path"),
    [
        ({"v": 1, "type": "processed", "member": "c1-ab12cd"}, "evidence/consumed/c1-ab12cd.jsonl"),
        ({"v": 1, "type": "stop", "member": "../../etc"}, "evidence/consumed/_.._etc.jsonl"),
        ({"v": 1, "type": "send", "producer": "http-h-1-x"}, "evidence/acks/http-h-1-x.jsonl"),
        ({"v": 1, "type": "group"}, "evidence/group.jsonl"),
        ({"v": 1, "type": "fault"}, "evidence/faults.jsonl"),
        ({"v": 2, "type": "group"}, None),
        ({"v": 1, "type": "mystery"}, None),
        ({"v": 1, "type": "processed"}, None),
        (["not", "a", "record"], None),
    ],
)
def test_the_collector_routes_each_record_to_its_file(record: object, path: str | None) -> None:
    assert route(record) == path


def test_safe_names_cannot_escape_the_directory() -> None:
    assert safe_name("a/b\\c") == "a_b_c"
    assert safe_name("..") == "_"
    assert safe_name("c-1.x_y") == "c-1.x_y"


def test_kafka_sink_values_are_file_sink_lines(tmp_path: Path) -> None:
    record = {"type": "stop", "member": "m", "reason": "close", "t": 1.0}
    sink = FileSink(tmp_path / "m.jsonl")
    sink.write_many([record])
    sink.close()
    assert (tmp_path / "m.jsonl").read_bytes() == record_value(record) + b"\n"


def test_tee_sink_writes_every_record_to_every_sink(tmp_path: Path) -> None:
    a, b = FileSink(tmp_path / "a.jsonl"), FileSink(tmp_path / "b.jsonl")
    tee = TeeSink([a, b])
    tee.write({"type": "stop", "member": "m", "reason": "close", "t": 1.0})
    tee.write_many([{"type": "stop", "member": "n", "reason": "close", "t": 2.0}])
    tee.close()
    for name in ("a.jsonl", "b.jsonl"):
        assert [r["member"] for r in read_jsonl(tmp_path / name)] == ["m", "n"]


def test_env_arguments_validate_environment_values_like_flags(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p = EnvArgumentParser(prog="x")
    p.add_env_argument("--count", env="X_COUNT", type=int, default=3, help="n")
    p.add_env_argument("--mode", env="X_MODE", choices=("a", "b"), default="a", help="m")
    p.add_env_flag("--fast", env="X_FAST", help="f")
    assert vars(p.parse_args([])) == {"count": 3, "mode": "a", "fast": False}
    monkeypatch.setenv("X_COUNT", "9")
    monkeypatch.setenv("X_FAST", "yes")
    assert vars(p.parse_args(["--mode", "b"])) == {"count": 9, "mode": "b", "fast": True}
    assert p.parse_args(["--count", "1"]).count == 1  # the flag wins
    monkeypatch.setenv("X_MODE", "c")
    with pytest.raises(SystemExit) as exc:
        p.parse_args([])
    assert exc.value.code == 2
    assert parse_bool("On") is True and parse_bool("0") is False
    with pytest.raises(ValueError):
        parse_bool("perhaps")


def test_output_records_name_their_input_from_the_value_or_the_header() -> None:
    from workloads.drain import output_record

    forwarded = json.loads(encode("p", "k", 3, "b"))
    line = output_record(
        0, 5, json.dumps({**forwarded, "extra": 1}).encode(), [], 1_700_000_000_500
    )
    assert line == {
        "type": "output",
        "partition": 0,
        "offset": 5,
        "producer": "p",
        "key": "k",
        "seq": 3,
        "sha_ok": True,
        "identity": "value",
        "t": 1_700_000_000.5,
    }
    # The value wins over the header; the header serves when the value names nothing.
    header = [("other", b"x"), ("riverbed-id", b'{"producer":"q","key":"j","seq":0}')]
    assert output_record(0, 6, json.dumps(forwarded).encode(), header)["producer"] == "p"
    by_header = output_record(0, 7, b'{"n": 1}', header, -1)
    assert (by_header["producer"], by_header["identity"], by_header["t"]) == ("q", "header", None)
    assert by_header["sha_ok"] is None
    tampered = output_record(1, 0, json.dumps({**forwarded, "body": "c"}).encode())
    assert (tampered["sha_ok"], tampered["identity"]) == (False, "value")
    for value, headers in (
        (b"\x00", []),
        (None, []),
        (b'{"producer": "p", "key": "k", "seq": -1}', []),
        (b'{"producer": "p", "key": "k", "seq": true}', []),
        (b"{}", [("riverbed-id", b"not json")]),
        (b"[1, 2]", [("riverbed-id", b'{"producer": "p", "key": 5, "seq": 1}')]),
    ):
        unnamed = output_record(2, 0, value, headers)
        assert unnamed["identity"] is None and unnamed["reason"], unnamed
        assert (unnamed["producer"], unnamed["key"], unnamed["seq"]) == (None, None, None)
        check({"v": 1, **unnamed}, allowed=frozenset({"output"}))
    check({"v": 1, **line}, allowed=frozenset({"output"}))


def test_output_records_say_who_set_their_timestamp() -> None:
    from workloads.drain import output_record

    value = encode("p", "k", 3, "b")
    appended = output_record(0, 5, value, [], 1_700_000_000_500, 1)
    assert (appended["t"], appended["timestamp_type"]) == (1_700_000_000.5, "LogAppendTime")
    created = output_record(0, 6, value, [], 1_700_000_000_500, 0)
    assert created["timestamp_type"] == "CreateTime"
    check({"v": 1, **appended}, allowed=frozenset({"output"}))
    # Unknown (older readers, a record without a timestamp): the extension field is left out.
    assert "timestamp_type" not in output_record(0, 7, value, [], 1_700_000_000_500)
    assert "timestamp_type" not in output_record(0, 8, value, [], -1, 1)


def test_an_evidence_file_the_shipper_cannot_read_makes_its_receipt_incomplete(
    tmp_path, monkeypatch
):
    """A file the sidecar cannot read (a consumer's umask stricter than 022) is named in the
    receipt, which says incomplete: never silently left out."""
    from pathlib import Path

    from workloads.evidence.shipper import Shipper

    class Future:
        def succeeded(self):
            return True

    class Producer:
        sent: list = []

        def send(self, topic, key, value):
            self.sent.append((key, value))
            return Future()

        def flush(self, timeout):
            pass

    consumed = tmp_path / "evidence" / "consumed"
    consumed.mkdir(parents=True)
    (consumed / "pod-1.jsonl").write_text('{"v":1,"type":"start","member":"pod-1","t":1}\n')
    (consumed / "pod-2.jsonl").write_text('{"v":1,"type":"start","member":"pod-2","t":1}\n')
    real_open = Path.open

    def guarded(self, *args, **kwargs):
        if self.name == "pod-2.jsonl":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", guarded)
    producer = Producer()
    shipper = Shipper(producer, "ev", tmp_path / "evidence", tmp_path / "state")
    assert shipper.ship_once() == 1
    receipt = shipper.receipt(complete=True)
    assert receipt["files"] == {"pod-1": 1, "pod-2": 0}
    assert receipt["complete"] is False
