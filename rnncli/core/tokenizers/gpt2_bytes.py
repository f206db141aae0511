"""The byte <-> character table of byte-level BPE (GPT-2's, used by ``tokenizers``' ByteLevel).

Byte-level BPE spells every token as printable characters, one per byte:
bytes that are printable Latin-1 characters stand for themselves, and the
others (controls, space, soft hyphen, ...) are moved to U+0100 onwards in
byte order. A token's bytes are its characters looked up in reverse.
"""

from __future__ import annotations

# Bytes that are printable as themselves: "!".."~", "¡".."¬", "®".."ÿ".
_PRINTABLE = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]


def _byte_to_char() -> dict[int, str]:
    table = {b: chr(b) for b in _PRINTABLE}
    moved = (b for b in range(256) if b not in table)
    table.update((b, chr(0x100 + n)) for n, b in enumerate(moved))
    return table


BYTE_TO_CHAR = _byte_to_char()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def token_bytes(token: str) -> bytes | None:
    """The bytes a byte-level token stands for, or None if it holds a character outside the table."""
    try:
        return bytes(CHAR_TO_BYTE[c] for c in token)
    except KeyError:
        return None
