"""One module per rule file (``rules/<name>.smk`` -> ``stages/<name>.py``), one function per rule.

A rule's script (``workflow/scripts/<rule>.py``) calls ``run_<rule>`` with the rule's declared
inputs by name (``**snakemake.input``), its outputs as ``out_<name>`` (``out`` for a single
unnamed output), its params by name, and its wildcards and threads where it uses them. A stage
reads only the files it is given: a file it needs is a declared input of its rule. (A magnetogram
is read through the ``path`` column of a declared ``records.csv``, relative to that file's folder,
as the archive layout of ``docs/FILES.md`` defines it.)

Stages turn the validated configuration sections they receive into typed settings
(:func:`flarepipe.config.settings`) or keyword arguments (:func:`flarepipe.config.section`); no
stage holds a default of its own.
"""
