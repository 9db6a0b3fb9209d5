"""What differs per engine: one folder each, implementing the port in casper/engine.py, and one
line each in pyproject.toml's `casper.engines` entry-point group. Nothing outside engines/ imports
an engine implementation; casper.engine.open_engine finds them through the registry."""
