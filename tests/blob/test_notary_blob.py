"""`ocisign blob sign|verify|inspect|policy` against notation's e2e cases and vectors.

Vectors: tests/data/blob/notation (notation 2a558558, see README.md there).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ocisign.envelopes.notary import parse_envelope
from tests.blob.conftest import BLOB_DATA, BlobHost

VECTORS = BLOB_DATA / "notation"


def test_sign_then_verify_jws_with_the_global_statement(host: BlobHost) -> None:
    signed = host.run("blob", "sign", "blobFile.txt")
    assert signed.returncode == 0, signed.stderr
    assert signed.stdout == ("Successfully signed blobFile.txt\n"
                             " Signature file written to blobFile.txt.jws.sig\n")
    sig = host.work / "blobFile.txt.jws.sig"
    assert sig.stat().st_mode & 0o777 == 0o600
    payload = json.loads(parse_envelope("application/jose+json", sig.read_bytes()).payload)
    target = payload["targetArtifact"]
    assert target["mediaType"] == "application/octet-stream"
    assert target["size"] == len("test blob commands")
    assert target["digest"].startswith("sha256:")
    assert "annotations" not in target
    done = host.run("blob", "verify", "--signature", "blobFile.txt.jws.sig", "blobFile.txt")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Successfully verified signature for blobFile.txt\n"


def test_cose_with_directory_metadata_media_type_and_policy_name(host: BlobHost) -> None:
    signed = host.run("blob", "sign", "--signature-format", "cose", "--signature-directory",
                      "sigs", "-m", "k1=v1", "-m", "k2=v2", "--media-type", "image/jpeg",
                      "--expiry", "24h", "blobFile.txt")
    assert signed.returncode == 0, signed.stderr
    sig = "sigs/blobFile.txt.cose.sig"
    assert (host.work / sig).is_file()
    assert (host.work / "sigs").stat().st_mode & 0o777 == 0o700
    done = host.run("blob", "verify", "-s", sig, "--policy-name", "test-blob-statement",
                    "--media-type", "image/jpeg", "-m", "k1=v1", "blobFile.txt")
    assert done.returncode == 0, done.stderr
    assert "The artifact was signed with the following user metadata." in done.stdout
    assert "KEY   VALUE\nk1    v1\nk2    v2\n" in done.stdout
    wrong = host.run("blob", "verify", "-s", sig, "--media-type", "image/png", "blobFile.txt")
    assert wrong.returncode == 1
    assert "integrity check failed. signature does not match the given blob" in wrong.stderr
    missing = host.run("blob", "verify", "-s", sig, "-m", "k1=other", "blobFile.txt")
    assert missing.returncode == 1
    assert "unable to find specified metadata in the signature" in missing.stderr


def test_digest_follows_the_key(host: BlobHost, tmp_path: Path) -> None:
    assert host.run("key", "generate", "p384", "--type", "ecdsa-p384").returncode == 0
    signed = host.run("blob", "sign", "-k", "p384", "blobFile.txt")
    assert signed.returncode == 0, signed.stderr
    sig = (host.work / "blobFile.txt.jws.sig").read_bytes()
    env = parse_envelope("application/jose+json", sig)
    assert env.target["digest"].startswith("sha384:")
    assert env.algorithm == "ES384"


def test_tampered_blob_wrong_key_and_unknown_policy(host: BlobHost) -> None:
    assert host.run("blob", "sign", "blobFile.txt").returncode == 0
    (host.work / "blobFile.txt").write_text("test blob commandz")
    done = host.run("blob", "verify", "-s", "blobFile.txt.jws.sig", "blobFile.txt")
    assert done.returncode == 1
    assert "signature does not match the given blob" in done.stderr
    (host.work / "blobFile.txt").write_text("test blob commands")
    assert host.run("key", "generate", "other").returncode == 0
    assert host.run("blob", "sign", "--force", "-k", "other", "blobFile.txt").returncode == 0
    done = host.run("blob", "verify", "-s", "blobFile.txt.jws.sig", "blobFile.txt")
    assert done.returncode == 1
    assert "signature verification failed: authenticity validation failed" in done.stderr
    done = host.run("blob", "verify", "-s", "blobFile.txt.jws.sig", "--policy-name", "nope",
                    "blobFile.txt")
    assert 'no applicable blob trust policy with name "nope"' in done.stderr


@pytest.mark.parametrize(("name", "message"), [
    ("blobFile.txt.jws.invalid", "The file extension must be .sig"),
    ("blobFile.sig", "must contain signature format and .sig file extension"),
    ("blobFile.txt.invalid.sig", 'signature format "invalid" not supported'),
])
def test_signature_file_names(host: BlobHost, name: str, message: str) -> None:
    assert host.run("blob", "sign", "blobFile.txt").returncode == 0
    shutil.copy(host.work / "blobFile.txt.jws.sig", host.work / name)
    done = host.run("blob", "verify", "-s", name, "blobFile.txt")
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_signature_and_missing_policy(host: BlobHost) -> None:
    done = host.run("blob", "verify", "blobFile.txt")
    assert done.returncode == 1
    assert "filepath of the signature cannot be empty" in done.stderr
    done = host.run("blob", "verify", "-s", "blobFile.txt.jws.sig", "blobFile.txt")
    assert done.returncode == 1 and "No such file" in done.stderr
    assert host.run("blob", "sign", "blobFile.txt").returncode == 0
    (host.config / "trustpolicy.blob.json").unlink()
    done = host.run("blob", "verify", "-s", "blobFile.txt.jws.sig", "blobFile.txt")
    assert done.returncode == 1
    assert "trust policy is not present" in done.stderr


def test_sign_flag_errors(host: BlobHost) -> None:
    cases = [
        ((), "missing file path to the blob artifact"),
        (("",), "blob path cannot be empty"),
        (("--signature-directory", "", "blobFile.txt"), "signature directory cannot be empty"),
        (("--signature-format", "invalid", "blobFile.txt"), 'signature format "invalid"'),
        (("-k", "invalid", "blobFile.txt"), "invalid"),
        (("-m", "novalue", "blobFile.txt"), "could not parse flag user-metadata"),
        (("--plugin-config", "x", "blobFile.txt"), "could not parse flag plugin-config"),
        (("--timestamp-url", "http://x.test", "blobFile.txt"), "missing [timestamp-root-cert]"),
        (("--timestamp-root-cert", "r.crt", "blobFile.txt"), "missing [timestamp-url]"),
        (("--timestamp-url", "", "blobFile.txt"), "timestamping: tsa url cannot be empty"),
        (("nonexistent.txt",), "No such file"),
    ]
    for args, message in cases:
        done = host.run("blob", "sign", *args)
        assert done.returncode == 1, (args, done.stderr)
        assert message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr


def test_overwrite_prompt(host: BlobHost) -> None:
    assert host.run("blob", "sign", "blobFile.txt").returncode == 0
    sig = host.work / "blobFile.txt.jws.sig"
    before = sig.read_bytes()
    done = host.run("blob", "sign", "blobFile.txt", input="n\n")
    assert done.returncode == 0
    assert "The signature file already exists, do you want to overwrite it? [y/N] " in done.stdout
    assert "Operation cancelled." in done.stdout and sig.read_bytes() == before
    done = host.run("blob", "sign", "blobFile.txt", input="")
    assert "Operation cancelled." in done.stdout and sig.read_bytes() == before
    done = host.run("blob", "sign", "blobFile.txt", input="Y\n")
    assert "Successfully signed" in done.stdout and sig.read_bytes() != before
    done = host.run("blob", "sign", "--force", "blobFile.txt")
    assert "Warning: existing signature file will be overwritten" in done.stderr


@pytest.mark.parametrize("fmt", ["jws", "cose"])
def test_inspect_matches_notation_exactly(host: BlobHost, fmt: str) -> None:
    sig = str(VECTORS / f"blob.{fmt}.sig")
    tree = (VECTORS / f"blob.{fmt}.inspect.tree").read_text().replace("{SIG}", sig)
    done = host.run("blob", "inspect", sig)
    assert done.returncode == 0, done.stderr
    assert done.stdout == tree
    done = host.run("blob", "inspect", "-o", "json", sig)
    assert done.stdout == (VECTORS / f"blob.{fmt}.inspect.json").read_text()


def test_inspect_errors(host: BlobHost) -> None:
    for args, message in [
        ((), "missing signature path"),
        (("--output", "unknown", str(VECTORS / "blob.jws.sig")), "unrecognized output format"),
        (("unknown.sig",), "invalid signature filename"),
        (("hello.unknown.sig",), 'signature format "unknown" not supported'),
        ((str(VECTORS / "malformed.jws.sig"),), "failed to parse signature"),
    ]:
        done = host.run("blob", "inspect", *args)
        assert done.returncode == 1 and message in done.stderr, (args, done.stderr)


def test_notation_vector_verifies_under_permissive_policy(host: BlobHost) -> None:
    """The e2e vector signs notation's LICENSE; its leaf expired, so strict fails and
    permissive passes with the timestamp/expiry checks logged."""
    sig = VECTORS / "blob.jws.sig"
    leaf = parse_envelope("application/jose+json", sig.read_bytes()).cert_chain[0]
    store = host.config / "truststore" / "x509" / "ca" / "vec"
    store.mkdir(parents=True)
    (store / "leaf.crt").write_bytes(leaf.public_bytes(Encoding.PEM))
    statement = {"name": "p", "signatureVerification": {"level": "%s"},
                 "trustStores": ["ca:vec"], "trustedIdentities": ["*"], "globalPolicy": True}
    for level, rc in (("strict", 1), ("permissive", 0)):
        host.policy(json.dumps({"version": "1.0", "trustPolicies": [
            json.loads(json.dumps(statement).replace("%s", level))]}))
        done = host.run("blob", "verify", "-s", str(sig), str(VECTORS / "LICENSE.blob"))
        assert done.returncode == rc, (level, done.stderr)
    assert "Warning: " in done.stderr and "Successfully verified" in done.stdout
    assert isinstance(leaf, x509.Certificate)


SCENARIO_POLICY = """{
  "version": "1.0",
  "trustPolicies": [
    {
      "name": "testpolicy",
      "signatureVerification": {
        "level": "strict"
      },
      "trustStores": [
        "ca:testcert"
      ],
      "trustedIdentities": [
        "x509.subject: CN=testcert,O=Notary,L=Seattle,ST=WA,C=US"
      ]
    }
  ]
}"""


def test_scenario_generate_sign_init_show_verify(host: BlobHost) -> None:
    """notation test/e2e/suite/scenario/blob.go."""
    assert host.run("key", "generate", "testcert", "--default").returncode == 0
    (host.work / "hello.txt").write_text("hello, world")
    assert host.run("blob", "sign", "hello.txt").returncode == 0
    (host.config / "trustpolicy.blob.json").unlink()
    done = host.run("blob", "policy", "init", "--name", "testpolicy", "--trust-store",
                    "ca:testcert", "--trusted-identity",
                    "x509.subject: CN=testcert,O=Notary,L=Seattle,ST=WA,C=US")
    assert done.returncode == 0, done.stderr
    assert "Successfully initialized blob trust policy file to" in done.stdout
    assert host.run("blob", "policy", "show").stdout == SCENARIO_POLICY
    done = host.run("blob", "verify", "--signature", "hello.txt.jws.sig", "--policy-name",
                    "testpolicy", "hello.txt")
    assert done.returncode == 0, done.stderr


def test_policy_init_global_and_refusals(host: BlobHost) -> None:
    args = ("blob", "policy", "init", "--name", "g", "--trust-store", "ca:a", "--trust-store",
            "tsa:b", "--trusted-identity", "x509.subject: C=US, ST=WA, O=x",
            "--trusted-identity", "x509.subject: C=US, ST=WA, O=y", "--global")
    done = host.run(*args, input="n\n")
    assert "already exists, do you want to overwrite it? [y/N]" in done.stdout
    assert "Operation cancelled." in done.stdout
    done = host.run(*args, "--force")
    assert done.returncode == 0, done.stderr
    doc = json.loads((host.config / "trustpolicy.blob.json").read_text())
    assert doc["trustPolicies"][0]["globalPolicy"] is True
    assert list(doc["trustPolicies"][0]) == ["name", "signatureVerification", "trustStores",
                                             "trustedIdentities", "globalPolicy"]
    assert not (host.config / "trustpolicy.blob.json").read_text().endswith("\n")
    for flag in ("--name", "--trust-store", "--trusted-identity"):
        tail = args[3:]
        rest = [a for i, a in enumerate(tail) if flag not in (a, tail[i - 1] if i else "")]
        done = host.run("blob", "policy", "init", *rest)
        assert done.returncode == 1 and f'required flag(s) "{flag[2:]}" not set' in done.stderr
    done = host.run("blob", "policy", "init", "--name", "n", "--trust-store", "ca:a",
                    "--trusted-identity", "x509.subject: CN=x", "--force")
    assert done.returncode == 1 and "invalid blob policy" in done.stderr


def test_policy_import_and_show(host: BlobHost, tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_bytes((VECTORS / "trustpolicy.blob.json").read_bytes())
    done = host.run("blob", "policy", "import", str(good), input="")
    assert "Operation cancelled." in done.stdout
    done = host.run("blob", "policy", "import", "--force", str(good))
    assert done.returncode == 0 and "Successfully imported blob trust policy" in done.stdout
    assert host.run("blob", "policy", "show").stdout == good.read_text()
    for doc, message in [
        ("{", "failed to parse blob trust policy configuration"),
        ('{"version": "1.0", "trustPolicies": [{"name": "a", "signatureVerification": '
         '{"level": "skip"}, "globalPolicy": true}]}',
         "cannot have verification level set to skip"),
        ('{"version": "1.0", "trustPolicies": [{"name": "a", "signatureVerification": '
         '{"level": "strict"}, "trustStores": ["ca"], "trustedIdentities": ["*"]}]}',
         "failed to validate blob trust policy configuration"),
        ('{"version": "1.0", "trustPolicies": []}', "can not have zero trust policy statements"),
    ]:
        bad = tmp_path / "bad.json"
        bad.write_text(doc)
        done = host.run("blob", "policy", "import", "--force", str(bad))
        assert done.returncode == 1 and message in done.stderr, (doc, done.stderr)
    done = host.run("blob", "policy", "import")
    assert done.returncode == 1 and "requires 1 argument but received 0." in done.stderr
    (host.config / "trustpolicy.blob.json").write_text('{"version": "2.0"}')
    done = host.run("blob", "policy", "show")
    assert done.returncode == 1
    assert done.stdout == '{"version": "2.0"}'
    assert "Existing blob trust policy configuration is invalid" in done.stderr
    # a malformed existing policy is overwritten without a prompt
    (host.config / "trustpolicy.blob.json").write_text("{")
    done = host.run("blob", "policy", "import", str(good))
    assert done.returncode == 0 and "[y/N]" not in done.stdout
    (host.config / "trustpolicy.blob.json").unlink()
    done = host.run("blob", "policy", "show")
    assert "failed to show blob trust policy as the configuration does not exist." in done.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_blob(host: BlobHost) -> None:
    (host.work / "blobFile.txt").chmod(0)
    done = host.run("blob", "sign", "blobFile.txt")
    assert done.returncode == 1 and "Permission denied" in done.stderr


def test_skip_statement_reserved_metadata_and_debug(host: BlobHost) -> None:
    assert host.run("blob", "sign", "blobFile.txt").returncode == 0
    done = host.run("blob", "sign", "-m", "io.cncf.notary.x=1", "--force", "blobFile.txt")
    assert done.returncode == 1
    assert "metadata key io.cncf.notary.x has reserved prefix io.cncf.notary" in done.stderr
    done = host.run("-d", "blob", "verify", "-s", "blobFile.txt.jws.sig", "blobFile.txt")
    assert done.returncode == 0, done.stderr
    assert "Verify signature of media type application/jose+json" in done.stderr
    host.policy('{"version": "1.0", "trustPolicies": [{"name": "skip", '
                '"signatureVerification": {"level": "skip"}}]}')
    (host.work / "blobFile.txt").write_text("changed")  # nothing is checked under skip
    done = host.run("blob", "verify", "-s", "blobFile.txt.jws.sig", "--policy-name", "skip",
                    "blobFile.txt")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ("Trust policy is configured to skip signature verification for "
                           "blobFile.txt\n")


def test_policy_keys_match_case_insensitively_as_go(host: BlobHost) -> None:
    """notation-go decodes trustpolicy.blob.json with encoding/json: member names match
    struct fields case-insensitively, the last of two such members wins, unknown members
    (here a malformed registryScopes) are ignored. Values stay case-sensitive."""
    statement = {
        "NAME": "first", "Name": "folded",
        "SignatureVerification": {"LEVEL": "strict", "VerifyTimestamp": "always"},
        "TRUSTSTORES": ["ca:e2e"], "trustedidentities": ["*"], "GlobalPolicy": True,
        "registryScopes": 5,
    }
    text = json.dumps({"Version": "1.0", "TrustPolicies": [statement]})
    text = text.replace('"NAME"', '"name"')  # exact and folded spellings of one field
    path = host.policy(text)
    assert host.run("blob", "sign", "blobFile.txt").returncode == 0
    done = host.run("blob", "verify", "-s", "blobFile.txt.jws.sig", "blobFile.txt")
    assert done.returncode == 0, done.stderr
    assert "Successfully verified" in done.stdout
    named = host.run("blob", "verify", "-s", "blobFile.txt.jws.sig", "--policy-name", "folded",
                     "blobFile.txt")
    assert named.returncode == 0, named.stderr
    first = host.run("blob", "verify", "-s", "blobFile.txt.jws.sig", "--policy-name", "first",
                     "blobFile.txt")
    assert first.returncode == 1 and 'no applicable blob trust policy with name "first"' in \
        first.stderr
    shown = host.run("blob", "policy", "show")
    assert shown.returncode == 0 and shown.stdout == text
    # a folded key still gets the checks: a wrong value is reported under its field
    path.write_text(text.replace('"strict"', '"Strict"'))
    bad = host.run("blob", "verify", "-s", "blobFile.txt.jws.sig", "blobFile.txt")
    assert bad.returncode == 1 and "Strict" in bad.stderr and "Traceback" not in bad.stderr
    # and a key that matches no field in any case is ignored, not an error
    path.write_text(text.replace('"trustedidentities"', '"trusted_identities"'))
    missing = host.run("blob", "verify", "-s", "blobFile.txt.jws.sig", "blobFile.txt")
    assert missing.returncode == 1 and "missing trustStores or trustedIdentities" in \
        missing.stderr
