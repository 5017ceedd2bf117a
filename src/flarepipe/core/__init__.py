"""Pure domain, importing nothing else of flarepipe: time (TAI/UTC), flare classes, magnetic keywords."""
