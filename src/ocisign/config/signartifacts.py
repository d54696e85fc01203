"""The sign-artifacts config and ``inject-files.yaml``: pydantic models, loaders, checks.

Both files follow Image Customizer's schemas (``SignArtifactsConfig`` on the WIP
sign-artifacts branch, ``InjectFilesConfig`` on main): camelCase keys, unknown keys
rejected, YAML or JSON. Error texts are upstream's, one wrap level per line (the CLI joins
them into one line).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ocisign.errors import ConfigError

SIGN_ARTIFACTS_FEATURE = "sign-artifacts"
INJECT_FILES_FEATURE = "inject-files"

# Image Customizer's preview features as of the sign-artifacts branch
KNOWN_PREVIEW_FEATURES = frozenset(
    {
        "uki",
        "output-artifacts",
        "inject-files",
        "package-snapshot-time",
        "kdump-boot-files",
        "fedora-42",
        "base-configs",
        "input-image-oci",
        "output-selinux-policy",
        "sign-artifacts",
    }
)
MOUNT_ID_TYPES = ("uuid", "part-uuid", "part-label", "")

_HINT = "see docs/sign-artifacts.md for the config schema"
_INJECT_HINT = (
    "the artifacts folder must be the one 'imagecustomizer customize' wrote (.output.artifacts)"
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_unset(cls, data: Any) -> Any:
        """A YAML null (``type:``) leaves the field unset, as yaml.v3 does in Go."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


class SignArtifactsInput(_Model):
    """``input``: where the artifacts are."""

    artifacts_path: str = Field("", alias="artifactsPath")


class SigningMethodEphemeral(_Model):
    """``signingMethod.ephemeral``: a new key and self-signed certificate per run."""

    public_keys_path: str = Field("", alias="publicKeysPath")


class SigningMethodKey(_Model):
    """``signingMethod.key`` (ocisign extension): a long-lived PEM key and certificate.

    ``keyPath`` may be a ``pkcs11:`` URI (a token key); then ``certPath`` may be a
    ``type=cert`` URI or empty (the certificate on the token with the key's id).
    """

    key_path: str = Field("", alias="keyPath")
    cert_path: str = Field("", alias="certPath")


class SigningMethod(_Model):
    """``signingMethod``: exactly one method must be set."""

    ephemeral: SigningMethodEphemeral | None = None
    key: SigningMethodKey | None = None


class SignArtifactsConfig(_Model):
    """The sign-artifacts config file."""

    preview_features: list[str] = Field(default_factory=list, alias="previewFeatures")
    input: SignArtifactsInput | None = None
    signing_method: SigningMethod | None = Field(None, alias="signingMethod")


class InjectFilePartition(_Model):
    """``injectFiles[].partition``."""

    id_type: str = Field("", alias="idType")
    id: str = ""


class InjectArtifactMetadata(_Model):
    """One ``injectFiles`` entry: a file of the artifacts folder and where it goes."""

    partition: InjectFilePartition = Field(
        default_factory=lambda: InjectFilePartition.model_validate({})
    )
    destination: str = ""
    source: str = ""
    type: str = ""


class InjectFilesConfig(_Model):
    """``inject-files.yaml``."""

    inject_files: list[InjectArtifactMetadata] = Field(default_factory=list, alias="injectFiles")
    preview_features: list[str] = Field(default_factory=list, alias="previewFeatures")


M = TypeVar("M", bound=_Model)


def load_sign_artifacts_config(path: Path) -> SignArtifactsConfig:
    """Read, parse and validate a sign-artifacts config (YAML or JSON)."""
    config = _load(path, SignArtifactsConfig, prefix="", hint=_HINT)
    problem = _config_problem(config)
    if problem:
        raise ConfigError(f"config is invalid:\n{problem}", hint=_HINT)
    return config


def load_inject_files(path: Path) -> InjectFilesConfig:
    """Read, parse and validate an artifacts folder's ``inject-files.yaml``."""
    config = _load(
        path, InjectFilesConfig, "failed to read inject-files.yaml file:\n", _INJECT_HINT
    )
    problem = _inject_files_problem(config)
    if problem:
        raise ConfigError(f"invalid inject-files.yaml file:\n{problem}", hint=_INJECT_HINT)
    return config


def config_relative(config_file: Path, value: str) -> Path:
    """A config value as a path: absolute as is, else joined to the config file's folder.

    Like upstream's ``file.GetAbsPathWithBase``, the folder is the directory part of the
    ``--config-file`` string as given, so a bare file name leaves the path CWD-relative.
    """
    return Path(os.path.join(os.path.dirname(str(config_file)), value))


def resolve_artifacts_path(config: SignArtifactsConfig, config_file: Path, cli: str | None) -> Path:
    """``--artifacts-paths`` (CWD-relative) wins over ``input.artifactsPath`` (config-relative)."""
    if cli:
        return Path(cli)
    if config.input and config.input.artifacts_path:
        return config_relative(config_file, config.input.artifacts_path)
    raise ConfigError(
        "no artifacts path provided",
        hint="pass --artifacts-paths DIR or set input.artifactsPath in the config",
    )


def resolve_public_keys_path(
    config: SignArtifactsConfig, config_file: Path, cli: str | None
) -> Path | None:
    """Where ``ca.pem`` goes in ephemeral mode (None for other methods)."""
    method = config.signing_method
    ephemeral = method.ephemeral if method else None
    if ephemeral is None:
        if cli:
            raise ConfigError(
                "cannot specify --ephemeral-public-keys-path "
                "if ephemeral signing method is not used",
                hint="drop --ephemeral-public-keys-path, or use signingMethod.ephemeral",
            )
        return None
    if cli:
        return Path(cli)
    if ephemeral.public_keys_path:
        return config_relative(config_file, ephemeral.public_keys_path)
    raise ConfigError(
        "no public keys path provided for ephemeral keys signing method",
        hint="pass --ephemeral-public-keys-path DIR or set signingMethod.ephemeral.publicKeysPath",
    )


def _config_problem(config: SignArtifactsConfig) -> str | None:
    """Upstream's ``SignArtifactsConfig.IsValid``, in its order (plus the key extension)."""
    problem = _preview_features_problem(config.preview_features)
    if problem:
        return problem
    method = config.signing_method
    chosen = [m for m in (method.ephemeral, method.key) if m is not None] if method else []
    if len(chosen) != 1:
        return "invalid 'signingMethod' field:\none and only one signing method must be specified"
    if method is not None and method.key is not None:
        token = method.key.key_path.startswith("pkcs11:")  # the certificate may be on it
        for name, value in (("keyPath", method.key.key_path), ("certPath", method.key.cert_path)):
            if not value and not (token and name == "certPath"):
                return (
                    "invalid 'signingMethod' field:\n"
                    f"invalid 'key' field:\n'{name}' must be specified"
                )
    if SIGN_ARTIFACTS_FEATURE not in config.preview_features:
        return "the 'sign-artifacts' preview feature must be enabled to sign-artifacts command"
    return None


def _inject_files_problem(config: InjectFilesConfig) -> str | None:
    """Upstream's ``InjectFilesConfig.IsValid``.

    Unlike the sign-artifacts config, preview features here are not checked against a
    list: newer Image Customizer releases know more than the sign-artifacts branch did.
    """
    if INJECT_FILES_FEATURE not in config.preview_features:
        return (
            "the 'inject-files' feature is currently in preview; "
            "please add 'inject-files' to 'previewFeatures' to enable it"
        )
    for i, entry in enumerate(config.inject_files):
        if not entry.source or not entry.destination:
            return f"injectFiles[{i}] is invalid:\nsource or destination is empty"
        if not entry.partition.id:
            return f"injectFiles[{i}] is invalid:\ninvalid partition:\npartition id is empty"
        if entry.partition.id_type not in MOUNT_ID_TYPES:
            return (
                f"injectFiles[{i}] is invalid:\ninvalid partition:\n"
                f"invalid mount id type:\ninvalid value ({entry.partition.id_type})"
            )
    return None


def _preview_features_problem(features: list[str]) -> str | None:
    for i, feature in enumerate(features):
        if feature not in KNOWN_PREVIEW_FEATURES:
            return (
                f"invalid 'previewFeatures' item at index {i}:\ninvalid preview feature: {feature}"
            )
    return None


def _load(path: Path, model: type[M], prefix: str, hint: str) -> M:
    """Read and parse ``path`` (YAML, so JSON too) into ``model``; errors as upstream's."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{prefix}open {path}: no such file or directory", hint=hint) from None
    except IsADirectoryError:
        raise ConfigError(f"{prefix}read {path}: is a directory", hint=hint) from None
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise ConfigError(f"{prefix}open {path}: {reason.lower()}", hint=hint) from None
    try:
        data: Any = yaml.safe_load(text)
    except RecursionError:
        raise ConfigError(f"{prefix}yaml: the document is nested too deeply (in {path})",
                          hint=hint) from None
    except yaml.YAMLError as err:
        detail = " ".join(str(err).split())
        raise ConfigError(f"{prefix}yaml: {detail} (in {path})", hint=hint) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{prefix}yaml: unmarshal errors:\n{path}: the document must be a mapping, "
            f"not {type(data).__name__}",
            hint=hint,
        )
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(
            f"{prefix}yaml: unmarshal errors:\n{path}: {_describe(err, model)}", hint=hint
        ) from None


def _describe(err: ValidationError, model: type[_Model]) -> str:
    """yaml.v3-like text for the first pydantic error."""
    first = err.errors()[0]
    loc = [str(part) for part in first["loc"]]
    where = ".".join(loc) or "(top level)"
    if first["type"] == "extra_forbidden":
        owner = _owner(model, first["loc"][:-1])
        return f"field {loc[-1]} not found in type {owner} (at {where})"
    return f"{where}: {first['msg'].lower()}"


def _owner(model: type[_Model], loc: tuple[int | str, ...]) -> str:
    """The name of the model class found at ``loc`` under ``model``."""
    current: type[_Model] = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = next(
            (f for name, f in current.model_fields.items() if part in (name, f.alias)), None
        )
        sub = _model_in(field.annotation) if field else None
        if sub is None:
            break
        current = sub
    return current.__name__


def _model_in(annotation: Any) -> type[_Model] | None:
    if isinstance(annotation, type) and issubclass(annotation, _Model):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
