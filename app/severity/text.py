"""Text normalisation shared by vocabularies and the cases they are matched against."""

import re
import unicodedata

# Letters that Unicode does not decompose but customers often type without the diacritic.
_EXTRA = {"ł": "l", "đ": "d", "ø": "o", "æ": "ae", "ħ": "h", "ı": "i"}


class _FoldTable(dict):
    """A str.translate table that learns each character's diacritic-free form on first sight."""

    def __missing__(self, codepoint: int) -> str:
        ch = chr(codepoint)
        folded = _EXTRA.get(ch) or "".join(c for c in unicodedata.normalize("NFD", ch) if unicodedata.category(c) != "Mn")
        self[codepoint] = folded
        return folded


_FOLD = _FoldTable()
_WORD = re.compile(r"[^\W_]+")


def normalise(text: str) -> str:
    """Casefold, NFKC and strip diacritics, so 'Výpadek', 'VYPADEK' and 'vypadek' compare equal."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    if not folded.isascii():
        folded = folded.translate(_FOLD)
    return " ".join(folded.split())


def words(text: str) -> str:
    """The normalised text as its words (letters and digits) joined by single spaces, nothing else."""
    return " ".join(_WORD.findall(normalise(text)))
