"""Bhattacharjee et al. 2020 (SCIENCE.md S2): published values and the report's comparison."""
