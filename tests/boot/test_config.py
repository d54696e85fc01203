"""The sign-artifacts config and inject-files.yaml: schema, upstream error texts, paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ocisign.config.signartifacts import (
    load_inject_files,
    load_sign_artifacts_config,
    resolve_artifacts_path,
    resolve_public_keys_path,
)
from ocisign.errors import ConfigError
from tests.boot.conftest import inject_yaml


def load(tmp_path: Path, text: str, name: str = "sign.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_sign_artifacts_config(path)
    return info.value.message


def test_full_config_in_yaml_and_json(tmp_path: Path) -> None:
    data: dict[str, object] = {
        "previewFeatures": ["sign-artifacts"],
        "input": {"artifactsPath": "./out/artifacts"},
        "signingMethod": {"ephemeral": {"publicKeysPath": "./out/keys"}},
    }
    for path in (load(tmp_path, json.dumps(data), "sign.json"), load(tmp_path, _yaml(data))):
        config = load_sign_artifacts_config(path)
        assert config.input is not None and config.input.artifacts_path == "./out/artifacts"
        assert config.signing_method is not None and config.signing_method.ephemeral is not None
        assert config.signing_method.ephemeral.public_keys_path == "./out/keys"


def _yaml(data: dict[str, object]) -> str:
    import yaml

    return yaml.safe_dump(data)


def test_ephemeral_may_be_empty(tmp_path: Path) -> None:
    path = load(tmp_path, "previewFeatures: [sign-artifacts]\nsigningMethod:\n  ephemeral: {}\n")
    config = load_sign_artifacts_config(path)
    assert config.signing_method is not None and config.signing_method.ephemeral is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "signingMethod:\n  ephemeral: {}\n",
            "config is invalid:\n"
            "the 'sign-artifacts' preview feature must be enabled to sign-artifacts command",
        ),
        (
            "previewFeatures: [sign-artifacts]\n",
            "config is invalid:\ninvalid 'signingMethod' field:\n"
            "one and only one signing method must be specified",
        ),
        (
            "previewFeatures: [sign-artifacts]\nsigningMethod: {}\n",
            "config is invalid:\ninvalid 'signingMethod' field:\n"
            "one and only one signing method must be specified",
        ),
        (
            "previewFeatures: [sign-artifacts]\nsigningMethod:\n  ephemeral:\n",
            "config is invalid:\ninvalid 'signingMethod' field:\n"
            "one and only one signing method must be specified",
        ),
        (  # no method and no preview feature: the signingMethod error comes first
            "{}\n",
            "config is invalid:\ninvalid 'signingMethod' field:\n"
            "one and only one signing method must be specified",
        ),
        (
            "",
            "config is invalid:\ninvalid 'signingMethod' field:\n"
            "one and only one signing method must be specified",
        ),
        (
            "previewFeatures: [sign-artifacts]\nsigningMethod:\n  ephemeral: {}\n"
            "  key: {keyPath: k.pem, certPath: c.pem}\n",
            "config is invalid:\ninvalid 'signingMethod' field:\n"
            "one and only one signing method must be specified",
        ),
        (
            "previewFeatures: [uki, sign-artifactz]\nsigningMethod:\n  ephemeral: {}\n",
            "config is invalid:\ninvalid 'previewFeatures' item at index 1:\n"
            "invalid preview feature: sign-artifactz",
        ),
        (
            "previewFeatures: [sign-artifacts]\nsigningMethod:\n  key: {keyPath: k.pem}\n",
            "config is invalid:\ninvalid 'signingMethod' field:\ninvalid 'key' field:\n"
            "'certPath' must be specified",
        ),
    ],
)
def test_validation_errors_are_upstreams(tmp_path: Path, text: str, expected: str) -> None:
    assert error_of(load(tmp_path, text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "previewFeatures: [sign-artifacts]\nfoo: 1\n",
            "field foo not found in type SignArtifactsConfig",
        ),
        ("input:\n  artifactPath: x\n", "field artifactPath not found in type SignArtifactsInput"),
        (
            "signingMethod:\n  ephemeral:\n    publicKeyPath: x\n",
            "field publicKeyPath not found in type SigningMethodEphemeral",
        ),
        ("signingMethod:\n  pkcs11: {}\n", "field pkcs11 not found in type SigningMethod"),
        ("PreviewFeatures: [sign-artifacts]\n", "field PreviewFeatures not found"),
        ("previewFeatures: sign-artifacts\n", "previewFeatures: input should be a valid list"),
        ("- a\n- b\n", "the document must be a mapping"),
        ("previewFeatures: [\n", "yaml: "),
    ],
)
def test_parse_errors(tmp_path: Path, text: str, expected: str) -> None:
    message = error_of(load(tmp_path, text))
    assert expected in message
    assert not message.startswith("config is invalid")


def test_missing_config_file(tmp_path: Path) -> None:
    assert (
        error_of(tmp_path / "nope.yaml") == f"open {tmp_path}/nope.yaml: no such file or directory"
    )


def test_paths_from_config_are_relative_to_its_folder(tmp_path: Path) -> None:
    (tmp_path / "cfg").mkdir()
    path = tmp_path / "cfg" / "sign.yaml"
    path.write_text(
        "previewFeatures: [sign-artifacts]\ninput:\n  artifactsPath: ./a\n"
        "signingMethod:\n  ephemeral:\n    publicKeysPath: keys\n"
    )
    config = load_sign_artifacts_config(path)
    assert resolve_artifacts_path(config, path, None) == tmp_path / "cfg" / "a"
    assert resolve_public_keys_path(config, path, None) == tmp_path / "cfg" / "keys"
    # flags win and stay relative to the working directory
    assert resolve_artifacts_path(config, path, "x/y") == Path("x/y")
    assert resolve_public_keys_path(config, path, "k") == Path("k")
    # a bare config file name keeps config paths relative to the working directory
    assert resolve_artifacts_path(config, Path("sign.yaml"), None) == Path("a")
    # absolute config paths are kept
    path.write_text(
        "previewFeatures: [sign-artifacts]\ninput:\n  artifactsPath: /abs/a\n"
        "signingMethod:\n  ephemeral: {}\n"
    )
    config = load_sign_artifacts_config(path)
    assert resolve_artifacts_path(config, path, None) == Path("/abs/a")


def test_missing_paths_errors(tmp_path: Path) -> None:
    path = load(tmp_path, "previewFeatures: [sign-artifacts]\nsigningMethod:\n  ephemeral: {}\n")
    config = load_sign_artifacts_config(path)
    with pytest.raises(ConfigError, match=r"^no artifacts path provided$"):
        resolve_artifacts_path(config, path, None)
    with pytest.raises(
        ConfigError, match=r"^no public keys path provided for ephemeral keys signing method$"
    ):
        resolve_public_keys_path(config, path, None)


def test_public_keys_flag_needs_ephemeral(tmp_path: Path) -> None:
    path = load(
        tmp_path,
        "previewFeatures: [sign-artifacts]\nsigningMethod:\n  key: {keyPath: k, certPath: c}\n",
    )
    config = load_sign_artifacts_config(path)
    assert resolve_public_keys_path(config, path, None) is None
    with pytest.raises(ConfigError, match="cannot specify --ephemeral-public-keys-path if eph"):
        resolve_public_keys_path(config, path, "keys")


def test_inject_files_as_image_customizer_writes_it(tmp_path: Path) -> None:
    path = load(
        tmp_path,
        inject_yaml([("./shim/bootx64.efi", "/EFI/BOOT/bootx64.efi", "shim")]),
        "inject-files.yaml",
    )
    config = load_inject_files(path)
    [entry] = config.inject_files
    assert (entry.source, entry.destination, entry.type) == (
        "./shim/bootx64.efi",
        "/EFI/BOOT/bootx64.efi",
        "shim",
    )
    assert entry.partition.id_type == "part-uuid"


def test_inject_files_empty_list_is_valid(tmp_path: Path) -> None:
    path = load(tmp_path, "injectFiles: []\npreviewFeatures: [inject-files]\n", "i.yaml")
    assert load_inject_files(path).inject_files == []


ENTRY = "injectFiles:\n- partition: {idType: %s, id: '%s'}\n  source: '%s'\n  destination: '%s'\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "injectFiles: []\n",
            "invalid inject-files.yaml file:\nthe 'inject-files' feature is currently in "
            "preview; please add 'inject-files' to 'previewFeatures' to enable it",
        ),
        (
            ENTRY % ("part-uuid", "x", "", "/d") + "previewFeatures: [inject-files]\n",
            "invalid inject-files.yaml file:\ninjectFiles[0] is invalid:\n"
            "source or destination is empty",
        ),
        (
            ENTRY % ("part-uuid", "", "./s", "/d") + "previewFeatures: [inject-files]\n",
            "invalid inject-files.yaml file:\ninjectFiles[0] is invalid:\ninvalid partition:\n"
            "partition id is empty",
        ),
        (
            ENTRY % ("label", "x", "./s", "/d") + "previewFeatures: [inject-files]\n",
            "invalid inject-files.yaml file:\ninjectFiles[0] is invalid:\ninvalid partition:\n"
            "invalid mount id type:\ninvalid value (label)",
        ),
    ],
)
def test_inject_files_validation(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_inject_files(load(tmp_path, text, "inject-files.yaml"))
    assert info.value.message == expected


def test_inject_files_unknown_key_and_missing_file(tmp_path: Path) -> None:
    path = load(tmp_path, "injectFiles:\n- sauce: x\npreviewFeatures: [inject-files]\n", "i.yaml")
    with pytest.raises(ConfigError, match="field sauce not found in type InjectArtifactMetadata"):
        load_inject_files(path)
    with pytest.raises(ConfigError) as info:
        load_inject_files(tmp_path / "none" / "inject-files.yaml")
    assert info.value.message == (
        "failed to read inject-files.yaml file:\n"
        f"open {tmp_path}/none/inject-files.yaml: no such file or directory"
    )


def test_examples_are_valid() -> None:
    from tests.conftest import ROOT

    folder = ROOT / "examples/sign-artifacts"
    for name in ("sign-artifacts.yaml", "sign-artifacts-key.yaml"):
        config = load_sign_artifacts_config(folder / name)
        assert resolve_artifacts_path(config, folder / name, None) == folder / "./out/artifacts"
    inject = load_inject_files(folder / "inject-files.example.yaml")
    assert [e.type for e in inject.inject_files] == ["ukis", "shim", "bootloader", "verity-hash"]
