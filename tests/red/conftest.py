"""The engine tests' fake iRacing, clock, settings and client, for the command tests here."""

from tests.poller.conftest import client, clock, fake, metrics, settings

__all__ = ["client", "clock", "fake", "metrics", "settings"]
