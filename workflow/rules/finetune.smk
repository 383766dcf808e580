# Fine-tuning encoders with a head, per survey x encoder slot x task (classes, photoz). A slot is a method of
# finetune.methods: a trained method by name, or `best` = the self-supervised method whose frozen probe has the best
# val score. `best` needs no checkpoint: finetune_choice reads every candidate's probe table and writes its choice to
# a small JSON, and the fine-tuning job of slot `best` takes every candidate's encoder.ckpt plus that JSON, so the
# DAG is fixed when the workflow is parsed.
# Its helper functions (config -> params, inputs and targets) are in common/finetune.smk.


rule finetune_choice:
    input:
        lambda w: [f"results/{w.survey}/{method}/probes/metrics.parquet" for method in finetune_candidates()],
    output:
        "results/{survey}/finetune/best/choice.json",
    params:
        candidates=" ".join(finetune_candidates()),
        probe=config["finetune"]["select_probe"],
    log:
        "logs/finetune/{survey}.choice.log",
    benchmark:
        "logs/benchmarks/finetune/{survey}.choice.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl finetune-choose --tables {input} --candidates {params.candidates} --probe {params.probe}"
        " --out {output} > {log} 2>&1"


rule finetune:
    input:
        ckpts=finetune_ckpts,
        choice=finetune_choice,
        shards=lambda w: shard_files(w.survey, "shards"),
        manifest="results/{survey}/manifest.json",
        labels=labels_input(),
    output:
        metrics="results/{survey}/finetune/{slot}/{task}/metrics.parquet",
        predictions="results/{survey}/finetune/{slot}/{task}/predictions.parquet",
        curves="results/{survey}/finetune/{slot}/{task}/metrics.csv",
    wildcard_constraints:
        slot="|".join(["best"] + sorted(config["pretrain"]["methods"])),
        task="classes|photoz",
    params:
        choice=lambda w, input: f"--choice {input.choice}" if input.choice else "",
        survey=lambda w: survey_json(w.survey),
        # Only what a job reads, so unrelated edits rerun nothing: optimisation, augmentations, labels, binning.
        finetune=finetune_job_json(),
        pretrain=json.dumps({"augment": config["pretrain"]["augment"]}, sort_keys=True),
        label_options=finetune_label_options,
        photoz=finetune_photoz_json,
        seed=config["seed"],
        out_dir=output_dir,
    log:
        "logs/finetune/{survey}.{slot}.{task}.log",
    benchmark:
        "logs/benchmarks/finetune/{survey}.{slot}.{task}.tsv"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=1,
    conda:
        "../../envs/torch.yaml"
    shell:
        "galssl finetune --survey {wildcards.survey} --survey-config {params.survey:q} --ckpts {input.ckpts}"
        " {params.choice} --task {wildcards.task} --finetune {params.finetune:q} --pretrain {params.pretrain:q}"
        " {params.label_options} --photoz {params.photoz:q} --shards {input.shards}"
        " --manifest {input.manifest} --labels {input.labels} --seed {params.seed} --out-dir {params.out_dir}"
        " --threads {threads} > {log} 2>&1"


rule finetune_training_curves:
    input:
        "results/{survey}/finetune/{slot}/{task}/metrics.csv",
    output:
        report(
            "results/{survey}/finetune/{slot}/{task}/training_curves.png",
            caption="../report/finetune_training_curves.rst",
            category="Fine-tuning",
            subcategory="{survey}",
        ),
    wildcard_constraints:
        slot="|".join(["best"] + sorted(config["pretrain"]["methods"])),
        task="classes|photoz",
    log:
        "logs/finetune/{survey}.{slot}.{task}.curves.log",
    benchmark:
        "logs/benchmarks/finetune/{survey}.{slot}.{task}.curves.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl plot-training --metrics {input} --title '{wildcards.survey}: fine-tuning {wildcards.slot} on"
        " {wildcards.task}' --out {output} > {log} 2>&1"


rule finetune_photoz_figure:
    input:
        "results/{survey}/finetune/{slot}/photoz/predictions.parquet",
    output:
        report(
            "results/{survey}/finetune/{slot}/photoz/photoz.png",
            caption="../report/finetune_photoz.rst",
            category="Fine-tuning",
            subcategory="{survey}",
        ),
    wildcard_constraints:
        slot="|".join(["best"] + sorted(config["pretrain"]["methods"])),
    params:
        photoz=json.dumps(config["photoz"], sort_keys=True),
    log:
        "logs/finetune/{survey}.{slot}.photoz.figure.log",
    benchmark:
        "logs/benchmarks/finetune/{survey}.{slot}.photoz.figure.tsv"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=5,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl plot-photoz --predictions {input} --photoz {params.photoz:q}"
        " --title '{wildcards.survey}: fine-tuned {wildcards.slot}, photometric redshifts (test split)'"
        " --out {output} > {log} 2>&1"


rule finetune_confusion:
    input:
        predictions="results/{survey}/finetune/{slot}/classes/predictions.parquet",
        labels=labels_input(),
    output:
        report(
            "results/{survey}/finetune/{slot}/classes/confusion.png",
            caption="../report/finetune_confusion.rst",
            category="Fine-tuning",
            subcategory="{survey}",
        ),
    wildcard_constraints:
        slot="|".join(["best"] + sorted(config["pretrain"]["methods"])),
    params:
        labels=labels_json(),
    log:
        "logs/finetune/{survey}.{slot}.confusion.log",
    benchmark:
        "logs/benchmarks/finetune/{survey}.{slot}.confusion.tsv"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=5,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl plot-confusion --predictions {input.predictions} --labels {input.labels}"
        " --labels-config {params.labels:q} --title '{wildcards.survey}: fine-tuned {wildcards.slot}'"
        " --out {output} > {log} 2>&1"


rule finetune_metrics:
    input:
        lambda w: finetune_tables(w.survey),
    output:
        "results/{survey}/finetune/metrics.parquet",
    log:
        "logs/finetune/{survey}.metrics.log",
    benchmark:
        "logs/benchmarks/finetune/{survey}.metrics.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl concat-metrics --tables {input} --out {output} > {log} 2>&1"


STAGE_TARGETS.append(finetune_targets)
