"""benchmarks/translate_real.py reads diatheke's OSIS output into verses as the docs describe: headings before
the reference, markup and entities left out, numbered books kept apart, verses of wildly different length
dropped (the data itself is read from the Debian SWORD packages only when the benchmark runs)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("translate_real", ROOT / "benchmarks" / "translate_real.py")
translate_real = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(translate_real)

KJV_OSIS = """Genesis 1:1: In the <w>beginning</w> God created the heaven and the earth.<milestone type="line"/>
A Psalm of praise.   Psalms 100:1: Make a joyful <w>noise</w> unto the LORD, all ye lands. <milestone/>
I Kings 1:1: Now king David was old &amp; stricken in years;<milestone type="line"/>
II Kings 1:1: Then Moab rebelled against Israel after the death of Ahab.
Revelation of John 22:21: The grace of our Lord Jesus Christ be with you all. Amen.
(engKJV2006eb)
"""
WEB_OSIS = (
    """Genesis 1:1: In the beginning, God created the heavens and the earth.
Psalms 100:1: Shout for joy to Yahweh, all you lands!
I Kings 1:1: Now King David was old and advanced in years;
II Kings 1:1: Moab rebelled against Israel after the death of Ahab.
Revelation of John 22:21: The grace of the Lord Jesus Christ be with all the saints. Amen. """
    + "A glossary. " * 40
)


def test_osis_output_becomes_plain_verses():
    verses = translate_real.parse_verses(KJV_OSIS)
    assert verses[("Genesis", 1, 1)] == "In the beginning God created the heaven and the earth."
    assert verses[("Psalms", 100, 1)] == "Make a joyful noise unto the LORD, all ye lands."  # no heading
    assert verses[("I Kings", 1, 1)].endswith("old & stricken in years;")
    assert ("II Kings", 1, 1) in verses and len(verses) == 5


def test_the_bible_set_holds_out_whole_books_and_drops_lopsided_pairs(tmp_path, monkeypatch):
    texts = {translate_real.KJV: KJV_OSIS, translate_real.WEB: WEB_OSIS}
    monkeypatch.setattr(translate_real, "read_bible", lambda module: translate_real.parse_verses(texts[module]))
    files = translate_real.bible_set(tmp_path, ["Psalms"])
    train = files["train"][0].read_text(encoding="utf-8").splitlines()
    test = files["test"][1].read_text(encoding="utf-8").splitlines()
    assert test == ["Shout for joy to Yahweh, all you lands!"]
    assert len(train) == 3 and not any("grace" in line for line in train)  # Revelation 22:21's glossary
