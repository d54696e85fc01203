"""Our own OCI distribution client and OCI-layout store behind one ``Store`` interface.

``open_store`` is the entry point: a ``LayoutStore`` for ``--oci-layout DIR[:tag|@digest]``,
else a ``RegistryStore`` for ``registry/repo[:tag][@digest]``. ``run_client`` gives a run one
shared client. The HTTP stack (``registry.client``, requests) is imported only when a
registry is contacted, so a run over OCI layouts never loads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ocisign.oci.reference import parse_reference
from ocisign.registry.layout import LayoutStore, parse_layout_reference

if TYPE_CHECKING:
    from ocisign.registry.client import RegistryClient
    from ocisign.registry.store import RegistryOptions, Store


@dataclass(frozen=True)
class StoreTarget:
    """An opened store plus what the user pointed at inside it (tag or digest, may be None)."""

    store: Store
    ref: str | None
    display: str  # the reference as given, normalised
    name: str  # registry/repository, or the layout folder


def open_store(
    reference_text: str,
    options: RegistryOptions | None = None,
    *,
    oci_layout: bool = False,
    client: RegistryClient | None = None,
) -> StoreTarget:
    """Open the store ``reference_text`` names (pass ``client`` to share one session)."""
    if oci_layout:
        path, tag, digest = parse_layout_reference(reference_text)
        return StoreTarget(LayoutStore(path), digest or tag, reference_text, str(path))
    ref = parse_reference(reference_text)
    if client is None:
        from ocisign.registry.client import RegistryClient  # the HTTP boundary

        client = RegistryClient(options)
    return StoreTarget(client.store(ref), ref.ref, str(ref), ref.name)


@contextmanager
def run_client(
    options: RegistryOptions | None, *, oci_layout: bool = False
) -> Iterator[RegistryClient | None]:
    """One client shared by a run's workers (None for OCI layouts); at the end of the run
    its appends are reconciled (``RegistryClient.reconcile``) and it is closed."""
    if oci_layout:
        yield None
        return
    from ocisign.registry.client import RegistryClient  # the HTTP boundary

    client = RegistryClient(options)
    try:
        yield client
        client.reconcile()  # concurrent writers: re-append what they dropped
    finally:
        client.close()
