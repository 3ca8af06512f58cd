"""riverbed's consumer instrumentation, loaded by Python at start-up.

riverbed puts this directory first on ``PYTHONPATH`` when it runs a user's
Python consumer with ``--consumer-evidence instrumented``. Python then imports
this ``sitecustomize`` (instead of any other one on the path, which is loaded
right after, so a distribution's or a virtualenv's own ``sitecustomize`` still
runs), and, when ``RIVERBED_INSTRUMENT=1``, it installs import hooks that
instrument kafka-python and confluent-kafka consumers as the program imports
them. Standard library only: this runs in the user's interpreter.
"""

import os
import sys


def _chain_load() -> None:
    """Import the ``sitecustomize`` this one shadows, if there is one."""
    import importlib

    here = os.path.dirname(os.path.abspath(__file__))
    me = sys.modules.get("sitecustomize")
    positions = [i for i, p in enumerate(sys.path) if os.path.abspath(p or os.curdir) == here]
    for i in reversed(positions):
        del sys.path[i]
    sys.modules.pop("sitecustomize", None)
    try:
        importlib.import_module("sitecustomize")
    except ImportError as exc:
        if exc.name != "sitecustomize":
            print(f"Error in sitecustomize (chained by riverbed): {exc!r}", file=sys.stderr)
    except Exception as exc:  # site.py's own behaviour: report and go on
        print(f"Error in sitecustomize (chained by riverbed): {exc!r}", file=sys.stderr)
    finally:
        # The other sitecustomize may have changed sys.path: keep its changes, put ours back.
        for i in positions:
            sys.path.insert(min(i, len(sys.path)), here)
        if me is not None:
            sys.modules["sitecustomize"] = me


_chain_load()

if os.environ.get("RIVERBED_INSTRUMENT") == "1":
    try:
        import _riverbed_instrument

        _riverbed_instrument.install()
    except Exception as _exc:  # never stop the user's program over its instrumentation
        print(f"riverbed instrumentation not installed: {_exc!r}", file=sys.stderr)
