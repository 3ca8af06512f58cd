# Python 3.11 from Debian bookworm: the offline stand-in for python:3.11-slim.
# `python`, `python3` and `pip` are those of a virtualenv at /opt/venv, first on
# PATH, so that `pip install` works as in the official image (Debian's own
# Python refuses system-wide pip installs, PEP 668).
# iptables: for riverbed's network-fault sidecar (workloads/Dockerfile's `netfault`
# target), which then downloads no package of its own.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv ca-certificates iptables \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/venv \
 && /opt/venv/bin/python -m pip --version
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8
CMD ["python3"]
