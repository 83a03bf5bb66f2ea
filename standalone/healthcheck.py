"""``python -m standalone.healthcheck``: exit 0 when ``/health`` answers 200, else 1.

The image's HEALTHCHECK uses it, so the image needs no curl. It reads the same HEALTH_HOST /
HEALTH_PORT as the bot, from the same places (the environment, then ``DATA_DIR/config.json``,
then the defaults); a wildcard bind address is probed on loopback.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping

from ir2dis_cog.config.settings import SettingsError, load_settings

WILDCARDS = ("0.0.0.0", "::", "")  # noqa: S104 - compared against, never bound


def health_url(environ: Mapping[str, str]) -> str | None:
    """The URL to probe, or None when the sidecar is turned off (HEALTH_PORT=0).

    Raises ``SettingsError`` when the settings are not usable (the bot would not be running)."""
    settings = load_settings(environ, mode="cog")
    port, host = settings.health_port, settings.health_host
    if port == 0:
        return None
    if host in WILDCARDS:
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/health"


def main() -> int:
    try:
        url = health_url(os.environ)
    except SettingsError as exc:
        print(f"settings not usable: {'; '.join(exc.problems)}")
        return 1
    if url is None:
        print("health endpoint turned off (HEALTH_PORT=0)")
        return 0
    try:
        with urllib.request.urlopen(url, timeout=4) as answer:  # noqa: S310 - http to our own sidecar
            print(answer.read().decode("utf-8", "replace"))
            return 0 if answer.status == 200 else 1
    except urllib.error.HTTPError as exc:
        print(exc.read().decode("utf-8", "replace"))
        return 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"health endpoint not answering: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
