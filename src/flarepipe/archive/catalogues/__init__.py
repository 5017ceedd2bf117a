"""Event catalogues: flare lists (GOES, SWPC, HEK) and region maps."""
