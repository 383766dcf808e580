# Representation maps of every embedding (results/{survey}/{embedding}/maps/): PCA, a Matryoshka BatchTopK sparse
# autoencoder aligned with Galaxy Zoo vote fractions, UMAP thumbnail maps, and the stationarity of the UMAP under
# rotation, jitter and noise against the pixel-space UMAP (fitted once per survey in results/{survey}/maps/).


MAPS_LABEL_KEYS = ("truth_columns", "min_shared_nonzero")


def maps_has_targets():
    """Something to correlate features with: vote fractions or a redshift (the Spearman heat map, the SAE's most
    label-aligned latents)."""
    return has_labels("votes") or has_labels("redshift")


def maps_has_alignment():
    """The SAE-vs-PCA alignment figure needs vote fractions to align with."""
    return has_labels("votes")


def maps_figure(name, caption, figure):
    """A maps figure of one survey x embedding, in the report."""
    return report(f"results/{{survey}}/{{embedding}}/maps/{name}.png", caption=f"../report/{caption}.rst",
                  category="Maps", subcategory="{survey}",
                  labels={"survey": "{survey}", "embedding": "{embedding}", "figure": figure})


def maps_pca_outputs():
    """Outputs of maps_pca: the tables, the variance and extremes figures, and the Spearman heat map when there is
    anything to correlate with."""
    outputs = dict(
        scores="results/{survey}/{embedding}/maps/pca_scores.parquet",
        variance_table="results/{survey}/{embedding}/maps/pca_variance.parquet",
        alignment="results/{survey}/{embedding}/maps/pca_alignment.parquet",
        metrics="results/{survey}/{embedding}/maps/pca_metrics.parquet",
        variance=maps_figure("pca_variance", "maps_pca_variance", "pca variance"),
        extremes=maps_figure("pca_extremes", "maps_pca_extremes", "pca extremes"),
    )
    if maps_has_targets():
        outputs["spearman"] = maps_figure("pca_spearman", "maps_pca_spearman", "pca spearman")
    return outputs


def maps_sae_outputs():
    """Outputs of maps_sae: model, tables, the most frequent latents, and the most label-aligned ones when there is
    anything to align with."""
    outputs = dict(
        model="results/{survey}/{embedding}/maps/sae.pt",
        activations="results/{survey}/{embedding}/maps/sae_activations.parquet",
        features="results/{survey}/{embedding}/maps/sae_features.parquet",
        alignment="results/{survey}/{embedding}/maps/sae_alignment.parquet",
        metrics="results/{survey}/{embedding}/maps/sae_metrics.parquet",
        frequent=maps_figure("sae_frequent", "maps_sae_frequent", "sae frequent"),
    )
    if maps_has_targets():
        outputs["aligned"] = maps_figure("sae_aligned", "maps_sae_aligned", "sae aligned")
    return outputs


def maps_json(*keys):
    """The keys of the `maps` config section one rule reads, as canonical JSON: a change re-runs only the rules that
    read it (the rest of the section takes its defaults, which those rules do not use)."""
    return json.dumps({key: config["maps"][key] for key in keys if key in config["maps"]}, sort_keys=True)


def maps_encoder_input(wildcards):
    """What re-embeds the stationarity copies: the encoder checkpoint, or an external encoder's local weights."""
    external = config["embed"]["external"].get(wildcards.embedding)
    if external is None:
        return {"ckpt": f"results/{wildcards.survey}/{wildcards.embedding}/encoder.ckpt"}
    return {"weights": external["weights"]} if external.get("weights") else {}


def maps_encoder_args(wildcards, input):
    """`--ckpt FILE`, or `--timm NAME [--weights FILE] [--crop N]` for an external encoder."""
    external = config["embed"]["external"].get(wildcards.embedding)
    if external is None:
        return f"--ckpt {input.ckpt}"
    args = f"--timm {external['timm']}"
    if external.get("weights"):
        args += f" --weights {external['weights']}"
    if external.get("crop"):
        args += f" --crop {external['crop']}"
    return args


rule maps_pca:
    input:
        embeddings="results/{survey}/{embedding}/embeddings.parquet",
        catalog="results/catalog/catalog.parquet",
        labels=labels_input(),
        shards=lambda w: shard_files(w.survey, "shards"),
        manifest="results/{survey}/manifest.json",
    output:
        **maps_pca_outputs(),
    params:
        seed=config["seed"],
        maps=maps_json("pca", *MAPS_LABEL_KEYS),
        labels=labels_option,
        labels_config=labels_json(),
        survey=lambda w: survey_json(w.survey),
        out_dir="results/{survey}/{embedding}/maps",
    log:
        "logs/maps/{survey}.{embedding}.pca.log",
    benchmark:
        "benchmarks/rules/maps/{survey}.{embedding}.pca.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl maps-pca --embeddings {input.embeddings} --catalog {input.catalog} {params.labels}"
        " --shards {input.shards} --manifest {input.manifest} --maps {params.maps:q}"
        " --labels-config {params.labels_config:q} --survey-config {params.survey:q}"
        " --seed {params.seed} --out-dir {params.out_dir} --threads {threads} > {log} 2>&1"


rule maps_sae:
    input:
        embeddings="results/{survey}/{embedding}/embeddings.parquet",
        catalog="results/catalog/catalog.parquet",
        labels=labels_input(),
        shards=lambda w: shard_files(w.survey, "shards"),
        manifest="results/{survey}/manifest.json",
    output:
        **maps_sae_outputs(),
    params:
        seed=config["seed"],
        maps=maps_json("sae", *MAPS_LABEL_KEYS),
        labels=labels_option,
        labels_config=labels_json(),
        survey=lambda w: survey_json(w.survey),
        out_dir="results/{survey}/{embedding}/maps",
    log:
        "logs/maps/{survey}.{embedding}.sae.log",
    benchmark:
        "benchmarks/rules/maps/{survey}.{embedding}.sae.tsv"
    threads: 2
    resources:
        mem_mb=6000,
        runtime=60,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl maps-sae --embeddings {input.embeddings} --catalog {input.catalog} {params.labels}"
        " --shards {input.shards} --manifest {input.manifest} --maps {params.maps:q}"
        " --labels-config {params.labels_config:q} --survey-config {params.survey:q}"
        " --seed {params.seed} --out-dir {params.out_dir} --threads {threads} > {log} 2>&1"


rule maps_alignment:
    input:
        pca="results/{survey}/{embedding}/maps/pca_alignment.parquet",
        sae="results/{survey}/{embedding}/maps/sae_alignment.parquet",
    output:
        report("results/{survey}/{embedding}/maps/alignment.png", caption="../report/maps_alignment.rst",
               category="Maps", subcategory="{survey}",
               labels={"survey": "{survey}", "embedding": "{embedding}", "figure": "alignment"}),
    params:
        labels_config=labels_json(),
    log:
        "logs/maps/{survey}.{embedding}.alignment.log",
    benchmark:
        "benchmarks/rules/maps/{survey}.{embedding}.alignment.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl maps-alignment --pca {input.pca} --sae {input.sae} --labels-config {params.labels_config:q}"
        " --title '{wildcards.survey} / {wildcards.embedding}: sparse autoencoder vs PCA, alignment with Galaxy Zoo"
        " votes (test split)' --out {output} > {log} 2>&1"


rule maps_pixel_stationarity:
    input:
        catalog="results/catalog/catalog.parquet",
        labels=labels_input(),
        shards=lambda w: shard_files(w.survey, "shards"),
        manifest="results/{survey}/manifest.json",
    output:
        umap="results/{survey}/maps/pixel_umap.parquet",
        paths="results/{survey}/maps/pixel_stationarity.parquet",
    params:
        seed=config["seed"],
        maps=maps_json("umap", "stationarity", *MAPS_LABEL_KEYS),
        labels=labels_option,
        labels_config=labels_json(),
        crop=lambda w: encoder_crop(w.survey),
    log:
        "logs/maps/{survey}.pixel_stationarity.log",
    benchmark:
        "benchmarks/rules/maps/{survey}.pixel_stationarity.tsv"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=30,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl maps-pixel-stationarity --catalog {input.catalog} {params.labels} --shards {input.shards}"
        " --manifest {input.manifest} --maps {params.maps:q} --labels-config {params.labels_config:q}"
        " --crop {params.crop} --seed {params.seed}"
        " --out-umap {output.umap} --out-paths {output.paths} --threads {threads} > {log} 2>&1"


rule maps_umap:
    input:
        unpack(maps_encoder_input),
        embeddings="results/{survey}/{embedding}/embeddings.parquet",
        catalog="results/catalog/catalog.parquet",
        labels=labels_input(),
        shards=lambda w: shard_files(w.survey, "shards"),
        manifest="results/{survey}/manifest.json",
        pixel_umap="results/{survey}/maps/pixel_umap.parquet",
        pixel_paths="results/{survey}/maps/pixel_stationarity.parquet",
    output:
        umap="results/{survey}/{embedding}/maps/umap.parquet",
        paths="results/{survey}/{embedding}/maps/stationarity.parquet",
        metrics="results/{survey}/{embedding}/maps/umap_metrics.parquet",
        thumbnails=report("results/{survey}/{embedding}/maps/umap_map.png", caption="../report/maps_umap_map.rst",
                          category="Maps", subcategory="{survey}",
                          labels={"survey": "{survey}", "embedding": "{embedding}", "figure": "umap map"}),
        scatter=report("results/{survey}/{embedding}/maps/umap_scatter.png", caption="../report/maps_umap_scatter.rst",
                       category="Maps", subcategory="{survey}",
                       labels={"survey": "{survey}", "embedding": "{embedding}", "figure": "umap scatter"}),
        stationarity=report("results/{survey}/{embedding}/maps/stationarity.png",
                            caption="../report/maps_stationarity.rst", category="Maps", subcategory="{survey}",
                            labels={"survey": "{survey}", "embedding": "{embedding}", "figure": "stationarity"}),
    params:
        seed=config["seed"],
        maps=maps_json("umap", "stationarity", *MAPS_LABEL_KEYS),
        labels=labels_option,
        labels_config=labels_json(),
        survey=lambda w: survey_json(w.survey),
        encoder=maps_encoder_args,
        out_dir="results/{survey}/{embedding}/maps",
    log:
        "logs/maps/{survey}.{embedding}.umap.log",
    benchmark:
        "benchmarks/rules/maps/{survey}.{embedding}.umap.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl maps-umap --embeddings {input.embeddings} --catalog {input.catalog} {params.labels}"
        " --shards {input.shards} --manifest {input.manifest} --maps {params.maps:q}"
        " --labels-config {params.labels_config:q} --survey-config {params.survey:q}"
        " {params.encoder} --pixel-umap {input.pixel_umap} --pixel-paths {input.pixel_paths} --seed {params.seed}"
        " --out-dir {params.out_dir} --threads {threads} > {log} 2>&1"


def maps_metric_tables(survey):
    """Every metrics table the maps stage writes for a survey (gathered into results/{survey}/metrics.parquet)."""
    return [f"results/{survey}/{embedding}/maps/{part}_metrics.parquet"
            for embedding in embedding_names() for part in ("pca", "sae", "umap")]


def maps_figures():
    """The maps figures of one survey x embedding that the run's labels allow."""
    figures = ["pca_variance", "pca_extremes", "sae_frequent", "umap_map", "umap_scatter", "stationarity"]
    if maps_has_targets():
        figures += ["pca_spearman", "sae_aligned"]
    if maps_has_alignment():
        figures.append("alignment")
    return figures


def maps_targets():
    """Final outputs of the maps stage: every figure of every survey and embedding, and the metrics tables."""
    if not maps_has_alignment():
        leave_out("vote-alignment maps (SAE vs PCA alignment figure)", LABELS.reason("votes"))
    if not maps_has_targets():
        leave_out("label-alignment maps (PCA Spearman heat map, SAE most label-aligned latents)",
                  "no vote fractions and no redshift to correlate features with")
    figures = maps_figures()
    return [f"results/{survey}/{embedding}/maps/{figure}.png"
            for survey in config["surveys"] for embedding in embedding_names() for figure in figures] + [
        path for survey in config["surveys"] for path in maps_metric_tables(survey)]


STAGE_TARGETS.append(maps_targets)
