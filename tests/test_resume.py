"""helpers.resume: notebooks 01 and 03 resume their PPO loop after a disconnect (TRL 0.11)."""

import json

import pytest

from .conftest import run_python


@pytest.fixture(scope="module")
def runs(legacy_python):
    return json.loads(run_python(legacy_python, "tests/resume_probe.py").splitlines()[-1])


def test_a_loop_cut_off_after_its_checkpoint_resumes_as_if_never_cut(runs):
    through, cut, resumed = runs["through"], runs["cut"], runs["resumed"]
    assert cut["saved"] and len(cut["history"]) == 3  # steps 1-3 ran, the checkpoint holds 1-2
    assert resumed["start"] == 3 and [h["step"] for h in resumed["history"]] == [1, 2, 3, 4]
    assert resumed["history"] == through["history"]  # the same samples, KL and KL coefficient
    assert resumed["weights"] == pytest.approx(through["weights"], rel=1e-9)


def test_a_checkpoint_of_other_settings_is_not_resumed_and_none_is_left(runs):
    assert runs["changed"]["start"] == 1
    assert runs["through"]["deleted"] and runs["resumed"]["deleted"]
    assert runs["left"] == []
