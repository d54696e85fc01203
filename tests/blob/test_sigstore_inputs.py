"""`blob verify --sigstore-pubkey`: the blob and `--signature` as cosign's verify-blob
takes them: a file, `-` (stdin), an http(s) URL (a real loopback HTTP server), `env://VAR`,
a `sha256:<hex>` digest (bundles only, never for Ed25519), a literal base64 signature."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.blob.conftest import BlobHost
from tests.conftest import cli_env, run_ocisign
from tests.fixtures.pki import Files

BLOB = b"test blob commands"  # blobFile.txt of the host fixture


@pytest.fixture
def signed(host: BlobHost) -> BlobHost:
    """The host with a cosign key pair, blobFile.txt signed: blob.sig and blob.sigstore.json."""
    (host.work / "pass.txt").write_text("hunter2")
    done = host.run("key", "generate-pair", "--passphrase-file", "pass.txt")
    assert done.returncode == 0, done.stderr
    done = host.run("blob", "sign", "--sigstore-key", "cosign.key", "--sigstore-passphrase-file",
                    "pass.txt", "--bundle", "blob.sigstore.json", "--output-signature",
                    "blob.sig", "blobFile.txt")
    assert done.returncode == 0, done.stderr
    return host


@pytest.fixture
def served(pki_files: Files) -> Iterator[Files]:
    """The loopback HTTP server, its paths removed afterwards."""
    before = set(pki_files.files)
    yield pki_files
    for path in set(pki_files.files) - before:
        del pki_files.files[path]


def verify(host: BlobHost, *args: str, input: str | None = None,
           **env: str) -> subprocess.CompletedProcess[str]:
    argv = ("blob", "verify", "--sigstore-pubkey", "cosign.pub", *args)
    if env:
        return run_ocisign(*argv, env=cli_env(OCISIGN_CONFIG_DIR=str(host.config), **env),
                           cwd=host.work)
    return host.run(*argv, input=input)


def failed(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_blob_from_stdin(signed: BlobHost) -> None:
    for args, mismatch in ((("--bundle", "blob.sigstore.json"), "does not match the artifact"),
                           (("-s", "blob.sig"), "does not verify")):
        done = verify(signed, *args, "-", input=BLOB.decode())
        assert done.returncode == 0 and done.stderr == "Verified OK\n", done.stderr
        assert mismatch in failed(verify(signed, *args, "-", input="other bytes"))


def test_blob_and_signature_from_a_url(signed: BlobHost, served: Files) -> None:
    served.files["/dl/blobFile.txt"] = BLOB
    served.files["/dl/blob.sig"] = (signed.work / "blob.sig").read_bytes()
    url = served.url + "/dl/blobFile.txt"
    for args in (("--bundle", "blob.sigstore.json"), ("-s", served.url + "/dl/blob.sig")):
        done = verify(signed, *args, url)
        assert done.returncode == 0, done.stderr
    assert served.hits["/dl/blobFile.txt"] == 2
    served.files["/dl/blobFile.txt"] = b"swapped by the server"
    assert "does not match the artifact" in failed(verify(signed, "--bundle",
                                                          "blob.sigstore.json", url))
    line = failed(verify(signed, "--bundle", "blob.sigstore.json", served.url + "/dl/missing"))
    assert "status code: 404" in line, line
    served.files["/dl/huge.sig"] = b"A" * (1024 * 1024 + 1)
    line = failed(verify(signed, "-s", served.url + "/dl/huge.sig", "blobFile.txt"))
    assert "exceeds the limit" in line, line
    line = failed(verify(signed, "--bundle", "blob.sigstore.json", "ftp://127.0.0.1/x"))
    assert "unrecognized scheme: ftp://" in line, line


def test_blob_from_an_environment_variable(signed: BlobHost) -> None:
    done = verify(signed, "--bundle", "blob.sigstore.json", "env://THE_BLOB",
                  THE_BLOB=BLOB.decode())
    assert done.returncode == 0, done.stderr
    assert "env var $NOT_SET_HERE not found" in failed(
        verify(signed, "--bundle", "blob.sigstore.json", "env://NOT_SET_HERE"))


def test_digest_instead_of_the_blob(signed: BlobHost) -> None:
    digest = "sha256:" + hashlib.sha256(BLOB).hexdigest()
    done = verify(signed, "--bundle", "blob.sigstore.json", digest)
    assert done.returncode == 0 and done.stderr == "Verified OK\n", done.stderr
    other = "sha256:" + hashlib.sha256(b"other").hexdigest()
    assert "does not match the artifact" in failed(
        verify(signed, "--bundle", "blob.sigstore.json", other))
    sha512 = "sha512:" + hashlib.sha512(BLOB).hexdigest()
    assert "not sha512" in failed(verify(signed, "--bundle", "blob.sigstore.json", sha512))
    # a bare signature is checked over the bytes: no digest form, the read error stands
    assert "failed to read the blob" in failed(verify(signed, "-s", "blob.sig", digest))
    # a malformed digest is just an unreadable path
    assert "failed to read the blob" in failed(
        verify(signed, "--bundle", "blob.sigstore.json", digest[:-1]))
    # a file of that name is read as the blob, as cosign reads it first
    (signed.work / digest).write_bytes(BLOB)
    assert verify(signed, "--bundle", "blob.sigstore.json", digest).returncode == 0


def test_digest_is_refused_for_ed25519(host: BlobHost) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    (host.work / "ed.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (host.work / "cosign.pub").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    done = host.run("blob", "sign", "--sigstore-key", "ed.key", "--bundle", "ed.json",
                    "blobFile.txt")
    assert done.returncode == 0, done.stderr
    assert verify(host, "--bundle", "ed.json", "blobFile.txt").returncode == 0
    digest = "sha256:" + hashlib.sha256(BLOB).hexdigest()
    assert "Ed25519 signature needs the artifact" in failed(
        verify(host, "--bundle", "ed.json", digest))


def test_literal_base64_signature(signed: BlobHost) -> None:
    literal = (signed.work / "blob.sig").read_text()
    done = verify(signed, "-s", literal, "blobFile.txt")
    assert done.returncode == 0, done.stderr
    assert "does not verify" in failed(verify(signed, "-s", literal[:-8] + "AAAAAAA=",
                                              "blobFile.txt"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_signature_file_is_not_a_literal(signed: BlobHost) -> None:
    """cosign takes the value as the signature only when no such file exists."""
    locked = signed.work / "locked.sig"
    locked.write_bytes((signed.work / "blob.sig").read_bytes())
    locked.chmod(0)
    assert "failed to read the signature" in failed(
        verify(signed, "-s", "locked.sig", "blobFile.txt"))


def test_notation_blob_verify_keeps_paths(host: BlobHost) -> None:
    """Without --sigstore-pubkey the blob is a path, as notation's: `-` is a file name."""
    done = host.run("blob", "verify", "-s", "blobFile.txt.jws.sig", "-", input="x")
    assert done.returncode == 1 and "No such file" in done.stderr, done.stderr
