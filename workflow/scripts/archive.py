"""Adapter: rule archive (synthetic or local source) -> flarepipe.stages.archive.run_archive."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.archive import run_archive  # noqa: E402

o = smk.output
try:  # a failure: the traceback in the log, one line naming the log on the console
    run_archive(
        **smk.input,
        cfg=smk.params.cfg,
        out_records=o.records,
        out_flares=o.flares,
        out_manifest=o.manifest,
        out_rates=o.get("rates"),
        out_pixels=o.get("pixels"),
        workers=smk.threads,
    )
except Exception as exc:  # noqa: BLE001
    import traceback

    traceback.print_exc()
    why = " ".join(str(exc).split()) or type(exc).__name__
    line = f"rule {smk.rule} failed: {type(exc).__name__}: {why} (full detail in {smk.log[0]})"
    print(line, file=sys.__stderr__, flush=True)
    sys.exit(1)
