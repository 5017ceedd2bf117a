"""De Oliveira & Gradvohl 2020 (SCIENCE.md): active regions detected on full-disk magnetograms
and classified into Mt. Wilson classes; the study of ``config/studies/deoliveira2020.yaml``.
"""
