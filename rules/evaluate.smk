# Stage 7: stacking (S1), skill scores, mean +- sd over runs, paired tests, verification plots.


rule stack:
    conda:
        "../envs/evaluate.yaml"
    input:
        first=f"{R}/models/{{dataset}}/lstm/run{{run}}/predictions.csv",
        second=f"{R}/models/{{dataset}}/cnn/run{{run}}/predictions.csv",
    output:
        expand(
            f"{R}/models/{{{{dataset}}}}/{{ensemble}}/run{{{{run}}}}/predictions.csv",
            ensemble=STACK,
        ),
    params:
        criteria=EXP.get("stacking", []),
        template=lambda wc: f"{R}/models/{wc.dataset}/{{ensemble}}/run{wc.run}",
    log:
        f"{R}/logs/stack/{{dataset}}_{{run}}.log",
    script:
        "../workflow/scripts/stack.py"


rule evaluate:
    conda:
        "../envs/evaluate.yaml"
    input:
        predictions=prediction_files(),
    output:
        metrics=report(
            f"{R}/evaluation/metrics.csv",
            caption="../report/metrics.rst",
            category="4. Evaluation",
        ),
        table=f"{R}/evaluation/metrics.md",
        plots=report(
            directory(f"{R}/evaluation/plots"),
            patterns=["{name}.png"],
            caption="../report/plots.rst",
            category="4. Evaluation",
        ),
    params:
        tests=[
            [[d, m], [d2, m]]
            for m in ["lstm", "cnn"]
            if m in EXP["models"]
            for d, d2 in [("FUSED_SHARP", "SHARP_ONLY"), ("FUSED_SMARP", "SMARP_ONLY")]
            if d in DATASETS and d2 in DATASETS
        ]
        + [[[d, "lstm"], [d, "logreg"]] for d in DATASETS if {"lstm", "logreg"} <= set(EXP["models"])],
    log:
        f"{R}/logs/evaluate.log",
    script:
        "../workflow/scripts/evaluate.py"
