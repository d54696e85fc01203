"""Signature envelopes: Notary Project JWS and COSE, cosign simple signing. Pure codecs:
envelopes never touch the network.

The package declares the Notary codecs (``jws``, ``cose``) with
:mod:`ocisign.envelopes.notary` by media type; each codec module is imported (and registers
itself) the first time its media type or name is asked for, so signing JWS never loads
cbor2. A new codec module registers itself the same way and is declared here.
"""

from ocisign.envelopes import notary
from ocisign.oci import COSE_MEDIA_TYPE, JWS_MEDIA_TYPE

notary.declare("jws", JWS_MEDIA_TYPE, "ocisign.envelopes.jws")
notary.declare("cose", COSE_MEDIA_TYPE, "ocisign.envelopes.cose")
