"""Creating or updating the Red instance, without a person at the keyboard.

Red keeps its list of instances in ``$XDG_CONFIG_HOME/Red-DiscordBot/config.json``; pointing
XDG_CONFIG_HOME into DATA_DIR keeps the whole bot (instance list included) on one volume.
That variable must be set before anything imports ``redbot.core.data_manager``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from ir2dis_cog.observability.logging import log_event

from .startup import instance_needs_setup, red_paths, setup_command

log = logging.getLogger("red.ir2dis.standalone")


class InstanceSetupError(RuntimeError):
    pass


def point_red_at(data_dir: Path) -> Path:
    """Set Red's config home under DATA_DIR; returns Red's data path for the instance."""
    config_home, data_path = red_paths(data_dir)
    config_home.mkdir(parents=True, exist_ok=True)
    data_path.mkdir(parents=True, exist_ok=True)
    os.environ["XDG_CONFIG_HOME"] = str(config_home)
    return data_path


def ensure_instance(data_path: Path) -> bool:
    """Run ``redbot-setup`` when the instance is missing or moved. True when it ran."""
    from redbot.core import data_manager

    existing = data_manager.load_existing_config()
    if not instance_needs_setup(existing, data_path):
        return False
    cmd = setup_command(sys.executable, data_path, overwrite=bool(existing))
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        # redbot-setup prints only paths and its own messages: nothing secret to hide here.
        raise InstanceSetupError(f"redbot-setup failed ({done.returncode}): {(done.stdout + done.stderr).strip()}")
    log_event(log, "red_instance_created", data_path=str(data_path))
    return True
