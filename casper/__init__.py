"""Casper's Kitchens, local-first: the engine-agnostic domain."""

__version__ = "0.1.0"
