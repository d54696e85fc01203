"""``RegistryStore``: the Store interface over one repository of an OCI distribution registry."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urljoin, urlsplit

from ocisign.errors import DigestMismatchError, NetworkError, NotFoundError, RegistryError
from ocisign.oci import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    DOCKER_SCHEMA1,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    check_digest,
    is_digest,
    sha256_digest,
)
from ocisign.oci.reference import Reference, parse_reference
from ocisign.registry.store import (
    MAX_MANIFEST_BYTES,
    MAX_REFERRERS,
    REFERRERS_API,
    TAG_SCHEMA,
    Manifest,
    ReferrerPush,
    RegistryOptions,
    build_index,
    load_json_object,
    malformed,
    parse_descriptors,
    parse_manifest_bytes,
    referrers_tag,
)
from ocisign.registry.transport import Transport, registry_error_text

if TYPE_CHECKING:
    from ocisign.registry.http import Response

log = logging.getLogger(__name__)

BLOB_RACE_ATTEMPTS = 3  # manifest PUTs refused while a referenced blob is being committed
INDEX_ATTEMPTS = 5  # merges of one referrers-index append when other writers replace it
UPLOAD_SESSIONS = 3  # a failed upload starts again in a fresh session, this many times in all
MAX_PAGES = 100  # pages of one paginated listing (tags, referrers)
MANIFEST_ACCEPT = ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST, DOCKER_SCHEMA1))

_subject_locks: dict[tuple[str, str, str], threading.Lock] = {}
_subject_locks_guard = threading.Lock()


@contextmanager
def _subject_lock(host: str, repository: str, digest: str) -> Iterator[None]:
    """Serialise referrers-index updates per subject within this process."""
    with _subject_locks_guard:
        lock = _subject_locks.setdefault((host, repository, digest), threading.Lock())
    with lock:
        yield


class RegistryClient:
    """Shared transport (session, auth, token cache) for many repositories."""

    def __init__(self, options: RegistryOptions | None = None) -> None:
        self.options = options or RegistryOptions()
        self.transport = Transport(self.options)
        # (host, repository) whose Referrers API answered "none here"; (host, "") for a
        # host without the API at all (a 404 that is no distribution error, or a 405)
        self._no_referrers_api: set[tuple[str, str]] = set()
        self._monolithic_post: dict[str, bool] = {}
        self._appended: list[tuple[RegistryStore, str, Descriptor]] = []  # referrers we indexed
        self._checks: list[Callable[[], object]] = []  # Store.after_run callbacks
        self._lock = threading.Lock()

    def store(self, reference: Reference | str) -> RegistryStore:
        """The RegistryStore for the repository of ``reference``."""
        ref = parse_reference(reference) if isinstance(reference, str) else reference
        return RegistryStore(self, ref.api_host, ref.repository, ref.registry)

    def reconcile(self) -> int:
        """The end-of-batch pass: run the ``after_run`` checks, re-read every referrers index
        this client appended to and append again each of its entries another writer dropped,
        on as many threads as the run had workers. Returns how many were restored."""
        with self._lock:
            appended, self._appended = self._appended, []
            checks, self._checks = self._checks, []
        tasks = [partial(self._check, check) for check in checks]
        tasks += [partial(self._restore, *item) for item in appended]
        workers = min(self.options.jobs, len(tasks))
        if workers <= 1:
            return sum(task() for task in tasks)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers, thread_name_prefix="ocisign-reconcile") as pool:
            return sum(pool.map(lambda task: task(), tasks))

    @staticmethod
    def _check(check: Callable[[], object]) -> int:
        try:
            return int(bool(check()))
        except RegistryError as exc:
            log.warning("reconciliation after the run failed: %s", exc.message)
            return 0

    @staticmethod
    def _restore(store: RegistryStore, subject: str, entry: Descriptor) -> int:
        """1 if ``entry`` had been dropped from ``subject``'s index and is listed again."""
        try:
            index = store.fetch_manifest(referrers_tag(subject)).manifests
        except NotFoundError:
            index = []
        if any(d.digest == entry.digest for d in index):
            return 0
        log.warning("%s@%s: signature %s was dropped by another writer; indexing it again",
                    store.name, subject, entry.digest)
        try:
            store._index_referrer(subject, entry)
            return 1
        except RegistryError as exc:
            log.warning("%s@%s: could not index %s again: %s", store.name, subject,
                        entry.digest, exc.message)
            return 0

    def close(self) -> None:
        self.transport.close()


class RegistryStore:
    """One repository on one registry (implements ``ocisign.registry.store.Store``)."""

    def __init__(
        self, client: RegistryClient, host: str, repository: str, registry: str | None = None
    ) -> None:
        self.client = client
        self.host = host
        self.repository = repository
        self.registry = registry or host
        self._pull = frozenset({f"repository:{repository}:pull"})
        self._push = frozenset({f"repository:{repository}:pull,push"})
        self._delete = frozenset({f"repository:{repository}:delete"})

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    def _path(self, kind: str, ref: str = "") -> str:
        return f"/v2/{self.repository}/{kind}/{ref}"

    # -- manifests ---------------------------------------------------------------------

    def _manifest(self, method: str, reference: str, what: str) -> Response:
        return self.client.transport.request(
            method, self.host, self._path("manifests", reference), scopes=self._pull,
            headers={"Accept": MANIFEST_ACCEPT}, what=what,
        )

    def resolve(self, reference: str) -> Descriptor:
        what = f"resolve {self.name}:{reference}" if not is_digest(reference) else ""
        response = self._manifest("HEAD", reference, what)
        digest = response.headers.get("Docker-Content-Digest", "")
        size = response.headers.get("Content-Length", "")
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if not is_digest(digest) or not size.isdigit() or not media_type:
            return self.fetch_manifest(reference).descriptor
        if is_digest(reference) and digest != reference:
            raise DigestMismatchError(f"{self.name}: registry answered {digest} for {reference}")
        return Descriptor(media_type, digest, int(size))

    def fetch_manifest(self, reference: str) -> Manifest:
        what = f"get manifest {self.name}{'@' if is_digest(reference) else ':'}{reference}"
        response = self._manifest("GET", reference, what)
        raw = response.content
        if len(raw) > MAX_MANIFEST_BYTES:
            raise RegistryError(f"manifest {self.name}:{reference} is larger than 4 MiB")
        digest = sha256_digest(raw)
        if is_digest(reference):
            check_digest(raw, reference)
            digest = reference
        else:
            announced = response.headers.get("Docker-Content-Digest", "")
            if announced.startswith("sha256:") and announced != digest:
                raise DigestMismatchError(
                    f"{self.name}:{reference}: content hashes to {digest}, "
                    f"registry announced {announced}"
                )
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        parsed = parse_manifest_bytes(raw, None)
        return Manifest(raw, parsed.media_type or media_type, digest)

    def _put_manifest(
        self, data: bytes, media_type: str, tag: str | None
    ) -> tuple[Descriptor, bool]:
        digest = sha256_digest(data)
        for attempt in range(BLOB_RACE_ATTEMPTS):
            try:
                response = self.client.transport.request(
                    "PUT",
                    self.host,
                    self._path("manifests", tag or digest),
                    scopes=self._push,
                    headers={"Content-Type": media_type},
                    data=data,
                    ok=(200, 201, 202),
                    retry_safe=True,
                    what=f"push manifest {self.name}:{tag or digest}",
                )
                break
            except RegistryError as exc:
                # distribution answers DIGEST_INVALID for a manifest whose blob another
                # writer is committing at the same moment; our bytes and digest are right
                if "DIGEST_INVALID" not in exc.message or attempt == BLOB_RACE_ATTEMPTS - 1:
                    raise
                time.sleep(self.client.options.backoff * 2**attempt)
        answered = response.headers.get("Docker-Content-Digest", "")
        if answered and answered != digest:
            raise DigestMismatchError(
                f"{self.name}: registry stored the manifest as {answered}, expected {digest}"
            )
        return Descriptor(media_type, digest, len(data)), "OCI-Subject" in response.headers

    def push_manifest(self, data: bytes, media_type: str, tag: str | None = None) -> Descriptor:
        return self._put_manifest(data, media_type, tag)[0]

    def delete_manifest(self, digest: str) -> None:
        self.client.transport.request(
            "DELETE",
            self.host,
            self._path("manifests", digest),
            scopes=self._delete,
            ok=(200, 202),
            ok_on_retry=(404,),  # the first answer was lost: it was deleted then
            what=f"delete {self.name}@{digest}",
        )

    def _pages(
        self, path: str, params: dict[str, str] | None, what: str, **kwargs: Any
    ) -> Iterator[Response]:
        """The answers of a ``Link: rel="next"`` paginated listing, at most MAX_PAGES of
        them, on this registry only; a next link already followed ends it."""
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            response = self.client.transport.request(
                "GET", self.host, path, scopes=self._pull, params=params, what=what, **kwargs
            )
            yield response
            link = response.link("next")
            if not link:
                return
            nxt = urlsplit(urljoin(f"http://{self.host}{path}", link))
            path, params = nxt.path, {k: v[-1] for k, v in parse_qs(nxt.query).items()}
            key = f"{path}?{sorted(params.items())}"
            if key in seen:
                log.warning("%s: the registry's next page repeats an earlier one; stopped", what)
                return
            seen.add(key)
        log.warning("%s: stopped after %d pages", what, MAX_PAGES)

    def after_run(self, check: Callable[[], object]) -> None:
        with self.client._lock:
            self.client._checks.append(check)

    def list_tags(self, page_size: int | None = None) -> list[str]:
        """All tags, following ``Link`` pagination (capped)."""
        tags: list[str] = []
        what = f"list tags of {self.name}"
        params = {"n": str(page_size)} if page_size else None
        for response in self._pages(f"/v2/{self.repository}/tags/list", params, what):
            listed = load_json_object(response.content, what).get("tags") or []
            if not isinstance(listed, list) or not all(isinstance(t, str) for t in listed):
                raise malformed(what, "tags", "is not a list of strings")
            tags.extend(listed)
        return tags

    # -- blobs -------------------------------------------------------------------------

    def blob_exists(self, digest: str) -> bool:
        response = self.client.transport.request(
            "HEAD", self.host, self._path("blobs", digest), scopes=self._pull, ok=(200, 404)
        )
        return response.status_code == 200

    def fetch_blob(self, digest: str, *, max_bytes: int | None = None) -> bytes:
        response = self.client.transport.request(
            "GET", self.host, self._path("blobs", digest), scopes=self._pull,
            what=f"get blob {self.name}@{digest}", max_bytes=max_bytes or MAX_MANIFEST_BYTES,
        )
        check_digest(response.content, digest)
        return response.content

    def mount_blob(self, digest: str, from_repository: str) -> bool:
        """Cross-repository mount; False if the registry would not mount it."""
        scopes = self._push | {f"repository:{from_repository}:pull"}
        response = self.client.transport.request(
            "POST", self.host, f"/v2/{self.repository}/blobs/uploads/", scopes=frozenset(scopes),
            params={"mount": digest, "from": from_repository}, ok=(201, 202),
            retry_safe=True, what=f"mount {digest} into {self.name}",
        )
        return response.status_code == 201

    def push_blob(self, data: bytes, media_type: str, *, check_exists: bool = True) -> Descriptor:
        desc = Descriptor.of(data, media_type)
        if check_exists and self.blob_exists(desc.digest):
            return desc
        for session in range(1, UPLOAD_SESSIONS + 1):
            try:
                self._upload(data, desc)
                return desc
            except (NetworkError, NotFoundError) as exc:  # transient, or the session vanished
                if session == UPLOAD_SESSIONS:
                    raise
                log.debug("upload of %s failed (%s); fresh session", desc.digest, exc.message)
                with contextlib.suppress(RegistryError):
                    if self.blob_exists(desc.digest):  # the PUT was applied, its answer lost
                        return desc
        return desc

    def _upload(self, data: bytes, desc: Descriptor) -> None:
        """One upload session: a single ``POST ?digest=``, else POST (+ PATCHes) + PUT."""
        transport = self.client.transport
        uploads = f"/v2/{self.repository}/blobs/uploads/"
        what = f"upload blob {desc.digest} to {self.name}"
        chunked = len(data) > self.client.options.chunk_size
        monolithic = not chunked and self.client._monolithic_post.get(self.host, True)
        response = transport.request(
            "POST", self.host, uploads, scopes=self._push,
            params={"digest": desc.digest} if monolithic else None,
            headers={"Content-Type": "application/octet-stream"} if monolithic else None,
            data=data if monolithic else None, ok=(201, 202), retry_safe=True, what=what,
        )
        if response.status_code == 201:
            return
        if monolithic:
            with self.client._lock:
                self.client._monolithic_post[self.host] = False
        location = self._location(response)
        if chunked:
            size = self.client.options.chunk_size
            for start in range(0, len(data), size):
                chunk = data[start : start + size]
                response = transport.request(
                    "PATCH", self.host, location, scopes=self._push,
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"{start}-{start + len(chunk) - 1}",
                    },
                    data=chunk, ok=(202,), retry_safe=False, what=what,
                )
                location = self._location(response)
            body: bytes | None = None
        else:
            body = data
        transport.request(
            "PUT", self.host, location.split("?")[0], scopes=self._push,
            params=_with_digest(location, desc.digest),
            headers={"Content-Type": "application/octet-stream"},
            data=body, ok=(201, 204), retry_safe=False, what=what,
        )

    def _location(self, response: Response) -> str:
        location = response.headers.get("Location")
        if not location:
            raise RegistryError(f"{self.host} started an upload without a Location header")
        return urljoin(self.client.transport.url(self.host, "/"), location)

    # -- referrers ---------------------------------------------------------------------

    def referrers(
        self, subject_digest: str, artifact_type: str | None = None, limit: int = MAX_REFERRERS
    ) -> list[Descriptor]:
        key = (self.host, self.repository)
        found: list[Descriptor] | None = None
        known = self.client._no_referrers_api
        if key not in known and (self.host, "") not in known:
            found, host_wide = self._referrers_api(subject_digest, artifact_type, limit)
            if found is None:
                with self.client._lock:
                    known.add((self.host, "") if host_wide else key)
        if found is None:
            try:
                index = self.fetch_manifest(referrers_tag(subject_digest))
            except NotFoundError:
                return []
            found = index.manifests
        if artifact_type:
            found = [d for d in found if d.artifact_type == artifact_type]
        return found[:limit]

    def _referrers_api(
        self, subject_digest: str, artifact_type: str | None, limit: int
    ) -> tuple[list[Descriptor] | None, bool]:
        """The Referrers API answer (pages up to ``limit`` entries, each page 4 MiB at
        most), or None if there is none; and whether the whole host lacks the API: a 405,
        or a 404 that is no distribution error (distribution 2.x: "404 page not found")."""
        params = {"artifactType": artifact_type} if artifact_type else None
        what = f"list referrers of {self.name}@{subject_digest}"
        found: list[Descriptor] = []
        for response in self._pages(
            self._path("referrers", subject_digest), params, what,
            headers={"Accept": OCI_INDEX}, ok=(200, 404, 400, 405),
        ):
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            if response.status_code != 200 or content_type != OCI_INDEX:
                status = response.status_code
                return None, status == 405 or (status == 404
                                               and not registry_error_text(response))
            page = load_json_object(response.content, what).get("manifests")
            entries = parse_descriptors(page, what, "manifests")  # one page: 4 MiB at most
            found.extend(d for d in entries
                         if not artifact_type or d.artifact_type == artifact_type)
            del found[limit:]
            if len(found) >= limit:
                break
        return found, False

    def push_referrer(
        self, data: bytes, media_type: str, *, force_tag_schema: bool = True
    ) -> ReferrerPush:
        manifest = parse_manifest_bytes(data, media_type)
        subject = manifest.subject
        if subject is None:
            raise RegistryError("a referrer manifest must carry a subject")
        desc, handled = self._put_manifest(data, media_type, None)
        if handled and not force_tag_schema:
            return ReferrerPush(desc, REFERRERS_API)
        warnings = self._index_referrer(subject.digest, manifest.referrer_descriptor())
        return ReferrerPush(desc, TAG_SCHEMA, tuple(warnings))

    def _index_referrer(self, subject_digest: str, entry: Descriptor) -> list[str]:
        """Append ``entry`` to the ``sha256-<hex>`` index, read it back, delete the old one.

        distribution has no conditional PUT: another writer may replace the index between
        our read and our write. The read-back (one HEAD; a GET if the digest moved) sees
        that, and the entry is merged into the newer index again. The append is recorded
        for the end-of-batch ``RegistryClient.reconcile`` pass.
        """
        tag = referrers_tag(subject_digest)
        with _subject_lock(self.host, self.repository, subject_digest):
            for _ in range(INDEX_ATTEMPTS):
                try:  # read under the lock, just before the write: never a read from before
                    old: Manifest | None = self.fetch_manifest(tag)  # signing (it may be old)
                except NotFoundError:
                    old = None
                entries = old.manifests if old else []
                if any(d.digest == entry.digest for d in entries):
                    break
                new = build_index([*entries, entry])
                pushed = self.push_manifest(new, OCI_INDEX, tag)
                if not self._lists(tag, pushed.digest, entry.digest):
                    log.debug("%s:%s was replaced by another writer; merging again",
                              self.name, tag)
                    continue
                with self.client._lock:
                    self.client._appended.append((self, subject_digest, entry))
                if old is None or old.digest == pushed.digest:
                    return []
                return self._delete_old_index(old.digest)
            else:
                raise RegistryError(
                    f"{self.name}: the referrers index {tag} was replaced by other writers "
                    f"{INDEX_ATTEMPTS} times in a row",
                    "another tool is signing the same image right now; run again when it is done",
                )
        return []

    def _lists(self, tag: str, pushed: str, entry: str) -> bool:
        """Read back: ``tag`` is still our index, or a newer one that lists ``entry``."""
        try:
            if self.resolve(tag).digest == pushed:
                return True
            return any(d.digest == entry for d in self.fetch_manifest(tag).manifests)
        except NotFoundError:
            return False

    def _delete_old_index(self, digest: str) -> list[str]:
        try:
            self.delete_manifest(digest)
        except RegistryError as exc:
            message = (
                f"could not delete the old referrers index {digest} of {self.name}: "
                f"{exc.message}; the registry may need garbage collection"
            )
            log.warning("%s", message)
            return [message]
        return []


def _with_digest(location: str, digest: str) -> dict[str, str]:
    """Query parameters for the final upload PUT: the Location's own, plus ``digest``."""
    params = {k: v[-1] for k, v in parse_qs(urlsplit(location).query).items()}
    params["digest"] = digest
    return params

