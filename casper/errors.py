"""Errors a user can cause and fix; the CLI prints them as one line, without a traceback."""


class CasperError(Exception):
    """Base of every error that is the input's fault, not a bug."""
