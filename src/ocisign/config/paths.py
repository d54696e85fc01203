"""Where ocisign keeps its configuration (notation's layout, so a notation folder works)."""

from __future__ import annotations

import os
from pathlib import Path


def config_dir() -> Path:
    """``$OCISIGN_CONFIG_DIR``, else notation's ``$NOTATION_CONFIG``, else
    ``$XDG_CONFIG_HOME/ocisign``, else ``~/.config/ocisign``."""
    explicit = os.environ.get("OCISIGN_CONFIG_DIR") or os.environ.get("NOTATION_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / "ocisign"


def signing_keys_file() -> Path:
    """The key store: ``signingkeys.json`` (notation's schema)."""
    return config_dir() / "signingkeys.json"


def local_keys_dir() -> Path:
    """Where generated key and certificate files go."""
    return config_dir() / "localkeys"


def trust_policy_file() -> Path:
    """notation's OCI trust policy file."""
    return config_dir() / "trustpolicy.json"


def trust_store_dir() -> Path:
    """notation's trust store root (``truststore/x509/{ca,signingAuthority,tsa}/NAME``)."""
    return config_dir() / "truststore"


def plugins_dir() -> Path:
    """notation plugins live at ``plugins/<name>/notation-<name>`` under ``$OCISIGN_LIBEXEC``
    (or notation's ``$NOTATION_LIBEXEC``), else the config dir."""
    libexec = os.environ.get("OCISIGN_LIBEXEC") or os.environ.get("NOTATION_LIBEXEC")
    return (Path(libexec).expanduser() if libexec else config_dir()) / "plugins"


def cache_dir() -> Path:
    """``$OCISIGN_CACHE_DIR``, else ``$XDG_CACHE_HOME/ocisign``, else ``~/.cache/ocisign``."""
    explicit = os.environ.get("OCISIGN_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "ocisign"


def crl_cache_dir() -> Path:
    """notation's CRL file cache (``{cache}/crl``)."""
    return cache_dir() / "crl"
