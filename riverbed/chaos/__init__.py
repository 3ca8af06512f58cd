"""riverbed's Chaos Toolkit extension: Kafka and local-platform faults, probes, and the evidence control.

Activities (Python providers in experiments):

- ``riverbed.chaos.kafka.actions``: ``add_partitions``, ``inject_poison_records``
- ``riverbed.chaos.kafka.probes``: ``consumer_group_stable``, ``consumer_lag_below``,
  ``partition_count``, ``brokers_in_isr``
- ``riverbed.chaos.local.actions``: ``kill_consumers``, ``pause_consumers``,
  ``resume_consumers``, ``scale_consumers``, ``restore_consumers``, ``stop_broker``,
  ``kill_broker``, ``pause_broker``, ``resume_broker``, ``start_broker``
- ``riverbed.chaos.local.network``: ``add_latency``, ``limit_bandwidth``,
  ``reset_connections``, ``partition_consumers`` (Toxiproxy toxics on one replica's
  traffic, healed after their duration)
- ``riverbed.chaos.kube.network``: ``partition_consumer_pods``,
  ``reset_consumer_pod_connections``, ``heal_consumer_pods`` (iptables in the consumer
  pods' network-fault sidecar, healed after their duration)
- ``riverbed.chaos.local.probes``: ``consumer_replicas``, ``consumer_group_converged``

The control ``riverbed.chaos.control`` writes every activity to
``evidence/faults.jsonl``; ``riverbed.chaos.runner.run_experiment`` runs an
experiment the way riverbed does and says whether its faults landed.
See docs/chaos.md.
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version
from typing import Any

__all__ = ["discover", "__version__"]

try:
    __version__ = version("riverbed")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "unknown"

logger = logging.getLogger("chaostoolkit")

#: The modules whose ``__all__`` functions are Chaos Toolkit activities.
ACTIVITY_MODULES = (
    ("riverbed.chaos.kafka.actions", "action"),
    ("riverbed.chaos.kafka.probes", "probe"),
    ("riverbed.chaos.local.actions", "action"),
    ("riverbed.chaos.local.network", "action"),
    ("riverbed.chaos.kube.network", "action"),
    ("riverbed.chaos.local.probes", "probe"),
)


def discover(discover_system: bool = True) -> dict[str, Any]:
    """What ``chaos discover`` shows: every riverbed action and probe with its arguments
    and documentation. riverbed does not discover the target system itself."""
    from chaoslib.discovery.discover import discover_activities, initialize_discovery_result

    logger.info("Discovering capabilities from riverbed")
    discovery = initialize_discovery_result("riverbed", __version__, "kafka")
    for module, kind in ACTIVITY_MODULES:
        discovery["activities"].extend(discover_activities(module, kind))
    return discovery
