"""The course's lessons: one record per notebook, the table that the runner, the report, the
publisher, the memory and time estimates and the tests read. Plain data: it imports nothing of the
course, so every other module may import it.

A record: the notebook's file; its stack (00 runs on either, the runner uses modern); its profile
section (``helpers.profiles``); its title; what a student learns; the prompt length in tokens that
the memory and time estimates assume where the notebook does not measure its own (04 measures its
longest prompt); and which earlier notebook's output folder it reads (parameter -> notebook).
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = REPO / "notebooks"

COURSE = [
    dict(notebook="00_setup_and_trl_versions.ipynb", stack="modern", section="setup",
         title="00 setup and TRL versions",
         learn="which stack and why; a working environment; a first generation"),
    dict(notebook="01_genre_ppo_bert_reward.ipynb", stack="legacy", section="genre_ppo",
         title="01 genre PPO with a BERT reward", prompt_tokens=8,
         learn="classic PPO: GPT-2 learns a genre from a classifier's reward"),
    dict(notebook="02_gsm8k_sft.ipynb", stack="modern", section="sft",
         title="02 GSM8K SFT",
         learn="supervised fine-tuning of GPT-2 on math word problems"),
    dict(notebook="03_ppo_on_sft_model.ipynb", stack="legacy", section="ppo_sft",
         title="03 PPO on the SFT model", prompt_tokens=128,
         learn="reference model and KL, MiniLM similarity reward, 16-bit weights",
         inputs={"sft_checkpoint": "02_gsm8k_sft"}),
    dict(notebook="04_grpo_heuristic_rewards.ipynb", stack="modern", section="grpo",
         title="04 GRPO with heuristic rewards", prompt_tokens=200,
         learn="DeepSeek-style GRPO on Qwen2.5-0.5B-Instruct, no reward network"),
    dict(notebook="05_rloo_genre_modern_trl.ipynb", stack="modern", section="genre_rloo",
         title="05 RLOO on the genre task", prompt_tokens=8,
         learn="PPO's successor in today's TRL, side by side with 01, and how to migrate",
         inputs={"genre_run": "01_genre_ppo_bert_reward"}),
    dict(notebook="06_preferences_reward_model_dpo.ipynb", stack="modern", section="preferences",
         title="06 preferences, a reward model and DPO", prompt_tokens=8,
         learn="human preferences, a Bradley-Terry reward model, DPO against RLOO, and reward "
               "over-optimisation",
         inputs={"genre_run": "01_genre_ppo_bert_reward"}),
]

# Where a notebook does not measure its prompts, the length the estimates assume, per section.
PROMPT_TOKENS = {lesson["section"]: lesson["prompt_tokens"] for lesson in COURSE if "prompt_tokens" in lesson}
