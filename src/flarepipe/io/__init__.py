"""Atomic writes, FITS read/write, resumable downloads, process pools."""
