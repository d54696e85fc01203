"""Key and certificate files: PEM/PKCS#8, cosign encrypted keys, test certificates.

Only constants live here, so the CLI can build its flags without importing cryptography.
"""

KEY_TYPES = ("ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa-2048", "rsa-3072", "rsa-4096")
DEFAULT_KEY_TYPE = "rsa-2048"  # what `notation cert generate-test` makes
DEFAULT_PAIR_KEY_TYPE = "ecdsa-p256"  # what `cosign generate-key-pair` makes
DEFAULT_DAYS = 365
