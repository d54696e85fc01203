"""cosign simple signing: attaching ``.sig`` signatures, verifying them, identity rules."""
