"""Load shapes: tick() at given run times, and how the locustfile picks one."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.locust.conftest import import_without_monkey_patch

shapes = import_without_monkey_patch("locustfiles.shapes")
ShapeParams = shapes.ShapeParams


def ticks(shape_class: type, params: object, times: list[float]) -> list[object]:
    """``tick()`` of a fresh shape at each run time."""
    out = []
    for t in times:
        shape = shape_class(params)
        shape.get_run_time = lambda t=t: t
        out.append(shape.tick())
    return out


def test_steady_holds_users_then_stops():
    p = ShapeParams(users=5, spawn_rate=2.0, duration_s=30)
    assert ticks(shapes.SteadyShape, p, [0, 29.9, 30, 31]) == [(5, 2.0), (5, 2.0), None, None]


def test_step_adds_step_users_per_step_up_to_users():
    p = ShapeParams(users=25, spawn_rate=5.0, duration_s=60, step_users=10, step_s=10)
    got = ticks(shapes.StepShape, p, [0, 9.9, 10, 20, 45, 60])
    assert got == [(10, 5.0), (10, 5.0), (20, 5.0), (25, 5.0), (25, 5.0), None]


def test_spike_jumps_at_once_and_returns():
    p = ShapeParams(
        users=4, spawn_rate=1.0, duration_s=40, spike_users=30, spike_at_s=10, spike_s=5
    )
    got = ticks(shapes.SpikeShape, p, [0, 9.9, 10, 14.9, 15, 39.9, 40])
    assert got == [(4, 1.0), (4, 1.0), (30, 30.0), (30, 30.0), (4, 30.0), (4, 30.0), None]


def test_chaos_window_warmup_steady_cooldown_then_stops_by_itself():
    p = ShapeParams(users=10, spawn_rate=5.0, warmup_s=10, duration_s=60, cooldown_s=10)
    got = ticks(shapes.ChaosWindowShape, p, [0, 10, 69.9, 70, 79.9, 80, 500])
    assert got == [(10, 5.0), (10, 5.0), (10, 5.0), (10, 5.0), (10, 5.0), None, None]
    assert shapes.ChaosWindowShape.phases(p) == [
        ("warm-up", 0.0, 10),
        ("steady", 10, 70),
        ("cool-down", 70, 80),
    ]


def test_chaos_window_cooldown_users_change_at_once():
    p = ShapeParams(
        users=10, spawn_rate=1.0, warmup_s=5, duration_s=5, cooldown_s=5, cooldown_users=2
    )
    assert ticks(shapes.ChaosWindowShape, p, [9.9, 10, 15]) == [(10, 1.0), (2, 8.0), None]


def test_params_come_from_locusts_parsed_options_at_the_first_tick():
    options = SimpleNamespace(
        num_users=7,
        spawn_rate=3.5,
        duration_s=2.0,
        warmup_s=1.0,
        cooldown_s=1.0,
        cooldown_users=None,
    )
    shape = shapes.ChaosWindowShape()
    shape.runner = SimpleNamespace(environment=SimpleNamespace(parsed_options=options))
    shape.get_run_time = lambda: 3.5
    assert shape.tick() == (7, 3.5)
    shape.get_run_time = lambda: 4.0
    assert shape.tick() is None


def test_describe_lists_phases_for_shape_json():
    p = ShapeParams(users=1, spawn_rate=1.0, warmup_s=2, duration_s=3, cooldown_s=4)
    d = shapes.ChaosWindowShape(p).describe()
    assert d["shape"] == "chaos-window"
    assert [(x["name"], x["start_s"], x["end_s"]) for x in d["phases"]] == [
        ("warm-up", 0.0, 2),
        ("steady", 2, 5),
        ("cool-down", 5, 9),
    ]


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        ([], {}, None),
        (["--shape", "chaos-window"], {}, "ChaosWindowShape"),
        (["--shape=step"], {"RIVERBED_SHAPE": "spike"}, "StepShape"),
        ([], {"RIVERBED_SHAPE": "spike"}, "SpikeShape"),
        (["--shape", "none"], {"RIVERBED_SHAPE": "spike"}, None),
        (["--shape", "wobbly"], {}, None),  # left for Locust's parse to reject (exit 2)
    ],
)
def test_selected_shape_from_flag_or_environment(argv, env, expected):
    cls = shapes.selected(argv, env)
    assert (cls.__name__ if cls else None) == expected


def test_only_concrete_shapes_are_offered_to_locust():
    from locust.util.load_locustfile import is_shape_class

    assert not is_shape_class(shapes.RiverbedShape)
    assert all(is_shape_class(c) for c in shapes.SHAPE_CLASSES.values())


# ---- one meaning of duration: Locust's -t is every shape's total length -------------------------


def test_run_time_is_the_chaos_windows_total_length():
    options = SimpleNamespace(
        num_users=4, spawn_rate=2.0, run_time=60, warmup_s=10.0, cooldown_s=5.0
    )
    p = ShapeParams.from_options(options, chaos_window=True)
    assert p.duration_s == 45  # the steady phase: what the warm-up and the cool-down leave
    phases = shapes.ChaosWindowShape.phases(p)
    assert phases[-1][2] == 60


def test_run_time_is_the_total_length_of_the_other_shapes_too():
    options = SimpleNamespace(num_users=4, spawn_rate=2.0, run_time=90, duration_s=30.0)
    assert ShapeParams.from_options(options).duration_s == 90


def test_without_run_time_duration_s_keeps_its_meaning():
    options = SimpleNamespace(num_users=4, spawn_rate=2.0, run_time=None, duration_s=30.0)
    assert ShapeParams.from_options(options, chaos_window=True).duration_s == 30


def test_a_run_time_that_leaves_no_steady_phase_is_named():
    options = SimpleNamespace(
        num_users=1, spawn_rate=1.0, run_time=15, warmup_s=10.0, cooldown_s=5.0
    )
    with pytest.raises(ValueError, match="-t 15s leaves no steady phase"):
        ShapeParams.from_options(options, chaos_window=True)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("2m", 120), ("1m30s", 90), ("1h", 3600), ("7.5", 7.5)],
)
def test_shape_times_take_locusts_t_spelling(text, seconds):
    from workloads.settings_core import seconds as parse

    assert parse(text) == seconds


@pytest.mark.parametrize("text", ["", "2x", "m", "-5", "1m 30s", "inf"])
def test_bad_shape_times_are_refused(text):
    from workloads.settings_core import seconds as parse

    with pytest.raises(ValueError):
        parse(text)
