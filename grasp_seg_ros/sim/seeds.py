"""Scene seeds by purpose, in one table: scenes that judge a model never come from the seeds a
dataset for training may use, and anyone can check it (``check_dataset_seeds``)."""

from __future__ import annotations

#: purpose -> the scene seeds it draws from (disjoint)
SEED_RANGES: dict[str, range] = {
    "dataset": range(0, 2_000_000),            # grasp-seg dataset generate: train, val, test
    "evaluate": range(2_000_000, 3_000_000),   # grasp-seg evaluate: rectangle-metric scenes
    "bench": range(3_000_000, 4_000_000),      # grasp-seg bench frames
    "sim_eval": range(5_000_000, 6_000_000),   # grasp-seg sim-eval trials
    "soak": range(7_000_000, 8_000_000),       # grasp-seg soak frames
}
#: the purposes whose scenes judge models: never in a dataset
HELD_OUT = ("evaluate", "sim_eval")


def first_seed(purpose: str) -> int:
    return SEED_RANGES[purpose].start


def check_dataset_seeds(first: int, count: int) -> None:
    """Raise ValueError when dataset scenes ``first .. first + count - 1`` would use a seed
    held out for judging models."""
    wanted = range(first, first + count)
    for purpose in HELD_OUT:
        held = SEED_RANGES[purpose]
        if wanted.start < held.stop and held.start < wanted.stop:
            raise ValueError(f"scene seeds {wanted.start}..{wanted.stop - 1} overlap the seeds "
                             f"held out for {purpose} ({held.start}..{held.stop - 1}); "
                             f"datasets use {SEED_RANGES['dataset'].start}.."
                             f"{SEED_RANGES['dataset'].stop - 1}")
