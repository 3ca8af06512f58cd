"""Load shapes: how many users run when. Each ``tick()`` is a pure function of the run time.

==============  ============================================================================
``steady``      ``-u`` users (spawned at ``-r``/s) for ``--duration-s``, then stop.
``step``        ``--step-users`` more users every ``--step-s`` up to ``-u``; stop after
                ``--duration-s``.
``spike``       ``-u`` users; ``--spike-users`` from ``--spike-at-s`` for ``--spike-s``
                (spawned at once); stop after ``--duration-s``.
``chaos-window`` warm-up (``--warmup-s``: ramp to ``-u`` and settle), steady phase
                (``--duration-s``: the experiment runs here), cool-down (``--cooldown-s``,
                ``--cooldown-users``: recovery under load), then stop by itself.
==============  ============================================================================

Select one with ``--shape NAME`` or ``RIVERBED_SHAPE=NAME``: the locustfile
exposes only the selected class, because Locust uses the first shape class it
finds. Locust imports this module, so ``locust`` is imported first.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, ClassVar

from locust import LoadTestShape

from locustfiles.settings import preparse

Tick = tuple[int, float] | None


@dataclass(frozen=True)
class ShapeParams:
    """Everything a shape needs; built from Locust's parsed options at the first tick."""

    users: int = 10
    """Target users (``-u``)."""
    spawn_rate: float = 10.0
    """Users started/stopped per second (``-r``)."""
    duration_s: float = 60.0
    """steady/step/spike: total length; chaos-window: the steady phase (from ``-t`` when
    given: the total length, less the warm-up and the cool-down)."""
    warmup_s: float = 10.0
    """chaos-window: warm-up before the steady phase."""
    cooldown_s: float = 10.0
    """chaos-window: cool-down after it."""
    cooldown_users: int | None = None
    """chaos-window: users in the cool-down (``None``: ``users``)."""
    step_users: int = 10
    """step: users added per step."""
    step_s: float = 10.0
    """step: seconds per step."""
    spike_users: int = 50
    """spike: users during the spike."""
    spike_at_s: float = 20.0
    """spike: start of the spike."""
    spike_s: float = 10.0
    """spike: length of the spike."""

    @classmethod
    def from_options(cls, options: Any, chaos_window: bool = False) -> ShapeParams:
        """The parameters from Locust's options. Locust's ``-t`` (``run_time``), when
        given, is the shape's total length — for the chaos window too, whose steady phase
        is then what the warm-up and the cool-down leave of it; ValueError if nothing."""

        def get(name: str, default: Any) -> Any:
            value = getattr(options, name, None)
            return default if value is None else value

        params = cls(
            users=int(get("num_users", 1)),
            spawn_rate=float(get("spawn_rate", 1.0)),
            duration_s=float(get("duration_s", cls.duration_s)),
            warmup_s=float(get("warmup_s", cls.warmup_s)),
            cooldown_s=float(get("cooldown_s", cls.cooldown_s)),
            cooldown_users=getattr(options, "cooldown_users", None),
            step_users=int(get("step_users", cls.step_users)),
            step_s=float(get("step_s", cls.step_s)),
            spike_users=int(get("spike_users", cls.spike_users)),
            spike_at_s=float(get("spike_at_s", cls.spike_at_s)),
            spike_s=float(get("spike_s", cls.spike_s)),
        )
        run_time = getattr(options, "run_time", None)
        if not run_time:
            return params
        total = float(run_time)
        if not chaos_window:
            return replace(params, duration_s=total)
        steady = total - params.warmup_s - params.cooldown_s
        if steady <= 0:
            raise ValueError(
                f"-t {total:g}s leaves no steady phase after a {params.warmup_s:g}s warm-up and "
                f"a {params.cooldown_s:g}s cool-down: raise -t or lower --warmup-s/--cooldown-s"
            )
        return replace(params, duration_s=steady)


class RiverbedShape(LoadTestShape):
    """Base of riverbed's shapes: ``tick()`` = ``plan(run time, params)``."""

    abstract = True
    # -u and -r are the shape's users and spawn rate (Locust must not warn they are ignored).
    use_common_options = True
    name: ClassVar[str] = ""

    def __init__(self, params: ShapeParams | None = None) -> None:
        super().__init__()
        self.params = params

    def current_params(self) -> ShapeParams:
        if self.params is None:
            options = self.runner.environment.parsed_options if self.runner else None
            self.params = ShapeParams.from_options(
                options, chaos_window=self.name == "chaos-window"
            )
        return self.params

    def tick(self) -> Tick:
        return self.plan(self.get_run_time(), self.current_params())

    @classmethod
    @abstractmethod
    def plan(cls, t: float, p: ShapeParams) -> Tick:
        """Users and spawn rate at run time ``t``, or ``None`` when the shape is over.

        Every concrete shape defines it; the base class cannot be instantiated.
        """

    @classmethod
    def phases(cls, p: ShapeParams) -> list[tuple[str, float, float]]:
        """Named phases as (name, start s, end s) from the shape's start."""
        return [("load", 0.0, p.duration_s)]

    def describe(self) -> dict[str, Any]:
        """JSON-able description: name, parameters and phases."""
        p = self.current_params()
        return {
            "shape": self.name,
            "params": asdict(p),
            "phases": [{"name": n, "start_s": a, "end_s": b} for n, a, b in self.phases(p)],
        }


class SteadyShape(RiverbedShape):
    """``-u`` users for ``--duration-s``, then stop."""

    name = "steady"

    @classmethod
    def plan(cls, t: float, p: ShapeParams) -> Tick:
        if t >= p.duration_s:
            return None
        return p.users, p.spawn_rate


class StepShape(RiverbedShape):
    """Add ``--step-users`` every ``--step-s`` up to ``-u``; stop after ``--duration-s``."""

    name = "step"

    @classmethod
    def plan(cls, t: float, p: ShapeParams) -> Tick:
        if t >= p.duration_s:
            return None
        steps = math.floor(t / p.step_s) + 1
        return min(p.users, steps * p.step_users), p.spawn_rate


class SpikeShape(RiverbedShape):
    """``-u`` users with a burst of ``--spike-users`` for ``--spike-s`` at ``--spike-at-s``."""

    name = "spike"

    @classmethod
    def plan(cls, t: float, p: ShapeParams) -> Tick:
        if t >= p.duration_s:
            return None
        # Start and stop the spike's users at once: a spike that ramps is a step.
        fast = max(p.spawn_rate, float(p.spike_users), float(p.users))
        if p.spike_at_s <= t < p.spike_at_s + p.spike_s:
            return p.spike_users, fast
        if t >= p.spike_at_s + p.spike_s:
            return p.users, fast
        return p.users, p.spawn_rate

    @classmethod
    def phases(cls, p: ShapeParams) -> list[tuple[str, float, float]]:
        end = min(p.duration_s, p.spike_at_s + p.spike_s)
        return [
            ("before", 0.0, min(p.spike_at_s, p.duration_s)),
            ("spike", min(p.spike_at_s, p.duration_s), end),
            ("after", end, p.duration_s),
        ]


class ChaosWindowShape(RiverbedShape):
    """Warm-up, a steady phase for the experiment, a cool-down; then the run stops.

    The experiment should start at ``warmup_s`` and end before
    ``warmup_s + duration_s``; load continues through the cool-down so that
    recovery happens under load.
    """

    name = "chaos-window"

    @classmethod
    def plan(cls, t: float, p: ShapeParams) -> Tick:
        if t >= p.warmup_s + p.duration_s + p.cooldown_s:
            return None
        if t >= p.warmup_s + p.duration_s:
            users = p.users if p.cooldown_users is None else p.cooldown_users
            return users, max(p.spawn_rate, float(abs(p.users - users)))
        return p.users, p.spawn_rate

    @classmethod
    def phases(cls, p: ShapeParams) -> list[tuple[str, float, float]]:
        steady_end = p.warmup_s + p.duration_s
        return [
            ("warm-up", 0.0, p.warmup_s),
            ("steady", p.warmup_s, steady_end),
            ("cool-down", steady_end, steady_end + p.cooldown_s),
        ]


SHAPE_CLASSES: dict[str, type[RiverbedShape]] = {
    cls.name: cls for cls in (SteadyShape, StepShape, SpikeShape, ChaosWindowShape)
}


def selected(argv: Sequence[str], environ: Mapping[str, str]) -> type[RiverbedShape] | None:
    """The shape class named by ``--shape`` / ``RIVERBED_SHAPE``, or ``None``.

    An unknown name gives ``None`` here; Locust's full parse then rejects it (exit 2).
    """
    name = preparse(argv, environ).shape
    return SHAPE_CLASSES.get(name) if name else None
