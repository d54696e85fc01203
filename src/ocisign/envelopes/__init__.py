"""Signature envelopes: Notary Project JWS and COSE, cosign simple signing. Pure codecs:
envelopes never touch the network.

Importing the package registers the Notary codecs (``jws``, ``cose``) with
:mod:`ocisign.envelopes.notary` by media type; a new codec module registers itself the same
way and is listed here.
"""

from ocisign.envelopes import cose, jws  # noqa: F401  (register the codecs)
