"""hw2's Part 1 items that rest on the curves, named once for the tests that check the refits."""

PART1_CURVES = [f"p1_{m}_{s}_curve" for m in ("dt", "rf", "gb") for s in ("train", "val")]
PART1_RESTING_ON_CURVES = [
    "p1_dt_best_depth",
    "p1_rf_best_depth",
    "p1_gb_best_depth",
    "p1_boosting_prefers",
    "p1_least_overfit",
    "p1_lowest_bias",
]
