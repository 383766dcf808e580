# Helpers of embed.smk, included by common.smk: the encoders' crop, the options of external encoders.


def encoder_crop(survey):
    """Side of the images the encoders see: the pretraining crop, else the cutout size."""
    from galssl.augment.settings import crop_size

    return crop_size(config["pretrain"], config["surveys"][survey]["cutout_size"])


def external_option(name, key, flag):
    """`--flag value` for an optional key of `embed.external.<name>`, else ''."""
    value = config["embed"]["external"][name].get(key)
    return f"{flag} {value}" if value not in (None, "") else ""
