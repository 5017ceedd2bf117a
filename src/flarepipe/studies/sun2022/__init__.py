"""Sun et al. 2022 (SCIENCE.md S1)."""
