"""Faults for riverbed's Kubernetes platform that chaostoolkit-kubernetes has no action for.

Activities: :mod:`riverbed.chaos.kube.network` (network faults through the
consumer pods' ``netfault`` sidecar). Pod kills, pauses and scaling use
chaosk8s' own actions directly (see experiments/).
"""
