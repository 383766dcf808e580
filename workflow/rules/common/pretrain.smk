# Helpers of pretrain.smk, included by common.smk: what one pretraining job reads of the config.


def method_pretrain_json(method):
    """The pretrain section as one method sees it (its own method_config only, no method list): editing another
    method's settings, or adding a method, does not retrain this one."""
    section = {key: value for key, value in config["pretrain"].items() if key != "methods"}
    section["method_config"] = {method: method_config_of(method)}
    return json.dumps(section, sort_keys=True)


def method_config_of(method):
    """`pretrain.method_config.<method>`; a GalaxAlign ablation (galaxalign_nosymbols, galaxalign_stage1,
    galaxalign_stage2) starts from galaxalign's settings and overrides them with its own."""
    configs = config["pretrain"]["method_config"]
    inherited = configs.get("galaxalign", {}) if method.startswith("galaxalign_") else {}
    return {**inherited, **configs.get(method, {})}
