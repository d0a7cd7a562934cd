"""The final numeric answer of a GSM8K solution or a model's output, and whether it is right.

    >>> extract_answer("She pays 2 * $9 = $18.\\n#### 18")
    '18'
    >>> is_correct("<answer>1,000</answer>", "... #### 1000")
    True

Strict extraction accepts only the two formats the course teaches (``#### N`` and
``<answer>N</answer>``); lenient extraction also reads "The answer is N", ``\\boxed{N}`` and,
failing all else, the last number. Text a model writes after its answer (a GSM8K-tuned model
often goes on with a new "Question:") is ignored: the first answer counts. Nothing here raises.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Optional

# A number as people write it: -1,234.50  $18  .5 (a sign only where no word or digit precedes it).
_NUMBER = re.compile(
    r"(?:(?<![\w)])[-+])?\$?\s?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
)
_HASHES = re.compile(r"####\s*(" + _NUMBER.pattern + ")")
_ANSWER_TAG = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.DOTALL | re.IGNORECASE)
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
# "The answer is 18.", "Answer: $18 dollars" -- the number must end the phrase (not "Answer: 48/2 =
# 24").
_ANSWER_PHRASE = re.compile(
    r"answer\s*(?:is|:|=)\s*:?\s*(" + _NUMBER.pattern + r")\s*(?:%|[a-zA-Z]+)?\s*(?:[.!,;)]|\n|$)",
    re.IGNORECASE,
)
# Where a model's continuation starts: a new question, or a chat end-of-turn marker.
_CONTINUATION = re.compile(
    r"(?:\n\s*Question\s*:|<\|im_end\|>|<\|endoftext\|>|</s>)", re.IGNORECASE
)


def normalize_number(text: str) -> Optional[str]:
    """'1,000' -> '1000', '$18.00' -> '18', '0.50' -> '0.5', '-3' -> '-3', '+7.' -> '7'; None if not
    a number."""
    cleaned = re.sub(r"[\s$,%]", "", str(text)).rstrip(".")
    try:
        value = Decimal(cleaned)
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite():
        return None
    rendered = format(value.normalize(), "f")
    return "0" if rendered in ("-0", "+0") else rendered


def _first_number(text: str) -> Optional[str]:
    match = _NUMBER.search(text)
    return normalize_number(match.group()) if match else None


def _last_number(text: str) -> Optional[str]:
    matches = _NUMBER.findall(text)
    return normalize_number(matches[-1]) if matches else None


def _before_continuation(text: str) -> str:
    """The text up to where the model went on with something new (kept whole if it never did)."""
    match = _CONTINUATION.search(text, 1)
    return text[: match.start()] if match else text


def extract_answer(text, strict: bool = False) -> Optional[str]:
    """The final numeric answer in `text`, normalised, or None.

    >>> extract_answer("The answer is $1,250.00.")
    '1250'
    >>> extract_answer("The answer is 5.", strict=True) is None
    True
    """
    if not isinstance(text, str) or not text:
        return None
    try:
        text = _before_continuation(text)
        for pattern in (_HASHES, _ANSWER_TAG):
            match = pattern.search(text)
            if match:
                found = (
                    _first_number(match.group(1))
                    if pattern is _HASHES
                    else _last_number(match.group(1))
                )
                if found is not None:
                    return found
        if strict:
            return None
        for pattern in (_BOXED, _ANSWER_PHRASE):
            match = pattern.search(text)
            if match and _last_number(match.group(1)) is not None:
                return _last_number(match.group(1))
        return _last_number(text)
    except Exception:  # never raise on what a model wrote
        return None


def reference_answer(reference) -> Optional[str]:
    """The gold answer of a GSM8K answer field ('... #### 72') or a bare number ('72', 72)."""
    if isinstance(reference, (int, float)) and not isinstance(reference, bool):
        return normalize_number(repr(reference))
    return extract_answer(reference)


def is_correct(completion, reference, strict: bool = False) -> bool:
    """True when the completion's answer equals the reference's (0.50 equals 0.5).

    >>> is_correct("Half of 10 is 5.\\n#### 5", "#### 5"), is_correct("#### 6", "5")
    (True, False)
    """
    predicted, gold = extract_answer(completion, strict=strict), reference_answer(reference)
    return predicted is not None and gold is not None and Decimal(predicted) == Decimal(gold)
