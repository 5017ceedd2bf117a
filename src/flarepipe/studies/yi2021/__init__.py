"""Yi et al. 2021 (SCIENCE.md S3): the daily full-disk forecast's published numbers."""

from flarepipe.studies.yi2021.published import PUBLISHED, PUBLISHED_LABEL

__all__ = ["PUBLISHED", "PUBLISHED_LABEL"]
