"""Settings and secrets: read once from the environment, data/config.json or Red's API tokens."""
