"""The garbage collector at the end of a `casper` process.

At exit the interpreter's last collections walk every object the process's libraries made
(SQLMesh, pandas, sqlglot, polars...): about 0.5 s after a first pipeline build. Freezing them
first skips that walk; the other atexit handlers, the flushes and the exit itself are unchanged.
Light on purpose: the generator's helper processes import it before anything else.
"""

from __future__ import annotations

import atexit
import gc


def skip_final_collections() -> None:
    """Freeze everything alive as the process exits: registered first, the handler runs last."""
    atexit.register(gc.freeze)
