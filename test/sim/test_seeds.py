"""Held-out scene seeds: one table, disjoint ranges, and datasets refuse to use them."""

import pytest

from grasp_seg_ros.sim.dataset import main as dataset_main
from grasp_seg_ros.sim.evaluation import EVAL_SEED_OFFSET as SIM_EVAL_SEED
from grasp_seg_ros.sim.seeds import HELD_OUT, SEED_RANGES, check_dataset_seeds
from grasp_seg_ros.training.evaluate import EVAL_SEED_OFFSET as EVALUATE_SEED


def test_ranges_are_disjoint_and_the_evaluations_draw_from_theirs():
    ranges = sorted(SEED_RANGES.values(), key=lambda r: r.start)
    assert all(a.stop <= b.start for a, b in zip(ranges, ranges[1:]))
    assert EVALUATE_SEED in SEED_RANGES["evaluate"] and SIM_EVAL_SEED in SEED_RANGES["sim_eval"]
    assert set(HELD_OUT) <= set(SEED_RANGES) and "dataset" not in HELD_OUT


def test_dataset_seeds_never_reach_a_held_out_range():
    check_dataset_seeds(0, 1000)
    check_dataset_seeds(SEED_RANGES["evaluate"].start - 10, 10)  # ends just before
    with pytest.raises(ValueError, match="held out for evaluate"):
        check_dataset_seeds(SEED_RANGES["evaluate"].start - 10, 11)
    with pytest.raises(ValueError, match="held out for sim_eval"):
        check_dataset_seeds(SEED_RANGES["sim_eval"].start + 5, 1)


def test_the_dataset_command_refuses_held_out_seeds(tmp_path, capsys):
    with pytest.raises(SystemExit):
        dataset_main(["generate", "--out", str(tmp_path), "--split", "train", "--scenes", "3",
                      "--seed", str(SEED_RANGES["sim_eval"].start)])
    assert "held out for sim_eval" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
