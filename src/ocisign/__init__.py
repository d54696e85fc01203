"""ocisign: sign and verify OCI images, artifacts and OS boot artifacts."""

__version__ = "0.1.0"
