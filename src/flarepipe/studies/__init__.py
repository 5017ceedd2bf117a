"""Only what a paper adds beyond a config: published numbers, audits."""
