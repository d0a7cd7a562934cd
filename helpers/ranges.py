"""The sensible range of every setting a student may change, checked before any model loads.

``helpers.profiles.with_overrides`` checks a notebook's settings (its profile section with the
parameters applied), so that a negative beta, a group of one or a learning rate of 0 stops in the
settings cell with the parameter's name and its range, not minutes later inside a trainer.

>>> check_settings({"beta": 0.04, "num_generations": 8})
>>> check_settings({"num_generations": 1})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: num_generations = 1 is out of range: a whole number, at least 2 (the completions ...
"""

from __future__ import annotations

from typing import NamedTuple, Optional


class Range(NamedTuple):
    low: float
    high: Optional[float] = None
    low_allowed: bool = True
    high_allowed: bool = True
    whole: bool = False
    why: str = ""

    def describe(self) -> str:
        kind = "a whole number" if self.whole else "a number"
        low = f"at least {self.low}" if self.low_allowed else f"above {self.low}"
        high = (
            ""
            if self.high is None
            else f" and {'at most' if self.high_allowed else 'below'} {self.high}"
        )
        return f"{kind}, {low}{high}" + (f" ({self.why})" if self.why else "")

    def holds(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.whole and value != int(value):
            return False
        above = value >= self.low if self.low_allowed else value > self.low
        below = self.high is None or (
            value <= self.high if self.high_allowed else value < self.high
        )
        return above and below


_KL_WEIGHT = Range(0, why="0 turns the KL penalty off; below 0 it pays for leaving the reference")
_RATE = Range(
    0,
    1,
    low_allowed=False,
    high_allowed=False,
    why="0 trains nothing; Adam's rates for these models are 1e-6 to 1e-2",
)
_COUNT = Range(1, whole=True)
RANGES = {
    **dict.fromkeys(("beta", "init_kl_coef", "rl_beta"), _KL_WEIGHT),
    "dpo_beta": Range(
        0, low_allowed=False, why="at 0 DPO's loss is the same for every pair, so nothing trains"
    ),
    **dict.fromkeys(
        (
            "learning_rate",
            "reinforce_learning_rate",
            "classifier_learning_rate",
            "rl_learning_rate",
            "reward_learning_rate",
            "dpo_learning_rate",
        ),
        _RATE,
    ),
    "num_generations": Range(
        2, whole=True, why="the completions of one prompt are compared with each other"
    ),
    "annotator_noise": Range(0, 0.5, high_allowed=False, why="at 0.5 every label is a coin toss"),
    "similarity_weight": Range(0, 1, why="0: correctness only, 1: similarity only"),
    "tie_margin": Range(
        0, 1, high_allowed=False, why="a gap in P(target genre) below which a pair counts as a tie"
    ),
    "warm_start_examples": Range(0, whole=True, why="0 skips the warm start"),
    **dict.fromkeys(
        (
            "ppo_steps",
            "reinforce_steps",
            "max_steps",
            "sweep_steps",
            "rl_steps",
            "batch_size",
            "mini_batch_size",
            "per_device_train_batch_size",
            "gradient_accumulation_steps",
            "generation_batch_size",
            "num_iterations",
            "samples_per_problem",
            "pairs",
            "eval_size",
            "train_size",
            "epochs",
            "max_new_tokens",
            "max_completion_length",
            "max_length",
        ),
        _COUNT,
    ),
}
# (a batch, its part): the part must divide the batch
DIVIDES = (
    ("batch_size", "mini_batch_size"),
    ("generation_batch_size", "num_generations"),
    ("generation_batch_size", "per_device_train_batch_size"),
    ("batch_size", "samples_per_problem"),
)


def check_settings(settings: dict) -> None:
    """A ValueError naming the first setting out of its range, or the first batch its part does
    not divide; nothing for settings without a range (models, paths, switches)."""
    for name, value in settings.items():
        if name in RANGES and value is not None and not RANGES[name].holds(value):
            raise ValueError(
                f"{name} = {value!r} is out of range: {RANGES[name].describe()}. Change it in the "
                "parameters cell (None: the profile's value)."
            )
    for batch, part in DIVIDES:
        if batch in settings and part in settings and settings[batch] % settings[part]:
            fits = [
                n
                for n in range(1, settings[batch] + 1)
                if settings[batch] % n == 0 and (part not in RANGES or RANGES[part].holds(n))
            ]
            raise ValueError(
                f"{part} = {settings[part]} must divide {batch} = {settings[batch]}: "
                f"pick one of {fits}."
            )
