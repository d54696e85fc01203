"""Small helpers every layer shares: atomic files, strict encodings."""
