"""A stand-in SerwerSMS on loopback, read from serwersms-api.md alone (docs/simulator.md).

API v2, the XML API, Email2SMS over SMTP and delivery-report callbacks, with seeded statuses and
fault injection. Imports nothing from `billing` or `partner_portal`.
"""

from .core import Simulator
from .protocol import ControlError, SimulatorError
from .server import SimulatorServer

__all__ = ["ControlError", "Simulator", "SimulatorError", "SimulatorServer"]
