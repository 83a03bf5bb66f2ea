"""The engine tests' fake iRacing, clock, settings, client, store and in-memory Discord, for the
command tests here and the posts whose embeds are checked here."""

from tests.poller.conftest import client, clock, fake, make_engine, metrics, publisher, settings, sqlite_store

__all__ = ["client", "clock", "fake", "make_engine", "metrics", "publisher", "settings", "sqlite_store"]
