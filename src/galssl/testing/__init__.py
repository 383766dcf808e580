"""HTTP fakes of the real services, serving the mock sky (``galssl mock-server`` and the tests).

``server`` is the HTTP server; ``services`` (Legacy Survey cutouts, hips2fits) and ``skyserver`` (SDSS SkyServer
and SAS frames) answer its requests as pure functions of the mock sky; ``faults`` injects the failures real
services show (timeouts, 5xx, truncated bodies). The pipeline never imports them: a run on the mock sky renders its
cutouts in process (``galssl.providers.mock``); these exist so that the network providers' real query code runs
offline against known truth.
"""
