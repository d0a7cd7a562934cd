"""The course's lessons: one record per notebook, the table that the runner, the report, the
publisher, the profiles, the memory and time estimates and the tests read. Plain data, checked when
it is imported: it imports nothing of the course but the names of the stacks, so every other module
may import it. Adding a lesson is one record here plus its notebook (and its section in each profile
of ``helpers.profiles``, which says so at import if one is missing).

A record: the notebook's file; its stack (00 runs on either, the runner uses modern); its profile
section (``helpers.profiles``); its title; what a student learns; the prompt length in tokens that
the memory and time estimates assume where the notebook does not measure its own (04 measures its
longest prompt); which earlier notebook's output folder it reads (parameter -> notebook); whether
its cpu profile keeps the lesson, so that Colab's CPU runtime may take it instead of a GPU
(``cpu_runtime``); and what the course report shows of it (``report``: GSM8K stages as (label,
"before" | "after" | "contrast"), a genre-reward row's label, or the preference section).
"""

from __future__ import annotations

from pathlib import Path

from helpers.env import STACKS

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = REPO / "notebooks"

COURSE = [
    dict(
        notebook="00_setup_and_trl_versions.ipynb",
        stack="modern",
        section="setup",
        title="00 setup and TRL versions",
        learn="which stack and why; a working environment; a first generation",
    ),
    dict(
        notebook="01_genre_ppo_bert_reward.ipynb",
        stack="legacy",
        section="genre_ppo",
        title="01 genre PPO with a BERT reward",
        prompt_tokens=8,
        cpu_runtime=True,
        learn="classic PPO: GPT-2 learns a genre from a classifier's reward",
        report=dict(genre="PPO, legacy TRL (01)"),
    ),
    dict(
        notebook="02_gsm8k_sft.ipynb",
        stack="modern",
        section="sft",
        title="02 GSM8K SFT",
        cpu_runtime=True,
        learn="supervised fine-tuning of GPT-2 on math word problems",
        report=dict(gsm8k=[("base model", "before"), ("after SFT (02)", "after")]),
    ),
    dict(
        notebook="03_ppo_on_sft_model.ipynb",
        stack="legacy",
        section="ppo_sft",
        title="03 PPO on the SFT model",
        prompt_tokens=128,
        learn="reference model and KL, MiniLM similarity reward, 16-bit weights",
        inputs={"sft_checkpoint": "02_gsm8k_sft"},
        report=dict(
            gsm8k=[
                ("after PPO (03)", "after"),
                ("after PPO with similarity alone (03's contrast)", "contrast"),
            ]
        ),
    ),
    dict(
        notebook="04_grpo_heuristic_rewards.ipynb",
        stack="modern",
        section="grpo",
        title="04 GRPO with heuristic rewards",
        prompt_tokens=200,
        learn="DeepSeek-style GRPO on Qwen2.5-0.5B-Instruct, no reward network",
        report=dict(
            gsm8k=[
                ("before GRPO (04: a chat model, not 02's)", "before"),
                ("after GRPO (04)", "after"),
            ]
        ),
    ),
    dict(
        notebook="05_rloo_genre_modern_trl.ipynb",
        stack="modern",
        section="genre_rloo",
        title="05 RLOO on the genre task",
        prompt_tokens=8,
        cpu_runtime=True,
        learn="PPO's successor in today's TRL, side by side with 01, and how to migrate",
        inputs={"genre_run": "01_genre_ppo_bert_reward"},
        report=dict(genre="RLOO, today's TRL (05)"),
    ),
    dict(
        notebook="06_preferences_reward_model_dpo.ipynb",
        stack="modern",
        section="preferences",
        title="06 preferences, a reward model and DPO",
        prompt_tokens=8,
        cpu_runtime=True,
        learn="human preferences, a Bradley-Terry reward model, DPO against RLOO, and reward "
        "over-optimisation",
        inputs={"genre_run": "01_genre_ppo_bert_reward"},
        report=dict(preferences=True),
    ),
]


class LessonError(ValueError):
    """A lesson record that names no notebook file, an unknown stack, or an input that no earlier
    lesson is."""


def check_lessons(lessons: list[dict], notebooks_dir: Path = NOTEBOOKS_DIR) -> list[dict]:
    """The records, or a LessonError that names the record and what to change. Notebook files are
    looked for only where the notebooks folder exists (a checkout; an installed package has
    none)."""
    seen = set()
    for lesson in lessons:
        name = lesson.get("notebook", "?")
        missing = [
            key for key in ("notebook", "stack", "section", "title", "learn") if key not in lesson
        ]
        if missing:
            raise LessonError(
                f"Lesson {name!r} lacks {missing}: every record has a notebook, stack, "
                "section, title and learn."
            )
        if lesson["stack"] not in STACKS:
            raise LessonError(
                f"Lesson {name!r}: unknown stack {lesson['stack']!r}; the stacks are "
                f"{sorted(STACKS)}."
            )
        if notebooks_dir.is_dir() and not (notebooks_dir / name).is_file():
            raise LessonError(
                f"Lesson {name!r}: no such notebook in {notebooks_dir}; add it or fix the "
                "file name."
            )
        for parameter, source in lesson.get("inputs", {}).items():
            if source not in seen:
                raise LessonError(
                    f"Lesson {name!r} reads {parameter} from {source!r}, which is no "
                    "earlier lesson: list that notebook first."
                )
        seen.add(name.removesuffix(".ipynb"))
    return lessons


def unlisted_notebooks(lessons: list[dict], notebooks_dir: Path = NOTEBOOKS_DIR) -> list[str]:
    """Notebook files in the folder that no record names: the runner skips them and the publisher's
    check fails on them, both naming them."""
    listed = {lesson["notebook"] for lesson in lessons}
    return sorted(path.name for path in notebooks_dir.glob("*.ipynb") if path.name not in listed)


check_lessons(COURSE)

# Where a notebook does not measure its prompts, the length the estimates assume, per section.
PROMPT_TOKENS = {
    lesson["section"]: lesson["prompt_tokens"] for lesson in COURSE if "prompt_tokens" in lesson
}
