"""Text patterns the API's schemas use, what each means to a person reading an error, and the
article a word takes in a message."""

from __future__ import annotations

import re

# PostgreSQL text cannot hold NUL characters; say so in the schema rather than fail on insert.
NO_NUL = r"^[^\x00]*$"
# A name has something in it besides spaces (and no NUL either). Python's `\s` also takes
# \x1c-\x1f and \x85, JSON Schema's (ECMA-262) also \ufeff: both are listed, so the rule reads
# the same to the server and to a client checking against the published schema.
NOT_BLANK = r"^[^\x00]*[^\x00\s\x1c-\x1f\x85\ufeff][^\x00]*$"
KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
# A pack's key: a key without underscores.
PACK_KEY_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
# A version number: MAJOR.MINOR.PATCH, with a pre-release label or not.
VERSION_PATTERN = r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$"
RELEASE_PATTERN = r"^\d+\.\d+\.\d+$"

_MEANINGS = {
    NO_NUL: "no NUL characters",
    NOT_BLANK: "not blank, and no NUL characters",
    KEY_PATTERN: "lower-case letters, digits, '-' and '_', starting with a letter or digit",
    PACK_KEY_PATTERN: "lower-case letters, digits and '-', starting with a letter or digit",
    VERSION_PATTERN: "a version number: MAJOR.MINOR.PATCH (1.2.0), or with a label (1.2.0-rc.1)",
    RELEASE_PATTERN: "a version number: MAJOR.MINOR.PATCH (1.2.0)",
}
# msgspec's message for a string that misses its pattern (it shows the pattern's repr).
_MISSED = {
    f"Expected `str` matching regex {pattern!r}": meaning for pattern, meaning in _MEANINGS.items()
}


# msgspec's names of JSON types, in words.
_TYPE_WORDS = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "decimal": "a number",
    "bool": "true or false",
    "null": "null",
    "object": "an object",
    "array": "a list",
    "uuid": "a UUID",
    "date": "a date (YYYY-MM-DD)",
    "datetime": "a date and time (RFC 3339)",
}
_COMPARED = {">=": "at least", "<=": "at most", ">": "more than", "<": "less than"}
_BOUND = re.compile(r"^Expected `(?:int|float|decimal)` (>=|<=|>|<) (-?[\d.]+)$")
_LENGTH = re.compile(r"^Expected `(str|array|object)` of length (>=|<=) (\d+)$")
_TYPE = re.compile(r"^Expected `([^`]+)`, got `([^`]+)`$")
_INVALID = {
    "Invalid RFC3339 encoded date": "must be a date (YYYY-MM-DD)",
    "Invalid RFC3339 encoded datetime": "must be a date and time (RFC 3339)",
    "Invalid RFC3339 encoded time": "must be a time (RFC 3339)",
    "Invalid UUID": "must be a UUID",
}
_NOT_A_CHOICE = re.compile(r"^Invalid enum value (.+?)(; expected one of .*)?$")


def _in_words(types: str) -> str:
    words = [_TYPE_WORDS.get(name.strip(), name.strip()) for name in types.split("|")]
    return " or ".join(words)


def _number(text: str) -> str:
    return text.removesuffix(".0")


def plain_message(message: str) -> str:
    """A validation message in the API's words: a missed pattern said in words where we know
    it, and msgspec's ``Expected `int` >= 1``, ``Expected `str` of length >= 1``, ``Expected
    `float | null`, got `bool``` or ``Invalid enum value 'x'`` as a person would say them."""
    if message in _MISSED:
        return _MISSED[message]
    if message in _INVALID:
        return _INVALID[message]
    if match := _BOUND.match(message):
        return f"{_COMPARED[match[1]]} {_number(match[2])}"
    if match := _LENGTH.match(message):
        unit = {"str": "character", "array": "item", "object": "field"}[match[1]]
        count = int(match[3])
        return f"{_COMPARED[match[2]]} {count} {unit}{'' if count == 1 else 's'}"
    if match := _TYPE.match(message):
        if match[2] == "float" and "int" in match[1] and "float" not in match[1]:
            return f"must be {_in_words(match[1])}"  # 2.5 is "a number" too
        return f"must be {_in_words(match[1])}, not {_in_words(match[2])}"
    if match := _NOT_A_CHOICE.match(message):
        return f"{match[1]} is not one of the choices{match[2] or ''}"
    return message


def a_or_an(word: str, *, starts: bool = False) -> str:
    """``word`` after its indefinite article: "an approved", "a draft" ("An …" when it
    ``starts`` a sentence). By the first letter, which serves the API's state and kind names."""
    article = "an" if word[:1].lower() in "aeiou" else "a"
    return f"{article.capitalize() if starts else article} {word}"
