"""Dhuri et al. 2020 (SCIENCE.md S4): pre-emergence signatures, a density baseline and pruning."""
