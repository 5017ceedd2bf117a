"""Adapter: rule label -> flarepipe.stages.label.run_label."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.label import run_label  # noqa: E402

o = smk.output
try:  # a failure: the traceback in the log, one line naming the log on the console
    run_label(
        **smk.input,
        cfg=smk.params.cfg,
        plugins=smk.params.plugins,
        out_samples=o.samples,
        out_counts=o.counts,
        out_drops=o.drops,
    )
except Exception as exc:  # noqa: BLE001
    import traceback

    traceback.print_exc()
    why = " ".join(str(exc).split()) or type(exc).__name__
    line = f"rule {smk.rule} failed: {type(exc).__name__}: {why} (full detail in {smk.log[0]})"
    print(line, file=sys.__stderr__, flush=True)
    sys.exit(1)
