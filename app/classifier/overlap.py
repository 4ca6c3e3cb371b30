"""Whether data a model is measured on overlaps the data it was trained on: the file's sha256 against
model.json's `data_sha256`, and each row's hash against the row hashes saved beside the model at
training time (ROW_HASHES: 8 bytes per distinct row, sorted). Metrics on rows a model was trained on
say how well it remembers, not how well it will do on new cases.

A row's hash is the first 8 bytes of the sha256 of its severity level and its text as the model
reads it (the text columns joined, the first MAX_TEXT characters) after NFKC normalisation, case
folding and collapsing white space: the same case exported again, re-cased or re-wrapped is the
same row; a different label is a different row."""

import hashlib
import unicodedata
from pathlib import Path

import numpy as np

ROW_HASHES = "rows.hashes"
DESCRIPTION = "first 8 bytes of sha256(level, NFKC case-folded text with white space collapsed), sorted, distinct"


def normalised(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def row_hashes(texts, levels) -> np.ndarray:
    """One hash per row (uint64, in row order)."""
    return np.array(
        [
            int.from_bytes(hashlib.sha256(f"{int(level)}\x1f{normalised(text)}".encode()).digest()[:8], "big")
            for text, level in zip(texts, levels)
        ],
        dtype=np.uint64,
    )


def save(folder: Path, texts, levels) -> dict:
    """Write the distinct row hashes of the training data into a model's folder; their description for model.json."""
    hashes = np.unique(row_hashes(texts, levels))
    (Path(folder) / ROW_HASHES).write_bytes(hashes.astype(">u8").tobytes())
    return {"file": ROW_HASHES, "distinct_rows": int(len(hashes)), "hash": DESCRIPTION}


def load(folder: Path, meta: dict) -> np.ndarray | None:
    """The training-row hashes of the model in `folder` (its version's folder), or None for a model
    saved before they were kept (or without its file)."""
    if not meta.get("row_hashes"):
        return None
    path = Path(folder) / str(meta["row_hashes"].get("file", ROW_HASHES))
    if path.name != ROW_HASHES or not path.exists():
        return None
    return np.frombuffer(path.read_bytes(), dtype=">u8").astype(np.uint64)


def seen(folder: Path, meta: dict, texts, levels) -> np.ndarray | None:
    """Per row, whether the model was trained on it; None when the model kept no row hashes."""
    known = load(folder, meta)
    if known is None:
        return None
    return np.isin(row_hashes(texts, levels), known)


def check(folder: Path, meta: dict, data_sha256: str | None, texts, levels) -> dict:
    """How data overlaps a model's training data. `seen_in_training` is True when the file is the
    training file or any row was a training row, False when neither (rows compared), None when the
    model has no row hashes and the file differs (it cannot be told)."""
    same_file = bool(data_sha256) and data_sha256 == meta.get("data_sha256")
    mask = seen(folder, meta, texts, levels)
    rows = len(levels)
    if mask is None:
        return {
            "seen_in_training": True if same_file else None,
            "same_file": same_file,
            "rows": rows,
            "rows_seen": rows if same_file else None,
            "checked": "the file's sha256 only: this model was saved without row hashes (retrain it to keep them)",
            "mask": np.full(rows, same_file),
        }
    count = int(mask.sum())
    return {
        "seen_in_training": same_file or count > 0,
        "same_file": same_file,
        "rows": rows,
        "rows_seen": count,
        "checked": "the file's sha256 and every row's hash",
        "mask": mask,
    }


def describe(model_version: str, overlap: dict) -> str:
    """One line saying what overlaps, for a warning."""
    parts = []
    if overlap["same_file"]:
        parts.append("the file is the one it was trained on (same sha256)")
    if overlap["rows_seen"]:
        share = overlap["rows_seen"] / max(overlap["rows"], 1)
        parts.append(f"{overlap['rows_seen']} of {overlap['rows']} rows ({share:.0%}) were training rows")
    return f"the data overlaps model {model_version}'s training data: {'; '.join(parts)}"
