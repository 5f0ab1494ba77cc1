"""One module per ``cpap-lab`` subcommand; each exposes ``register(subparsers)``."""
