"""A stand-in SerwerSMS on loopback: API v2, XML API, Email2SMS, callbacks (docs/simulator.md)."""

from billing.simulator.core import Simulator, SimulatorError
from billing.simulator.server import SimulatorServer

__all__ = ["Simulator", "SimulatorError", "SimulatorServer"]
