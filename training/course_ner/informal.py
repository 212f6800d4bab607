"""How people shorten a course title when they talk about it: "Intro to Sociology", "Calc 2", "Orgo".

The catalog writes titles in full ("Introduction to Sociology", "Calculus II"); students, and the
sentences the extractor is judged on, often do not. Training names are sometimes given in such a
shortened form so that the model learns them as names too.
"""

from __future__ import annotations

import random
import re

# Whole-title shortenings first (checked against the title, case-insensitively), then word ones.
TITLE_NICKNAMES = {
    "organic chemistry": ["Orgo", "O-Chem", "Organic Chem"],
    "organic chemistry i": ["Orgo 1", "Orgo I", "O-Chem 1"],
    "organic chemistry ii": ["Orgo 2", "Orgo II", "O-Chem 2"],
    "differential equations": ["Diff Eq", "DiffEq", "Diff Eqs"],
    "linear algebra": ["Lin Alg", "LinAlg"],
    "computer science": ["CS", "Comp Sci"],
    "introduction to computer science": ["Intro to CS", "Intro CS", "Intro to Comp Sci"],
    "principles of microeconomics": ["Micro", "Microecon", "Intro Micro"],
    "principles of macroeconomics": ["Macro", "Macroecon", "Intro Macro"],
    "general chemistry": ["Gen Chem", "Gen Chem 1"],
    "general chemistry i": ["Gen Chem 1", "Gen Chem I"],
    "general chemistry ii": ["Gen Chem 2", "Gen Chem II"],
    "multivariable calculus": ["Multivariable", "Multivar Calc", "Calc 3"],
    "physical education": ["PE", "Phys Ed"],
    "english composition": ["English Comp", "Comp 1"],
}

WORD_SHORTENINGS = {
    "Calculus": "Calc",
    "Statistics": "Stats",
    "Psychology": "Psych",
    "Economics": "Econ",
    "Mathematics": "Math",
    "Biology": "Bio",
    "Chemistry": "Chem",
    "Laboratory": "Lab",
    "Anthropology": "Anthro",
    "Literature": "Lit",
    "Composition": "Comp",
    "Microeconomics": "Micro",
    "Macroeconomics": "Macro",
    "Technology": "Tech",
    "Geography": "Geo",
    "Political Science": "Poli Sci",
    "Computer Science": "CS",
}
_WORD_PATTERNS = [
    (re.compile(rf"\b{word}\b", re.IGNORECASE), short) for word, short in WORD_SHORTENINGS.items()
]

ROMAN_TO_ARABIC = {"I": "1", "II": "2", "III": "3", "IV": "4"}
INTRODUCTION = re.compile(r"^Introduction to ", re.IGNORECASE)
INTRO_FORMS = ["Intro to ", "Intro to ", "Intro ", "intro to "]
NICKNAME_SHARE = 0.5  # of the titles that have a nickname: how many are given it
WORD_SHORTENING_SHARE = 0.5  # of the words that have a short form: how many take it
NUMERAL_SHARE = 0.6  # of the titles ending in a Roman numeral: how many end in a digit instead
TRAILING_NUMERAL = re.compile(r" (I|II|III|IV)$", re.IGNORECASE)


def informal_title(rng: random.Random, title: str) -> str:
    """``title`` as a student might write it; the title itself where nobody would shorten it.

    "Introduction to Sociology" → "Intro to Sociology" or "Intro Sociology"; "Calculus II" →
    "Calc 2" or "Calculus 2"; "Organic Chemistry" → "Orgo"; "Principles of Statistics" →
    "Principles of Stats".
    """
    lower_case = title == title.lower()
    nicknames = TITLE_NICKNAMES.get(title.lower())
    if nicknames and rng.random() < NICKNAME_SHARE:
        return _cased(rng.choice(nicknames), lower_case)
    shortened = INTRODUCTION.sub(lambda _: _cased(rng.choice(INTRO_FORMS), lower_case), title)
    for pattern, short in _WORD_PATTERNS:
        if pattern.search(shortened) and rng.random() < WORD_SHORTENING_SHARE:
            shortened = pattern.sub(_cased(short, lower_case), shortened)
    if rng.random() < NUMERAL_SHARE:
        shortened = TRAILING_NUMERAL.sub(_arabic, shortened)
    return shortened


def informal_forms(title: str) -> frozenset[str]:
    """Every form `informal_title` can give ``title``, lower-cased: what training may name it."""
    lower_case = title == title.lower()
    forms = {_cased(nickname, lower_case) for nickname in TITLE_NICKNAMES.get(title.lower(), [])}
    shortened = {INTRODUCTION.sub(_cased(form, lower_case), title) for form in INTRO_FORMS}
    for pattern, short in _WORD_PATTERNS:
        shortened |= {pattern.sub(_cased(short, lower_case), each) for each in shortened}
    numbered = {TRAILING_NUMERAL.sub(_arabic, each) for each in shortened}
    return frozenset(form.lower() for form in forms | shortened | numbered)


def _arabic(numeral: re.Match[str]) -> str:
    return " " + ROMAN_TO_ARABIC[numeral[1].upper()]


def _cased(words: str, lower_case: bool) -> str:
    return words.lower() if lower_case else words
