"""Archive sources (synthetic, local, jsoc, tables).

They import layout, catalogues, io and core; never build, never each other.
"""
