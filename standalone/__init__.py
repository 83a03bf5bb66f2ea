"""The standalone launcher: settings -> a non-interactive Red instance -> Red with the ir2dis cog.

Run it with ``python -m standalone``. Nothing here is part of the installable cog.
"""
