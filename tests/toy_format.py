"""A toy signature format, registered by tests/test_formats.py to show the formats seam.

Its "signature" is an OCI artifact manifest (artifactType ``application/vnd.ocisign.toy``)
pushed as a referrer of the target, carrying the target digest as an annotation; its
checker passes a target that has one. No cryptography: it exercises the table, not a
format.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ocisign.batch import Status
from ocisign.formats import (
    Check,
    ImageResult,
    SignatureFormat,
    SignOptions,
    SignResult,
    ValidateRequest,
    Warn,
)
from ocisign.oci import EMPTY_JSON, OCI_EMPTY, OCI_MANIFEST, Descriptor
from ocisign.resolve.targets import Resolved, Target

ARTIFACT_TYPE = "application/vnd.ocisign.toy"
ANNOTATION = "dev.ocisign.toy/signed"


class ToyAttacher:
    def __init__(self, fmt: SignatureFormat) -> None:
        self.fmt = fmt

    def identity(self, resolved: Resolved) -> str:
        return ""

    def sign(self, resolved: Resolved, target: Target) -> SignResult:
        store, subject = resolved.store, target.descriptor.plain()
        config = store.push_blob(EMPTY_JSON, OCI_EMPTY)
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": ARTIFACT_TYPE,
            "config": config.to_dict(), "layers": [Descriptor.of(EMPTY_JSON, OCI_EMPTY).to_dict()],
            "subject": subject.to_dict(), "annotations": {ANNOTATION: subject.digest},
        }).encode()
        pushed = store.push_referrer(manifest, OCI_MANIFEST)
        return SignResult(Status.SIGNED, resolved.display(subject.digest), subject.digest,
                          format=self.fmt.name, signature_digest=pushed.descriptor.digest,
                          mechanism=pushed.mechanism)


class ToyChecker:
    kind = "toy"
    label = "toy"
    expands_index = False

    def targets(self, resolved: Resolved) -> Sequence[Target]:
        return resolved.targets

    def check(self, resolved: Resolved, target: Target) -> Check:
        digest = target.descriptor.digest
        found = [d for d in resolved.store.referrers(digest, ARTIFACT_TYPE)
                 if d.annotations.get(ANNOTATION) == digest]
        status = Status.PASSED if found else Status.FAILED
        result = ImageResult(status, resolved.display(digest), digest,
                             "" if found else "no toy signature", kind=self.kind,
                             signature_format="toy")
        return Check(bool(found), result)


def attacher(fmt: SignatureFormat, options: SignOptions, warn: Warn) -> ToyAttacher:
    return ToyAttacher(fmt)


def checker(fmt: SignatureFormat, request: ValidateRequest) -> ToyChecker | None:
    return ToyChecker() if request.kind == fmt.kind else None
