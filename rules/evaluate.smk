# Stage 7: stacking of the configured pairs (S1: lstm + cnn), skill scores, mean +- sd over runs,
# paired tests (experiments.paired_tests), verification plots.


rule stack:
    input:
        unpack(stack_inputs),
    output:
        expand(
            f"{R}/models/{{{{dataset}}}}/{{ensemble}}/run{{{{run}}}}/predictions.csv",
            ensemble=STACK,
        ),
    log:
        f"{R}/logs/stack/{{dataset}}_{{run}}.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        stacking=[s.as_dict() for s in PLAN.stacking],
        template=lambda wc: f"{R}/models/{wc.dataset}/{{ensemble}}/run{wc.run}",
        plugins=criteria_plugins(PLAN.stacking),
    script:
        "../workflow/scripts/stack.py"


rule evaluate:
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
    log:
        f"{R}/logs/evaluate.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        tests=list(PLAN.paired_tests),
    script:
        "../workflow/scripts/evaluate.py"
