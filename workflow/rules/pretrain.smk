# Pretraining (one job per survey x method; GPU rules on a cluster), its figures, and the augmentation figure.
# Its helper functions (config -> params, inputs and targets) are in common/pretrain.smk.

from galssl.cluster import ddp_launcher


rule pretrain:
    input:
        shards=lambda w: shard_files(w.survey, "shards"),
        manifest="results/{survey}/manifest.json",
        labels=labels_input() if has_labels("class") else [],
    output:
        ckpt="results/{survey}/{method}/encoder.ckpt",
        metrics="results/{survey}/{method}/metrics.csv",
    params:
        seed=config["seed"],
        survey=lambda w: survey_json(w.survey),
        pretrain=lambda w: method_pretrain_json(w.method),
        out_dir=output_dir,
        # The class labels feed the supervised baseline, GalaxAlign and the online probe; none without a class column.
        labels=lambda w, input: f"--labels {input.labels} --class-column {LABELS.class_column}"
        if has_labels("class") else "",
        # One srun task per DDP rank when resources ask for several (profiles/default); '' for one process.
        launcher=lambda w, threads, resources: ddp_launcher(resources, threads),
    log:
        "logs/pretrain/{survey}.{method}.log",
    benchmark:
        "logs/benchmarks/pretrain/{survey}.{method}.tsv"
    threads: 2
    resources:
        mem_mb=12000,
        runtime=240,
        gpu=1,
    conda:
        "../../envs/torch.yaml"
    shell:
        "{params.launcher} galssl pretrain --survey {wildcards.survey} --survey-config {params.survey:q}"
        " --method {wildcards.method} --pretrain {params.pretrain:q} --shards {input.shards}"
        " --manifest {input.manifest} {params.labels} --seed {params.seed} --out-dir {params.out_dir}"
        " --threads {threads} > {log} 2>&1"


rule training_curves:
    input:
        "results/{survey}/{method}/metrics.csv",
    output:
        report(
            "results/{survey}/{method}/training_curves.png",
            caption="../report/training_curves.rst",
            category="Pretraining",
            subcategory="{survey}",
            labels={"survey": "{survey}", "method": "{method}", "figure": "training curves"},
        ),
    log:
        "logs/pretrain/{survey}.{method}.curves.log",
    benchmark:
        "logs/benchmarks/pretrain/{survey}.{method}.curves.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/torch.yaml"
    shell:
        "galssl plot-training --metrics {input} --title '{wildcards.survey} / {wildcards.method}' --out {output} > {log} 2>&1"


rule mae_reconstructions:
    input:
        ckpt="results/{survey}/mae/encoder.ckpt",
        shards=lambda w: shard_files(w.survey, "shards")[:1],
        manifest="results/{survey}/manifest.json",
    output:
        report(
            "results/{survey}/mae/reconstructions.png",
            caption="../report/mae_reconstructions.rst",
            category="Pretraining",
            subcategory="{survey}",
            labels={"survey": "{survey}", "method": "mae", "figure": "reconstructions"},
        ),
    params:
        seed=config["seed"],
    log:
        "logs/pretrain/{survey}.mae.reconstructions.log",
    benchmark:
        "logs/benchmarks/pretrain/{survey}.mae.reconstructions.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/torch.yaml"
    shell:
        "galssl plot-mae --ckpt {input.ckpt} --shards {input.shards} --manifest {input.manifest}"
        " --seed {params.seed} --out {output} > {log} 2>&1"


rule augmentation_figure:
    input:
        shards=lambda w: shard_files(w.survey, "shards")[:1],
        manifest="results/{survey}/manifest.json",
    output:
        report(
            "results/{survey}/augmentations.png",
            caption="../report/augmentations.rst",
            category="Pretraining",
            subcategory="{survey}",
            labels={"survey": "{survey}", "figure": "augmentations"},
        ),
    params:
        seed=config["seed"],
        survey=lambda w: survey_json(w.survey),
        pretrain=lambda w: json.dumps(config["pretrain"], sort_keys=True),  # a function: no {} formatting
    log:
        "logs/pretrain/{survey}.augmentations.log",
    benchmark:
        "logs/benchmarks/pretrain/{survey}.augmentations.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/torch.yaml"
    shell:
        "galssl plot-augmentations --shards {input.shards} --manifest {input.manifest} --pretrain {params.pretrain:q}"
        " --survey-config {params.survey:q} --seed {params.seed} --out {output} > {log} 2>&1"
