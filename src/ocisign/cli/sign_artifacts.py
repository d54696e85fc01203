"""`ocisign sign-artifacts`: Image Customizer's command, with its flag names."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ocisign.cli._common import common_flags, output_option, print_json, print_table
from ocisign.errors import UsageError

if TYPE_CHECKING:
    from ocisign.boot.artifacts import SignArtifactsResult

# Image Customizer's (logrus) levels -> Python logging levels
LOG_LEVELS = {
    "panic": logging.CRITICAL,
    "fatal": logging.CRITICAL,
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": logging.DEBUG,
}


@click.command("sign-artifacts")
@click.option("--build-dir", required=True, metavar="DIR", type=click.Path(path_type=Path),
              help="Directory for temporary files (created if missing; its temp folder is "
                   "removed).")
@click.option("--config-file", required=True, metavar="FILE", type=click.Path(path_type=Path),
              help="The sign-artifacts config file (YAML or JSON).")
@click.option(
    "--artifacts-paths",
    "artifacts_path",
    metavar="DIR",
    help="Path of the directory of the OS image artifacts to sign (overrides the config).",
)
@click.option(
    "--ephemeral-public-keys-path",
    metavar="DIR",
    help="Directory to write the ephemeral certificate (ca.pem) to (overrides the config).",
)
@click.option(
    "--log-level",
    type=click.Choice(list(LOG_LEVELS)),
    metavar="LEVEL",
    default="info",
    show_default=True,
    help="Log level on stderr: panic|fatal|error|warn|info|debug|trace.",
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the log to this file, at debug level.",
)
@output_option
@common_flags
def sign_artifacts(
    build_dir: Path,
    config_file: Path,
    artifacts_path: str | None,
    ephemeral_public_keys_path: str | None,
    log_level: str,
    log_file: Path | None,
    output_format: str,
) -> None:
    """Sign the boot artifacts an Image Customizer build wrote (.output.artifacts).

    EFI files (ukis, uki-addons, shim, bootloader) get an Authenticode signature
    appended; a verity-hash file is replaced by a PKCS#7 signature of the root hash.
    Nothing changes unless every file could be signed.
    """
    # imported here, not at the top: `sign-artifacts --help` loads no cryptography
    from ocisign.boot.artifacts import SignArtifactsRequest
    from ocisign.boot.artifacts import sign_artifacts as run

    _setup_logging(LOG_LEVELS[log_level], log_file)
    result = run(
        SignArtifactsRequest(
            config_file=config_file,
            build_dir=build_dir,
            artifacts_path=artifacts_path,
            public_keys_path=ephemeral_public_keys_path,
        )
    )
    if output_format == "json":
        print_json(_as_json(result))
        return
    print_table(
        ["SOURCE", "TYPE", "RESULT", "DETAIL"],
        [[f.source, f.type or "-", f.result, f.detail] for f in result.files],
    )
    click.echo(f"Signed with: {result.certificate_subject} (SHA-256 {result.certificate_sha256})")
    if result.public_cert_path is not None:
        click.echo(f"Public certificate: {result.public_cert_path}")


def _as_json(result: SignArtifactsResult) -> dict[str, object]:
    return {
        "command": "sign-artifacts",
        "artifactsPath": str(result.artifacts_path),
        "signingMethod": result.signing_method,
        "certificate": {
            "subject": result.certificate_subject,
            "sha256": result.certificate_sha256,
            "path": str(result.public_cert_path) if result.public_cert_path else None,
        },
        "files": [
            {
                "source": f.source,
                "path": str(f.path),
                "type": f.type,
                "status": f.result,
                "message": f.detail or None,
            }
            for f in result.files
        ],
    }


def _setup_logging(level: int, log_file: Path | None) -> None:
    """Progress lines on stderr at ``level``; everything (debug) in ``log_file``."""
    logger = logging.getLogger("ocisign.boot.artifacts")
    logger.handlers.clear()
    logger.propagate = False
    logger.setLevel(logging.DEBUG if log_file else level)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(level)
    stderr.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logger.addHandler(stderr)
    if log_file:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as err:
            raise UsageError(
                f"cannot open --log-file {log_file}: {err.strerror or err}",
                hint="choose a writable path for --log-file",
            ) from None
        handler.setLevel(logging.DEBUG)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
