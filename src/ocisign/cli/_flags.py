"""Flag groups shared by ``sign`` and ``validate`` (names and defaults from notation/hangar)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from ocisign import formats
from ocisign.config.notation import NotationConfig, load_config
from ocisign.errors import UsageError
from ocisign.registry.store import RegistryOptions

F = TypeVar("F", bound=Callable[..., Any])
_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # Go accepts both micro signs
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_TRUE = ("1", "t", "T", "true", "TRUE", "True")
_FALSE = ("0", "f", "F", "false", "FALSE", "False")


class GoBoolCommand(click.Command):
    """Accept Go's spelling of bool flags, ``--flag=true|false`` (notation, hangar).

    ``--tls-verify=false`` becomes ``--no-tls-verify``; ``--force=false`` is dropped.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        flags = {
            name: option
            for option in self.params
            if isinstance(option, click.Option) and option.is_flag
            for name in option.opts
        }
        rewritten: list[str] = []
        for arg in args:
            name, sep, value = arg.partition("=")
            option = flags.get(name) if sep and name.startswith("--") else None
            if option is None:
                rewritten.append(arg)
            elif value in _TRUE:
                rewritten.append(name)
            elif value in _FALSE:
                rewritten.extend(option.secondary_opts[:1])
            else:
                raise UsageError(
                    f"invalid argument {value!r} for {name}",
                    hint=f"use {name}=true or {name}=false",
                )
        return super().parse_args(ctx, rewritten)


class TableChoice(click.Choice):  # type: ignore[type-arg]
    """A ``click.Choice`` whose choices are read from the formats table when used, so a
    format registered after import is offered too."""

    def __init__(self, source: Callable[[], list[str]]) -> None:
        self._source = source
        super().__init__(())  # the choices property reads the table

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self._source())

    @choices.setter
    def choices(self, value: object) -> None:
        pass  # always the table's


def format_choice() -> TableChoice:
    """``--signature-format`` values: the formats table's names."""
    return TableChoice(formats.names)


def kind_choice() -> TableChoice:
    """``validate --type`` values: the table's kinds, and ``any``."""
    return TableChoice(lambda: [*formats.kinds(), formats.ANY_KIND])


class KeyFileOrPkcs11(click.Path):
    """An existing file, or a ``pkcs11:`` URI passed through as it is."""

    name = "file or pkcs11: URI"

    def __init__(self) -> None:
        super().__init__(exists=True, dir_okay=False)

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value.startswith("pkcs11:"):
            return value
        return super().convert(value, param, ctx)


KEY_FILE_OR_PKCS11 = KeyFileOrPkcs11()


def key_value_pairs(values: tuple[str, ...], flag: str) -> dict[str, str]:
    """``k=v`` flag values -> dict (as notation: a missing '=' or a duplicate key is refused)."""
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(
                f"could not parse flag {flag}: {item!r} is not KEY=VALUE",
                hint=f"pass {flag} KEY=VALUE, once per pair",
            )
        if key in out:
            raise UsageError(f"could not parse flag {flag}: found duplicate key {key!r}")
        out[key] = value
    return out


def parse_expiry(text: str) -> timedelta:
    """A Go duration (``30m``, ``12h``, ``3h20m``, ``90s``, ``0``) as a whole-second timedelta.

    Zero means no expiry. Negative values and fractions of a second are refused.
    """
    value = text.strip()
    hint = "use a Go duration such as 30m, 12h or 3h20m (0 for no expiry)"
    if value in ("0", "+0", "-0"):
        return timedelta(0)
    if value.startswith("-"):
        raise UsageError(f"--expiry must not be negative: {text!r}", hint=hint)
    body = value.removeprefix("+")
    position, total, scale = 0, 0, 1  # the sum in nanoseconds is total / scale, exactly
    for match in _DURATION_PART.finditer(body):
        if match.start() != position:
            break
        whole, _, fraction = match.group(1).partition(".")
        part_scale = 10 ** len(fraction)
        if part_scale > scale:
            total, scale = total * (part_scale // scale), part_scale
        part = int(whole or "0") * part_scale + int(fraction or "0")
        total += part * _UNIT_NS[match.group(2)] * (scale // part_scale)
        position = match.end()
    if not body or position != len(body):
        raise UsageError(f"invalid expiry duration {text!r}", hint=hint)
    if total % (scale * 1_000_000_000):
        raise UsageError(f"--expiry must be a whole number of seconds: {text!r}", hint=hint)
    return timedelta(seconds=total // (scale * 1_000_000_000))


def duration_seconds(text: str, flag: str) -> float | None:
    """A Go duration flag (90s, 10m, 1h) in seconds; 0 means no limit (None)."""
    try:
        seconds = parse_expiry(text).total_seconds()
    except UsageError:
        raise UsageError(
            f"invalid {flag} duration {text!r}",
            hint="use a Go duration such as 90s, 10m or 1h (0 for no limit)",
        ) from None
    return seconds or None


def _apply(func: F, options: list[Callable[[F], F]]) -> F:
    for option in reversed(options):
        func = option(func)
    return func


def _csv(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    """Accept both ``-a amd64,arm64`` and ``-a amd64 -a arm64``."""
    items = [part.strip() for v in value for part in v.split(",")]
    return tuple(i for i in items if i)


OUTPUT_FORMAT_NAMES = ("json", "text", "yaml", "yml", "csv", "table")


def _failed_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Refuse ``-o json``: a cosign/notation habit, not a file name (``./json`` is)."""
    if value.lower() in OUTPUT_FORMAT_NAMES:
        raise UsageError(
            f"-o/--failed names the failed-lines file, not an output format: {value!r}",
            hint=f"for a JSON document on stdout use --output json; for a file named "
                 f"{value!r} write -o ./{value}",
        )
    return value


def failed_file_path(ctx: click.Context, flags: dict[str, Any]) -> Path | None:
    """The failed-lines file: for ``-f`` list input, or when ``-o`` was given; else None."""
    asked = ctx.get_parameter_source("failed_file") is not ParameterSource.DEFAULT
    if flags["image_list"] or asked:
        return Path(flags["failed_file"])
    return None


def registry_options(func: F) -> F:
    """How to reach a registry: credentials, plain HTTP, TLS."""
    return _apply(
        func,
        [
            click.option("-u", "--username", help="Username for registry operations."),
            click.option(
                "-p",
                "--password",
                help="Password for registry operations (prefer OCISIGN_PASSWORD: argv is visible).",
            ),
            click.option(
                "--insecure-registry",
                is_flag=True,
                help="Use plain HTTP instead of HTTPS for the registry.",
            ),
            click.option(
                "--tls-verify/--no-tls-verify",
                default=None,
                help="Verify the registry's TLS certificate (default: verify).",
            ),
            click.option(
                "--ca-file",
                type=click.Path(dir_okay=False),
                help="CA bundle (PEM) to verify the registry's certificate with.",
            ),
            click.option("--registry-retries", type=click.IntRange(0, 100),
                         help="Repeats of one registry operation after transient faults "
                              "[default: 5; config.json registryRetries]."),
            click.option("--registry-retry-budget",
                         help="Time one registry operation may spend, retries included "
                              "[default: 60s; config.json registryRetryBudget]."),
            click.option("--registry-request-timeout",
                         help="Total time limit of one registry request, even with --timeout 0 "
                              "[default: 2m; config.json registryRequestTimeout]."),
        ],
    )


def is_pem_file(value: str | None) -> bool:
    """``value`` names an existing file that starts like PEM (a key or certificate)."""
    if not value or len(value) > 4096:
        return False
    try:
        with open(value, "rb") as handle:
            return handle.read(64).lstrip().startswith(b"-----BEGIN ")
    except OSError:
        return False


def registry_settings(
    flags: dict[str, Any], config: NotationConfig | None = None
) -> RegistryOptions:
    """``RegistryOptions`` from the ``registry_options`` flags plus notation's config.json
    (``insecureRegistries``: hosts reached over plain HTTP, as notation does)."""
    if is_pem_file(flags["password"]):  # hangar's `validate -p cosign.pub`, `sign -p cosign.key`
        value = flags["password"]
        private = b"PRIVATE KEY" in Path(value).read_bytes()[:200]
        flag, verb = ("--sigstore-key", "sign") if private else ("--sigstore-pubkey", "verify")
        raise UsageError(
            f"-p/--password is the registry password, but {value!r} is a PEM file",
            hint=f"to {verb} with a cosign key file use {flag} {value} (hangar's -p)",
        )
    config = config or load_config(formats=formats.names())
    limits: dict[str, Any] = dict(config.registry_limits)
    if flags.get("registry_retries") is not None:
        limits["max_retries"] = flags["registry_retries"]
    for flag, name in (("registry_retry_budget", "retry_budget"),
                       ("registry_request_timeout", "request_timeout")):
        if flags.get(flag):
            limits[name] = duration_seconds(flags[flag], "--" + flag.replace("_", "-")) or (
                RegistryOptions.request_timeout if name == "request_timeout" else 0.0)
    if "max_retries" in limits:
        limits["max_retries"] = int(limits["max_retries"])
    return RegistryOptions(
        username=flags["username"],
        password=flags["password"],
        insecure=flags["insecure_registry"],
        tls_verify=flags["tls_verify"] is not False,
        ca_file=flags["ca_file"],
        insecure_registries=config.insecure_registries,
        **limits,
    )


def _platform_option(names: tuple[str, ...], default: str, what: str) -> Callable[[F], F]:
    """hangar's -a/--os: repeatable, comma lists accepted."""
    return click.option(*names, multiple=True, default=(default,), show_default=True,
                        callback=_csv, help=f"{what} in a multi-arch image (comma list).")


def batch_options(verb: str, failed_default: str = "sign-failed.txt") -> Callable[[F], F]:
    """hangar's image-list flags: -f, -a, --os, --registry, --project, -j, -o, --timeout."""

    def decorate(func: F) -> F:
        return _apply(
            func,
            [
                click.option(
                    "-f",
                    "--file",
                    "image_list",
                    type=click.Path(dir_okay=False),
                    help="Image list file: one reference per line ('#' and '//' lines skipped).",
                ),
                _platform_option(("-a", "--arch", "arches"), "amd64,arm64",
                                 f"Architectures to {verb}"),
                _platform_option(("--os", "oses"), "linux", f"Operating systems to {verb}"),
                click.option(
                    "--registry", "registry_override", help="Override the registry of every line."
                ),
                click.option(
                    "--project", "project_override", help="Override the project of every line."
                ),
                click.option(
                    "-j",
                    "--jobs",
                    type=int,
                    default=1,
                    show_default=True,
                    help="Parallel workers (1..64; outside: a warning and 1, as in hangar).",
                ),
                click.option(
                    "-o",
                    "--failed",
                    "failed_file",
                    default=failed_default,
                    show_default=True,
                    type=click.Path(dir_okay=False),
                    callback=_failed_name,
                    help="File for the lines that failed, kept current during the run "
                         "(written for -f input, or when this flag is given).",
                ),
                click.option(
                    "--timeout",
                    default="10m",
                    show_default=True,
                    help="Time limit per line (Go duration: 90s, 10m, 1h; 0 = none).",
                ),
                click.option(
                    "--shard",
                    metavar="K/N",
                    help="Only the lines of shard K of N (0 <= K < N), split by a hash of each "
                         "line: N jobs sign one list together (e.g. \"$JOB_COMPLETION_INDEX/N\").",
                ),
            ],
        )

    return decorate
