# Stage 9: the reviewers' report is `snakemake --report report.html`; captions live in report/.
# Captions name the config that made each result.


report: "../report/workflow.rst"
