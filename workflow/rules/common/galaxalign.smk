# Helpers of galaxalign.smk, included by common.smk: the GalaxAlign methods, symbol classes, metric tables, targets.

from galssl.symbols import SYMBOLS

GALAXALIGN_SYMBOL_CLASSES = list(SYMBOLS)  # the ten Galaxy10 classes, in label order


def galaxalign_methods():
    """The GalaxAlign methods (galaxalign, galaxalign_<ablation>) listed in pretrain.methods."""
    return [method for method in config["pretrain"]["methods"] if method.split("_")[0] == "galaxalign"]


def zero_shot_metric_tables(survey):
    """Tidy zero-shot metric tables of one survey (one per GalaxAlign method)."""
    return [f"results/{survey}/{method}/zero_shot/metrics.parquet" for method in galaxalign_methods()]


def galaxalign_targets():
    """The symbols and every GalaxAlign method's zero-shot tables and figures (nothing without such a method)."""
    if not galaxalign_methods():
        return []
    targets = ["results/symbols/overview.png"]
    for survey in config["surveys"]:
        targets += zero_shot_metric_tables(survey)
        for method in galaxalign_methods():
            targets += [
                f"results/{survey}/{method}/zero_shot/confusion.png",
                f"results/{survey}/{method}/zero_shot/similarity.png",
            ]
    return targets
