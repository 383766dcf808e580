# Helpers of ingest.smk, included by common.smk: the figure targets.


def ingest_figure_targets():
    """Final outputs of the ingest stage's figure: the cutout gallery of every survey."""
    return [f"results/{survey}/cutouts.png" for survey in config["surveys"]]
