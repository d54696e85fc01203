"""notation's ``config.json`` in the config dir: ``insecureRegistries`` and ``signatureFormat``,
plus ocisign's registry limits (``registryRetries``, ``registryRetryBudget`` and
``registryRequestTimeout``, in seconds; notation ignores unknown members).

Other members (``credsStore``, ``credHelpers``...) are left to the registry auth code.
A missing file means defaults.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from ocisign.config import paths
from ocisign.errors import ConfigError


@dataclass(frozen=True)
class NotationConfig:
    """What ``sign`` and ``validate`` read from ``config.json``."""

    insecure_registries: frozenset[str] = frozenset()
    signature_format: str | None = None
    registry_limits: dict[str, float] = field(default_factory=dict)  # RegistryOptions fields


def config_file() -> Path:
    """``<config dir>/config.json``."""
    return paths.config_dir() / "config.json"


def load_config(path: Path | None = None, *, formats: Collection[str]) -> NotationConfig:
    """Read ``config.json`` (missing: defaults); ConfigError names the file and field.

    ``formats``: the signature format names ``signatureFormat`` may take (the formats table).
    """
    path = path if path is not None else config_file()
    hint = "fix the file, or move it away to use the defaults"
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        return NotationConfig()
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}", hint=hint) from None
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise ConfigError(f"{path} is not valid JSON: {err}", hint=hint) from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path} must hold a JSON object", hint=hint)
    insecure = doc.get("insecureRegistries") or []
    if not isinstance(insecure, list) or not all(isinstance(h, str) for h in insecure):
        raise ConfigError(f"{path}: insecureRegistries must be a list of host names", hint=hint)
    fmt = doc.get("signatureFormat") or None
    if fmt is not None and (not isinstance(fmt, str) or fmt.lower() not in formats):
        raise ConfigError(
            f"{path}: signatureFormat {fmt!r} is not one of {', '.join(formats)}", hint=hint
        )
    limits: dict[str, float] = {}
    for key, name in REGISTRY_LIMITS.items():
        value = doc.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{path}: {key} must be a number of seconds (or of retries) >= 0",
                              hint=hint)
        limits[name] = value
    return NotationConfig(frozenset(insecure), fmt.lower() if fmt else None, limits)


REGISTRY_LIMITS = {
    "registryRetries": "max_retries",
    "registryRetryBudget": "retry_budget",
    "registryRequestTimeout": "request_timeout",
}
"""config.json member -> RegistryOptions field."""
