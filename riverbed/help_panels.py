"""``--help`` grouped by what each option concerns, as Locust's and Chaos Toolkit's users
expect to find them: the load, the consumer group, the faults, Kafka, kind/Kubernetes,
an external cluster, the output.

Click has no option groups; its help formatter has sections, and :class:`PanelCommand`
writes one per panel. An option's panel is looked up by its long name in
:data:`PANELS` (the same name means the same thing in every command).
"""

from __future__ import annotations

from typing import Any

import click

#: Panel titles, in the order the help shows them, each with the options it holds.
PANELS: dict[str, tuple[str, ...]] = {
    "Platform": ("platform",),
    "Faults and budgets (Chaos Toolkit)": (
        "experiment",
        "no-faults",
        "var",
        "var-file",
        "max-recovery",
        "max-lag",
        "runs",
        "seed",
        "faults",
        "max-faults",
        "network-faults",
    ),
    "Load (Locust)": (
        "duration",
        "warmup",
        "cooldown",
        "users",
        "spawn-rate",
        "user-rate",
        "key-space",
        "body-bytes",
        "locust-workers",
    ),
    "Consumer group (the system under test)": (
        "consumers",
        "commit-mode",
        "assignor",
        "client",
        "group-protocol",
        "processing-ms",
        "session-timeout-ms",
        "consumer-cmd",
        "consumer-cwd",
        "consumer-image",
        "consumer-evidence",
        "output-topic",
        "topic",
        "group",
        "join-timeout",
        "drain-deadline",
        "delivery",
    ),
    "Kafka (local platform)": ("brokers", "partitions", "replication-factor", "keep-kafka"),
    "kind / Kubernetes (--platform kind, k8s)": (
        "context",
        "namespace",
        "image-registry",
        "image-pull-secret",
        "kind-cluster",
        "kind-config",
        "offline",
        "dry-run",
    ),
    "Your Kafka (--platform external; k8s with --kafka-bootstrap)": (
        "kafka-bootstrap",
        "kafka-host-bootstrap",
        "kafka-config",
        "keep-topics",
    ),
    "Output": ("run-id", "campaign-dir"),
}
_PANEL_OF = {name: title for title, names in PANELS.items() for name in names}
OTHER = "Other options"


def panel_of(param: click.Parameter) -> str:
    longs = [o for o in getattr(param, "opts", ()) if o.startswith("--")]
    return _PANEL_OF.get(longs[0][2:], OTHER) if longs else OTHER


class PanelCommand(click.Command):
    """A command whose ``--help`` lists its options panel by panel."""

    def format_options(self, ctx: click.Context, formatter: Any) -> None:
        panels: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                panels.setdefault(panel_of(param), []).append(record)
        for title in [*PANELS, OTHER]:
            if title in panels:
                with formatter.section(title):
                    formatter.write_dl(panels[title])
