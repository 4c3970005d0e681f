"""orderlog: a self-hostable, real-time order log."""

__version__ = "0.1.0"
