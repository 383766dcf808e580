"""The built-in mock sky: a deterministic synthetic imaging survey with known truth.

Everything about an object derives from ``(seed, object_id)``: class, redshift, structure, colours, the
Galaxy Zoo-style votes and the noise in its images. See :class:`galssl.mocksky.sky.MockSky`.
"""
