"""GSM8K and the course's own math problems, and the formats every notebook trains on.

Sources: ``load_gsm8k("hub")`` (openai/gsm8k, config main), a local JSONL path, ``"sample"`` (62
GSM8K-style problems written for the course, shipped with it) or ``"arithmetic"`` (generated
one-step word problems that a tiny model can learn in CI time). Every source gives records
``{"question": str, "answer": "worked solution ... #### N"}``.

Formats, shared by all notebooks: ``sft_prompt_completion`` (02 and 03), ``chat_prompt`` with
``SYSTEM_PROMPT``, ``grpo_record`` and ``reasoning_answer`` (04).

    python -m helpers.data grpo-dataset data/grpo_gsm8k --source hub   # for `trl grpo` (configs/)
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path
from typing import Optional

from helpers.answers import reference_answer

SAMPLE_FILE = Path(__file__).with_name("gsm8k_sample.jsonl")
# Hand-written genre sentences. The classifier trains on the corpus and the styles (dialogue,
# questions, first person); the tiny tokenizers learned from the corpus alone, before the styles
# were written.
GENRE_FILE = Path(__file__).with_name("genre_corpus.tsv")
GENRE_STYLES_FILE = Path(__file__).with_name("genre_corpus_styles.tsv")
UNSEEN_GENRE_FILE = Path(__file__).with_name(
    "genre_unseen.tsv"
)  # hand-written in other styles: its test
ROBE_PROBLEM = (
    "A robe takes 2 bolts of blue fiber and half that much white fiber. How many bolts in "
    "total does it take?"
)
SYSTEM_PROMPT = (
    "Respond in the following format:\n<reasoning>\n...\n</reasoning>\n<answer>\n...\n</answer>"
)


class DataError(ValueError):
    """A data file or dataset that cannot be used, with where and why."""


def read_jsonl(path: str | Path) -> list[dict]:
    """Records of a JSONL file of GSM8K records; a bad line is named by file and line number."""
    path = Path(path)
    if not path.exists():
        raise DataError(
            f"{path}: no such file. Pass a JSONL file with 'question' and 'answer' fields."
        )
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(
                f"{path}, line {number}: not valid JSON ({error.msg}): {line[:80]!r}"
            ) from None
        records.append(_checked(record, f"{path}, line {number}"))
    if not records:
        raise DataError(f"{path}: no records. A GSM8K file has one JSON object per line.")
    return records


def _checked(record, where: str) -> dict:
    missing = [
        key for key in ("question", "answer") if not isinstance(record, dict) or not record.get(key)
    ]
    if missing:
        raise DataError(
            f"{where}: record without {' or '.join(repr(k) for k in missing)}: {str(record)[:80]}"
        )
    return {"question": record["question"], "answer": record["answer"]}


def load_gsm8k(
    source: str = "hub", split: str = "train", limit: Optional[int] = None, seed: int = 0
) -> list[dict]:
    """GSM8K records from the hub, a JSONL path, the course sample, or generated arithmetic. With
    $RLHF_GSM8K_DIR set, "hub" reads ``train.jsonl`` / ``test.jsonl`` there instead (a local copy).

    >>> len(load_gsm8k("sample", limit=10))
    10
    """
    if limit is not None and limit <= 0:
        raise DataError(f"limit={limit}: ask for at least one problem (None means all).")
    if source == "hub" and os.environ.get(
        "RLHF_GSM8K_DIR"
    ):  # a local copy of openai/gsm8k (offline machines, CI)
        records = read_jsonl(Path(os.environ["RLHF_GSM8K_DIR"]) / f"{split}.jsonl")
    elif source == "hub":
        from datasets import load_dataset

        try:
            records = [
                _checked(r, f"openai/gsm8k[{split}]")
                for r in load_dataset("openai/gsm8k", "main", split=split)
            ]
        except (OSError, ConnectionError) as error:
            raise DataError(
                f"Could not download openai/gsm8k ({type(error).__name__}). Offline? Use "
                "source='sample' (62 problems shipped with the course) or a local JSONL "
                "path, or profile='tiny'."
            ) from error
    elif source == "sample":
        records = read_jsonl(SAMPLE_FILE)
    elif source == "arithmetic":
        records = arithmetic_problems(limit or 200, seed=seed + (0 if split == "train" else 10_000))
    else:
        records = read_jsonl(source)
    if limit is not None:
        records = records[:limit]
    if not records:
        raise DataError(f"No problems from source {source!r}, split {split!r}.")
    return records


# Templates for one-step word problems: (question, solution) with {a}, {b}, {name}, {item}, {r}.
_TEMPLATES = [
    (
        "{name} has {a} {item}. {name} gets {b} more. How many {item} does {name} have now?",
        "{name} has {a} + {b} = {r} {item}.",
        lambda a, b: a + b,
    ),
    (
        "{name} had {a} {item} and gave away {b}. How many {item} are left?",
        "{name} has {a} - {b} = {r} {item} left.",
        lambda a, b: a - b,
    ),
    (
        "{name} buys {a} bags with {b} {item} in each bag. How many {item} is that?",
        "That is {a} * {b} = {r} {item}.",
        lambda a, b: a * b,
    ),
    ("What is {a} plus {b}?", "{a} + {b} = {r}.", lambda a, b: a + b),
]
_NAMES = ["Mia", "Tom", "Ava", "Sam", "Lena", "Omar", "Kim", "Ben"]
_ITEMS = ["apples", "books", "coins", "cards", "shells", "pens"]


def arithmetic_problems(count: int, seed: int = 0) -> list[dict]:
    """One-step word problems with computed answers, GSM8K-formatted, for tiny learning runs.

    >>> arithmetic_problems(1, seed=0)[0]
    {'question': 'What is 8 plus 1?', 'answer': '8 + 1 = 9.\\n#### 9'}
    """
    if count <= 0:
        raise DataError(f"count={count}: ask for at least one problem.")
    rng = random.Random(seed)
    problems = []
    for _ in range(count):
        question, solution, operation = rng.choice(_TEMPLATES)
        a, b = rng.randint(2, 9), rng.randint(1, 9)
        if operation(a, b) < 0:
            a, b = b, a
        fields = dict(a=a, b=b, r=operation(a, b), name=rng.choice(_NAMES), item=rng.choice(_ITEMS))
        problems.append(
            {
                "question": question.format(**fields),
                "answer": solution.format(**fields) + f"\n#### {fields['r']}",
            }
        )
    return problems


def clean_solution(answer: str) -> str:
    """A GSM8K solution without its calculator annotations: '48/2 = <<48/2=24>>24' -> '48/2 =
    24'."""
    return re.sub(r"<<[^>]*>>", "", answer)


def sft_prompt(question: str) -> str:
    """The prompt format of notebooks 02 and 03: 'Question: ...' then 'Answer:'."""
    return f"Question: {question.strip()}\nAnswer:"


def sft_prompt_completion(record: dict) -> dict:
    """A prompt-completion pair for SFTTrainer (loss on the completion only, by default).

    >>> sft_prompt_completion({"question": "What is 2 plus 2?", "answer": "2 + 2 = 4.\\n#### 4"})
    {'prompt': 'Question: What is 2 plus 2?\\nAnswer:', 'completion': ' 2 + 2 = 4.\\n#### 4'}
    """
    return {
        "prompt": sft_prompt(record["question"]),
        "completion": " " + clean_solution(record["answer"]).strip(),
    }


def sft_text(record: dict) -> str:
    """The same example as one text, for whole-text (language modeling) loss."""
    pair = sft_prompt_completion(record)
    return pair["prompt"] + pair["completion"]


def chat_prompt(question: str, system_prompt: str = SYSTEM_PROMPT) -> list[dict]:
    """Chat messages for an instruction model (notebook 04): the format instructions, then the
    question."""
    return [
        {"role": "system", "content": system_prompt},
        {"role": "user", "content": question.strip()},
    ]


# --- genres (notebook 01): a hand-written corpus, and generated sentences for tiny runs ---

GENRE_LEXICON = {
    "scifi": dict(
        subject=[
            "the starship",
            "a robot",
            "the android",
            "the captain",
            "an alien",
            "the astronaut",
            "the crew",
            "the pilot",
        ],
        verb=[
            "scanned",
            "launched",
            "decoded",
            "repaired",
            "orbited",
            "piloted",
            "powered up",
            "beamed",
        ],
        thing=[
            "the reactor",
            "the alien signal",
            "the warp drive",
            "the space station",
            "the laser",
            "the shuttle",
            "the quantum engine",
        ],
        place=[
            "beyond the galaxy",
            "near the red moon",
            "in deep space",
            "on the moon base",
            "past the nebula",
            "at the spaceport",
        ],
    ),
    "romance": dict(
        subject=[
            "she",
            "he",
            "the lovers",
            "the couple",
            "her sweetheart",
            "the bride",
            "his darling",
        ],
        verb=[
            "kissed",
            "embraced",
            "adored",
            "whispered to",
            "danced with",
            "married",
            "longed for",
            "held",
        ],
        thing=[
            "her beloved",
            "his true love",
            "the groom",
            "her darling",
            "a single rose",
            "a love letter",
            "his tender heart",
        ],
        place=[
            "under the stars",
            "at the wedding",
            "by candlelight",
            "in the rose garden",
            "on the beach at sunset",
            "in the moonlight",
        ],
    ),
    "horror": dict(
        subject=[
            "the ghost",
            "a vampire",
            "the monster",
            "the corpse",
            "a shadow",
            "the witch",
            "the demon",
            "a skeleton",
        ],
        verb=[
            "haunted",
            "stalked",
            "screamed at",
            "cursed",
            "devoured",
            "chased",
            "possessed",
            "buried",
        ],
        thing=[
            "the village",
            "the crypt",
            "the sleeping child",
            "the graveyard",
            "the coffin",
            "the cellar",
            "a bloody knife",
        ],
        place=[
            "in the dark",
            "at midnight",
            "in the fog",
            "beneath the old house",
            "in the haunted castle",
            "by the grave",
        ],
    ),
}
GENRE_PROMPTS = [
    "The",
    "Then",
    "At last",
    "Suddenly",
    "That night",
    "Later",
    "Once",
    "Soon",
    "Meanwhile",
    "Again",
]
_GENRE_TEMPLATES = [
    "{subject} {verb} {thing} {place}.",
    "{place}, {subject} {verb} {thing}.",
    "{subject} {verb} {thing}, and {subject2} {verb2} {thing2}.",
]


# Neutral words around a genre sentence (speech, memory, hearsay): the classifier learns that the
# genre lies in what happens, not in the template's shape. Without them, and without the
# hand-written corpus, the tiny profile's classifier put 2 of 3 unseen natural sentences in "other".
_GENRE_FRAMES = [
    '"{text}" she said.',
    'He whispered, "{text}"',
    "I remember it well: {lower}",
    "Did you hear? {text}",
    "Nobody believed me, but {lower}",
    "{text} Or so the story goes.",
    "We watched as {lower}",
    "Chapter one. {text}",
]


def _read_genre_file(path: Path) -> list[dict]:
    rows = [
        line.split("\t", 1)
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return [{"genre": genre, "text": text} for genre, text in rows]


def genre_corpus(styles: bool = True) -> list[dict]:
    """The course's hand-written genre sentences, natural prose the tiny classifier trains on
    besides the generated ones: ``[{"genre": "horror", "text": "..."}, ...]``. ``styles=False``: the
    first 48 only, narrative sentences in the past tense (the tiny tokenizers' corpus)."""
    return _read_genre_file(GENRE_FILE) + (_read_genre_file(GENRE_STYLES_FILE) if styles else [])


def genre_unseen() -> list[dict]:
    """Other hand-written sentences, in styles neither the templates nor the corpus use (dialogue,
    questions, first person, blurbs): the classifier's test on natural text it never saw."""
    return _read_genre_file(UNSEEN_GENRE_FILE)


def genre_sentences(count_per_genre: int, seed: int = 0) -> list[dict]:
    """Generated sentences from each genre's lexicon, so that tiny models learn the genres' words.

    >>> genre_sentences(1, seed=0)[0]["genre"]
    'scifi'
    """
    if count_per_genre <= 0:
        raise DataError(
            f"count_per_genre={count_per_genre}: ask for at least one sentence per genre."
        )
    rng = random.Random(seed)
    rows = []
    for genre, words in GENRE_LEXICON.items():
        for _ in range(count_per_genre):
            fill = {key: rng.choice(options) for key, options in words.items()}
            fill.update({f"{key}2": rng.choice(options) for key, options in words.items()})
            text = rng.choice(_GENRE_TEMPLATES).format(**fill)
            rows.append({"genre": genre, "text": text[0].upper() + text[1:]})
    return rows


def load_genre_texts(source: str = "generated", per_genre: int = 200, seed: int = 0) -> list[dict]:
    """Genre-labelled texts: "generated" (tiny runs), "corpus" (hand-written, offline) or "hub"
    (AG News: world, sports, business, scitech news, 120,000 articles)."""
    if source == "generated":
        return genre_sentences(per_genre, seed)
    if source == "corpus":
        return genre_corpus()
    if source == "hub":
        from datasets import load_dataset

        names = ["world", "sports", "business", "scitech"]
        try:
            news = load_dataset("fancyzhx/ag_news", split="train").shuffle(seed=seed)
        except (OSError, ConnectionError) as error:
            raise DataError(
                "Could not download fancyzhx/ag_news. Offline? Use source='corpus' or "
                "profile='tiny'."
            ) from error
        rows, counts = [], dict.fromkeys(names, 0)
        for example in news:
            genre = names[example["label"]]
            if counts[genre] < per_genre:
                counts[genre] += 1
                rows.append({"genre": genre, "text": example["text"]})
            if all(count >= per_genre for count in counts.values()):
                break
        return rows
    raise DataError(f"Unknown genre source {source!r}: use 'generated', 'corpus' or 'hub'.")


def genre_classifier_examples(rows: list[dict], prompts: list[str], seed: int = 0) -> list[dict]:
    """Training examples for the genre classifier: each text, a cut-off prefix of it (PPO's
    responses stop mid-sentence), the text inside a neutral frame (speech, memory), and as many
    texts of no genre, labelled 'other': empty strings, garbage, bare prompts, one word repeated,
    and halves of two different genres' texts glued together. Without the 'other' examples, a
    classifier trained on genres alone scored garbage 0.996 and PPO learned to write garbage."""
    rng = random.Random(seed)
    examples = []
    for row in rows:
        words = row["text"].split()
        cut = " ".join(words[: rng.randint(min(4, len(words)), len(words))])
        framed = rng.choice(_GENRE_FRAMES).format(
            text=row["text"], lower=row["text"][0].lower() + row["text"][1:]
        )
        examples += [{"text": text, "label": row["genre"]} for text in (row["text"], cut, framed)]
    alphabet = "abcdefghijklmnopqrstuvwxyz    .,!?'"
    other = ["", " ", "."] + list(prompts)
    while len(other) < len(rows):
        kind = rng.choice(["garbage", "mixed", "repeat"])
        if kind == "garbage":
            other.append("".join(rng.choice(alphabet) for _ in range(rng.randint(3, 80))))
        elif kind == "mixed":
            first = rng.choice(rows)
            second = rng.choice([r for r in rows if r["genre"] != first["genre"]] or rows)
            a, b = first["text"].split(), second["text"].split()
            other.append(" ".join(a[: len(a) // 2] + b[len(b) // 2 :]))
        else:
            other.append(
                " ".join([rng.choice(rng.choice(rows)["text"].split())] * rng.randint(2, 12))
            )
    examples += [{"text": text, "label": "other"} for text in other]
    rng.shuffle(examples)
    return examples


def reasoning_answer(record: dict) -> str:
    """A worked solution in the format notebook 04 rewards (used for the tiny model's warm start).

    >>> reasoning_answer({"question": "What is 2 plus 2?", "answer": "2 + 2 = 4.\\n#### 4"})
    '<reasoning>\\n2 + 2 = 4.\\n</reasoning>\\n<answer>\\n4\\n</answer>'
    """
    working = clean_solution(record["answer"]).split("####")[0].strip()
    answer = reference_answer(record["answer"])
    return f"<reasoning>\n{working}\n</reasoning>\n<answer>\n{answer}\n</answer>"


def grpo_record(record: dict) -> dict:
    """A GRPO training row: the chat prompt, and the GSM8K answer that the correctness reward
    reads."""
    return {"prompt": chat_prompt(record["question"]), "answer": record["answer"]}


def write_grpo_dataset(
    out_dir: str | Path,
    source: str = "hub",
    train_size: Optional[int] = None,
    test_size: Optional[int] = None,
) -> Path:
    """train.jsonl and test.jsonl of GRPO rows, a folder `datasets.load_dataset` (and `trl grpo`)
    reads."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for split, size in (("train", train_size), ("test", test_size)):
        rows = [grpo_record(r) for r in load_gsm8k(source, split=split, limit=size)]
        (out_dir / f"{split}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return out_dir


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(
        description="Write GSM8K as GRPO rows (prompt, answer) for `trl grpo`."
    )
    parser.add_argument("command", choices=["grpo-dataset"])
    parser.add_argument("out_dir")
    parser.add_argument("--source", default="hub", help="hub, sample, arithmetic or a JSONL path")
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--test-size", type=int, default=None)
    arguments = parser.parse_args()
    folder = write_grpo_dataset(
        arguments.out_dir, arguments.source, arguments.train_size, arguments.test_size
    )
    print(f"Wrote {folder}/train.jsonl and {folder}/test.jsonl")
