"""The `casper` command (`python -m casper`, and the script pip installs, which imports `main`).

Importing this module must stay cheap: a generator helper is a spawned interpreter, and spawning
runs the parent's main script again (as `__mp_main__`, without calling `main`), so the script's
import runs in every helper. The CLI (Typer, Rich, the settings: ~0.2 s) is imported by `main`.
"""


def main() -> None:
    from casper.cli import main as run

    run()


if __name__ == "__main__":
    main()
