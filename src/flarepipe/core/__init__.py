"""Pure domain, importing nothing else of flarepipe.

Time (TAI/UTC), flare classes, NOAA numbers, keywords, series, magnetic keywords, seeds, registries.
"""
