"""Turning user text (model names, class labels, paths) into C identifiers, C string literals and
file names that can neither break nor inject into generated code.

Rules, so the result is obvious to a reader of the generated code:
- Identifiers keep ASCII letters, digits and '_'; every other character becomes '_'; a leading digit
  gets a '_' in front; C and C++ keywords get a '_' behind. The result is never empty.
- String literals keep printable ASCII except '"', '\\' and '?' (which start escapes and trigraphs);
  those and every other byte of the UTF-8 encoding are written as three-digit octal escapes, which
  unlike '\\x' escapes can never swallow the character after them. The C string holds exactly the
  UTF-8 bytes of the text, so a device prints the label intact.
- User text never goes into a C comment.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_C_KEYWORDS = frozenset("""
    auto break case char const continue default do double else enum extern float for goto if inline int
    long register restrict return short signed sizeof static struct switch typedef union unsigned void
    volatile while _Bool _Complex _Imaginary alignas alignof and and_eq asm bitand bitor bool catch class
    compl constexpr const_cast decltype delete dynamic_cast explicit export false friend mutable namespace
    new noexcept not not_eq nullptr operator or or_eq private protected public reinterpret_cast
    static_assert static_cast template this thread_local throw true try typeid typename using virtual
    wchar_t xor xor_eq main
""".split())

_NOT_IDENTIFIER = re.compile(r"[^A-Za-z0-9_]")
_SAFE_IN_STRING = frozenset(chr(c) for c in range(0x20, 0x7F)) - {'"', "\\", "?"}


def c_identifier(text: str, fallback: str = "model") -> str:
    """A valid C/C++ identifier made from `text` (see the module rules)."""
    name = _NOT_IDENTIFIER.sub("_", text.strip())
    name = re.sub(r"_+", "_", name).strip("_") or fallback
    if name[0].isdigit():
        name = "_" + name
    if name in _C_KEYWORDS:
        name += "_"
    return name


def c_string(text: str) -> str:
    """A C string literal (quotes included) holding exactly the UTF-8 bytes of `text`."""
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        out.append(char if char in _SAFE_IN_STRING else f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


PROTOCOL_NAME_MAX = 48  # te_model.h: a protocol line carries the name with room to spare in 80 chars
_NAME_DIGEST_DIGITS = 8


@dataclass(frozen=True)
class ModelNames:
    """The one translation of a user's model name. Every place that needs the name in another alphabet
    (C symbols, protocol lines) takes it from here, so the host and the firmware always agree."""
    text: str          # as the user wrote it (goes into C strings only, escaped)
    stem: str          # [A-Za-z0-9_]: valid as a C identifier and as a protocol name

    @property
    def c_name(self) -> str:
        return self.stem

    @property
    def protocol(self) -> str:
        """What the firmware answers to `te-model` and `profile` ([A-Za-z0-9._-] is allowed there)."""
        return self.stem


def model_names(text: str) -> ModelNames:
    """Names for `text`. A plain identifier of at most PROTOCOL_NAME_MAX characters stays as it is;
    any other name (spaces, quotes, non-ASCII, C comment markers, a keyword) keeps its readable ASCII
    part and gains a digest of its whole UTF-8 text, so two different names never share a name."""
    stem = c_identifier(text)
    if stem != text or len(stem) > PROTOCOL_NAME_MAX:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:_NAME_DIGEST_DIGITS]
        stem = f"{stem[:PROTOCOL_NAME_MAX - _NAME_DIGEST_DIGITS - 1].rstrip('_')}_{digest}"
    return ModelNames(text=text, stem=stem)


def arduino_name(text: str, fallback: str = "tinyedge_model") -> str:
    """A name Arduino accepts for a library and a sketch folder: letters, digits and '_', starting
    with a letter (the .ino file must be named like its folder)."""
    name = c_identifier(text, fallback).strip("_") or fallback
    if not name[0].isalpha():
        name = "m" + name
    return name


def one_line(text: str) -> str:
    """Text for a single-line field (library.properties, a README title): control characters and line
    breaks become spaces, so the field cannot spill into the next key."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())
