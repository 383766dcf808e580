# The supervised baseline trained from scratch on N labels (the label-efficiency comparison): per survey, N and
# seed, train `supervised` on the same nested stratified label subset the probes use, then score its head on test.
# Its full-data point is the pretraining run of `supervised` itself (every labelled train object).
# Its helper functions (config -> params, inputs and targets) are in common/baseline.smk.


STAGE_TARGETS.append(scratch_targets)


rule label_subset:
    input:
        shards=lambda w: shard_files(w.survey, "shards"),
        labels=labels_input(),
    output:
        "results/{survey}/supervised_from_scratch/n{n_labels}_seed{seed}/train_ids.parquet",
    wildcard_constraints:
        n_labels=r"\d+",
        seed=r"\d+",
    params:
        class_column=LABELS.class_column,
    log:
        "logs/baseline/{survey}.n{n_labels}_seed{seed}.subset.log",
    benchmark:
        "logs/benchmarks/baseline/{survey}.n{n_labels}_seed{seed}.subset.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl label-subset --shards {input.shards} --labels {input.labels} --class-column {params.class_column}"
        " --n-labels {wildcards.n_labels} --seed {wildcards.seed} --out {output} > {log} 2>&1"


rule supervised_from_scratch:
    input:
        ids="results/{survey}/supervised_from_scratch/n{n_labels}_seed{seed}/train_ids.parquet",
        shards=lambda w: shard_files(w.survey, "shards"),
        manifest="results/{survey}/manifest.json",
        labels=labels_input(),
    output:
        ckpt="results/{survey}/supervised_from_scratch/n{n_labels}_seed{seed}/encoder.ckpt",
        metrics="results/{survey}/supervised_from_scratch/n{n_labels}_seed{seed}/metrics.csv",
    wildcard_constraints:
        n_labels=r"\d+",
        seed=r"\d+",
    params:
        survey=lambda w: survey_json(w.survey),
        pretrain=lambda w: scratch_pretrain_json(int(w.n_labels)),
        class_column=LABELS.class_column,
        out_dir=output_dir,
    log:
        "logs/baseline/{survey}.n{n_labels}_seed{seed}.train.log",
    benchmark:
        "logs/benchmarks/baseline/{survey}.n{n_labels}_seed{seed}.train.tsv"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=1,
    conda:
        "../../envs/torch.yaml"
    shell:
        "galssl pretrain --survey {wildcards.survey} --survey-config {params.survey:q} --method supervised"
        " --pretrain {params.pretrain:q} --shards {input.shards} --manifest {input.manifest} --labels {input.labels}"
        " --class-column {params.class_column}"
        " --train-ids {input.ids} --seed {wildcards.seed} --out-dir {params.out_dir} --threads {threads} > {log} 2>&1"


rule score_supervised_from_scratch:
    input:
        ckpt="results/{survey}/supervised_from_scratch/n{n_labels}_seed{seed}/encoder.ckpt",
        ids="results/{survey}/supervised_from_scratch/n{n_labels}_seed{seed}/train_ids.parquet",
        shards=lambda w: shard_files(w.survey, "shards"),
        manifest="results/{survey}/manifest.json",
        labels=labels_input(),
    output:
        "results/{survey}/supervised_from_scratch/n{n_labels}_seed{seed}/scores.parquet",
    wildcard_constraints:
        n_labels=r"\d+",
        seed=r"\d+",
    params:
        class_column=LABELS.class_column,
    log:
        "logs/baseline/{survey}.n{n_labels}_seed{seed}.score.log",
    benchmark:
        "logs/benchmarks/baseline/{survey}.n{n_labels}_seed{seed}.score.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/torch.yaml"
    shell:
        "galssl score-supervised --ckpt {input.ckpt} --train-ids {input.ids} --shards {input.shards}"
        " --manifest {input.manifest} --labels {input.labels} --class-column {params.class_column}"
        " --seed {wildcards.seed} --out {output} --threads {threads} > {log} 2>&1"


rule score_supervised_all_labels:
    input:
        ckpt="results/{survey}/supervised/encoder.ckpt",
        shards=lambda w: shard_files(w.survey, "shards"),
        manifest="results/{survey}/manifest.json",
        labels=labels_input(),
    output:
        "results/{survey}/supervised/scores.parquet",
    params:
        class_column=LABELS.class_column,
        seed=config["seed"],
    log:
        "logs/baseline/{survey}.all_labels.score.log",
    benchmark:
        "logs/benchmarks/baseline/{survey}.all_labels.score.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/torch.yaml"
    shell:
        "galssl score-supervised --ckpt {input.ckpt} --shards {input.shards} --manifest {input.manifest}"
        " --labels {input.labels} --class-column {params.class_column} --seed {params.seed} --out {output}"
        " --threads {threads} > {log} 2>&1"


rule gather_supervised_from_scratch:
    input:
        lambda w: [
            f"results/{w.survey}/supervised_from_scratch/n{n}_seed{seed}/scores.parquet"
            for n in scratch_sizes()
            for seed in scratch_seeds()
        ]
        + [f"results/{w.survey}/supervised/scores.parquet"],
    output:
        "results/{survey}/supervised_from_scratch/label_efficiency.parquet",
    log:
        "logs/baseline/{survey}.gather.log",
    benchmark:
        "logs/benchmarks/baseline/{survey}.gather.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl concat-metrics --tables {input} --out {output} > {log} 2>&1"
