"""The local simulator of ETNA, the exchange OMS and Online Ordering, for tests and demos.

Always in the wheel; it listens on 127.0.0.1 only::

    with twofa.sandbox.Sandbox() as sb:
        flow = twofa.EtnaFlow(base_url=sb.etna_base_url, app_key=sb.users["etna"]["app_key"], ...)
        code = sb.latest_code("alice")
"""

from ._twofa import Sandbox

__all__ = ["Sandbox"]
