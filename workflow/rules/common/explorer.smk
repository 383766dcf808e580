# Helpers of explorer.smk, included by common.smk: the explorer config, the embedding it shows, its targets.


def explorer_json():
    """The `explorer` config section as canonical JSON (a change rebuilds the explorer)."""
    return json.dumps(config["explorer"], sort_keys=True)


def explorer_embedding():
    """The embedding the explorer shows (validated against embedding_names() with the config)."""
    from galssl.explorer.settings import ExplorerSettings

    return ExplorerSettings.from_section(config["explorer"], embedding_names()).embedding_from(embedding_names())


def explorer_targets():
    """Final outputs of the explorer stage: one explorer per survey."""
    return [f"results/{survey}/explorer/index.html" for survey in config["surveys"]]
