"""Offline images for kind: build and cache a kind cluster's images from package registries alone.

For machines with Docker but no container registry in reach. ``riverbed kind
prepare --offline`` (or :func:`prepare`) builds the kind node image, a Kafka
image, a Python base image and the kind/kubectl binaries from Debian's mirror,
the Go module proxy and Maven Central; :func:`prepared_images` hands them to a
platform::

    from riverbed.offline import prepared_images

    images = prepared_images()          # HarnessError naming the fix when nothing is prepared
    images.node_image                   # kind create cluster --image …
    images.kafka_image                  # instead of apache/kafka:<version>
    images.python_image                 # docker build --build-arg PYTHON_IMAGE=…
    images.kind_bin, images.kubectl_bin
"""

from riverbed.offline.cache import OfflineCache, default_cache_dir
from riverbed.offline.prepare import PreparedImages, prepare, prepared_images

__all__ = ["OfflineCache", "PreparedImages", "default_cache_dir", "prepare", "prepared_images"]
