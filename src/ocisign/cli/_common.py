"""What every command shares: -d/-v flags, --output, error reporting, rendering.

Kept free of heavy imports: rich is imported only when a table is rendered.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from ocisign.errors import OcisignError, UsageError

if TYPE_CHECKING:
    from ocisign.batch import LineResult, Outcome

F = TypeVar("F", bound=Callable[..., Any])

SCHEMA_VERSION = 1  # top-level "schemaVersion" of every JSON document (docs/json.md)
DEBUG = "ocisign.debug"  # keys of click's Context.meta, shared by a run's contexts
VERBOSE = "ocisign.verbose"
ARGS = "ocisign.args"  # the command line after `ocisign`
PRINTED = "ocisign.printed-json"  # a JSON document is on stdout already
EXPERIMENTAL = (  # notation's warning for an experimental flag (sign and verify)
    "This feature is experimental and may not be fully tested or completed and may be "
    'deprecated. Report any issues to "https://github/notaryproject/notation"'
)


def _flag_callback(key: str) -> Callable[[click.Context, click.Parameter, bool], bool]:
    def callback(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
        if value:
            ctx.meta[key] = True
            configure_logging(ctx)
        return value

    return callback


def is_verbose() -> bool:
    """``-v`` (or ``-d``) was given to this invocation."""
    meta = click.get_current_context().meta
    return bool(meta.get(VERBOSE) or meta.get(DEBUG))


def configure_logging(ctx: click.Context) -> None:
    """Set the ``ocisign`` log level from this invocation's flags (WARNING without any)."""
    debug, verbose = ctx.meta.get(DEBUG), ctx.meta.get(VERBOSE)
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    root = logging.getLogger("ocisign")
    root.setLevel(level)
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        root.addHandler(handler)
        root.propagate = False


_LOG_FLAGS = (
    ("-v", "--verbose", VERBOSE, "Print more progress information."),
    ("-d", "--debug", DEBUG, "Debug output, and a traceback for errors."),
)


def common_flags(func: F) -> F:
    """Add ``-d/--debug`` and ``-v/--verbose`` (accepted on the group and on every command)."""
    for short, long, key, text in _LOG_FLAGS:
        func = click.option(short, long, is_flag=True, expose_value=False, is_eager=True,
                            callback=_flag_callback(key), help=text)(func)
    return func


def output_option(func: F) -> F:
    """Add ``--output text|json``."""
    return click.option(
        "--output",
        "output_format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Output format: human text or one JSON document on stdout.",
    )(func)


def warn(message: str) -> None:
    """Print a warning line on stderr."""
    click.echo(f"Warning: {message}", err=True)


def print_json(data: dict[str, Any]) -> None:
    """Write one JSON document to stdout, ``schemaVersion`` first."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[PRINTED] = True
    click.echo(json.dumps({"schemaVersion": SCHEMA_VERSION, **data}, indent=2))


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    """The fields every per-digest result shares (docs/json.md)."""
    return {
        "reference": outcome.reference,
        "digest": outcome.digest or None,
        "status": outcome.status.value,
        "errorKind": outcome.error_kind or None,
        "message": outcome.detail or None,
    }


def line_json(result: LineResult) -> dict[str, Any]:
    """The fields every per-line result shares (docs/json.md)."""
    digest = next((o.digest for o in result.outcomes if o.digest), None)
    return {
        "reference": result.line,
        "lineNo": result.line_no,
        "status": result.status.value,
        "digest": digest,
        "errorKind": result.error_kind or None,
        "message": result.error or None,
        "hint": result.hint or None,
    }


def wants_json(args: Sequence[str]) -> bool:
    """``--output json`` (or ``-o json``) is on the command line."""
    for i, arg in enumerate(args):
        if arg in ("--output=json", "-o=json", "-ojson"):
            return True
        if arg in ("--output", "-o") and list(args[i + 1 : i + 2]) == ["json"]:
            return True
    return False


def _report(ctx: click.Context, err: OcisignError, kind: str | None = None) -> None:
    """An error: ``Error:``/``Hint:`` on stderr, and under ``--output json`` (when no
    document was printed yet) a JSON error object on stdout."""
    if wants_json(ctx.meta.get(ARGS, ())) and not ctx.meta.get(PRINTED):
        message = " ".join(err.message.split("\n"))
        print_json({"error": {"message": message, "errorKind": kind or type(err).__name__,
                              "hint": err.hint}})
    click.echo(err.diagnostics(), err=True)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Render a table on stdout (rich on a TTY, aligned plain text otherwise).

    Plain text never truncates a cell, so paths stay whole in logs and pipes.
    """
    if not sys.stdout.isatty():
        columns = zip(headers, *rows, strict=True)
        widths = [max(len(str(cell)) for cell in column) for column in columns]
        for line in (headers, *rows):
            cells = [str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)]
            click.echo("  ".join(cells).rstrip())
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*headers, box=None, pad_edge=False, header_style="bold")
    for row in rows:
        table.add_row(*row)
    Console(soft_wrap=True).print(table)


def end_of_pipe() -> NoReturn:
    """The reader of our output went away (``| head``): end quietly, killed by SIGPIPE as
    notation and cosign (Go programs) are, so ``set -o pipefail`` sees 141."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # nothing more is written to the closed pipe
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGPIPE)
    sys.exit(141)  # where SIGPIPE cannot end the process


@contextlib.contextmanager
def handle_errors(ctx: click.Context) -> Iterator[None]:
    """Turn ocisign and unexpected errors into one line, a hint and an exit code."""
    try:
        yield
    except OcisignError as err:
        if ctx.meta.get(DEBUG):
            traceback.print_exc()
        _report(ctx, err)
        sys.exit(err.exit_code)
    except click.ClickException as err:
        if not wants_json(ctx.meta.get(ARGS, ())):
            raise
        _report(ctx, UsageError(err.format_message()))
        sys.exit(err.exit_code)
    except (click.exceptions.Exit, click.Abort):
        raise
    except KeyboardInterrupt:
        click.echo("Error: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        end_of_pipe()
    except Exception as err:  # the one place unexpected errors are reported
        if ctx.meta.get(DEBUG):
            traceback.print_exc()
        _report(ctx, OcisignError(f"unexpected {type(err).__name__}: {err}",
                                  "run again with --debug for a traceback, and report it"),
                "InternalError")
        sys.exit(1)
