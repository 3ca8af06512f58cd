"""Faults and probes for riverbed's local platform: consumer replicas and brokers on this machine.

Activities: :mod:`riverbed.chaos.local.actions` and :mod:`riverbed.chaos.local.probes`.
They attach to the platform started by ``riverbed up`` through its state
directory (``RIVERBED_LOCAL_STATE_DIR``, default ``~/.local/state/riverbed/local``).
"""
