# Helpers of maps.smk, included by common.smk: which maps the labels allow, the maps config each rule reads, the
# encoder of the stationarity copies, the figures, tables and targets.

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


def maps_pca_figure_outputs():
    """Figures of maps_pca_figures: variance and extremes, and the Spearman heat map when there is anything to
    correlate with."""
    outputs = dict(
        variance=maps_figure("pca_variance", "maps_pca_variance", "pca variance"),
        extremes=maps_figure("pca_extremes", "maps_pca_extremes", "pca extremes"),
    )
    if maps_has_targets():
        outputs["spearman"] = maps_figure("pca_spearman", "maps_pca_spearman", "pca spearman")
    return outputs


def maps_sae_figure_outputs():
    """Figures of maps_sae_figures: the most frequent latents, and the most label-aligned ones when there is anything
    to align with."""
    outputs = dict(frequent=maps_figure("sae_frequent", "maps_sae_frequent", "sae frequent"))
    if maps_has_targets():
        outputs["aligned"] = maps_figure("sae_aligned", "maps_sae_aligned", "sae aligned")
    return outputs


def maps_json(*keys):
    """The keys of the `maps` config section that one job reads, as canonical JSON, so that a change re-runs only the
    jobs that read it (the rest of the section takes its defaults, which those jobs do not use)."""
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
