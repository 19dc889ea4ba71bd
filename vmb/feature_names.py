"""Names of the dimensions that vmb's two fixed audio-feature vectors have in common: the
retrieval ``FeaturesEncoder`` (:mod:`vmb.retrieve.encoders.features`) and ``vmb eval``'s
fd-features (:mod:`vmb.eval.features`) both carry this block, in this order.

A base module (no imports), so that neither vector's import pulls in the other's stage.
"""

# mean and std over frames of the log2 spectral centroid, the log2 85 % rolloff and the flatness
SPECTRAL_SHAPE_NAMES: tuple[str, ...] = (
    "log_centroid_mean",
    "log_centroid_std",
    "log_rolloff_mean",
    "log_rolloff_std",
    "flatness_mean",
    "flatness_std",
)
