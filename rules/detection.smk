# Active-region detection and Mt. Wilson classes of de Oliveira & Gradvohl 2020
# (flarepipe.studies.deoliveira2020): synthetic full-disk frames with true boxes and classes ->
# per frame split: HDF5 shards (frames with boxes, region crops with classes; one file per part) ->
# classical detector, learned detector, crop classifier from those shards -> report; the
# integrated system on the frames of detection.annotate. Off unless detection.enabled; target
# detection_all.
from pathlib import Path

DET = config["detection"]
DETECTION_OUTPUTS = []

if DET["enabled"]:
    if DET["synthetic"]["size"] % DET["image_size"]:
        raise WorkflowError(
            f"invalid configuration: detection.image_size {DET['image_size']} must divide "
            f"detection.synthetic.size {DET['synthetic']['size']} (frames are binned by blocks)"
        )
    DET_ROOT = f"{R}/detection"
    DET_SPLITS = list(DET["splits"])
    DET_PARTS = ["train", "val", "test"]
    DET_FRAMES = {Path(p).stem.replace(".", "_"): p for p in DET["annotate"]}
    DETECTION_OUTPUTS = [f"{DET_ROOT}/report.md"] + [
        f"{DET_ROOT}/annotated/{name}/annotated.png" for name in DET_FRAMES
    ]

    rule detection_archive:
        output:
            records=f"{DET_ROOT}/archive/fulldisk/records.csv",
            regions=f"{DET_ROOT}/archive/truth/fulldisk_regions.csv",
        log:
            f"{R}/logs/detection/archive.log",
        conda:
            "../envs/archive.yaml"
        threads: res("archive", "cpus")
        resources:
            runtime=res("archive", "runtime"),
            mem_mb=res("archive", "mem_mb"),
            cpus_per_task=res("archive", "cpus"),
        params:
            det=DET,
        script:
            "../workflow/scripts/detection_archive.py"

    rule detection_shard:
        input:
            records=rules.detection_archive.output.records,
            regions=rules.detection_archive.output.regions,
        output:
            frames=[f"{DET_ROOT}/{{split_method}}/shards/frames/{p}.h5" for p in DET_PARTS],
            crops=[f"{DET_ROOT}/{{split_method}}/shards/crops/{p}.h5" for p in DET_PARTS],
            rejected=f"{DET_ROOT}/{{split_method}}/rejected_frames.csv",
        log:
            f"{R}/logs/detection/shard_{{split_method}}.log",
        wildcard_constraints:
            split_method="random|chronological",
        conda:
            "../envs/process.yaml"
        params:
            det=DET,
            split_method=lambda wc: wc.split_method,
        script:
            "../workflow/scripts/detection_shard.py"

    rule detection_evaluate:
        input:
            frames=rules.detection_shard.output.frames,
            crops=rules.detection_shard.output.crops,
        output:
            scores=f"{DET_ROOT}/{{split_method}}/scores.json",
            detections=f"{DET_ROOT}/{{split_method}}/classical_detections.csv",
            predictions=f"{DET_ROOT}/{{split_method}}/learned_detections.csv",
            confusion=f"{DET_ROOT}/{{split_method}}/confusion.csv",
            curves=f"{DET_ROOT}/{{split_method}}/curves.csv",
            classifier=f"{DET_ROOT}/{{split_method}}/classifier.pt",
        log:
            f"{R}/logs/detection/evaluate_{{split_method}}.log",
        wildcard_constraints:
            split_method="random|chronological",
        conda:
            "../envs/train.yaml"
        threads: res("train", "cpus")
        resources:
            runtime=res("train", "runtime"),
            mem_mb=res("train", "mem_mb"),
            cpus_per_task=res("train", "cpus"),
            gpu=res("train", "gpu"),
        params:
            det=DET,
            split_method=lambda wc: wc.split_method,
        script:
            "../workflow/scripts/detection_evaluate.py"

    rule detection_report:
        input:
            scores=expand(f"{DET_ROOT}/{{s}}/scores.json", s=DET_SPLITS),
            confusion=expand(f"{DET_ROOT}/{{s}}/confusion.csv", s=DET_SPLITS),
            curves=expand(f"{DET_ROOT}/{{s}}/curves.csv", s=DET_SPLITS),
            test_frames=expand(f"{DET_ROOT}/{{s}}/shards/frames/test.h5", s=DET_SPLITS),
            classical=expand(f"{DET_ROOT}/{{s}}/classical_detections.csv", s=DET_SPLITS),
            learned=expand(f"{DET_ROOT}/{{s}}/learned_detections.csv", s=DET_SPLITS),
            regions=rules.detection_archive.output.regions,
            srs=[DET["srs"]] if DET["srs"] else [],
        output:
            report=f"{DET_ROOT}/report.md",
            classes=f"{DET_ROOT}/class_mix.csv",
            table=report(
                f"{DET_ROOT}/scores.csv",
                caption="../report/detection_scores.rst",
                category="Detection",
            ),
            figure=report(
                f"{DET_ROOT}/confusion_and_curves.png",
                caption="../report/detection.rst",
                category="Detection",
            ),
            examples=report(
                f"{DET_ROOT}/example_frames.png",
                caption="../report/detection_examples.rst",
                category="Detection",
            ),
        log:
            f"{R}/logs/detection/report.log",
        conda:
            "../envs/train.yaml"  # the SRS reader uses sunpy
        params:
            det=DET,
        script:
            "../workflow/scripts/detection_report.py"

    rule detection_annotate:
        input:
            frame=lambda wc: DET_FRAMES[wc.name],
            classifier=f"{DET_ROOT}/{DET_SPLITS[0]}/classifier.pt",
        output:
            csv=f"{DET_ROOT}/annotated/{{name}}/regions.csv",
            png=f"{DET_ROOT}/annotated/{{name}}/annotated.png",
        log:
            f"{R}/logs/detection/annotate_{{name}}.log",
        conda:
            "../envs/train.yaml"
        params:
            det=DET,
        script:
            "../workflow/scripts/detection_annotate.py"

    rule detection_all:
        input:
            DETECTION_OUTPUTS,
