"""Archive sources (synthetic, local, jsoc). They import layout, io and core; never build, never each other."""
