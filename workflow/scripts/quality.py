"""Adapter: rule quality -> flarepipe.stages.quality.run_quality."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.quality import run_quality  # noqa: E402

o = smk.output
try:  # a failure: the traceback in the log, one line naming the log on the console
    run_quality(
        **smk.input,
        cfg=smk.params.cfg,
        out_flagged=o.flagged,
        out_summary=o.summary,
        workers=smk.threads,
    )
except Exception as exc:  # noqa: BLE001
    import traceback

    traceback.print_exc()
    why = " ".join(str(exc).split()) or type(exc).__name__
    line = f"rule {smk.rule} failed: {type(exc).__name__}: {why} (full detail in {smk.log[0]})"
    print(line, file=sys.__stderr__, flush=True)
    sys.exit(1)
