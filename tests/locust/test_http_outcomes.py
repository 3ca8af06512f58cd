"""How an answer of the producer service becomes a send record (pure rules)."""

from __future__ import annotations

import pytest

from locustfiles.http_sender import classify

SENT = ("lh-a", "k1", 7)
ACK = {"producer": "lh-a", "key": "k1", "seq": 7, "partition": 2, "offset": 40}


def test_a_refused_connection_never_reached_the_service():
    assert classify(0, None, SENT, "ConnectionRefusedError: refused", refused=True) == (
        "fail",
        None,
        None,
        "ConnectionRefusedError: refused",
    )


@pytest.mark.parametrize(
    ("code", "body", "transport", "expected"),
    [
        (202, ACK, None, ("ok", 2, 40, None)),
        (
            202,
            {**ACK, "offset": None},
            None,
            ("unknown", None, None, "202 without partition and offset"),
        ),
        (
            202,
            {**ACK, "seq": 8},
            None,
            ("unknown", None, None, "202 for ('lh-a', 'k1', 8), sent ('lh-a', 'k1', 7)"),
        ),
        (400, {"error": "lacks key"}, None, ("fail", None, None, "HTTP 400: lacks key")),
        (413, {"error": "too large"}, None, ("fail", None, None, "HTTP 413: too large")),
        (
            503,
            {"error": "kafka down", "written": False},
            None,
            ("fail", None, None, "HTTP 503: kafka down"),
        ),
        (503, {"error": "overloaded"}, None, ("unknown", None, None, "HTTP 503: overloaded")),
        (
            504,
            {"error": "no ack", "written": None},
            None,
            ("unknown", None, None, "HTTP 504: no ack"),
        ),
        (500, None, None, ("unknown", None, None, "HTTP 500")),
        (
            0,
            None,
            "ConnectionRefusedError: refused",
            ("unknown", None, None, "ConnectionRefusedError: refused"),
        ),
        (0, None, None, ("unknown", None, None, "no answer")),
        (200, {"ok": True}, None, ("unknown", None, None, "HTTP 200")),
    ],
)
def test_classify(code, body, transport, expected):
    assert classify(code, body, SENT, transport) == expected


def test_sender_records_outcomes_and_closes_what_is_left_as_unknown(tmp_path):
    import gevent

    from locustfiles.acks import AckRecorder
    from locustfiles.http_sender import HttpSender, SenderClosed
    from tests.locust.conftest import read_acks

    reported = []
    sender = HttpSender(
        AckRecorder(tmp_path, "lh", key_space=1),
        "body",
        close_timeout=0.3,
        report_interrupted=lambda rec, ms, size, exc: reported.append((rec["seq"], str(exc))),
    )
    token, lock, key, seq = sender.begin()
    assert (key, seq) == ("k0", 0)
    sender.end(token, "ok", 1, 10, None)
    lock.release()

    def stuck_request():  # holds its key and never gets an answer
        _, key_lock, _, _ = sender.begin()
        try:
            gevent.sleep(10)
        finally:
            key_lock.release()

    stuck = gevent.spawn(stuck_request)
    gevent.sleep(0)
    waiting = gevent.spawn(sender.begin)  # waits for the same key
    gevent.sleep(0)
    sender.close()  # waits 0.3 s for the stuck request, then records it unknown
    stuck.kill()  # releases the key: the waiting request must not start any more
    waiting.join(timeout=2)
    assert isinstance(waiting.exception, SenderClosed)

    records, issues = read_acks(tmp_path)
    assert issues == []
    assert [(r["seq"], r["status"], r["error"]) for r in records] == [
        (0, "ok", None),
        (1, "unknown", "request interrupted when the test stopped"),
    ]
    assert reported == [(1, "unknown: request interrupted when the test stopped")]
    with pytest.raises(SenderClosed):
        sender.begin()
