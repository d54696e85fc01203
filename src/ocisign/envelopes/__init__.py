"""Signature envelopes: Notary Project JWS and COSE, cosign simple signing.

Envelopes never touch the network.
"""
