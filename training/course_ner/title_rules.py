"""What a course title can be: rules that shape the spans the model predicts.

Catalog titles are title case, never end in a function word, never name a major or a department,
and are quoted whole; these rules cut, extend, split, merge or drop predicted spans accordingly.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from training.course_ner.encoding import capitalised_chars
from training.course_ner.informal import TITLE_NICKNAMES, WORD_SHORTENINGS
from training.course_ner.phrasebook import SOFTWARE, TOOLS_IN_TITLES

FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "nor",
        "but",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "with",
        "by",
        "through",
        "into",
        "via",
        "vs",
        "as",
        "about",
        "after",
        "before",
        "during",
        "since",
        "until",
        "upon",
        "within",
        "without",
        "across",
        "among",
        "between",
        "over",
        "under",
        "toward",
        "towards",
        "beyond",
        "per",
        "against",
        "around",
        "along",
        "my",
    ]
)
SPAN_WORD = re.compile(r"\S+")


# What a word is stripped of to be looked at: punctuation and quotes around it (typographic ones,
# as pasted text has them, too), Markdown's emphasis, HTML's brackets.
WORD_TRIM = ",;:.!?()[]\"'\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e\u2039\u203a*_<>`"


def _bare(word: str) -> str:
    return word.strip(WORD_TRIM)


# Marks that open a line of a list ("- Data Structures", "* Linear Algebra", "\u2022 Ethics").
LINE_BULLETS = "-*\u2022\u00b7\u2023\u25e6\u2013\u2014>"
# A line shorter than this that a name runs past is a list's item or a heading, not prose wrapped
# at a fixed width ("... I'm enrolled in Operating\nSystems ...", as plain-text mail wraps it).
WRAPPED_LINE_LEAST = 50


def _list_line_break(text: str, at: int) -> bool:
    """Whether the line break at ``at`` ends a list's line, which no name runs past."""
    line_start = text.rfind("\n", 0, at) + 1
    next_line = text[at + 1 :].lstrip(" \t")
    return at - line_start < WRAPPED_LINE_LEAST or next_line[:1] in tuple(LINE_BULLETS)


def split_at_line_breaks(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A name runs past no line break of a list ("Courses:\n- Data Structures\n- Linear Algebra" is
    two names, their bullets cut off); prose wrapped at a fixed width keeps its names whole."""
    pieces = []
    for start, end in spans:
        cuts = [at for at in range(start, end) if text[at] == "\n" and _list_line_break(text, at)]
        for first, last in zip([start, *(at + 1 for at in cuts)], [*cuts, end], strict=True):
            while first < last and (text[first].isspace() or text[first] in LINE_BULLETS):
                first += 1
            while last > first and text[last - 1].isspace():
                last -= 1
            if last > first:
                pieces.append((first, last))
    return pieces


def _is_capitalised(word: str) -> bool:
    return _bare(word)[:1].isupper()


def _is_lowercase_content(word: str) -> bool:
    bare = _bare(word)
    return bare[:1].islower() and bare.lower() not in FUNCTION_WORDS


# The only function words that open catalog titles ("The Politics of Rights", "From Mountains to Sea:
# Comparative Volcanoes"): a capitalised "In" or "For" before a name is the sentence's.
TITLE_OPENING_FUNCTION_WORDS = frozenset(["the", "a", "an", "from"])


# Words of a sentence that the model takes into a name's start: "TA-ing Drawing I" ("TA" alone opens
# one catalog title, "TA Preparation").
NOT_OPENING_WORDS = frozenset(["tas", "ta-ing", "taing", "ta'ing", "ta\u2019ing", "ta'd", "ta\u2019d"])


def _cannot_open_a_title(word: str) -> bool:
    bare = _bare(word)
    return (
        bare in FUNCTION_WORDS
        or bare.lower() in NOT_OPENING_WORDS
        or (bare.lower() in FUNCTION_WORDS and bare.lower() not in TITLE_OPENING_FUNCTION_WORDS)
    )


# The word of a heading, before its colon, that opens no title (of the catalog's 38 one-word parts
# before a colon, "Seminar: ...", "Practicum: ...", none is one of them): "Languages: German".
HEADING = re.compile(
    r"(?:Languages?|Skills|Courses?|Classes|Coursework|Schedule|Tools|Software|Interests|Education"
    r"|Catalog|Note|Reminder|Update|Subjects|Electives|Prerequisites|Prereqs|Requirements"
    r"|Certifications|Licenses\s*(?:&|and)\s*Certifications|Research\s+Interests|Hobbies|Expertise):\s+",
    re.IGNORECASE,
)
# A course code, which no catalog title holds, alone or before a title: "BIO 210 Human Physiology".
COURSE_CODE = re.compile(r"[A-Z]{2,5}[ -]?\d{3,4}[A-Z]?")
COURSE_CODE_OPENING = re.compile(rf"{COURSE_CODE.pattern}:?\s+(?=[A-Z])")
# A letter grade with its sign, which ends no title: a transcript's "Medical-Surgical Nursing B+".
SIGNED_GRADE = re.compile(r"[A-DF][+-](?![\w+])")
# A number with a decimal point: a transcript's credits or grade points ("Principles of Financial
# Accounting 3.0 A-"), never a title's last word ("Spanish 3", "Calculus 2").
DECIMAL_NUMBER = re.compile(r"\d+\.\d")


def _is_function_word_at_an_end(word: str) -> bool:
    """A function word, or one shouted ("Bio 2 AND Discrete Math"); a capital letter alone is no
    function word at a name's end ("Vitamin A", "Hepatitis B")."""
    return word in FUNCTION_WORDS or (len(word) > 1 and word.isupper() and word.lower() in FUNCTION_WORDS)


def tidy_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Cut what cannot belong to a course title off a predicted span.

    Catalog titles are in title case: every word but the small function words is capitalised
    (all but 9 of the 6,533 real titles), and none ends in a function word. So in a span that has
    capitalised words, a lower-case content word ("sections", "final") is context: the title is
    the run between such words with the most capitalised words ("Remote sections of Web
    Technologies" -> "Web Technologies"). Function words never start a capitalised run, even
    capitalised ("In Knowing, Teaching, and ..."; but "The", "A", "An" and "From" open titles), or
    end any span ("Sports Nutrition and" -> "Sports Nutrition"), nor does a signed letter grade
    ("Health Assessment B+") or a decimal number (credits: "Accounting 3.0"), nor a heading's word
    or a course code open one ("Languages: German", "BIO 210 Human Physiology"), and a code alone
    is none. Spans with no capitals (lower-case text) keep their content words. None when nothing
    is left.
    """
    if text[start:end].endswith(" I") and text[end : end + 1] in ("'", "\u2019"):  # "Probability I'm"
        end -= 2
    opening = text.find("(", start, end)
    if opening != -1 and text.find(")", opening, end) == -1:  # "Linear Systems (EE 235": a code follows
        end = opening
    if heading := HEADING.match(text, start, end):  # "Languages: German", "Catalog: Compensation ..."
        start = heading.end()
    if code := COURSE_CODE_OPENING.match(text, start, end):  # "BIO 210 Human Physiology"
        start = code.end()
    if COURSE_CODE.fullmatch(text, start, end):
        return None  # a code alone: what it stands for is the name
    words = [(m.start() + start, m.end() + start) for m in SPAN_WORD.finditer(text[start:end])]
    if all(_bare(text[a:b]).lower() in FUNCTION_WORDS for a, b in words):
        return None  # "The" alone: a title's first word at most, never a title
    if any(_is_capitalised(text[a:b]) for a, b in words):
        runs: list[list[tuple[int, int]]] = [[]]
        for a, b in words:
            if _is_lowercase_content(text[a:b]):
                runs.append([])
            else:
                runs[-1].append((a, b))
        words = max(runs, key=lambda run: sum(_is_capitalised(text[a:b]) for a, b in run))
        while words and _cannot_open_a_title(text[words[0][0] : words[0][1]]):
            words = words[1:]
    while words and (
        _is_function_word_at_an_end(_bare(text[words[-1][0] : words[-1][1]]))
        or SIGNED_GRADE.fullmatch(text[words[-1][0] : words[-1][1]].rstrip(",;:."))
        or DECIMAL_NUMBER.match(text, words[-1][0])
    ):
        words = words[:-1]  # "Medical-Surgical Nursing B+" of a transcript's "Nursing B+, ..."
    if not words:
        return None
    first, last = words[0][0], words[-1][1]
    while last > first and (text[last - 1] in ",;:-&/.\u2013\u2014" or text[last - 1].isspace()):
        last -= 1  # "Financial Accounting /" of "Financial Accounting / Managerial Accounting"
    return (first, last) if last > first else None


def join_names_a_space_apart(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """One name for two that only a space parts ("Preventing" + "Workplace Harassment for Managers"):
    names listed side by side have a comma, a conjunction or a line between them. Not a number before
    a name (a code's, "ACCT 2101 Principles of Accounting I")."""
    joined: list[tuple[int, int]] = []
    for start, end in spans:
        if joined and text[joined[-1][1] : start] == " " and text[joined[-1][0]].isalpha():
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return joined


def tidy_spans(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    tidied = (tidy_span(text, start, end) for start, end in spans)
    return [span for span in tidied if span is not None]


# Capitalised words that follow a course name without being part of it.
NOT_TITLE_WORDS = frozenset(
    [
        *("I", "I'm", "I've", "I'll", "I'd", "Professor", "Prof", "Dr", "Mr", "Mrs", "Ms"),
        *("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        *("January", "February", "March", "April", "May", "June", "July", "August"),
        *("September", "October", "November", "December"),
    ]
)
NEXT_WORD = re.compile(r" ([A-Z][\w'\u2019&/-]*)([,;:.!?)]*)")


def extend_through_capitals(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Carry a span on over the capitalised words that directly follow it.

    The model sometimes stops one word short of a title's end ("Global Environmental" of "Global
    Environmental Politics used to"), but a title-case word right after a name, with only a space
    between, is almost always more of it. Not over a word that starts another span, nor over
    weekdays, months, "I", titles of people or a signed letter grade ("Nursing B+"); punctuation
    after a word ends the extension.
    """
    starts = {start for start, _ in spans}
    extended = []
    for start, end in spans:
        while (match := NEXT_WORD.match(text, end)) and match.start(1) not in starts:
            if (
                match.group(1) in NOT_TITLE_WORDS
                or text.isupper()
                or SIGNED_GRADE.match(text, match.start(1))
            ):
                break
            end = match.end(1)
            if match.group(2):
                break
        extended.append((start, end))
    return extended


# Lower-case nouns that follow a course name which a sentence-opening "The" belongs to, not the
# name: "The Operating Systems final is brutal", "The Calculus II students".
NOUNS_AFTER_A_NAME = frozenset(
    [
        *("final", "finals", "midterm", "midterms", "lab", "labs", "lecture", "lectures", "homework"),
        *("exam", "exams", "quiz", "quizzes", "syllabus", "textbook", "professor", "instructor"),
        *("lecturer", "teacher", "ta", "tas", "grader", "class", "classes", "course", "courses"),
        *("section", "sections", "seminar", "students", "project", "projects", "paper", "papers"),
        *("assignment", "assignments", "reading", "readings", "notes", "slides", "curve", "grade"),
        *("grades", "waitlist", "review", "discussion", "recitation", "office", "group", "team"),
        *("sequence", "requirement", "requirements", "credit", "credits", "workload", "material"),
        *("problem", "essay", "presentation", "room", "kids", "people", "crowd", "cohort", "unit"),
        *("units", "module", "modules", "placement", "field", "practical", "practicals", "tutorial"),
        *("tutorials", "workshop", "capstone", "recordings", "videos", "schedule", "study"),
    ]
)
LIST_GAP = re.compile(r"\s*(?:,\s*)?(?:(?:and|or|&|/)\s+)?")
WORD_AFTER = re.compile(r"\s+([a-z]+)\b")


def _noun_after_list(text: str, spans: list[tuple[int, int]], index: int) -> bool:
    """Whether a lower-case noun follows the list of names that ``spans[index]`` starts."""
    end = spans[index][1]
    for start, next_end in spans[index + 1 :]:
        gap = LIST_GAP.fullmatch(text, end, start)
        if gap is None or start == end:
            break
        end = next_end
    following = WORD_AFTER.match(text, end)
    return following is not None and following.group(1) in NOUNS_AFTER_A_NAME


def take_in_a_leading_the(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Start a span at a capitalised "The" right before it, when the "The" is the title's.

    Mid-sentence, "The" is only capitalised as the first word of a title ("in The Cryosphere"). At a
    sentence's start it is the title's too ("The Politics of Rights has a guest lecturer"), unless
    a noun follows the name: then it is the noun's ("The Operating Systems final is brutal", "The
    Calculus and Physics midterms"). 147 of the 6,533 catalog titles start with "The".
    """
    capital = capitalised_chars(text)  # 0 for a capitalised "The" only where it opens a sentence
    taken = []
    for index, (start, end) in enumerate(spans):
        before = start - len("The ")
        at_the = before >= 0 and text[before:start] == "The "
        if at_the and (capital[before] or not _noun_after_list(text, spans, index)):
            start = before
        taken.append((start, end))
    return taken


# Last words of a course that "The" before it never belongs to: "The Neurology Elective is offered at",
# "The Immigration Law Clinic represents"; no catalog title that opens with "The" ends in one.
KINDS_OF_COURSE_AFTER_THE = frozenset(
    ["clinic", "elective", "rotation", "clerkship", "externship", "seminar", "workshop", "colloquium", "lab"]
)


THE_OPENING = re.compile(r"The\s+")


def drop_the_before_a_kind_of_course(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Start a name that opens with "The " and ends in `KINDS_OF_COURSE_AFTER_THE` after the "The"."""
    dropped = []
    for start, end in spans:
        the = THE_OPENING.match(text, start, end)
        if the and " " in text[the.end() : end] and last_word(text[start:end]) in KINDS_OF_COURSE_AFTER_THE:
            start = the.end()
        dropped.append((start, end))
    return dropped


def keep_consistent_case(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Drop all-lower-case spans from a text whose other names are capitalised.

    Someone who writes "Election Law" writes "Research Methods" too, so "research" in "she
    recommends Election Law for anyone interested in research" is not a course name. Texts written
    all in lower case keep their spans.
    """
    capital = capitalised_chars(text)
    cased = [any(capital[start:end]) for start, end in spans]
    if not any(cased):
        return spans
    return [span for span, is_cased in zip(spans, cased, strict=True) if is_cased or text[span[0]].isupper()]


# A comma or a conjunction, then a capitalised "The": no catalog title holds either inside, so it
# starts another title ("International Justice and The Politics of Rights").
LIST_BREAK_BEFORE_THE = re.compile(r",?\s+(?:and|or|&)\s+(?=The\b)|,\s+(?=The\b)")


def split_before_a_capitalised_the(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Split a span where a list goes on with a title that starts with "The"."""
    pieces = []
    for start, end in spans:
        piece_start = start
        for match in LIST_BREAK_BEFORE_THE.finditer(text, start, end):
            if match.start() > piece_start:
                pieces.append((piece_start, match.start()))
            piece_start = match.end()
        if end > piece_start:
            pieces.append((piece_start, end))
    return pieces


QUOTED = re.compile(r'"([^"\n]+)"|\u201c([^\u201d\n]+)\u201d')
QUOTE_TRIM = " \t,;:.!?"


def merge_quoted_title(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """One name for a quoted title that the model cut into pieces.

    People quote a course by its whole title ("Understanding Addiction, Pharmacology of Drugs, and
    Treatment Methods"): when the names found inside a pair of quotes start where the quoted text
    starts and end where it ends, they were one title.
    """
    for match in QUOTED.finditer(text):
        group = 1 if match.group(1) is not None else 2
        start, end = match.start(group), match.end(group)
        while start < end and text[start] in QUOTE_TRIM:
            start += 1
        while end > start and text[end - 1] in QUOTE_TRIM:
            end -= 1
        inside = [(a, b) for a, b in spans if start <= a and b <= end]
        if len(inside) >= 2 and inside[0][0] == start and max(b for _, b in inside) == end:
            spans = sorted([span for span in spans if span not in inside] + [(start, end)])
    return spans


# Words that, right after a name, make it a field of study rather than a course.
PROGRAM_NOUN_AFTER = re.compile(
    r"\s+(?:major|majors|minor|minors|department|dept|program|programs|programme|degree|degrees|club)\b",
    re.IGNORECASE,
)
# Words that, right before a name, make it a field of study: a degree ("B.F.A. in Studio Art",
# "the M.A. in Latin American Studies", "majoring in"), or a chair or department ("Professor of
# Epidemiology", "Endowed Chair in Aerospace Engineering"). "Professor in" and "lecturer in" are
# left out: "our lecturer in Orbital Mechanics" names the course.
DEGREE_ABBREVIATION = (
    r"(?:B\.?A|B\.?Sc?|B\.?F\.?A|B\.?Ed|M\.?A|M\.?Sc?|M\.?F\.?A|M\.?B\.?A|M\.?P\.?[AH]|M\.?S\.?W|M\.?Ed"
    r"|Ph\.?D|Ed\.?D|Au\.?D|D\.?N\.?P|LL\.?M)\.?"
)
FIELD_MARK_BEFORE = re.compile(
    rf"(?:\b{DEGREE_ABBREVIATION}\s+(?:in|of)"
    r"|\b(?:degrees?|major(?:s|ed|ing)?|minor(?:s|ed|ing)?|concentration|doctorate|bachelor'?s|master'?s|associate'?s"
    r"|diploma|certificate|chair)\s+(?:in|of)"
    r"|\b(?:professors?|prof\.|dean|department|dept\.|school|college|division)\s+of)\s+$",
    re.IGNORECASE,
)
FIELD_MARK_REACH = 40  # characters before a name that FIELD_MARK_BEFORE looks at
# The capitalised nouns of a named institution whose field follows: "the Lab for Computational
# Linguistics", "the Center for Marine Conservation". Lower case is a course's: "the lab for General
# Chemistry I".
INSTITUTION_BEFORE = re.compile(r"\b(?:Lab|Laboratory|Center|Centre|Institute)\s+(?:of|for)\s+$")


def drop_programs(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Drop names that are fields of study, by the words around them.

    Followed by "major", "minor", "department", "program", "degree", "club": "the Law, Societies,
    and Justice major" or "the Marine Biology minor" name a field, never a course; the model knows
    "majoring in Economics" but not every way to say it. Preceded by a degree, a chair or a
    department (`FIELD_MARK_BEFORE`): "her M.A. in Latin American Studies", "Assistant Professor
    of Epidemiology"; or by an institution's name (`INSTITUTION_BEFORE`): "the Center for Marine
    Conservation".
    """
    return [
        (start, end)
        for start, end in spans
        if not PROGRAM_NOUN_AFTER.match(text, end)
        and not FIELD_MARK_BEFORE.search(text[max(0, start - FIELD_MARK_REACH) : start])
        and not INSTITUTION_BEFORE.search(text[max(0, start - FIELD_MARK_REACH) : start])
    ]


# Words before a name that make it a book's title: "a PDF of Griffiths' Introduction to
# Electrodynamics", "my copy of Principles of Economics", "the 14th edition of Campbell Biology".
# A course is never had in copies, PDFs or editions. (An author's possessive alone marks no book:
# "Michael Sandel's Justice course", "Clark Sorensen's Politics of Divided Korea".)
BOOK_MARK_BEFORE = re.compile(
    r"\b(?:(?:copy|copies|pdf|pdfs|edition|editions|chapters?\s+\d+)\s+of\s+"
    r"(?:[A-Z][\w.-]*(?:'s|s'|\u2019s|s\u2019)\s+)?|(?:text)?book,\s+)$",
    re.IGNORECASE,
)


# An author's bare surname before a name, in a sentence about books ("Griffiths' Introduction to
# Electrodynamics is the assigned book", "I borrowed Strang's Linear Algebra and Its
# Applications"). A teacher's name before a course has a title or a first name ("Prof. Keller's
# Intro to Ethics", "Michael Sandel's Justice"), a platform's is no surname ("Coursera's", "NPTEL's"),
# and a weekday is none ("Tuesday's Pharmacology").
AUTHOR_BEFORE = re.compile(
    r"(?:^|[^\w\s.]\s*|\b[a-z]+\s+)(?!(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|Today"
    r"|Tonight|Yesterday|Tomorrow|Coursera|Udemy|Udacity)\b)[A-Z][a-z]+(?:'s|s'|\u2019s|s\u2019)\s+$"
)
BOOK_WORDS = re.compile(
    r"\b(?:books?|textbooks?|editions?|novels?|read|reads|reading|reread|borrowed|citing|chapters?|paperback|pdf)\b",
    re.IGNORECASE,
)


SENTENCE_END = re.compile(r"[.!?\n]")
# Words after a name that make it a book: "Operating Systems: Three Easy Pieces is a free textbook",
# "'The Elements of Style' is the only book required", "The Art of Computer Programming, Volume 1".
BOOK_MARK_AFTER = re.compile(
    r"(?::[ \t]+[A-Z][\w'\u2019-]*(?:[ \t]+[A-Z][\w'\u2019-]*){1,5})?"  # "...: Three Easy Pieces"
    r"[\"'\u201d\u2019]?\s+(?:is|was)\s+(?:a|an|the|our|their)\s+"
    r"(?:(?!(?:class|course|one|whose|that|which|my)\b)[\w]+\s+){0,2}(?:text)?books?(?![\w-])"
    r"(?!\s+(?:example|case|definition|club|report|heavy)\b)"
    r"|,?\s+(?:Vol\.|Volume)\s+\d",
    re.IGNORECASE,
)
VOLUME = re.compile(r"(?:Vol\.|Volume)\s+\d+", re.IGNORECASE)


def _by_an_author(text: str, start: int) -> bool:
    """Whether an author's bare surname comes right before, in a sentence with a book's word."""
    opening = max((end.end() for end in SENTENCE_END.finditer(text, 0, start)), default=0)
    closing = SENTENCE_END.search(text, start)
    sentence = text[opening : closing.start() if closing else len(text)]
    return bool(
        AUTHOR_BEFORE.search(text[max(0, start - FIELD_MARK_REACH) : start]) and BOOK_WORDS.search(sentence)
    )


def drop_books(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Drop names that a copy, a PDF, an edition or a chapter is "of" (`BOOK_MARK_BEFORE`), that an
    author's surname comes before in a sentence about books (`AUTHOR_BEFORE`), that are said to be a
    book or have a volume (`BOOK_MARK_AFTER`), and a volume itself, unless a course's noun
    follows ("a copy of Organic Chemistry notes", "Intro to Biology's syllabus")."""
    return [
        (start, end)
        for start, end in spans
        if not (
            BOOK_MARK_BEFORE.search(text[max(0, start - FIELD_MARK_REACH) : start])
            or _by_an_author(text, start)
            or BOOK_MARK_AFTER.match(text, end)
            or VOLUME.fullmatch(text, start, end)
        )
        or _course_noun_after(text, end)
    ]


COURSE_NOUN_AFTER = re.compile(r"(?:'s|\u2019s)?\s+([a-z]+)\b")


def _course_noun_after(text: str, end: int) -> bool:
    noun = COURSE_NOUN_AFTER.match(text, end)
    return bool(noun) and noun.group(1) in NOUNS_AFTER_A_NAME


# A letter grade "in" something: "He got an A in Genetics", "a B+ in Organic Chemistry", "a grade
# of C or better in Statistics", "the C he got in Spanish 102", and as chat writes it, "a c in
# discrete math". A grade is given for a course, never for a major or a department, so the words
# after it name one, bare disciplines included, which the models read as fields.
GRADE_IN = re.compile(
    r"(?:\b(?:an|a|of|got|earned|received|get|gets|getting|with)\s+(?:[A-DF]|[a-df](?=\s+in\b))[+-]?"
    r"(?:\s+or\s+(?:better|higher|above))?"
    r"|\b[Tt]he\s+[A-DF][+-]?\s+(?:I|you|he|she|we|they)\s+(?:got|earned|received|get|gets))\s+in\s+"
)
GRADE_NAME_WORD = re.compile(r"[A-Z][\w&/-]*|\d{1,4}[A-Za-z]?")
GRADE_NAME_LINKS = frozenset(["of", "and", "to", "for", "in", "the", "&"])
NAME_END_MARKS = ",;:.!?)"
# Lower-case words after a grade that are no course, though training titles hold some of them:
# "an A in everything", "a C in it", "a B in conduct", "an A in effort".
NOT_GRADED_SUBJECTS = frozenset(
    ["it", "that", "this", "everything", "all", "life", "class", "school", "general", "conduct",
     "behavior", "behaviour", "effort", "attendance", "participation", "both", "each", "one", "there"]
)  # fmt: skip
NO_SUBJECT_WORDS = FUNCTION_WORDS | NOT_GRADED_SUBJECTS
# How students shorten subjects ("a D in stats", "a C in orgo"), which the catalog never writes.
# How students shorten titles: "Calc", "Poli Sci", "Orgo", "Gen Chem 1".
STUDENT_SHORT_FORMS = (*WORD_SHORTENINGS.values(), *(n for names in TITLE_NICKNAMES.values() for n in names))
SHORT_SUBJECTS = frozenset(word.lower() for short in STUDENT_SHORT_FORMS for word in short.split())
LOWER_CASE_NAME_MOST_WORDS = 4


def _capitalised_name(text: str, at: int) -> int | None:
    """Where the run of capitalised words (and course numbers) from ``at`` ends, over the linking
    words between two of them; punctuation ends it. None where it does not open with one."""
    end = None
    for match in SPAN_WORD.finditer(text, at):  # lazily: only the run's words are read
        word = match.group()
        bare = word.rstrip(NAME_END_MARKS)
        if GRADE_NAME_WORD.fullmatch(bare):
            end = match.start() + len(bare)
            if bare != word:
                break
        elif word not in GRADE_NAME_LINKS or end is None:
            break
        # a linking word joins the name only where a name's word follows ("History of the
        # Americas"): ``end`` moves past it only then
    return end


def _lower_case_name(text: str, at: int, title_words: Collection[str]) -> int | None:
    """Where the run of lower-case subject words from ``at`` ends ("discrete math", "stats"): words
    of the training titles or students' short forms, no function words; punctuation ends it."""
    end = None
    for count, match in enumerate(SPAN_WORD.finditer(text, at)):
        word = match.group()
        bare = word.rstrip(NAME_END_MARKS)
        subject = bare.islower() and (bare in title_words or bare in SHORT_SUBJECTS)
        if count == LOWER_CASE_NAME_MOST_WORDS or not subject or bare in NO_SUBJECT_WORDS:
            break
        end = match.start() + len(bare)
        if bare != word:
            break
    return end


def _name_after_a_grade(text: str, at: int, title_words: Collection[str]) -> tuple[int, int] | None:
    """The name a grade is given in, from ``at``: capitalised words, or in text written in lower case,
    subject words. None where there is none or it is a person's ("Professor Lee's class")."""
    end = _capitalised_name(text, at)
    if end is None and title_words:
        end = _lower_case_name(text, at, title_words)
    if end is None:
        return None
    name = text[at:end]
    if name.split()[0].rstrip(".") in NOT_TITLE_WORDS or re.search(r"['\u2019]s\b", text[at : end + 2]):
        return None
    return at, end


def add_names_after_a_grade(
    text: str, spans: list[tuple[int, int]], title_words: Collection[str] = frozenset()
) -> list[tuple[int, int]]:
    """Add the name a letter grade is given in (`GRADE_IN`) where the models found nothing there.
    ``title_words``: the training titles' vocabulary; empty, only capitalised names are added."""
    added = []
    for grade in GRADE_IN.finditer(text):
        name = _name_after_a_grade(text, grade.end(), title_words)
        if name and not any(start < name[1] and name[0] < end for start, end in spans + added):
            added.append(name)
    return sorted(spans + added)


# A class's meeting or week "of" a name: "before the first meeting of Architectural Drafting", "week 3
# of Intro to Film", "the last lecture of Organic Chemistry II"; not a term's, a break's or a room's
# ("week 1 of Spring Break"), nor a number ("week 10 of 12").
CLASS_PART_OF = re.compile(
    r"\b(?:(?:first|second|third|last|next|final|opening)\s+(?:meeting|session|lecture|class|lab)s?"
    r"|(?:week|unit|module|lecture|session)\s+\d{1,2})\s+of\s+",
    re.IGNORECASE,
)


# What a class's first week or meeting is not of: a term, a break, a room ("week 1 of Spring Break").
NOT_A_CLASS_PART_OPENING = frozenset(
    ["Spring", "Summer", "Fall", "Autumn", "Winter", "Room", "Term", "Semester"]
)


def add_names_a_class_part_is_of(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Add the capitalised name a class's meeting, session or week is of (`CLASS_PART_OF`) where the
    models found nothing there."""
    added = []
    for part in CLASS_PART_OF.finditer(text):
        name = _name_after_a_grade(text, part.end(), frozenset())
        if not name or not text[name[0]].isupper() or _overlaps(*name, spans + added):
            continue  # "week 10 of 12"
        name = (name[0], name[0] + len(text[name[0] : name[1]].split("\n")[0].rstrip()))
        if text[name[0] : name[1]].split()[0] not in NOT_A_CLASS_PART_OPENING:
            added.append(name)
    return sorted(spans + added)


# Last words that make a name an institution, an event, an award, a plan, a document or a person's
# role, none of which ends any of the catalog's 6.5k titles (a test checks it): "the Curriculum
# Committee", "the Rapid Response Simulation Day", "the Sepsis Response Protocol", "Relevant
# Coursework", "the Licensure Track Orientation", "Project Lead", "the Applied Statistics M.S.".
# Groups of people are left out: "Pharmacology for Nurses" is a course.
NON_COURSE_LAST_WORDS = frozenset(
    [
        "academy",
        "administrator",
        "adviser",
        "advisor",
        "advisors",
        "alliance",
        "analyst",
        "assistant",
        "assistants",
        "association",
        "award",
        "awards",
        "b.a",
        "b.f.a",
        "b.s",
        "banquet",
        "bootcamp",
        "breakfast",
        "brunch",
        "bureau",
        "campaign",
        "catalog",
        "catalogue",
        "celebration",
        "centers",
        "centre",
        "ceremony",
        "certificate",
        "certification",
        "chair",
        "chairs",
        "checklist",
        "clinics",
        "cohort",
        "collection",
        "commencement",
        "commission",
        "committee",
        "committees",
        "competitions",
        "consortium",
        "consultant",
        "convocation",
        "coordinator",
        "coordinators",
        "council",
        "coursework",
        "credential",
        "credentials",
        "credits",
        "day",
        "deadline",
        "dean",
        "deans",
        "degree",
        "department",
        "departments",
        "designer",
        "developer",
        "dinner",
        "director",
        "division",
        "ed.d",
        "examination",
        "exhibit",
        "expo",
        "facilities",
        "facility",
        "fair",
        "fellowship",
        "fellowships",
        "festival",
        "forum",
        "foundation",
        "fund",
        "gala",
        "gallery",
        "grant",
        "grants",
        "guide",
        "hackathon",
        "hall",
        "handbook",
        "hours",
        "initiative",
        "instructor",
        "intern",
        "journal",
        "labs",
        "lead",
        "leads",
        "league",
        "librarian",
        "library",
        "license",
        "licensure",
        "ll.m",
        "lunch",
        "luncheon",
        "m.a",
        "m.b.a",
        "m.ed",
        "m.f.a",
        "m.p.h",
        "m.s",
        "major",
        "manager",
        "manual",
        "mentor",
        "minor",
        "month",
        "museum",
        "network",
        "newsletter",
        "night",
        "officer",
        "officers",
        "offices",
        "orientation",
        "panel",
        "party",
        "ph.d",
        "plan",
        "portal",
        "president",
        "press",
        "prize",
        "professor",
        "programme",
        "protocol",
        "reception",
        "recruiter",
        "representative",
        "requirement",
        "requirements",
        "researcher",
        "reunion",
        "rounds",
        "roundtable",
        "scholarships",
        "session",
        "sessions",
        "showcase",
        "specialist",
        "specialists",
        "summit",
        "supervisor",
        "supervisors",
        "symposia",
        "team",
        "tour",
        "track",
        "units",
        "week",
        "weekend",
        "workshops",
        # programmes of courses and media with a course's words (2026-12-08): "the Deep Learning
        # Specialization", "the Data Engineering Nanodegree", "the Crash Course Sociology playlist"
        "specialization",
        "specializations",
        "nanodegree",
        "pathway",
        "concentration",
        "podcast",
        "channel",
        "playlist",
        "textbook",
    ]
)


def last_word(name: str) -> str:
    """A name's last word, lower-cased, without the punctuation around it: "Writing (Fall)." -> "fall"."""
    return _bare(name.split()[-1]).lower()


# Letters and points right after a name's end: the decoder cuts words at a point, so the model's
# name for "the Mathematics Education Ph.D. faculty" ends at "Ph".
DOTTED_TAIL = re.compile(r"(?:\.[A-Za-z])+\.?")


# Last words of a research group or a place that end few catalog titles (4 of the 6,533 end in
# "Lab", 2 in "Institute", 1 in "Unit"; "Laboratory" ends 30, "Center" 6, and they are left out):
# "Advanced Robotics Lab" is a course, but "the Autonomous Systems Lab" a research group. No name in
# the development sets that ends so follows "the".
PLACE_LAST_WORDS = frozenset(["lab", "labs", "institute", "unit"])
THE_BEFORE = re.compile(r"\bthe\s+$", re.IGNORECASE)
# How the names of centres, offices, labs, journals, societies and boards open; no catalog title does
# ("Center for Teaching and Learning", "the Laboratory for Cognitive Aging"; "Laboratory in" opens two).
INSTITUTION_OPENING = re.compile(
    r"(?:Center|Centre|Institute|Office|Laboratory|Lab|Journal|Society|Association|Foundation|Museum|Council"
    r"|Committee|Board|Department|Division)\s+(?:for|of)\s"
)


def _is_a_place(text: str, start: int, end: int) -> bool:
    """Whether the name is an institution's (`INSTITUTION_OPENING`: "Center for Teaching and
    Learning", "Laboratory for Cognitive Aging"), or ends in a place's word that "the" opens ("the
    Geotechnical Testing Lab")."""
    name = text[start:end]
    if INSTITUTION_OPENING.match(name):
        return True
    opened_by_the = name.lower().startswith("the ") or THE_BEFORE.search(text[max(0, start - 5) : start])
    return bool(opened_by_the) and last_word(name) in PLACE_LAST_WORDS


def drop_institution_names(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Drop names whose last word says what they are, and it is no course (`NON_COURSE_LAST_WORDS`),
    that word read through the points and letters after the name ("Ph" + ".D." is "ph.d"), and
    research groups and centres (`_is_a_place`)."""
    kept = []
    for start, end in spans:
        tail = DOTTED_TAIL.match(text, end)
        if last_word(text[start : tail.end() if tail else end]) in NON_COURSE_LAST_WORDS:
            continue
        if not _is_a_place(text, start, end):
            kept.append((start, end))
    return kept


WORD_PARTS = re.compile(r"[-/]")


def title_vocabulary(titles: Collection[str]) -> frozenset[str]:
    """Every word of the given titles, lower-cased, and each part of a hyphenated or slashed word."""
    words = set()
    for title in titles:
        for word in title.split():
            bare = _bare(word).lower()
            words.add(bare)
            words.update(part for part in WORD_PARTS.split(bare) if part)
    return frozenset(words)


def _is_known(word: str, title_words: Collection[str]) -> bool:
    bare = _bare(word).lower()
    return bare in title_words or all(part in title_words for part in WORD_PARTS.split(bare) if part)


# Software named alone is a tool, not a course ("We do everything in MATLAB in Numerical Methods"):
# no name in the sentences written for the project is one, though titles hold them ("Data Analysis
# in R", "Excel for Accountants").
SOFTWARE_NAMES = frozenset(
    name.lower()
    for name in [*SOFTWARE, *TOOLS_IN_TITLES, "AutoCAD", "SAS", "Minitab", "Simulink", "Ansys", "Figma",
                 "Illustrator", "InDesign", "Maya", "Rhino", "Docker", "Kubernetes", "Linux", "GitHub",
                 "QuickBooks", "Salesforce", "Jira", "Canva", "RStudio", "PowerPoint", "Word", "C", "C#",
                 "Go", "Rust", "Kotlin", "Swift", "Scala", "Julia", "HTML", "CSS", "TypeScript", "PHP"]
    if " " not in name
)  # fmt: skip


# Languages as a resume lists them, each with its level: "Mandarin (native), English (fluent),
# Japanese (JLPT N2)". A language class has a number or a level in its name ("Spanish 201",
# "Intensive Elementary Tajik"), not after it in parentheses.
LANGUAGES = frozenset(
    ["english", "french", "spanish", "german", "italian", "latin", "greek", "chinese", "mandarin",
     "cantonese", "japanese", "korean", "arabic", "russian", "portuguese", "hebrew", "hindi", "urdu",
     "bengali", "punjabi", "tamil", "telugu", "vietnamese", "thai", "tagalog", "swahili", "turkish",
     "farsi", "persian", "polish", "dutch", "swedish", "norwegian", "danish", "finnish", "czech",
     "ukrainian", "romanian", "hungarian", "yoruba", "igbo", "amharic", "indonesian", "malay", "asl"]
)  # fmt: skip
# How a resume gives a language's level, and the levels a class has too ("Spanish (Intermediate)").
PROFICIENCY = (
    r"native|fluent|bilingual|conversational|proficient|professional|working|limited|heritage"
    r"|(?-i:[ABC][12])|JLPT|HSK|DELE|DELF|DALF|TOPIK|TOEFL|IELTS"
)
LANGUAGE_LEVEL_AFTER = re.compile(
    rf"\s*\((?:{PROFICIENCY}|intermediate|advanced|basic|beginner|elementary)\b", re.IGNORECASE
)
# What says a text lists languages as a resume does, so that "French (intermediate)" beside it is a
# level, not a class's ("Spanish (Intermediate) and French (Elementary) this fall" are classes).
RESUME_LANGUAGES = re.compile(rf"\bLanguages?:|\((?:{PROFICIENCY})\b", re.IGNORECASE)
SOFTWARE_LIST_GAP = re.compile(r"\s*,\s*(?:(?:and|&)\s+)?|\s+(?:and|&)\s+")
RESUME_HEADING_AFTER = re.compile(r"\s*:")


def drop_languages_and_headings(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Drop a language followed by its level (`LANGUAGE_LEVEL_AFTER`) in a text that lists languages
    as a resume does (`RESUME_LANGUAGES`), a heading's one word before its colon ("Skills: Figma",
    "Software: SPSS"; `HEADING`), and a list of software ("Java, C++", "Java, Python, and SQL")."""
    kept = []
    resume = RESUME_LANGUAGES.search(text)
    for start, end in spans:
        name = text[start:end]
        language = resume and name.lower() in LANGUAGES and LANGUAGE_LEVEL_AFTER.match(text, end)
        heading = RESUME_HEADING_AFTER.match(text, end) and HEADING.fullmatch(name + ": ")
        parts = SOFTWARE_LIST_GAP.split(name)
        tools = len(parts) > 1 and all(part.strip().lower() in SOFTWARE_NAMES for part in parts)
        if not (language or heading or tools):
            kept.append((start, end))
    return kept


def drop_unknown_single_words(
    text: str, spans: list[tuple[int, int]], title_words: Collection[str]
) -> list[tuple[int, int]]:
    """Drop a name of one capitalised word that no training title holds ("Foster", "Jesuit", "Myers").

    A single capitalised word the model takes for a course is far more often a person, a place or
    a school than one of the 1.5% of catalog titles that are one word, and those words ("Ethics",
    "Genetics") are in the titles' vocabulary. A single letter is no name even if a title holds it
    ("R" in "Computational Methods, R, Stata": a language; no catalog title is a letter), and nor is
    software (`SOFTWARE_NAMES`) unless a course's noun follows ("my Excel class"). A text that is that
    word alone keeps it.
    """
    if not title_words:
        return spans
    alone = text.strip(QUOTE_TRIM + "\"'")
    kept = []
    for start, end in spans:
        word = text[start:end]
        single_capitalised = is_one_word(word) and word[:1].isupper() and word != alone
        software = single_capitalised and word.lower() in SOFTWARE_NAMES and not _course_noun_after(text, end)
        if not single_capitalised or (_is_known(word, title_words) and len(_bare(word)) > 1 and not software):
            kept.append((start, end))
    return kept


def is_one_word(name: str) -> bool:
    """Whether a name is one word, whatever whitespace (a tab, a no-break space) parts words."""
    return len(name.split()) == 1


def one_word_titles(titles: Collection[str]) -> frozenset[str]:
    """The titles of one word ("Histology", "Torts"), lower-cased."""
    return frozenset(title.lower() for title in titles if is_one_word(title))


# Subjects a timetable names in one word. A list of three or more of them ("Art, Music, and
# Drama", "english, math, and gym") is a list of classes: the model reads it as one title, like the
# catalog's 40 titles of that shape ("Law, Politics, and Society", "Science, Technology, and
# Society"), none of which is made of these words alone (a test checks it).
SCHOOL_SUBJECTS = frozenset(
    ["art", "music", "drama", "theatre", "theater", "dance", "band", "choir", "orchestra", "gym", "pe",
     "health", "reading", "spelling", "writing", "math", "maths", "mathematics", "algebra", "geometry",
     "trigonometry", "precalculus", "calculus", "statistics", "stats", "science", "biology", "bio",
     "chemistry", "chem", "physics", "geology", "astronomy", "anatomy", "physiology", "genetics",
     "ecology", "history", "geography", "civics", "government", "economics", "econ", "psychology",
     "psych", "sociology", "anthropology", "philosophy", "ethics", "logic", "religion", "english",
     "french", "spanish", "german", "italian", "latin", "greek", "chinese", "mandarin", "japanese",
     "korean", "arabic", "russian", "portuguese", "hebrew", "ceramics", "photography", "painting",
     "drawing", "sculpture", "printmaking", "woodshop", "welding", "accounting", "marketing",
     "finance", "journalism", "debate", "nursing", "pharmacology", "microbiology", "torts",
     "contracts", "evidence"]
)  # fmt: skip
LIST_ITEM_GAP = re.compile(r"\s*,\s*(?:(?:and|or|&)\s+)?|\s+(?:and|or|&)\s+", re.IGNORECASE)
LEAST_LISTED_SUBJECTS = 3


def split_lists_of_subjects(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Cut a name that is a list of three or more `SCHOOL_SUBJECTS`, or of two with a comma between
    ("french, german"), into them."""
    result = []
    for start, end in spans:
        items, at = [], start
        for gap in LIST_ITEM_GAP.finditer(text, start, end):
            items.append((at, gap.start()))
            at = gap.end()
        items.append((at, end))
        listed = [_bare(text[a:b]).lower() for a, b in items]
        listing = len(items) >= LEAST_LISTED_SUBJECTS or (len(items) == 2 and "," in text[start:end])
        if listing and all(word in SCHOOL_SUBJECTS for word in listed):
            result += [(a, a + len(text[a:b].rstrip(WORD_TRIM))) for a, b in items]
        else:
            result.append((start, end))
    return result


CONJUNCTION_GAP = re.compile(r" (?:and|&) ", re.IGNORECASE)
# "both" before a name or after it: "teaches both Soil Science and Crop Production", "History and
# Geography are both taught by", where the model reads one title with an "and".
BOTH_BEFORE = re.compile(r"\bboth\s+$", re.IGNORECASE)
BOTH_AFTER = re.compile(r"(?:\s+(?:are|were))?\s+both\b", re.IGNORECASE)
# A plural verb right after a name with one "and": one course "is" or "shares" ("Signals and
# Systems is the class that ..."), two "are" or "share" ("Circuits and Electronics are taught by
# the same professor", "Introduction to Marketing and Consumer Behavior share a textbook").
PLURAL_VERB_AFTER = re.compile(
    r"\s+(?:(?:usually|often|always|both|all|also|still|typically|generally|normally)\s+)?"
    r"(?:are|were|have|share|meet|make\s+up|count|cover|overlap|require|fill|run|use)\b"
)
# Where a clause opens: a sentence's start or a colon, and a conjunction that opens a clause ("...,
# but Torts and Contracts are 1L requirements", "while Econometrics and Public Finance usually have").
CLAUSE_OPENING = re.compile(
    r"(?:^|[.!?;:\n]|(?<![\w-])(?:but|while|whereas|although|though|because|since))\s*$", re.IGNORECASE
)


def _plural_subject(text: str, start: int, end: int) -> bool:
    """Whether the name opens a clause as the subject of a plural verb, and holds no comma: "sections
    of Knowing Health and Illness Through the Arts were cancelled" is one name, whose noun is
    "sections"; "Global Trade, Transportation, and Logistics Management were" may be a list."""
    opens = CLAUSE_OPENING.search(text[max(0, start - 10) : start]) or not text[:start].strip()
    return bool(opens and PLURAL_VERB_AFTER.match(text, end)) and "," not in text[start:end]


def _halves_at_the_one_and(
    text: str, start: int, end: int, gap: re.Pattern[str] = CONJUNCTION_GAP
) -> list[tuple[int, int]] | None:
    """The two names either side of a name's one "and" (or "&", or another ``gap``); None with none or
    more than one, where a cut is unsure."""
    gaps = list(gap.finditer(text, start, end))
    return [(start, gaps[0].start()), (gaps[0].end(), end)] if len(gaps) == 1 else None


def split_both_names(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Cut a name that "both" or a plural verb after it says is two at its one "and" (with more than
    one, the cut is unsure)."""
    result = []
    for index, (start, end) in enumerate(spans):
        # a name listed beside another is one of the two already ("Both A and B and C are")
        after = index + 1 < len(spans) and LIST_GAP.fullmatch(text, end, spans[index + 1][0])
        before = index > 0 and LIST_GAP.fullmatch(text, spans[index - 1][1], start)
        both = (BOTH_BEFORE.search(text[max(0, start - 6) : start]) and not after) or (
            (BOTH_AFTER.match(text, end) or _plural_subject(text, start, end)) and not before
        )
        halves = _halves_at_the_one_and(text, start, end) if both else None
        result += halves or [(start, end)]
    return result


SLASH_ON_A_LINE = re.compile(r"[ \t]*/[ \t]*")
SLASH_BEFORE_A_NAME = re.compile(rf"{SLASH_ON_A_LINE.pattern}(?=AP\s)")
SLASH_PART = re.compile(r"[A-Z][\w'-]*(?:[ \t]+[A-Z][\w'-]*){0,2}")
LEAST_SLASHED_NAMES = 3
# Nouns of a field that slashed words before them share: "Ancient/Medieval/Modern Philosophy",
# "Gender/Sexuality/Queer Studies", "Latin American/Caribbean/Latinx Studies".
SHARED_FIELD_NOUNS = frozenset(
    ["studies", "philosophy", "history", "literature", "literatures", "art", "arts", "music", "politics",
     "culture", "cultures", "languages", "theory", "science", "sciences", "education", "law", "religion",
     "religions", "thought", "film", "cinema", "poetry", "fiction", "drama", "architecture", "economics"]
)  # fmt: skip


def split_at_slashes(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Cut a name at a slash before "AP" ("European History/AP Lit"), or at every slash where three or
    more short names of capitalised words are slashed together ("Pharmacology/Pathophysiology/Health
    Assessment"; not "Ancient/Medieval/Modern Philosophy", one field's, `SHARED_FIELD_NOUNS`). One
    slash between words is a title's own too ("Dance/Performance Ethnography",
    "Health/Mental Health": 69 catalog titles), and so are slashes after a function word ("Special
    Topics in Forms/Genres/Media")."""
    result = []
    for start, end in spans:
        parts = SLASH_ON_A_LINE.split(text[start:end])
        slashed = len(parts) >= LEAST_SLASHED_NAMES and all(SLASH_PART.fullmatch(part) for part in parts)
        # "Ancient/Medieval/Modern Philosophy": words that share the last part's field
        slashed = slashed and last_word(parts[-1]) not in SHARED_FIELD_NOUNS
        gaps = list(SLASH_ON_A_LINE.finditer(text[start:end])) if slashed else []
        gaps = gaps or list(SLASH_BEFORE_A_NAME.finditer(text[start:end]))
        at = start
        for gap in gaps:
            result.append((at, start + gap.start()))
            at = start + gap.end()
        result.append((at, end))
    return [(a, b) for a, b in result if b > a]  # no empty name where the span opens with "/AP"


# Words that open many catalog titles and follow an "and" in none of the 6,533 ("Introduction" opens
# 283, "Seminar" 140, "Topics" 104), with the "AP", "Honors" and "Intro" that open students' names:
# an "and" before one joins two names ("Pre-Algebra and Honors Physical Science"). Not adjectives
# that pair ("Elementary and Intermediate Spanish", "Sampling and Survey Methods").
OPENING_AFTER_AND = re.compile(
    r" (?:and|&) (?=(?:Introduction|Intro|Introductory|Seminar|Topics|Fundamentals|Honors|AP)\b)"
)


def split_before_an_opening_word(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Cut a name with one "and" at it where a word that opens titles follows (`OPENING_AFTER_AND`)."""
    result = []
    for start, end in spans:
        halves = _halves_at_the_one_and(text, start, end)
        opening = halves and OPENING_AFTER_AND.match(text, halves[0][1])
        result += halves if opening else [(start, end)]
    return result


COMMA_GAP = re.compile(r"[ \t]*,[ \t]*")
# A sentence opening with a phrase before a comma: "After Calculus, Signals and Systems gets easier".
OPENING_PHRASE_BEFORE = re.compile(
    r"(?:^|[.!?:;\n])\s*(?:After|Besides|Before|Beyond|Unlike|Like|Since|With|Without|Except|Despite)\s+$"
)


def split_the_last_of_a_list(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Cut a name with one "and" and no comma that a comma and one other name come before at that
    "and", the list's own ("Responsive Web Design, JavaScript Foundations and React for Beginners"):
    two names in a list with no conjunction are rarer than three with one."""
    result = []
    for index, (start, end) in enumerate(spans):
        listed = index > 0 and COMMA_GAP.fullmatch(text, spans[index - 1][1], start)
        # one of the middle names of a list ("A, B and C, or D") is whole, and so is the last of a
        # longer list, which may join no two names ("Contract Law, Tort Law, Land Law, Equity and Trusts")
        longer = index > 1 and LIST_GAP.fullmatch(text, spans[index - 2][1], spans[index - 1][0])
        middle = index + 1 < len(spans) and LIST_GAP.fullmatch(text, end, spans[index + 1][0])
        opening = listed and OPENING_PHRASE_BEFORE.search(text, 0, spans[index - 1][0])
        listed = listed and not longer and not middle and not opening and "," not in text[start:end]
        halves = _halves_at_the_one_and(text, start, end) if listed else None
        result += halves or [(start, end)]
    return result


def join_a_lone_word_to_the_next(
    text: str, spans: list[tuple[int, int]], known_one_word_titles: Collection[str] | None
) -> list[tuple[int, int]]:
    """One name for a single word, an "and", and the name that follows, unless that word is itself a
    title of one word.

    The model splits "Issues and Perspectives in French and Francophone Studies" into "Issues" and
    "Perspectives in ...", reading a list; but a list's first name is rarely one word, and then one
    of the few titles of one word ("Ethics and Political Philosophy" stays two). A quarter of the
    catalog's titles hold an "and", many right after their first word ("Appraisal and Translation
    of Evidence for Practice", "Internships and Career Development"). ``known_one_word_titles``:
    the training titles of one word, lower-cased; None (a version saved without them) leaves the
    spans as they are.
    """
    if known_one_word_titles is None:
        return spans
    joined: list[tuple[int, int]] = []
    index = 0
    while index < len(spans):
        start, end = spans[index]
        lone = is_one_word(text[start:end]) and text[start:end].lower() not in known_one_word_titles
        if lone and index + 1 < len(spans) and CONJUNCTION_GAP.fullmatch(text, end, spans[index + 1][0]):
            joined.append((start, spans[index + 1][1]))
            index += 2
            continue
        joined.append((start, end))
        index += 1
    return joined


# An "and" and one capitalised word after a name, the clause's end after it: "Structural Geology and
# Tectonics at Montana State", "Baroque Art in Rome and Madrid,". The model leaves the word out, or
# finds it alone and it is dropped as unknown; a person's name after "and" has a verb after it.
LAST_AND_WORD = re.compile(
    r" (?:and|&) ([A-Z][\w'\u2019-]*)"
    r"(?=\s*(?:$|[,;:.!?)\u2014\u2013]|\s(?:at|in|for|with|from|this|next|last)\b))"
)


def extend_over_a_last_and_word(
    text: str, spans: list[tuple[int, int]], title_words: Collection[str]
) -> list[tuple[int, int]]:
    """Extend a name over "and" and one capitalised word where the clause ends (`LAST_AND_WORD`) and
    no name lies, after a name of two words or more, or of one where ``title_words`` (the training
    titles' vocabulary) hold the word: "Fertility and Mortality", not "Calculus and Sarah.". Not a
    school subject, a short form or software, which are names of their own or none ("Organic
    Chemistry and Physics", "Data Analysis and Python"). Most such words after a longer name are new
    to the training titles ("Codicology", "Spark")."""
    extended = []
    for start, end in spans:
        found = LAST_AND_WORD.match(text, end)
        word = found.group(1) if found else ""
        alone = word.lower() in SUBJECT_FORMS or word.lower() in SOFTWARE_NAMES  # a name of its own, or none
        long_name = len(text[start:end].split()) > 1 or _is_known(word, title_words)
        if (
            word
            and long_name
            and not alone
            and word not in NOT_TITLE_WORDS
            and not _overlaps(end, found.end(), spans)
        ):
            end = found.end()
        extended.append((start, end))
    return extended


# A course's subject and number, a colon, and its title are one name: "French 202: Intermediate
# Conversation and Composition", "Spanish 302: Advanced Grammar" (the model cuts at the colon).
NUMBER_THEN_COLON = re.compile(r"(?:[ \t]+(?:\d{1,4}[A-Z]?|I{1,3}|IV))?:[ \t]+")
NUMBER_AT_END = re.compile(r"(?<![\w-])(?:\d{1,4}[A-Z]?|I{1,3}|IV)$")
NUMBERED_OPENING = re.compile(r"[A-Z][\w-]*[ \t]+\d")  # "Physics 101" after "Physics 201:" is another


def join_a_numbered_subject_to_its_title(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """One name for a name ending in a course number, or followed by one, a colon and the next name."""
    joined: list[tuple[int, int]] = []
    for start, end in spans:
        if joined:
            gap = NUMBER_THEN_COLON.fullmatch(text, joined[-1][1], start)
            numbered = gap and (gap.group().strip(" \t:") or NUMBER_AT_END.search(text, 0, joined[-1][1]))
            if (
                numbered
                and "\n" not in text[joined[-1][1] : start]
                and not NUMBERED_OPENING.match(text, start)
            ):
                joined[-1] = (joined[-1][0], end)
                continue
        joined.append((start, end))
    return joined


# How students name a subject they take: a school subject or a short form of a title ("bio",
# "gen chem", "Lin Alg"), with a course number or not ("Spanish 2", "calc II").
SUBJECT_FORMS = SCHOOL_SUBJECTS | {short.lower() for short in STUDENT_SHORT_FORMS if short.lower() != "lab"}
SUBJECT_FORM = re.compile(
    r"(?:" + "|".join(re.escape(form) for form in sorted(SUBJECT_FORMS, key=len, reverse=True)) + r")"
    r"(?:[ \t]+(?:\d|(?-i:I{1,3}|IV)))?(?![\w'\u2019-])",
    re.IGNORECASE,
)
# Between two subjects on one line: a slash, or "and", "&", "or" ("bio and chem", "calc/physics").
PAIR_GAP = re.compile(r"[ \t]*/[ \t]*|[ \t]+(?:and|&|or)[ \t]+", re.IGNORECASE)


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    """Whether ``start:end`` shares a character with any of the spans."""
    return any(a < end and start < b for a, b in spans)


def _is_lower_case_subject(text: str, start: int, end: int) -> bool:
    return bool(SUBJECT_FORM.fullmatch(text, start, end)) and text[start:end].islower()


SLASH = re.compile(r"\s*/\s*")
# A subject form's last one or two words before a gap, as the text before a name ends.
SUBJECT_BEFORE_GAP = re.compile(rf"(?:(\S+)[ \t]+)?(\S+)(?:{PAIR_GAP.pattern})$", re.IGNORECASE)
SUBJECT_BEFORE_REACH = 30  # characters before a name that SUBJECT_BEFORE_GAP looks at


def _subject_beside(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The lower-case subject forms joined to the name at ``start:end`` by a `PAIR_GAP`."""
    beside = []
    after = (gap := PAIR_GAP.match(text, end)) and SUBJECT_FORM.match(text, gap.end())
    if after and _is_lower_case_subject(text, *after.span()):
        beside.append(after.span())
    reach = max(0, start - SUBJECT_BEFORE_REACH)
    if before := SUBJECT_BEFORE_GAP.search(text[reach:start]):
        last = reach + before.end(2)
        firsts = [reach + before.start(group) for group in (1, 2) if before.group(group)]
        beside += [(first, last) for first in firsts if _is_lower_case_subject(text, first, last)][:1]
    return beside


def _two_short_subjects(text: str, start: int, end: int) -> list[tuple[int, int]] | None:
    """The two halves of a lower-case name that is two subjects joined by "and", "&" or "or", one of
    them a short form or numbered ("ochem and physics 2", "calc and bio"); not two subjects in full,
    which one title may join ("anatomy and physiology")."""
    halves = _halves_at_the_one_and(text, start, end, PAIR_GAP) if text[start:end].islower() else None
    if not halves or NOT_A_CLASS_AFTER.match(text, end) or PROGRAM_NOUN_AFTER.match(text, end):
        return None  # "bio and chem majors"
    forms = [CLASS_SHORT_FORM.fullmatch(text, a, b) or SUBJECT_FORM.fullmatch(text, a, b) for a, b in halves]
    short = any(
        form and (form.re is CLASS_SHORT_FORM or not text[a:b].isalpha())
        for form, (a, b) in zip(forms, halves, strict=True)
    )
    return halves if all(forms) and short else None


def complete_pairs_of_subjects(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Two subjects as students name them, joined by "and", "&", "or" or "/", are two names: in
    lower case, a name that is one of them ("bio" of "bio and chem") brings the other in, and one
    name made of both ("calc/physics") is cut in two. Catalog titles with a slash join words of one
    field ("Health/Mental Health", "Client/Server Programming"), never two of these subjects; and
    capitalised, a pair may name a department ("History and Philosophy"). A subject brought in is
    no name where a field's word or a course number follows it ("bio and chem majors").
    """
    result: list[tuple[int, int]] = []
    for start, end in spans:
        slash = SLASH.search(text, start, end)
        if (
            slash
            and SUBJECT_FORM.fullmatch(text, start, slash.start())
            and SUBJECT_FORM.fullmatch(text, slash.end(), end)
        ):
            result += [(start, slash.start()), (slash.end(), end)]
        elif halves := _two_short_subjects(text, start, end):
            result += halves
        else:
            result.append((start, end))
    added: list[tuple[int, int]] = []
    for start, end in result:
        if not _is_lower_case_subject(text, start, end):
            continue
        for a, b in _subject_beside(text, start, end):
            if _overlaps(a, b, result + added):
                continue  # each once, and none within another name ("intro to cs" holds "cs")
            if NOT_A_CLASS_AFTER.match(text, b) or PROGRAM_NOUN_AFTER.match(text, b):
                continue  # "bio and chem majors", "bio and chem 211"
            added.append((a, b))
    return sorted(set(result) | set(added))


# Short forms that name a class and nothing else: nobody calls the field "gen chem", and "orgo",
# "lin alg" or "diff eq" is a course students take ("Econ ran late", "how chem is going").
CLASS_SHORT_FORMS = frozenset(
    ["orgo", "o-chem", "ochem", "gen chem", "diff eq", "diff eqs", "diffeq", "lin alg", "linalg", "calc",
     "precalc", "pre-calc", "econ", "microecon", "macroecon", "anthro", "chem", "multivar calc",
     "poli sci", "polisci", "comp sci", "thermo", "trig", "psych", "bio", "stats", "micro", "macro",
     "stat mech", "p-chem", "pchem", "p chem", "english comp", "gen bio", "gen psych", "biochem",
     "art hist", "comp arch", "data viz", "a&p", "bus law", "orgo lab", "chem lab", "bio lab",
     "calc ab", "calc bc", "soc", "gov", "astro", "geo"]
)  # fmt: skip
# Of those, the ones that name other things too ("the speaker's bio", "the stats show", "macro
# photography", in a clinic "a psych consult", "a chem panel", and "the gov website", "geo data"):
# names only with "AP" before them, a number after or a class's noun after ("AP Bio", "chem 2", "our
# stats teacher").
SHORT_FORMS_NAMING_OTHER_THINGS = frozenset(
    ["bio", "stats", "psych", "chem", "micro", "macro", "soc", "gov", "astro", "geo", "data viz"]
)
# "calc bc" in lower case may be "calc because": a class only with "AP" before it, or a verb or a
# class's noun after it.
AB_BC_FORMS = frozenset(["calc ab", "calc bc"])
EXAM_AFTER = re.compile(r"\s+(?:exams?|tests?|scores?|credits?)\b", re.IGNORECASE)
CLASS_NOUNS = frozenset(
    ["final", "finals", "midterm", "midterms", "lab", "labs", "lecture", "lectures", "homework", "hw",
     "quiz", "quizzes", "syllabus", "textbook", "professor", "prof", "instructor", "lecturer", "teacher",
     "class", "section", "seminar", "notes", "recitation", "tutorial", "test", "tests"]
)  # fmt: skip
# After a number: what makes it a count, a time or a share, not a course's number ("stats 20 minutes
# early", "Calculus 3 times", "Physics 2 credits").
NOT_A_COUNT = (
    r"(?!\s*(?:%|x\b|times|credits?|units?|hours?|hrs|minutes?|mins?|days?|weeks?|months?|years?|students"
    r"|people|pages?|points?|pts|percent|am\b|pm\b|a\.m\.|p\.m\.|o'clock|:\d|semesters?|quarters?|terms?"
    r"|exams?|quizz?e?s?\b|classes|courses|sections?|chapters?|problems?|questions?|labs|lectures))"
)
_CLASS_SHORT_FORMS = "|".join(re.escape(form) for form in sorted(CLASS_SHORT_FORMS, key=len, reverse=True))
CLASS_SHORT_FORM = re.compile(
    rf"(?<![\w-])(?P<ap>(?-i:AP|ap)[ \t]+)?"
    rf"(?P<forms>(?:{_CLASS_SHORT_FORMS})(?:[ \t]+(?:{_CLASS_SHORT_FORMS}))*)"
    rf"(?P<number>[ \t]+(?:\d{{1,3}}(?-i:[A-Z])?|(?-i:I{{1,3}}|IV|AB|BC))(?![\w'\u2019-]){NOT_A_COUNT})?"
    r"(?![\w-])",
    re.IGNORECASE,
)
# After a short form: a course number ("CHEM 211", a code's subject, not a class), a capitalised
# word (of a longer proper name: "Thermo Fisher", "Chem Stockroom"), or a word that makes it a
# field's ("an econ elective", "the Psych advisors", "Econ newsletter").
NOT_A_CLASS_AFTER = re.compile(
    r"\s*\d{3}|\s+(?-i:(?!(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b)[A-Z])(?!I*\b)"
    r"|\s+(?:electives?|newsletters?|advisors?|advisers?|courses|classes|credits?|requirements?"
    r"|people|students|faculty|sequence|track|society)\b",
    re.IGNORECASE,
)


# A determiner before a short form and a noun after it make it a modifier of that noun ("a calc
# app", "the econ building's wifi", "a fast lin alg library"), unless the noun is a course's ("my
# chem lab report", "our stats teacher"); a verb after it leaves it a name ("my calc is killing me").
DETERMINER_BEFORE = re.compile(
    r"\b(?:the|a|an|my|your|our|his|her|their|this|that|its)\s+(?:[\w-]+\s+)?$", re.IGNORECASE
)
VERBS_AFTER_A_NAME = frozenset(
    ["is", "was", "are", "were", "has", "had", "have", "will", "would", "can", "could", "got", "gets",
     "went", "goes", "starts", "started", "meets", "met", "ran", "runs", "kicked", "killed", "ruined"]
)  # fmt: skip
# Words after a short form that leave it a name even after a determiner.
WORDS_AFTER_A_SHORT_NAME = NOUNS_AFTER_A_NAME | CLASS_NOUNS | FUNCTION_WORDS | VERBS_AFTER_A_NAME
# Words before a short form that make it a field one works in: "she works in comp sci".
WORK_IN_BEFORE = re.compile(r"\b(?:works?|worked|working|career|careers|jobs?)\s+in\s+$", re.IGNORECASE)


def _modifies_a_noun(text: str, start: int, end: int) -> bool:
    after = WORD_AFTER.match(text, end)
    if not after or not DETERMINER_BEFORE.search(text[max(0, start - 30) : start]):
        return False
    return after.group(1) not in WORDS_AFTER_A_SHORT_NAME


def add_class_short_forms(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A class's short form (`CLASS_SHORT_FORMS`) is a name where no name lies (a name that is part
    of one grows to it: "calc" of "calc 3", "diff" of "diff eq"), unless it is written
    in capitals (a course code's subject, "CHEM 211", "B BIO 398"), begins a longer proper name,
    modifies a noun that is no course's ("a calc app"), or the words around it make it a field's
    ("an econ major", "a minor in psych", "the Psych advisors", "works in comp sci"); those that
    name other things too only as "AP Bio", "chem 2" or "our stats teacher"."""
    added = []
    for found in CLASS_SHORT_FORM.finditer(text):
        start, end = found.span()
        within = [(a, b) for a, b in spans if start <= a and b <= end and (a, b) != (start, end)]
        if len(within) == 1 and not _overlaps(start, end, [span for span in spans if span not in within]):
            spans = [(start, end) if span in within else span for span in spans]  # "calc" of "calc 3"
            continue
        if _overlaps(start, end, spans) or (found.group().isupper() and "&" not in found.group()):
            continue  # "CHEM 211", but "A&P 1"
        if found.group("ap") and EXAM_AFTER.match(text, end):
            continue  # "the AP Gov exam"
        if found.group("forms").lower() in AB_BC_FORMS and found.group("forms")[-2:].islower():
            after = WORD_AFTER.match(text, end)  # "calc bc was easier", not "calc bc i never study"
            if not found.group("ap") and not (after and after.group(1) in VERBS_AFTER_A_NAME | CLASS_NOUNS):
                end = found.start("forms") + len(found.group("forms").split()[0])  # "calc" alone
        number = (found.group("number") or "").strip()
        if len(number.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")) > 1 and not found.group("forms").islower():
            continue  # "Chem 211": a code's subject and number; "soc 101" as students write it
        if NOT_A_CLASS_AFTER.match(text, end) or _modifies_a_noun(text, start, end):
            continue
        if WORK_IN_BEFORE.search(text[max(0, start - FIELD_MARK_REACH) : start]):
            continue
        noun = WORD_AFTER.match(text, end)
        marked = found.group("ap") or found.group("number") or (noun and noun.group(1) in CLASS_NOUNS)
        if found.group("forms").lower() in SHORT_FORMS_NAMING_OTHER_THINGS and not marked:
            continue
        field = FIELD_MARK_BEFORE.search(text[max(0, start - FIELD_MARK_REACH) : start])
        if not field and not PROGRAM_NOUN_AFTER.match(text, end):
            added.append((start, end))
    return sorted(spans + added)


# A course number, then "and", "&" or "or": none of the 6,533 catalog titles goes on after its
# number ("Anatomy and Physiology I" ends there), so the conjunction joins two names.
NUMBER_THEN_AND = re.compile(r"(?<= )(?:I{1,3}|IV|\d{1,3}[A-Z]?) (?:and|&|or) (?=[A-Z])(?!(?:I{1,3}|IV)\b)")
CONJUNCTION_AFTER = re.compile(r" (?:and|&|or) ")
CAPITALISED_RUN = re.compile(
    r"[A-Z][\w'\u2019&/-]*(?: (?:of|in|for|the|to) [A-Z][\w'\u2019&/-]*| [A-Z][\w'\u2019&/-]*)*"
    r"(?: (?:\d{1,4}[A-Z]?|I{1,3}|IV)\b)?"
)


# What may follow a name added after "<number> and": the clause's end, a function word or a word of
# time ("Music Theory III and Orchestration.", "Spanish 201 or French 201 to satisfy ... next
# year"); not a verb ("Calculus 2 and Maria finished").
RUN_END_WORDS = FUNCTION_WORDS | {"next", "this", "last", "instead", "then", "too", "also", "both", "either"}
RUN_END = re.compile(r"\s*(?:$|[.,;:!?)\u2014\u2013-]|(?:" + "|".join(sorted(RUN_END_WORDS)) + r")\b)")


def split_after_a_course_number(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Two names where a course number is followed by "and", "&" or "or": a name that holds one is
    cut there ("Calculus II and Linear Algebra"), and after a name that ends in one, the capitalised
    words that follow the conjunction are a name ("Music Theory III and Orchestration", "Spanish
    201 or French 201")."""
    result: list[tuple[int, int]] = []
    for start, end in spans:
        for gap in NUMBER_THEN_AND.finditer(text, start, end):
            result.append((start, gap.start() + gap.group().index(" ")))
            start = gap.end()
        result.append((start, end))
    added = []
    for _, end in result:
        gap = CONJUNCTION_AFTER.match(text, end)
        if not gap or not NUMBER_THEN_AND.match(text, text.rfind(" ", 0, end) + 1):
            continue
        run = CAPITALISED_RUN.match(text, gap.end())
        if not run or _overlaps(*run.span(), result):
            continue
        run_end = run.start() + len(run.group().rstrip("'\u2019&/-"))
        first = run.group().split()[0].replace("\u2019", "'").rstrip(".")
        if first in NOT_TITLE_WORDS or first.lower() in FUNCTION_WORDS or run_end <= run.start():
            continue  # "Calculus II and Mom", "... and The"
        if RUN_END.match(text, run_end):
            added.append((run.start(), run_end))
    return sorted(result + added)


# What is said of a class and not of a field: it meets, starts at an hour, runs late or moves
# ("Biology meets at 7:45", "Statistics starts at 8 sharp", "Contracts is on the third floor, room
# 310"); not "Genetics began with Mendel", "where Physics meets Art".
SCHEDULE_AFTER = re.compile(
    r"\s+(?:(?:meets|met)\s+(?:at|in|on|every|twice|once|from|only|\d|(?-i:[MTWRF]{2,}\b))"
    r"|(?:starts|started|begins|began|ends|ended)\s+at\s+(?:\d|noon)|ran\s+late|runs\s+late|let\s+out|lets\s+out"
    r"|(?:got|was|is|has\s+been)\s+(?:cancell?ed|rescheduled|postponed"
    r"|moved\s+(?:to|from)\s+(?:\d|room|online|next|mondays?|tuesdays?|wednesdays?|thursdays?|fridays?))"
    r"|is\s+(?:at\s+\d|on\s+(?:the\s+\w+\s+floor|mondays?|tuesdays?|wednesdays?|thursdays?|fridays?)"
    r"|in\s+room)"
    r"|on\s+(?:mondays|tuesdays|wednesdays|thursdays|fridays)"
    r"|(?:is|was)\s+(?:the|my|our|his|her|their)\s+(?:[a-z]+\s+){0,2}(?:period|class))\b",
    re.IGNORECASE,
)
CAPITALISED_WORD = re.compile(r"(?<![\w-])[A-Z][a-z]+(?:\s+(?:\d{1,3}|I{1,3}|IV))?(?![\w-])")
CAPITALISED_BEFORE = re.compile(r"[A-Z][\w'\u2019&-]*[ \t]+$")
CLAUSE_START = re.compile(r"(?:^|[.!?:;\n])\s*$")


def _ends_a_proper_name(text: str, start: int) -> bool:
    """Whether a capitalised word other than a sentence's first comes right before ``start``: "the
    Museum of Natural History" but not "Yesterday Biology met at 9"."""
    before = CAPITALISED_BEFORE.search(text, max(0, start - SUBJECT_BEFORE_REACH), start)
    return bool(before) and not CLAUSE_START.search(text, 0, before.start())


# A school subject with a course number ("a Spanish 201 presentation", "Chemistry 110") or a grade's
# level ("Eighth Grade Math", "Kindergarten Music") is a class; not after another capitalised word
# ("the Natural History 101 exhibit") nor before a longer number ("Physics 2000").
NUMBERED_SUBJECT = re.compile(
    r"(?<![\w-])(?:(?P<level>Kindergarten|(?:First|Second|Third|Fourth|Fifth|Sixth|Seventh|Eighth|Ninth|Tenth"
    r"|Eleventh|Twelfth|\d{1,2}(?:st|nd|rd|th))[ -][Gg]rade)[ \t]+)?(?P<subject>[A-Z][a-z]+)"
    r"(?P<number>[ \t]+\d{1,3}[A-Z]?)?(?![\w-]|[.,]\d)"
)


def add_numbered_subjects(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Add a school subject with a course number or a grade's level (`NUMBERED_SUBJECT`) where no name
    lies."""
    added = []
    for found in NUMBERED_SUBJECT.finditer(text):
        start, end = found.span()
        marked = found.group("level") or found.group("number")
        if (
            not marked
            or found.group("subject").lower() not in SCHOOL_SUBJECTS
            or _overlaps(start, end, spans)
        ):
            continue
        if not _ends_a_proper_name(text, start):
            added.append((start, end))
    return sorted(spans + added)


def add_subjects_that_meet(
    text: str, spans: list[tuple[int, int]], known_one_word_titles: Collection[str] | None
) -> list[tuple[int, int]]:
    """A subject that meets, starts or moves (`SCHEDULE_AFTER`) is a class where no name lies: a
    capitalised school subject or training title of one word ("Biology meets at 7:45")."""
    known_titles = known_one_word_titles or ()
    added = []
    for found in CAPITALISED_WORD.finditer(text):
        start, end = found.span()
        if _overlaps(start, end, spans) or not SCHEDULE_AFTER.match(text, end):
            continue
        if _ends_a_proper_name(text, start):
            continue  # "the Museum of Natural History on Mondays"
        word = found.group().split()[0].lower()
        if word in SUBJECT_FORMS or word in known_titles:
            added.append((start, end))
    return sorted(spans + added)


# A course number after a name the model ended one word short ("Spanish 201 or French 201", "English
# Composition & Biology 110."): a number of one to three digits, maybe a capital letter, that is not
# a count ("Calculus 3 times", "Physics 2 credits", "3x a week"), a rating or a date ("10/10",
# "12/5"), part of a longer number, a transcript's credits before a letter grade ("Data Structures 3
# A-") nor a code's number before its title ("Chem 101 General Chemistry I").
COURSE_NUMBER_AFTER = re.compile(
    rf"[ \t]+\d{{1,3}}(?-i:[A-Z])?(?![\w'\u2019/-]|[.,:]\d){NOT_A_COUNT}(?![ \t]+[A-DF][+-]?(?![\w'\u2019]))",
    re.IGNORECASE,
)
# A line of marks or scores, whose numbers are no course's: "Grades: Calculus 95, Physics 88".
MARKS_HEADING = re.compile(r"\b(?:grades|scores|marks|results)\s*:", re.IGNORECASE)


def extend_over_a_course_number(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Carry a name that ends in a word on over a course number right after it (`COURSE_NUMBER_AFTER`),
    unless another name starts there or right after it, the name is in capitals (a course code's
    subject, "ECON 201") or the line gives marks (`MARKS_HEADING`)."""
    starts = {start for start, _ in spans}
    extended = []
    for start, end in spans:
        line_start = text.rfind("\n", 0, start) + 1
        may_take_one = (
            text[end - 1 : end].isalpha()
            and not text[start:end].isupper()
            and not MARKS_HEADING.search(text, line_start, start)
        )
        number = COURSE_NUMBER_AFTER.match(text, end) if may_take_one else None
        if number and not starts.intersection(range(number.start(), number.end() + 2)):
            end = number.end()
        extended.append((start, end))
    return extended


# A name that ends in a course number or opens with "Topics in" or "Seminar in", then a colon and a
# title-case run that ends the clause, is one name with that run: "Welding Technology II: Gas
# Tungsten Arc Welding", "Topics in Algebraic Geometry: Moduli Spaces." (the model cuts at the colon).
# The small words between a title's capitalised words ("Counterpoint in the Style of Bach").
TITLE_LINK_WORDS = r"of|in|for|the|to|and|on|with|from|a|an|&"
COLON_SUBTITLE = re.compile(
    rf":[ \t]+(?P<run>[A-Z][\w'\u2019&-]*(?:[ \t]+(?:(?:{TITLE_LINK_WORDS})[ \t]+)*[A-Z][\w'\u2019&-]*)*)"
)
SUBTITLED_OPENING = re.compile(r"(?:Special\s+)?Topics\s+in\s|Seminar\s+in\s|Studies\s+in\s")
CLAUSE_END_AFTER_A_SUBTITLE = re.compile(
    r"\s*(?:$|[.;!?)\n]|,\s(?![A-Z])|\s(?:is|was|and|or|this|next|last|with)\b)"
)
# A subtitle of these words is a class's meeting, status or mark, not its title: "Calculus II: Midterm
# Review Session", "Physics 101: In Person", "Spanish 201: TBA" (a subtitle also needs two words).
NOT_SUBTITLE_WORDS = frozenset(
    ["review", "session", "sessions", "hours", "office", "online", "person", "hybrid", "remote", "tba",
     "tbd", "passed", "failed", "pass", "fail", "withdrawn", "incomplete", "cancelled", "canceled",
     "full", "open", "closed", "waitlist", "waitlisted"]
)  # fmt: skip


def join_a_subtitle(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Carry a numbered or "Topics in" name on over its colon and subtitle (`COLON_SUBTITLE`) where the
    subtitle, of two words or more, ends the clause, holds no name but one of its own words, and is no
    meeting, status or mark (`NOT_SUBTITLE_WORDS`, `CLASS_NOUNS`)."""
    joined: list[tuple[int, int]] = []
    for index, (start, end) in enumerate(spans):
        if joined and start < joined[-1][1]:
            continue  # within the subtitle a name before took in
        titled = NUMBER_AT_END.search(text, 0, end) or SUBTITLED_OPENING.match(text, start, end)
        subtitle = COLON_SUBTITLE.match(text, end) if titled else None
        run = subtitle.group("run").split() if subtitle else []
        if (
            len(run) > 1
            and run[0] not in NOT_TITLE_WORDS
            and not {word.lower() for word in run} & (NOT_SUBTITLE_WORDS | CLASS_NOUNS)
            and last_word(" ".join(run)) not in NON_COURSE_LAST_WORDS
            and CLAUSE_END_AFTER_A_SUBTITLE.match(text, subtitle.end())
            and all(
                subtitle.start("run") <= a and b <= subtitle.end()
                for a, b in spans[index + 1 :]
                if a < subtitle.end()
            )
        ):
            end = subtitle.end()
        joined.append((start, end))
    return joined


# High school AP classes as students name them: "APUSH", "APES", "AP Lang", "AP Gov", and in full,
# "AP Biology", "AP European History", "AP English Literature and Composition" (the short forms that
# name a class without "AP" too, "AP Bio", "AP Calc", are `CLASS_SHORT_FORMS`'); not the exam.
AP_SUBJECT_OPENINGS = SCHOOL_SUBJECTS | {
    "european", "world", "human", "computer", "environmental", "comparative", "united", "us", "studio",
    "macroeconomics", "microeconomics", "seminar", "research", "art", "music", "calculus", "lang", "lit",
    "gov", "euro", "hug", "enviro", "env", "csa", "csp"
}  # fmt: skip
# The words that go on an AP class's name after its first: "AP English Literature and Composition",
# "AP United States Government and Politics"; not "AP Biology Tuesday", "AP Chemistry Teacher".
_AP_TITLE_WORDS = "|".join(
    ["History", "Language", "Literature", "Composition", "Science", "Principles", "Theory", "Government",
     "Politics", "Geography", "Studies", "Design", "Drawing", "Art", "Culture", "Mechanics", "States",
     "European", "World", "Human", "Computer", "Environmental", "English", "American", "Comparative",
     "Seminar", "Research", "Chinese", "Japanese", "Spanish", "French", "German", "Italian", "Latin",
     "Physics", "Calculus", "Statistics", "Psychology", "Macroeconomics", "Microeconomics", "Biology",
     "Chemistry", "Precalculus", "African", "Music", "Electricity", "Magnetism", "United"]
)  # fmt: skip
AP_CLASS = re.compile(
    r"(?<![\w-])(?>(?:(?-i:APUSH|APES|APWH|APHG|APUSGOV|APCSA|APCSP|apush)"
    r"|(?-i:AP[ \t]+(?P<subject>[A-Z][a-z]+)(?:[ \t]+(?:" + _AP_TITLE_WORDS + r"))*"
    r"(?:[ \t]+and[ \t]+(?:Composition|Culture|Politics|Magnetism))?(?:[ \t]+(?:AB|BC|C|1|2))?)"
    r"|(?-i:AP|ap)[ \t]+(?:lang|lit|gov|world|euro|us[ \t]+history|us[ \t]+gov|human[ \t]+geo|hug|csa|csp"
    r"|physics(?:[ \t]+(?:1|2|C))?|enviro|env[ \t]+sci|art[ \t]+history|music[ \t]+theory|seminar|research"
    r"|spanish|french|german|latin|chinese|japanese))(?![\w-]))"
    rf"(?!{EXAM_AFTER.pattern})",
    re.IGNORECASE,
)


def add_ap_classes(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """An AP class as students name it (`AP_CLASS`) is a name: where none lies, or in place of the one
    name within it ("Lang" of "AP Lang")."""
    for found in AP_CLASS.finditer(text):
        start, end = found.span()
        if found.group("subject") and found.group("subject").lower() not in AP_SUBJECT_OPENINGS:
            continue  # "AP Stylebook", "AP News"
        within = [(a, b) for a, b in spans if start <= a and b <= end]
        if _overlaps(start, end, [span for span in spans if span not in within]) or len(within) > 1:
            continue
        spans = sorted([span for span in spans if span not in within] + [(start, end)])
    return spans


# A line headed by what a resume lists that is no course: skills, interests, certifications. Its
# items are none either ("Skills: Python, R, statistical modeling"), except where the item says it
# is a course ("Certifications: OSHA 30-Hour; coursework in Applied Occupational Health").
NOT_COURSE_HEADING = re.compile(
    r"^[ \t]*(?:(?:Technical[ \t]+|Core[ \t]+|Key[ \t]+)?Skills|(?:Research[ \t]+)?Interests|Hobbies"
    r"|(?:Licenses[ \t]*(?:&|and)[ \t]*)?Certifications|(?:Areas[ \t]+of[ \t]+)?Expertise|Tools):[ \t]*",
    re.IGNORECASE | re.MULTILINE,
)
ITEM_SEPARATOR = re.compile(r"[,;()\n]")
# Where a heading's reach ends on its line: a sentence's end, a bar or bullet, the next heading.
HEADING_REACH_END = re.compile(r"[.!?](?=\s|$)|[|\u2022]|(?<=\s)[A-Z][A-Za-z &]{0,30}:\s")
COURSE_CUE = re.compile(
    r"\b(?:course|courses|coursework|class|classes|completed|took|taken|grade|taught|TA|enrolled|module|"
    r"training|seminar)\b",
    re.IGNORECASE,
)


def drop_items_of_a_skills_line(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Drop a name that is an item of a skills, interests or certifications line (`NOT_COURSE_HEADING`,
    up to the sentence's end or the next heading, `HEADING_REACH_END`) unless its item, between commas
    or semicolons, has a course's cue (`COURSE_CUE`), or it stands in brackets ("GPS/RTK
    (GeoSurveying, 2022)")."""
    headings = list(NOT_COURSE_HEADING.finditer(text))
    kept = []
    for start, end in spans:
        heading = next(
            (
                h
                for h in headings
                if h.end() <= start
                and "\n" not in text[h.end() : start]
                and not HEADING_REACH_END.search(text, h.end(), start)
            ),
            None,
        )
        if heading is None:
            kept.append((start, end))
            continue
        before = [m.end() for m in ITEM_SEPARATOR.finditer(text, heading.end(), start)]
        item_start = before[-1] if before else heading.end()
        after = ITEM_SEPARATOR.search(text, end)
        item_end = after.start() if after else len(text)
        bracketed = item_start > heading.end() and text[item_start - 1] == "("
        if bracketed or COURSE_CUE.search(text, item_start, item_end):
            kept.append((start, end))
    return kept
