"""riverbed's Locust users and load shapes (see docs/load.md).

Locustfiles: ``kafka_producer.py`` (produce straight to Kafka) and
``http_producer.py`` (through the producer service). ``python -m locustfiles``
lists their options.
"""

from typing import Any


def discover(discover_system: bool = True) -> dict[str, Any]:
    """Hand ``chaos discover riverbed`` over to riverbed's Chaos Toolkit extension.

    chaostoolkit-lib imports the *first* top-level package of the riverbed
    distribution (alphabetically, this one) and looks for ``discover`` there;
    the extension itself is ``riverbed.chaos``. The import is lazy, so the
    locustfiles never load riverbed otherwise.
    """
    from riverbed.chaos import discover as discover_riverbed

    return discover_riverbed(discover_system=discover_system)
