"""The pure core: cards, driver input, status text, tracking rules and the records shared by
the poller and the store. Plain data in, plain data out: no I/O, no discord.py, no store."""
