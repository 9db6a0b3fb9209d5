"""The `casper` command (`python -m casper`, and the script pip installs, which imports `main`).

Importing this module must stay cheap: a generator helper is a spawned interpreter, and spawning
runs the parent's main script again (as `__mp_main__`, without calling `main`), so the script's
import runs in every helper. The CLI (Typer, Rich, the settings: ~0.2 s) is imported by `main`.
"""

import os

#: Set for the command and the processes it starts, unless the user set them. OpenBLAS (the BLAS
#: of numpy and scipy wheels) starts a thread per core as numpy is imported, and they spin a while
#: waiting for work that casper never gives them: the refund model's gradient boosting threads
#: with OpenMP, not BLAS. On 2 cores that spin took ~0.13 s of CPU from every process importing
#: numpy, ~0.05 s of its wall time (measured); `casper generate` has two such processes.
THREAD_SETTINGS = {"OPENBLAS_NUM_THREADS": "1"}


def main() -> None:
    for name, value in THREAD_SETTINGS.items():
        os.environ.setdefault(name, value)  # before anything imports numpy
    from casper.cli import main as run

    run()


if __name__ == "__main__":
    main()
