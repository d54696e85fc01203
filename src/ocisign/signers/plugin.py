"""Signing through a notation plugin (plugin contract 1.0, notation.md §8).

A plugin ``<name>`` is the executable ``plugins/<name>/notation-<name>``; each command runs
it once as ``notation-<name> <command>`` with a JSON request on stdin and a JSON answer
on stdout (error JSON on stderr with a non-zero exit). Nothing secret goes into argv:
the key id and plugin config travel on stdin.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import stat
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from cryptography import x509

from ocisign.config import paths
from ocisign.errors import PluginError, SignatureError
from ocisign.keys.algorithms import Scheme, key_spec, key_spec_of
from ocisign.oci import NOTARY_PAYLOAD
from ocisign.util.encoding import decode_std

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

CONTRACT_VERSION = "1.0"
CAP_RAW = "SIGNATURE_GENERATOR.RAW"
CAP_ENVELOPE = "SIGNATURE_GENERATOR.ENVELOPE"
CAP_TRUSTED_IDENTITY = "SIGNATURE_VERIFIER.TRUSTED_IDENTITY"
CAP_REVOCATION = "SIGNATURE_VERIFIER.REVOCATION_CHECK"
DEFAULT_TIMEOUT = 60.0
MAX_OUTPUT = 64 * 1024 * 1024
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
# registry credentials and key passphrases read from the environment: a plugin is someone
# else's code and gets none of them (notation unsets NOTATION_USERNAME/PASSWORD likewise)
SECRET_ENV = frozenset({
    "NOTATION_USERNAME", "NOTATION_PASSWORD", "OCISIGN_USERNAME", "OCISIGN_PASSWORD",
    "COSIGN_PASSWORD", "OCISIGN_KEY_PASSPHRASE", "OCISIGN_PKCS11_PIN", "COSIGN_PKCS11_PIN",
})


def plugin_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a plugin process runs with: ours minus :data:`SECRET_ENV`."""
    env = os.environ if env is None else env
    return {k: v for k, v in env.items() if k not in SECRET_ENV}


@dataclass(frozen=True)
class PluginMetadata:
    """The validated answer to ``get-plugin-metadata``."""

    name: str
    description: str
    version: str
    url: str
    supported_contract_versions: list[str]
    capabilities: list[str]


def plugin_path(name: str, plugins_dir: Path | None = None) -> Path:
    """Where plugin ``name`` must live: ``<plugins dir>/<name>/notation-<name>``."""
    if not _NAME.match(name) or name in (".", ".."):
        raise PluginError(f"invalid plugin name {name!r}", hint="names match [A-Za-z0-9_.-]+")
    if plugins_dir is None:
        plugins_dir = paths.plugins_dir()
    return plugins_dir / name / f"notation-{name}"


def find_plugin(name: str, plugins_dir: Path | None = None) -> Path:
    """The plugin executable; PluginError unless it is a regular executable file."""
    path = plugin_path(name, plugins_dir)
    try:
        info = path.lstat()
    except OSError:
        raise PluginError(
            f"plugin {name!r} is not installed: {path} does not exist",
            hint=f"install the plugin executable as {path}",
        ) from None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        raise PluginError(f"plugin {name!r}: {path} must be a regular file, not a symlink")
    if not os.access(path, os.X_OK):
        raise PluginError(f"plugin {name!r}: {path} is not executable", hint=f"chmod +x {path}")
    return path


def _reader(stream: IO[bytes], sink: bytearray, cap: int, on_overflow: Any) -> None:
    while chunk := stream.read(65536):
        sink.extend(chunk)
        if len(sink) > cap:
            on_overflow()
            return


def _writer(stream: IO[bytes], data: bytes) -> None:
    try:
        stream.write(data)
        stream.close()
    except OSError:
        pass  # the plugin exited without reading; its exit status tells why


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the plugin and anything it started
    except OSError:
        proc.kill()


def run_plugin(
    executable: Path,
    command: str,
    request: Mapping[str, Any],
    timeout: float,
    cap: int = MAX_OUTPUT,
) -> dict[str, Any]:
    """Run one plugin command; the parsed JSON answer, or PluginError with the reason."""
    name = executable.name.removeprefix("notation-")
    try:
        proc = subprocess.Popen(
            [str(executable), command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=plugin_environment(),
            start_new_session=True,
        )
    except OSError as exc:
        raise PluginError(f"plugin {name!r} cannot be run: {exc.strerror or exc}") from None
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    out, err = bytearray(), bytearray()
    overflow = threading.Event()

    def on_overflow() -> None:
        overflow.set()
        _kill(proc)

    threads = [
        threading.Thread(target=_writer, args=(proc.stdin, json.dumps(request).encode())),
        threading.Thread(target=_reader, args=(proc.stdout, out, cap, on_overflow)),
        threading.Thread(target=_reader, args=(proc.stderr, err, cap, on_overflow)),
    ]
    for thread in threads:
        thread.daemon = True
        thread.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill(proc)
        proc.wait()
    for thread in threads:
        thread.join(timeout=5)
    for stream in (proc.stdout, proc.stderr):
        stream.close()
    if timed_out:
        raise PluginError(
            f"plugin {name!r} {command} did not answer within {timeout:g} s and was stopped",
            hint="check the plugin and the service behind it, or raise the plugin timeout",
        )
    if overflow.is_set():
        raise PluginError(f"plugin {name!r} {command}: its output exceeds {cap} bytes")
    if proc.returncode != 0:
        raise _plugin_failure(name, command, proc.returncode, bytes(err))
    try:
        answer = json.loads(bytes(out))
    except (ValueError, UnicodeDecodeError):
        raise PluginError(f"plugin {name!r} {command} returned malformed JSON") from None
    if not isinstance(answer, dict):
        raise PluginError(f"plugin {name!r} {command} returned JSON that is not an object")
    return answer


def _plugin_failure(name: str, command: str, code: int, stderr: bytes) -> PluginError:
    if not stderr.strip():
        return PluginError(f"plugin {name!r} {command} failed with exit code {code}")
    try:
        error = json.loads(stderr)
        error_code, message = error["errorCode"], error["errorMessage"]
        if not isinstance(error_code, str) or not isinstance(message, str):
            raise TypeError
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return PluginError(
            f"plugin {name!r} {command} failed with exit code {code} and a malformed error response"
        )
    return PluginError(f"plugin {name!r} {command} failed: {error_code}: {message}")


def _text(answer: Mapping[str, Any], field: str, where: str) -> str:
    value = answer.get(field)
    if not isinstance(value, str) or not value:
        raise PluginError(f"{where}: the plugin's answer has no valid {field!r}")
    return value


def _b64(value: object, field: str, where: str) -> bytes:
    return decode_std(value, f"{where}: {field!r}", PluginError)


def parse_metadata(answer: Mapping[str, Any], name: str) -> PluginMetadata:
    """Validate a ``get-plugin-metadata`` answer for plugin ``name``."""
    where = f"plugin {name!r} get-plugin-metadata"
    fields = {f: _text(answer, f, where) for f in ("name", "description", "version", "url")}
    if fields["name"] != name:
        raise PluginError(f"{where}: the plugin calls itself {fields['name']!r}")
    versions = answer.get("supportedContractVersions")
    capabilities = answer.get("capabilities")
    for field, value in (("supportedContractVersions", versions), ("capabilities", capabilities)):
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise PluginError(f"{where}: {field!r} must be a non-empty list of strings")
    assert isinstance(versions, list) and isinstance(capabilities, list)
    if CONTRACT_VERSION not in versions:
        raise PluginError(
            f"{where}: the plugin supports contract versions {versions}, not {CONTRACT_VERSION}"
        )
    return PluginMetadata(
        fields["name"],
        fields["description"],
        fields["version"],
        fields["url"],
        list(versions),
        list(capabilities),
    )


class _Plugin:
    """A discovered plugin and one of its keys: metadata read, config attached."""

    def __init__(
        self,
        plugin_name: str,
        key_id: str,
        plugin_config: Mapping[str, str] | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        plugins_dir: Path | None = None,
        metadata: PluginMetadata | None = None,
    ) -> None:
        self.plugin_name = self.name = plugin_name
        self.key_id = key_id
        self.plugin_config = dict(plugin_config or {})
        self.timeout = timeout
        self.executable = find_plugin(plugin_name, plugins_dir)
        self.metadata = metadata or parse_metadata(
            self._run("get-plugin-metadata", self._with_config({})), plugin_name
        )
        self.signing_agent_suffix = f" {plugin_name}/{self.metadata.version}"

    def _with_config(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.plugin_config:
            request["pluginConfig"] = self.plugin_config
        return request

    def _run(self, command: str, request: dict[str, Any]) -> dict[str, Any]:
        return run_plugin(self.executable, command, request, self.timeout)

    def _request(self, **fields: Any) -> dict[str, Any]:
        return self._with_config(
            {"contractVersion": CONTRACT_VERSION, "keyId": self.key_id, **fields}
        )


def plugin_signer(
    plugin_name: str,
    key_id: str,
    plugin_config: Mapping[str, str] | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    plugins_dir: Path | None = None,
) -> PluginSigner | PluginEnvelopeSigner:
    """The signer for a plugin key: RAW (preferred) or ENVELOPE, as the plugin advertises.

    From a key-store entry ``{"name", "id", "pluginName", "pluginConfig"}``. Runs
    ``get-plugin-metadata`` (and ``describe-key`` for a RAW signer).
    """
    probe = _Plugin(plugin_name, key_id, plugin_config, timeout=timeout, plugins_dir=plugins_dir)
    caps = probe.metadata.capabilities
    kind: type[PluginSigner] | type[PluginEnvelopeSigner]
    if CAP_RAW in caps:
        kind = PluginSigner
    elif CAP_ENVELOPE in caps:
        kind = PluginEnvelopeSigner
    else:
        raise PluginError(
            f"plugin {plugin_name!r} cannot sign: its capabilities are {caps}",
            hint=f"a signing plugin advertises {CAP_RAW} or {CAP_ENVELOPE}",
        )
    return kind(plugin_name, key_id, plugin_config, timeout=timeout, plugins_dir=plugins_dir,
                metadata=probe.metadata)


class PluginSigner(_Plugin):
    """A primitive :class:`~ocisign.signers.base.Signer`: the plugin signs raw bytes
    (``SIGNATURE_GENERATOR.RAW``). Construction runs ``describe-key``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if CAP_RAW not in self.metadata.capabilities:
            raise PluginError(f"plugin {self.plugin_name!r} does not sign raw bytes",
                              hint=f"its capabilities are {self.metadata.capabilities}")
        self._chain: list[x509.Certificate] | None = None
        self._key_spec = self._describe_key()

    def _describe_key(self) -> str:
        where = f"plugin {self.plugin_name!r} describe-key"
        answer = self._run("describe-key", self._request())
        if answer.get("keyId") != self.key_id:
            raise PluginError(f"{where}: answered for key {answer.get('keyId')!r}, not ours")
        spec = _text(answer, "keySpec", where)
        try:
            return key_spec(spec).name
        except SignatureError:
            raise PluginError(f"{where}: unsupported keySpec {spec!r}") from None

    def key_spec(self) -> str:
        return self._key_spec

    def certificate_chain(self) -> list[x509.Certificate]:
        if self._chain is None:
            raise PluginError("the plugin's certificate chain is known only after signing")
        return list(self._chain)

    def public_key(self) -> PublicKeyTypes:
        return self.certificate_chain()[0].public_key()

    def sign(self, data: bytes, scheme: Scheme = Scheme.NOTARY) -> bytes:
        """``generate-signature``: the plugin hashes and signs ``data``."""
        where = f"plugin {self.plugin_name!r} generate-signature"
        if scheme is not Scheme.NOTARY:
            raise PluginError(f"plugin {self.plugin_name!r} makes Notary Project signatures "
                              "only", hint="sign other formats with a local or token key")
        spec = key_spec(self.key_spec())
        answer = self._run(
            "generate-signature",
            self._request(
                keySpec=spec.name,
                hashAlgorithm=spec.hash_name,
                payload=base64.b64encode(data).decode("ascii"),
            ),
        )
        if answer.get("keyId") != self.key_id:
            raise PluginError(f"{where}: answered for key {answer.get('keyId')!r}, not ours")
        if answer.get("signingAlgorithm") != spec.signing_algorithm:
            raise PluginError(
                f"{where}: signingAlgorithm {answer.get('signingAlgorithm')!r} does not match "
                f"the key spec {spec.name} ({spec.signing_algorithm})"
            )
        signature = _b64(answer.get("signature"), "signature", where)
        ders = answer.get("certificateChain")
        if not isinstance(ders, list) or not ders:
            raise PluginError(f"{where}: no certificateChain in the answer")
        try:
            chain = [
                x509.load_der_x509_certificate(_b64(d, "certificateChain", where)) for d in ders
            ]
        except ValueError:
            raise PluginError(
                f"{where}: certificateChain holds an unreadable certificate"
            ) from None
        try:
            leaf_spec = key_spec_of(chain[0].public_key()).name
        except SignatureError as exc:
            raise PluginError(f"{where}: leaf certificate: {exc.message}") from None
        if leaf_spec != spec.name:
            raise PluginError(f"{where}: the leaf certificate key is {leaf_spec}, not {spec.name}")
        self._chain = chain
        return signature


class PluginEnvelopeSigner(_Plugin):
    """An :class:`~ocisign.signers.base.EnvelopeSigner`: the plugin builds whole envelopes
    (``SIGNATURE_GENERATOR.ENVELOPE``); the caller parses and checks what comes back."""

    def generate_envelope(
        self, payload: bytes, envelope_type: str, expiry_seconds: int | None
    ) -> tuple[bytes, dict[str, str]]:
        """``generate-envelope`` over ``payload``: the envelope and its manifest annotations."""
        where = f"plugin {self.plugin_name!r} generate-envelope"
        if CAP_ENVELOPE not in self.metadata.capabilities:
            raise PluginError(f"plugin {self.plugin_name!r} does not generate envelopes")
        fields: dict[str, Any] = {
            "payloadType": NOTARY_PAYLOAD,
            "signatureEnvelopeType": envelope_type,
            "payload": base64.b64encode(payload).decode("ascii"),
        }
        if expiry_seconds:
            fields["expiryDurationInSeconds"] = expiry_seconds
        answer = self._run("generate-envelope", self._request(**fields))
        if answer.get("signatureEnvelopeType") != envelope_type:
            raise PluginError(
                f"{where}: returned a {answer.get('signatureEnvelopeType')!r} envelope, "
                f"asked for {envelope_type}"
            )
        envelope = _b64(answer.get("signatureEnvelope"), "signatureEnvelope", where)
        annotations = answer.get("annotations") or {}
        if not isinstance(annotations, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()
        ):
            raise PluginError(f"{where}: annotations must map strings to strings")
        return envelope, dict(annotations)


class PluginVerifier(_Plugin):
    """A verification plugin: ``verify-signature`` for the capabilities asked of it."""

    TRUSTED_IDENTITY = CAP_TRUSTED_IDENTITY
    REVOCATION = CAP_REVOCATION

    def __init__(self, plugin_name: str, plugin_config: Mapping[str, str] | None = None, *,
                 timeout: float = DEFAULT_TIMEOUT, plugins_dir: Path | None = None) -> None:
        super().__init__(plugin_name, "", plugin_config, timeout=timeout,
                         plugins_dir=plugins_dir)

    def verify_signature(
        self, signature: Mapping[str, Any], trusted_identities: list[str],
        capabilities: list[str],
    ) -> tuple[dict[str, tuple[bool, str]], list[str]]:
        """Run ``verify-signature``: ({capability: (success, reason)}, processed attributes)."""
        where = f"plugin {self.name!r} verify-signature"
        answer = self._run("verify-signature", self._with_config({
            "contractVersion": CONTRACT_VERSION,
            "signature": dict(signature),
            "trustPolicy": {"trustedIdentities": trusted_identities,
                            "signatureVerification": capabilities},
        }))
        results = answer.get("verificationResults")
        processed = answer.get("processedAttributes") or []
        if not isinstance(results, dict) or not isinstance(processed, list):
            raise PluginError(f"{where}: the answer needs verificationResults (an object) and "
                              "processedAttributes (a list)")
        out: dict[str, tuple[bool, str]] = {}
        for capability, result in results.items():
            if not isinstance(result, dict) or not isinstance(result.get("success"), bool):
                raise PluginError(f"{where}: the result for {capability!r} has no boolean "
                                  "'success'")
            out[str(capability)] = (result["success"], str(result.get("reason") or ""))
        return out, [str(name) for name in processed]


# ------------------------------------------------------------- managing plugins

MAX_PLUGIN_BYTES = 256 * 1024 * 1024  # notation's osutil.MaxFileBytes
_PREFIX = "notation-"


def read_metadata(name: str, plugins_dir: Path | None = None,
                  timeout: float = DEFAULT_TIMEOUT) -> PluginMetadata:
    """Find plugin ``name`` and validate its ``get-plugin-metadata`` answer."""
    return parse_metadata(run_plugin(find_plugin(name, plugins_dir), "get-plugin-metadata", {},
                                     timeout), name)


def installed_plugins(plugins_dir: Path | None = None) -> list[str]:
    """The names of the folders under the plugins dir (each should hold one plugin)."""
    root = plugins_dir if plugins_dir is not None else paths.plugins_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.is_symlink())


def _version(text: str) -> tuple[int, ...] | None:
    match = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(g) for g in match.groups()) if match else None


def _entries(source: Path, stack: contextlib.ExitStack) -> list[tuple[str, int, Any]]:
    """(name, size, read) of each file of a ``.zip``/``.tar.gz`` archive (open until
    ``stack`` closes); directories are skipped, links and devices refused."""
    import tarfile
    import zipfile

    if zipfile.is_zipfile(source):
        archive = stack.enter_context(zipfile.ZipFile(source))
        return [(i.filename, i.file_size, lambda i=i: archive.read(i))
                for i in archive.infolist() if not i.is_dir()]
    try:
        tar = stack.enter_context(tarfile.open(source, "r:gz"))  # noqa: SIM115 - the stack
    except (tarfile.TarError, OSError):
        raise PluginError(f"{source} is neither a plugin executable nor a .zip or .tar.gz "
                          "archive") from None
    out = []
    for member in tar.getmembers():
        if member.isdir():
            continue
        if not member.isreg():
            raise PluginError(f"{member.name!r} in the archive is not a regular file")
        out.append((member.name, member.size,
                    lambda m=member: tar.extractfile(m).read()))  # type: ignore[union-attr]
    return out


def _extract(source: Path, into: Path) -> None:
    """Unpack a plugin archive: regular files only, no path leaving ``into``, at most
    :data:`MAX_PLUGIN_BYTES` in all."""
    total = 0
    with contextlib.ExitStack() as stack:
        for text, size, read in _entries(source, stack):
            name = Path(text)
            if ".." in name.parts or name.is_absolute():
                raise PluginError(
                    f"file name in the archive cannot contain '..', but found {text!r}")
            total += size
            if total > MAX_PLUGIN_BYTES:
                raise PluginError("total file size reached the 256 MiB size limit")
            (into / name.name).write_bytes(read())


def install_plugin(
    source: Path, *, force: bool = False, plugins_dir: Path | None = None
) -> tuple[PluginMetadata, str | None]:
    """``notation plugin install --file``: an executable ``notation-<name>`` or an archive
    holding exactly one. The plugin must answer ``get-plugin-metadata`` with its own name
    before anything is installed; a lower or equal version needs ``force``. Returns the
    new metadata and the version it replaced (None for a new install)."""
    import shutil
    import tempfile

    root = plugins_dir if plugins_dir is not None else paths.plugins_dir()
    if not source.is_file():
        raise PluginError(f"plugin installation failed: {source} is not a valid file")
    with tempfile.TemporaryDirectory(prefix="ocisign-plugin-") as tmp:
        staging = Path(tmp)
        if source.name.startswith(_PREFIX) and not source.name.endswith((".zip", ".gz", ".tgz")):
            shutil.copyfile(source, staging / source.name)
        else:
            _extract(source, staging)
        found = [p for p in staging.iterdir() if p.name.startswith(_PREFIX)]
        if len(found) != 1:
            raise PluginError(
                f"plugin installation failed: expected exactly one plugin executable named "
                f"notation-<name>, found {len(found)}",
                hint="the plugin file (or the one file in the archive) is notation-<name>",
            )
        for file in staging.iterdir():
            file.chmod(0o700 if file == found[0] else 0o600)
        name = found[0].name.removeprefix(_PREFIX)
        metadata = parse_metadata(
            run_plugin(found[0], "get-plugin-metadata", {}, DEFAULT_TIMEOUT), name)
        old: str | None = None
        target = root / name
        if target.exists():
            try:
                old = read_metadata(name, root).version
            except PluginError:
                old = ""  # a broken install is replaced
            new_v, old_v = _version(metadata.version), _version(old)
            if old and not force and new_v is not None and old_v is not None:
                if new_v < old_v:
                    raise PluginError(
                        f"failed to install plugin {name}. The installing plugin version "
                        f"{metadata.version} is lower than the existing plugin version {old}",
                        hint='It is not recommended to install an older version. To force the '
                        'installation, use the "--force" option')
                if new_v == old_v:
                    raise PluginError(f"plugin {name} with version {old} already exists",
                                      hint='use "--force" to install it again')
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        target.mkdir(mode=0o700)
        for file in staging.iterdir():
            shutil.copy2(file, target / file.name)
        return metadata, old


def uninstall_plugin(name: str, plugins_dir: Path | None = None) -> Path:
    """Remove the folder of plugin ``name``."""
    import shutil

    folder = plugin_path(name, plugins_dir).parent
    if not folder.is_dir():
        raise PluginError(f"unable to find plugin {name}.",
                          hint="To view a list of installed plugins, use `notation plugin list`")
    shutil.rmtree(folder)
    return folder
