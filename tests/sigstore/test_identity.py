"""containers-policy signedIdentity rules (hangar-cosign.md §0.3, §2.4, §5.1)."""

from __future__ import annotations

import pytest

from ocisign.errors import InvalidReferenceError, UsageError
from ocisign.sigstore import identity as ident

R = "127.0.0.1:5001/test/single"
D = "sha256:dd273ee4eacc5973bfeff20fb575215e52f61c1576aa44f537eaeb0ba3a9d778"
D2 = "sha256:" + "c" * 64
BB = "docker.io/library/busybox"

# image as addressed, signature docker-reference, then the verdicts of
# matchRepoDigestOrExact, matchRepository and matchExact
TABLE = [
    (f"{R}:v1", f"{R}:v1", True, True, True),  # skopeo signs the tag it copied
    (f"{R}:v1", f"{R}:v2", False, True, False),
    (f"{R}:v1", R, False, True, False),  # cosign style: repository only
    (f"{R}@{D}", R, False, True, False),  # name-only never satisfies matchRepoDigestOrExact
    (f"{R}@{D}", f"{R}@{D}", True, True, True),  # hangar v1: signed by digest
    (f"{R}@{D}", f"{R}:v1", True, True, False),  # by digest: repository must match
    (f"{R}@{D}", f"{R}@{D2}", True, True, False),  # the digest itself is checked elsewhere
    (f"{R}:v1", f"{R}@{D}", False, True, False),  # digest-signed, addressed by tag
    (f"{R}@{D}", f"127.0.0.1:5001/test/other@{D}", False, False, False),
    (f"{R}:v1", "127.0.0.1:5002/test/single:v1", False, False, False),
    (f"{BB}:latest", "busybox:latest", True, True, True),  # docker.io/library normalisation
    (f"{BB}:latest", "busybox", False, True, False),
    ("busybox", f"{BB}:latest", True, True, True),  # the docker transport adds :latest
    ("busybox:1", "index.docker.io/library/busybox:1", True, True, True),
    ("docker.io/user/x:1", "docker.io/library/x:1", False, False, False),
    ("user/x:1", "docker.io/user/x:1", True, True, True),
    (f"docker://{R}:v1", f"{R}:v1", True, True, True),
    (f"{R}:v1", "Not A Reference", False, False, False),  # unparseable signature: no match
    (f"{R}:v1", "127.0.0.1:5001/Test/single:v1", False, False, False),  # upper case path
    (f"{R}:v1", "", False, False, False),
    # docker's grammar exactly (issue 11, case 10): no trimming, ASCII only
    (f"{R}:v1", f" {R}:v1", False, False, False),
    (f"{R}:v1", f"{R}:v1\n", False, False, False),
    (f"{R}:v1", f"{R}:v1 ", False, False, False),
    (f"{R}:v1", f"\t{R}:v1", False, False, False),
    (f"{R}@{D}", f"{R}@{D}\n", False, False, False),
    (f"{R}@{D}", f"{R}\n:v1", False, False, False),
    (f"{R}:v1", f"{R}:v\u0661", False, False, False),  # Arabic-Indic digit: Python's \w
    (f"{R}:v1", f"{R}:v\u00e9", False, False, False),
    (f"{R}:v1", f"{R}:\uff561", False, False, False),  # fullwidth v
    (f"{R}:v1", "127.0.0.1:5001/test/sin\u0261le:v1", False, False, False),
]


@pytest.mark.parametrize("bad", [f"{R}:v1\n", f" {R}:v1", f"{R}:v\u0661", f"{R}:v1\r",
                                 f"{R}@{D}\n", "b\u00fcsybox", "[::1%eth0]:5000/x:1"])
def test_image_references_are_parsed_exactly(bad: str) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        ident.match_repository(bad, f"{R}:v1")
    assert info.value.hint  # one line with a hint


@pytest.mark.parametrize(("image", "sig", "rdoe", "repo", "exact"), TABLE)
def test_rules(image: str, sig: str, rdoe: bool, repo: bool, exact: bool) -> None:
    assert ident.match_repo_digest_or_exact(image, sig) is rdoe
    assert ident.match_repository(image, sig) is repo
    assert ident.match_exact(image, sig) is exact
    assert ident.identity_rule("matchRepoDigestOrExact")(image, sig) is rdoe
    assert ident.identity_rule("matchRepository")(image, sig) is repo
    assert ident.identity_rule("matchExact")(image, sig) is exact


def test_exact_reference() -> None:
    rule = ident.exact_reference(f"{R}:v1")
    assert rule(f"{R}:v2", f"{R}:v1")  # the image reference does not matter
    assert not rule(f"{R}:v1", f"{R}:v2")
    assert not rule(f"{R}:v1", R)
    assert ident.exact_reference("busybox:latest")("x/y:1", f"{BB}:latest")
    assert ident.identity_rule("exactReference", f"{R}@{D}")(f"{R}:v1", f"{R}@{D}")
    with pytest.raises(InvalidReferenceError, match="neither a tag nor a digest"):
        ident.exact_reference(R)
    with pytest.raises(InvalidReferenceError):
        ident.exact_reference("r.io/Upper:1")


def test_exact_repository() -> None:
    rule = ident.exact_repository(R)
    assert rule("other.io/x:1", R)
    assert rule("other.io/x:1", f"{R}:v9")
    assert rule("other.io/x:1", f"{R}@{D}")
    assert not rule(f"{R}:v1", "127.0.0.1:5001/test/other:v1")
    assert ident.exact_repository("busybox")("x/y:1", "index.docker.io/library/busybox:1")
    with pytest.raises(InvalidReferenceError):
        ident.exact_repository("not a repo")


@pytest.mark.parametrize(
    "bad", ["", "r.io/UPPER:1", "a" * 64, "r.io/x@sha256:short", "r.io/x:t@md5:" + "0" * 32]
)
def test_invalid_image_reference(bad: str) -> None:
    with pytest.raises(InvalidReferenceError):
        ident.match_repository(bad, f"{R}:v1")


def test_unknown_rule() -> None:
    with pytest.raises(UsageError, match="unknown signedIdentity rule"):
        ident.identity_rule("signedBy")
