"""What every command of ``python -m runtime`` shares: :func:`main`, the lazy command table, errors and
their exit codes, ``--verbose``, and the argument types.

The command table works as pip's ``commands_dict`` does: it names each command's module and its
one-line summary, so ``python -m runtime --help`` lists the commands without importing them, and a
run imports the module of its own command only (``info`` never loads the server or the monitoring
code). A command module (:class:`CommandModule`) holds ``DESCRIPTION``, ``EXIT_CODES`` (those it
returns itself), ``add_arguments(parser)`` and ``run(args, console) -> ExitCode``. Adding a command
is writing that module and one line in :data:`COMMANDS`.

Expected failures raise :class:`CliError` with a one-line message and an exit code; :func:`main` prints
``error: <message>`` on stderr and returns the code, with the traceback only under ``--verbose``.
Every exit code comes from :class:`runtime._contract.ExitCode`, one table for both command lines.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import math
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, Protocol, TextIO, TypeVar, cast, get_args

from .._contract import ExitCode, exit_codes_text
from .._errors import BundleError, InputError
from .._logging import runtime_log_to
from .._signature import TRUST_DIRECTORY_VARIABLE, also_trusted
from .._validation import UnknownPolicy

__all__ = [
    "BUNDLE_HELP",
    "COMMANDS",
    "ON_UNKNOWN_CHOICES",
    "PROG",
    "CliError",
    "CommandInfo",
    "CommandModule",
    "Console",
    "command_exit_codes",
    "load_command",
    "main",
    "non_negative_float",
    "port",
    "positive_float",
    "positive_int",
]

PROG = "python -m runtime"
BUNDLE_HELP = "a version folder or a model folder with a CURRENT file"
ON_UNKNOWN_CHOICES: tuple[UnknownPolicy, ...] = get_args(UnknownPolicy)


@dataclass(frozen=True)
class CommandInfo:
    """A command's module (inside ``runtime._cli``) and the summary the top-level ``--help`` shows."""

    module: str
    summary: str


COMMANDS: dict[str, CommandInfo] = {
    "info": CommandInfo("info", "verify a bundle and show what it expects and what it was proven to do"),
    "predict": CommandInfo("predict", "predict the rows of a CSV or JSON Lines file"),
    "serve": CommandInfo("serve", "serve a bundle over HTTP (Open Inference Protocol and a plain JSON endpoint)"),
    "drift": CommandInfo("drift", "compare recent inputs (prediction log or CSV) with the training reference"),
    "feedback": CommandInfo("feedback", "store true labels that arrived later, keyed by request id"),
    "connect": CommandInfo("connect", "predict what arrives over MQTT or OPC UA and send the predictions back"),
}

# Any command can end in these: a bad option or an I/O error, a bug, Ctrl-C.
ALWAYS_POSSIBLE = frozenset({ExitCode.USAGE, ExitCode.INTERNAL, ExitCode.INTERRUPTED})
# The export's own codes; python -m runtime never returns them.
_EXPORT_ONLY = frozenset({ExitCode.PARITY_FAILED, ExitCode.BUDGET_MISSED})
RUNTIME_EXIT_CODES = tuple(code for code in ExitCode if code not in _EXPORT_ONLY)


class CliError(Exception):
    """An expected failure: ``main`` prints the one-line message and returns ``exit_code``."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Console:
    """Where a command writes; taken when ``main`` runs, so tests can capture the streams."""

    stdout: TextIO
    stderr: TextIO

    def error_line(self, message: str) -> None:
        self.stderr.write("error: " + message.replace("\r", " ").replace("\n", " ") + "\n")
        self.stderr.flush()


class CommandModule(Protocol):
    """What a command's module provides (see the module docstring)."""

    DESCRIPTION: str
    EXIT_CODES: frozenset[ExitCode]

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace, console: Console) -> ExitCode: ...


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 4) instead of usage text and exit 2."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see {self.prog} --help)", ExitCode.USAGE)


# ---------------------------------------------------------------------------------------------
# entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``) and return the exit code.

    Examples
    --------
    >>> from runtime._cli import main
    >>> main(["info", "models/quality"])  # doctest: +SKIP
    0
    """
    console = Console(sys.stdout, sys.stderr)
    verbose = False
    try:
        # --help and --version print, then "exit": return their code instead of exiting.
        try:
            command, args = _parse(list(sys.argv[1:] if argv is None else argv))
        except SystemExit as exit_:
            return exit_.code if isinstance(exit_.code, int) else int(ExitCode.OK)
        verbose = args.verbose
        with _verbose_logging(verbose, console.stderr), also_trusted(args.trusted_key):
            return int(command.run(args, console))
    except CliError as error:
        return _fail(console, str(error), error.exit_code, verbose)
    except BundleError as error:
        return _fail(console, f"bundle refused: {error}", ExitCode.BUNDLE_REFUSED, verbose)
    except InputError as error:
        return _fail(console, str(error), ExitCode.BAD_INPUT, verbose)
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`): point stdout at devnull so the
        # interpreter's final flush does not print a second error.
        with contextlib.suppress(OSError, AttributeError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), console.stdout.fileno())
        return _fail(console, "output closed early (broken pipe)", ExitCode.USAGE, verbose)
    except OSError as error:
        return _fail(console, _os_error_text(error), ExitCode.USAGE, verbose)
    except KeyboardInterrupt:
        return _fail(console, "interrupted", ExitCode.INTERRUPTED, verbose)
    # A bug: still one line, and the traceback with --verbose.
    except Exception as error:  # noqa: BLE001
        return _fail(
            console,
            f"internal error: {type(error).__name__}: {error} (rerun with --verbose for the traceback)",
            ExitCode.INTERNAL,
            verbose,
        )


def _fail(console: Console, message: str, code: ExitCode, verbose: bool) -> int:
    if verbose:
        traceback.print_exc(file=console.stderr)
    console.error_line(message)
    return int(code)


def _os_error_text(error: OSError) -> str:
    if error.filename is not None:
        return f"{error.strerror or error}: {str(error.filename)!r}"
    return str(error)


def _verbose_logging(verbose: bool, stream: TextIO) -> contextlib.AbstractContextManager[None]:
    """With --verbose, show the runtime's log (what load verified) on stderr during this call."""
    return runtime_log_to(stream, fmt="%(name)s: %(message)s") if verbose else contextlib.nullcontext()


# ---------------------------------------------------------------------------------------------
# parsing: the top level, then the one command's own parser


def _parse(argv: list[str]) -> tuple[CommandModule, argparse.Namespace]:
    """The command to run and its arguments; imports that command's module and no other.

    As in pip's ``parse_command``: the top level takes only ``--help`` and ``--version``, so the
    command is the first word that is not an option, and what follows it is the command's alone.
    """
    position = next((index for index, word in enumerate(argv) if not word.startswith("-")), len(argv))
    _top_parser().parse_args(argv[: position + 1])  # --help, --version, a missing or unknown command
    name = argv[position]
    command = load_command(name)
    return command, _command_parser(name, command).parse_args(argv[position + 1 :])


def _top_parser() -> _Parser:
    from .. import __version__

    parser = _Parser(
        prog=PROG,
        description="Verify factory-edge model bundles and predict with them (numpy + onnxruntime only).",
        epilog=exit_codes_text(RUNTIME_EXIT_CODES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"factory-edge runtime {__version__}")
    subcommands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND", required=True)
    for name, info in COMMANDS.items():
        # A stand-in: the command's real parser is built from its module once it is chosen.
        subcommands.add_parser(name, help=info.summary, add_help=False)
    return parser


def load_command(name: str) -> CommandModule:
    """Import the module of command ``name`` (a key of :data:`COMMANDS`)."""
    return cast(CommandModule, importlib.import_module(f"{__package__}.{COMMANDS[name].module}"))


def command_exit_codes(command: CommandModule) -> tuple[ExitCode, ...]:
    """Every code ``command`` can end with, in table order: its own and those any command can."""
    return tuple(sorted(command.EXIT_CODES | ALWAYS_POSSIBLE))


def _command_parser(name: str, command: CommandModule) -> _Parser:
    parser = _Parser(
        prog=f"{PROG} {name}",
        description=command.DESCRIPTION,
        epilog=exit_codes_text(command_exit_codes(command)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="on errors, also print the traceback; log what load verified",
    )
    parser.add_argument(
        "--trusted-key",
        action="append",
        default=[],
        type=Path,
        metavar="PUB.pem",
        help="an EC public key bundles may be signed with (repeatable; added to the *.pem files of "
        f"/etc/factory-edge/trusted-keys or ${TRUST_DIRECTORY_VARIABLE}); with any trusted key, only bundles "
        'whose model.sig verifies load. Needs the "verify" extra',
    )
    command.add_arguments(parser)
    return parser


# ---------------------------------------------------------------------------------------------
# argument types: a bad value is a one-line usage error naming the option


T = TypeVar("T")


def _converted(text: str, convert: Callable[[str], T], kind: str) -> T:
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None


def positive_int(text: str) -> int:
    value = _converted(text, int, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
    return value


def port(text: str) -> int:
    value = _converted(text, int, "a port number")
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} must be within [0, 65535] (0 picks a free port)")
    return value


def positive_float(text: str) -> float:
    value = _converted(text, float, "a number")
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number > 0")
    return value


def non_negative_float(text: str) -> float:
    value = _converted(text, float, "a number")
    if not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number >= 0")
    return value
