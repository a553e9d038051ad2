"""Sub-commands of the ``postpipe`` CLI; each module defines ``register(subparsers)``."""
