"""The Kubernetes platforms: a kind cluster riverbed creates, or a cluster you already have.

One module per job:

- :mod:`~riverbed.platforms.kube.cluster`: :class:`KubePlatform` (up, down, host access, reads);
- :mod:`~riverbed.platforms.kube.images`: content-tagged images, where images and tools come from;
- :mod:`~riverbed.platforms.kube.render`: manifests/ rendered as ``kubectl apply -k`` would;
- :mod:`~riverbed.platforms.kube.forward`: ``kubectl port-forward`` that survives pod kills;
- :mod:`~riverbed.platforms.kube.status`: what the cluster says, parsed;
- :mod:`~riverbed.platforms.kube.load`: Locust in the cluster for one run;
- :mod:`~riverbed.platforms.kube.run`: the run's view of the platform (``riverbed run``);
- :mod:`~riverbed.platforms.kube.commands`: the one door to docker, kind and kubectl (dry runs);
- :mod:`~riverbed.platforms.kube.netfault`: the network-fault sidecar.
"""

from riverbed.platforms.kube.cluster import (
    DATA_TOPIC,
    EVIDENCE_TOPIC,
    GROUP,
    KAFKA_BROKERS,
    MODES,
    NAMESPACE,
    KubePlatform,
    UpResult,
    internal_bootstrap_servers,
)
from riverbed.platforms.kube.images import (
    KAFKA_IMAGE,
    LOCUST_IMAGE,
    WORKLOADS_IMAGE,
    KubeImages,
    content_tag,
    new_tag,
)

__all__ = [
    "DATA_TOPIC",
    "EVIDENCE_TOPIC",
    "GROUP",
    "KAFKA_BROKERS",
    "KAFKA_IMAGE",
    "LOCUST_IMAGE",
    "MODES",
    "NAMESPACE",
    "WORKLOADS_IMAGE",
    "KubeImages",
    "KubePlatform",
    "UpResult",
    "content_tag",
    "internal_bootstrap_servers",
    "new_tag",
]
