"""Notary Project signatures (JWS, COSE): signing, attaching, trust evaluation, timestamps."""
