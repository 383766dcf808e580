# Representation maps of every embedding (results/{survey}/{embedding}/maps/): PCA, a Matryoshka BatchTopK sparse
# autoencoder aligned with Galaxy Zoo vote fractions, UMAP thumbnail maps, and the stationarity of the UMAP under
# rotation, jitter and noise against the pixel-space UMAP (fitted once per survey in results/{survey}/maps/).
# Each family is computed by one rule (tables: galssl.maps) and drawn by another (figures from those tables:
# galssl.maps.figure_data + galssl.plots.maps_*), so a figure is redrawn without refitting.
# Its helper functions (config -> params, inputs and targets) are in common/maps.smk.


rule maps_pca:
    input:
        embeddings="results/{survey}/{embedding}/embeddings.parquet",
        catalog="results/catalog/catalog.parquet",
        labels=labels_input(),
        shards=lambda w: shard_files(w.survey, "shards"),
        manifest="results/{survey}/manifest.json",
    output:
        scores="results/{survey}/{embedding}/maps/pca_scores.parquet",
        variance="results/{survey}/{embedding}/maps/pca_variance.parquet",
        alignment="results/{survey}/{embedding}/maps/pca_alignment.parquet",
        extremes="results/{survey}/{embedding}/maps/pca_extremes.parquet",
        metrics="results/{survey}/{embedding}/maps/pca_metrics.parquet",
    params:
        seed=config["seed"],
        maps=maps_json("pca", *MAPS_LABEL_KEYS),
        labels=labels_option,
        labels_config=labels_json(),
        out_dir=output_dir,
    log:
        "logs/maps/{survey}.{embedding}.pca.log",
    benchmark:
        "logs/benchmarks/maps/{survey}.{embedding}.pca.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl maps-pca --embeddings {input.embeddings} --catalog {input.catalog} {params.labels}"
        " --shards {input.shards} --manifest {input.manifest} --maps {params.maps:q}"
        " --labels-config {params.labels_config:q} --seed {params.seed} --out-dir {params.out_dir}"
        " --threads {threads} > {log} 2>&1"


rule maps_pca_figures:
    input:
        scores="results/{survey}/{embedding}/maps/pca_scores.parquet",
        variance="results/{survey}/{embedding}/maps/pca_variance.parquet",
        alignment="results/{survey}/{embedding}/maps/pca_alignment.parquet",
        extremes="results/{survey}/{embedding}/maps/pca_extremes.parquet",
        metrics="results/{survey}/{embedding}/maps/pca_metrics.parquet",
        labels=labels_input(),
        shards=lambda w: shard_files(w.survey, "shards"),
        manifest="results/{survey}/manifest.json",
    output:
        **maps_pca_figure_outputs(),
    params:
        labels=labels_option,
        labels_config=labels_json(),
        survey=lambda w: survey_json(w.survey),
        maps_dir=output_dir,
    log:
        "logs/maps/{survey}.{embedding}.pca_figures.log",
    benchmark:
        "logs/benchmarks/maps/{survey}.{embedding}.pca_figures.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl maps-pca-figures {params.labels} --labels-config {params.labels_config:q} --shards {input.shards}"
        " --manifest {input.manifest} --survey-config {params.survey:q} --maps-dir {params.maps_dir} > {log} 2>&1"


rule maps_sae:
    input:
        embeddings="results/{survey}/{embedding}/embeddings.parquet",
        catalog="results/catalog/catalog.parquet",
        labels=labels_input(),
        shards=lambda w: shard_files(w.survey, "shards"),
        manifest="results/{survey}/manifest.json",
    output:
        model="results/{survey}/{embedding}/maps/sae.pt",
        activations="results/{survey}/{embedding}/maps/sae_activations.parquet",
        features="results/{survey}/{embedding}/maps/sae_features.parquet",
        alignment="results/{survey}/{embedding}/maps/sae_alignment.parquet",
        metrics="results/{survey}/{embedding}/maps/sae_metrics.parquet",
    params:
        seed=config["seed"],
        maps=maps_json("sae", *MAPS_LABEL_KEYS),
        labels=labels_option,
        labels_config=labels_json(),
        out_dir=output_dir,
    log:
        "logs/maps/{survey}.{embedding}.sae.log",
    benchmark:
        "logs/benchmarks/maps/{survey}.{embedding}.sae.tsv"
    threads: 2
    resources:
        mem_mb=6000,
        runtime=60,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl maps-sae --embeddings {input.embeddings} --catalog {input.catalog} {params.labels}"
        " --shards {input.shards} --manifest {input.manifest} --maps {params.maps:q}"
        " --labels-config {params.labels_config:q} --seed {params.seed} --out-dir {params.out_dir}"
        " --threads {threads} > {log} 2>&1"


rule maps_sae_figures:
    input:
        activations="results/{survey}/{embedding}/maps/sae_activations.parquet",
        features="results/{survey}/{embedding}/maps/sae_features.parquet",
        metrics="results/{survey}/{embedding}/maps/sae_metrics.parquet",
        labels=labels_input(),
        shards=lambda w: shard_files(w.survey, "shards"),
        manifest="results/{survey}/manifest.json",
    output:
        **maps_sae_figure_outputs(),
    params:
        maps=maps_json("sae"),
        labels=labels_option,
        labels_config=labels_json(),
        survey=lambda w: survey_json(w.survey),
        maps_dir=output_dir,
    log:
        "logs/maps/{survey}.{embedding}.sae_figures.log",
    benchmark:
        "logs/benchmarks/maps/{survey}.{embedding}.sae_figures.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl maps-sae-figures {params.labels} --labels-config {params.labels_config:q} --maps {params.maps:q}"
        " --shards {input.shards} --manifest {input.manifest} --survey-config {params.survey:q}"
        " --maps-dir {params.maps_dir} > {log} 2>&1"


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
        "logs/benchmarks/maps/{survey}.{embedding}.alignment.tsv"
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
        "logs/benchmarks/maps/{survey}.pixel_stationarity.tsv"
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
        pixel_paths="results/{survey}/maps/pixel_stationarity.parquet",
    output:
        umap="results/{survey}/{embedding}/maps/umap.parquet",
        cells="results/{survey}/{embedding}/maps/umap_cells.parquet",
        paths="results/{survey}/{embedding}/maps/stationarity.parquet",
        metrics="results/{survey}/{embedding}/maps/umap_metrics.parquet",
    params:
        seed=config["seed"],
        maps=maps_json("umap", "stationarity", *MAPS_LABEL_KEYS),
        labels=labels_option,
        labels_config=labels_json(),
        encoder=maps_encoder_args,
        out_dir=output_dir,
    log:
        "logs/maps/{survey}.{embedding}.umap.log",
    benchmark:
        "logs/benchmarks/maps/{survey}.{embedding}.umap.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl maps-umap --embeddings {input.embeddings} --catalog {input.catalog} {params.labels}"
        " --shards {input.shards} --manifest {input.manifest} --maps {params.maps:q}"
        " --labels-config {params.labels_config:q} {params.encoder} --pixel-paths {input.pixel_paths}"
        " --seed {params.seed} --out-dir {params.out_dir} --threads {threads} > {log} 2>&1"


rule maps_umap_figures:
    input:
        umap="results/{survey}/{embedding}/maps/umap.parquet",
        cells="results/{survey}/{embedding}/maps/umap_cells.parquet",
        paths="results/{survey}/{embedding}/maps/stationarity.parquet",
        metrics="results/{survey}/{embedding}/maps/umap_metrics.parquet",
        pixel_umap="results/{survey}/maps/pixel_umap.parquet",
        labels=labels_input(),
        shards=lambda w: shard_files(w.survey, "shards"),
        manifest="results/{survey}/manifest.json",
    output:
        thumbnails=maps_figure("umap_map", "maps_umap_map", "umap map"),
        scatter=maps_figure("umap_scatter", "maps_umap_scatter", "umap scatter"),
        stationarity=maps_figure("stationarity", "maps_stationarity", "stationarity"),
    params:
        labels=labels_option,
        labels_config=labels_json(),
        survey=lambda w: survey_json(w.survey),
        maps_dir=output_dir,
    log:
        "logs/maps/{survey}.{embedding}.umap_figures.log",
    benchmark:
        "logs/benchmarks/maps/{survey}.{embedding}.umap_figures.tsv"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=10,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl maps-umap-figures {params.labels} --labels-config {params.labels_config:q} --shards {input.shards}"
        " --manifest {input.manifest} --survey-config {params.survey:q} --pixel-umap {input.pixel_umap}"
        " --maps-dir {params.maps_dir} > {log} 2>&1"


STAGE_TARGETS.append(maps_targets)
