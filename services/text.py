"""Text patterns the API's schemas use, what each means to a person reading an error, and the
article a word takes in a message."""

from __future__ import annotations

# PostgreSQL text cannot hold NUL characters; say so in the schema rather than fail on insert.
NO_NUL = r"^[^\x00]*$"
# A name has something in it besides spaces (and no NUL either).
NOT_BLANK = r"^[^\x00]*[^\x00\s][^\x00]*$"
KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"

_MEANINGS = {
    NO_NUL: "no NUL characters",
    NOT_BLANK: "not blank, and no NUL characters",
    KEY_PATTERN: "lower-case letters, digits, '-' and '_', starting with a letter or digit",
}
# msgspec's message for a string that misses its pattern (it shows the pattern's repr).
_MISSED = {
    f"Expected `str` matching regex {pattern!r}": meaning for pattern, meaning in _MEANINGS.items()
}


def plain_message(message: str) -> str:
    """A validation message, with a missed pattern said in words where we know it."""
    return _MISSED.get(message, message)


def a_or_an(word: str, *, starts: bool = False) -> str:
    """``word`` after its indefinite article: "an approved", "a draft" ("An …" when it
    ``starts`` a sentence). By the first letter, which serves the API's state and kind names."""
    article = "an" if word[:1].lower() in "aeiou" else "a"
    return f"{article.capitalize() if starts else article} {word}"
