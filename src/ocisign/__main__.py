"""``python -m ocisign`` and the ``ocisign`` console script.

``ocisign --version`` is answered here, as click's version option words it, without
importing click; everything else goes to the click group (``ocisign.cli``). A finished
command exits without the interpreter's teardown of every module (tens of milliseconds a
one-image ``sign`` does not need): exit handlers still run and the streams are flushed.
"""

import sys

from ocisign import __version__


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:] == ["--version"]:
        print(f"ocisign, version {__version__}")
        return
    from ocisign.cli import main as cli_main

    try:
        cli_main()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    _exit(code)


def _exit(code: object) -> None:
    """Exit with ``code`` now, unless Python's own exit is needed: a non-integer code
    (printed by Python), or a worker thread still running (Python waits for it)."""
    import os
    import threading

    code = 0 if code is None else code
    others = [t for t in threading.enumerate()
              if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if not isinstance(code, int) or others:
        raise SystemExit(code)
    import atexit

    atexit._run_exitfuncs()  # logging's flush, temporary folders' clean-up
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader went away (`| head`)
        from ocisign.cli._common import end_of_pipe

        end_of_pipe()
    except (OSError, ValueError):  # as Python does, exit 120
        code = code or 120
    os._exit(code)


if __name__ == "__main__":
    main()
