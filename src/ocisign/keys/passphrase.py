"""Where a private key's passphrase comes from, in order: file, environment, prompt.

One meaning per variable: ``OCISIGN_KEY_PASSPHRASE`` and cosign's ``COSIGN_PASSWORD`` are
key passphrases; ``OCISIGN_PASSWORD``/``NOTATION_PASSWORD`` are registry passwords only
(notation's meaning) and are never read here, so a passphrase never reaches a registry.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from ocisign.errors import PassphraseError

ENV_VARS = ("OCISIGN_KEY_PASSPHRASE", "COSIGN_PASSWORD")
PROMPT = "Enter password for private key: "
PROMPT_AGAIN = "Enter password for private key again: "
SOURCES_HINT = (
    "pass --passphrase-file FILE, or set OCISIGN_KEY_PASSPHRASE or COSIGN_PASSWORD "
    "(OCISIGN_PASSWORD is the registry password)"
)


def read_passphrase(file: Path | None, *, key_path: str, confirm: bool = False) -> bytes:
    """The passphrase for ``key_path``.

    1. ``file``: its contents with surrounding whitespace trimmed (as hangar does);
    2. ``$OCISIGN_KEY_PASSPHRASE``, then ``$COSIGN_PASSWORD`` (set but empty = empty
       passphrase, as cosign);
    3. a no-echo prompt when stdin is a terminal (asked twice when ``confirm``).
    Without a terminal and without 1 or 2, a PassphraseError (never a hanging prompt).
    """
    if file is not None:
        try:
            return Path(file).read_bytes().strip()
        except FileNotFoundError:
            raise PassphraseError(f"passphrase file {file} does not exist") from None
        except OSError as err:
            raise PassphraseError(f"cannot read passphrase file {file}: {err.strerror}") from None
    for name in ENV_VARS:
        value = os.environ.get(name)
        if value is not None:
            return value.encode()
    if not sys.stdin.isatty():
        raise PassphraseError(
            f"a passphrase is needed for {key_path} and there is no terminal to ask for it",
            hint=SOURCES_HINT,
        )
    first = getpass.getpass(PROMPT)
    if confirm and getpass.getpass(PROMPT_AGAIN) != first:
        raise PassphraseError("passwords do not match", hint="type the same passphrase twice")
    return first.encode()
