"""Training and evaluation sentences for course-name extraction, built in the project.

Real catalog titles (DATA_DIR/course_titles) and generated titles are placed into many sentence
shapes (one to three names, lists, questions, names first or last, quotes, lower-cased text, a
title alone), with negatives that mention schools, people, times, places, departments and degrees
but no course. A fixed share of the titles and of the sentence templates is held out: evaluation
uses only those, so the reported scores are on titles and shapes the model never saw.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

from shared.data_files import DataFile, read_text
from training.course_ner.config import NerTrainingConfig
from training.course_ner.examples import MARKED_NAME, Example
from training.course_ner.informal import informal_title
from training.course_ner.phrasebook import (
    AFTER_NAMES,
    CODE_PREFIXES,
    COURSE_NOUNS,
    COURSE_VERB_PHRASES,
    DEGREE_PATTERNS,
    DISTRACTORS,
    ENTITY_NEGATIVE_PHRASES,
    ENTITY_OPENERS,
    ENTITY_TRAILERS,
    FIELDS,
    INSTITUTION_PATTERNS,
    LIST_CONNECTORS_LAST,
    LIST_CONNECTORS_TWO,
    NAME_LEAD_INS,
    NAME_MODIFIERS,
    NAME_PAIR_PHRASES,
    NAME_PREDICATES,
    NAME_RELATIONS,
    NAMES_PREDICATES,
    NEGATIVE_PHRASES,
    NEGATIVE_TEMPLATES,
    NOUN_LINKS,
    NOUN_PREDICATES,
    ONE_WORD_TITLES,
    OPENERS,
    ORIGINAL_TITLES,
    PLURAL_COURSE_NOUNS,
    PLURAL_NOUN_PREDICATES,
    POSITIVE_TEMPLATES,
    SUBJECTS,
    TITLE_PATTERNS,
    TOOL_ALONE_TITLE_PATTERNS,
    TOOL_TAUGHT_SUBJECTS,
    TOOL_TITLE_PATTERNS,
    TOOLS_IN_TITLES,
    TRAILERS,
)
from training.course_ner.written import written_examples

NEGATIVE_SHARE = 0.3
COMPOSED_SHARE = 0.5  # of the training sentences: composed from parts rather than a template
ENCYCLOPEDIA_SHARE = 0.08  # of the training examples: negatives taken from Wikipedia prose
DISTRACTOR_SLOT = re.compile(r"<[a-z]+>")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
TEACHING = re.compile(r"cours|class|lectur|semester|curricul|taught|teach|syllab|degree", re.IGNORECASE)
MAX_NAMES = 4  # course names in one sentence
COMPOSED_LIST_SHARE = 0.7  # of the composed positives: a list of names rather than one
PLAIN_AND_SHARE = 0.5  # of the composed lists: joined by a plain "and"
LIST_WEIGHTS = (2, 5, 3, 1)  # how often a composed list holds one, two, three or four names
# Of the training lists: names drawn only from short titles with no "and" of their own. A quarter of
# the catalog's titles hold an "and", so without these the model reads "Sales Management and
# Marketing Research" as one name far more often than people mean one.
SHORT_LIST_SHARE = 0.35
SHORT_TITLE_WORDS = 3
# Of the training sentences with names: one name is a title of a single word ("Histology is
# brutal"), which otherwise makes 1.5% of the names and goes unread in plain sentences.
ONE_WORD_TITLE_SHARE = 0.1
# Of the training sentences whose shape starts with a name: no opener before it. People often open
# with the name ("Computer Graphics uses OpenGL"), where its first word's capital says nothing.
NAME_FIRST_SHARE = 0.5
# Of the composed sentences where a name stands before a noun ("the {0} final"): a plural noun
# ("Marine Biology students are heading to Cairns").
PLURAL_NOUN_SHARE = 0.4
HELD_OUT_TEMPLATE_SHARE = 0.2
HELD_OUT_TITLE_SHARE = 0.1
LOWERCASE_SHARE = 0.15
INFORMAL_LOWERCASE_SHARE = 0.35  # of the names given shortened ("intro to sociology"): written in lower case
# Of the wrapped sentences: an opener, and as often a trailer, that names something capitalised
# which is no course (a department, a degree, a course code, a company from Wikipedia).
ENTITY_WRAP_SHARE = 0.3
ENCYCLOPEDIA_NAME_JOINERS = frozenset(["of", "the", "for", "and", "de", "on", "&"])


# Evaluation sentences written apart from the templates with catalog titles (see challenge.py):
# their titles never train, whatever the seed.
UNSEEN_SENTENCES_FILE = Path(__file__).with_name("unseen_sentences.txt")
APART_CATALOG_DIR = Path(__file__).with_name("apart_catalog_sentences")


@dataclass(frozen=True)
class Splits:
    train: list[Example]
    held_out: list[Example]
    held_out_titles: frozenset[str]
    held_out_templates: frozenset[str]
    train_titles: frozenset[str]


def never_trained_titles() -> frozenset[str]:
    """The catalog titles of the evaluation sentences written with them (the unseen sentences and
    `APART_CATALOG_DIR`), lower-cased, so that no training seed ever sees them.

    They were drawn from seed 0's held-out titles; with another seed they would otherwise train.
    """
    files = [UNSEEN_SENTENCES_FILE, *sorted(APART_CATALOG_DIR.glob("set*.txt"))]
    text = "\n".join(path.read_text(encoding="utf-8") for path in files)
    return frozenset(name.lower() for name in MARKED_NAME.findall(text))


def generated_titles() -> list[str]:
    patterned = {pattern.format(s=subject) for subject in SUBJECTS for pattern in TITLE_PATTERNS}
    with_tools = {
        pattern.format(s=subject, t=tool)
        for tool in TOOLS_IN_TITLES
        for subject in TOOL_TAUGHT_SUBJECTS
        for pattern in TOOL_TITLE_PATTERNS
    }
    tools_alone = {
        pattern.format(t=tool) for tool in TOOLS_IN_TITLES for pattern in TOOL_ALONE_TITLE_PATTERNS
    }
    return sorted(patterned | with_tools | tools_alone | set(ONE_WORD_TITLES))


def catalog_titles() -> list[str]:
    return [line.strip() for line in read_text(DataFile.COURSE_TITLES).splitlines() if line.strip()]


def wrap(rng: random.Random, template: str, name_first_share: float = 0.0) -> str:
    """Surround a template with an opener and a trailer, and fill its distractor slots.

    A template that starts with a name keeps it first, with no opener, ``name_first_share`` of the
    time (over the openers' own share of nothing).
    """
    core = template.rstrip(".!?")
    ending = template[len(core) :] if rng.random() < 0.7 else ""
    opener = rng.choice(ENTITY_OPENERS if rng.random() < ENTITY_WRAP_SHARE else OPENERS)
    if name_first_share and template.startswith("{") and rng.random() < name_first_share:
        opener = ""
    trailer = rng.choice(ENTITY_TRAILERS if rng.random() < ENTITY_WRAP_SHARE else TRAILERS)
    continues_sentence = opener and not opener.rstrip().endswith((".", ":", "-", "!"))
    if continues_sentence and core[:1].isupper() and not core.startswith(("I ", "I'", "{")):
        core = core[0].lower() + core[1:]
    return fill_distractors(rng, opener + core + trailer + ending)


def fill_distractors(rng: random.Random, template: str) -> str:
    """Replace each <person>, <building>, <field>, ... with a capitalised word that is no course."""
    pools = distractor_pools()
    return DISTRACTOR_SLOT.sub(lambda slot: rng.choice(pools[slot.group()]), template)


@lru_cache
def distractor_pools() -> dict[str, list[str]]:
    """The phrasebook's distractors plus generated institutions, degrees, codes and Wikipedia names."""
    fields = sorted(set(FIELDS) | set(SUBJECTS))
    return {
        **DISTRACTORS,
        "<institution>": [pattern.format(f=field) for pattern in INSTITUTION_PATTERNS for field in fields],
        "<degree>": [pattern.format(f=field) for pattern in DEGREE_PATTERNS for field in fields],
        "<code>": [f"{prefix} {number}" for prefix in CODE_PREFIXES for number in range(101, 600, 11)],
        "<entity>": encyclopedia_names(),
    }


def _capitalised_runs(sentence: str) -> list[list[str]]:
    """Runs of capitalised words (with "of", "the", "and", ... inside) after a sentence's first word."""
    runs: list[list[str]] = [[]]
    for index, word in enumerate(sentence.split()):
        bare = word.strip(",;:()\"'!?")
        closes = word != bare or word.endswith(".")
        plain = bare.rstrip(".")
        if index and plain[:1].isupper() and re.fullmatch(r"[\w'\u2019.-]+", plain):
            runs[-1].append(plain)
        elif runs[-1] and bare in ENCYCLOPEDIA_NAME_JOINERS and not closes:
            runs[-1].append(bare)
            continue
        else:
            runs.append([])
            continue
        if closes:
            runs.append([])
    return runs


@lru_cache
def encyclopedia_names() -> list[str]:
    """Multi-word names from the SQuAD Wikipedia paragraphs: teams, companies, people, places, works.

    Names all of whose words also occur in catalog titles ("Climate Change and Environment") are
    left out: they might well be a course somewhere.
    """
    squad = json.loads(read_text(DataFile.SQUAD_DEV))
    title_words = {word.lower() for title in catalog_titles() for word in title.split()}
    names = set()
    for article in squad["data"]:
        for paragraph in article["paragraphs"]:
            for sentence in SENTENCE_END.split(paragraph["context"]):
                for run in _capitalised_runs(sentence):
                    while run and run[-1] in ENCYCLOPEDIA_NAME_JOINERS:
                        run = run[:-1]
                    if 2 <= len(run) <= 6 and not {w.lower() for w in run} <= title_words:
                        names.add(" ".join(run))
    return sorted(names)


def encyclopedia_sentences(limit: int, seed: int) -> list[str]:
    """Sentences of the SQuAD Wikipedia paragraphs: real prose full of names, and no course.

    Sentences that talk about teaching at all ("course", "class", "lecture", ...) are left out,
    so none of them hides a course name labelled as outside.
    """
    squad = json.loads(read_text(DataFile.SQUAD_DEV))
    sentences = {
        sentence.strip()
        for article in squad["data"]
        for paragraph in article["paragraphs"]
        for sentence in SENTENCE_END.split(paragraph["context"])
        if 30 <= len(sentence.strip()) <= 220 and not TEACHING.search(sentence)
    }
    ordered = sorted(sentences)
    random.Random(seed).shuffle(ordered)
    return ordered[:limit]


def composed_template(rng: random.Random, positive: bool) -> str:
    """A sentence shape put together from parts: subject and verb, the names, what follows."""
    if not positive:
        phrase = rng.choice(NEGATIVE_PHRASES + ENTITY_NEGATIVE_PHRASES) + rng.choice(AFTER_NAMES)
        return phrase[0].upper() + phrase[1:]
    if rng.random() >= COMPOSED_LIST_SHARE:
        names = "{0}"
    elif rng.random() < PLAIN_AND_SHARE:  # the way most people list: "A and B", "A, B, and C"
        names = rng.choice(["{0} and {1}", "{0} and {1}", "{0}, {1} and {2}", "{0}, {1}, and {2}"])
    else:
        names = list_template(rng, "{L}", LIST_WEIGHTS)
    shape = rng.random()
    if shape < 0.12:  # the {0} final is brutal
        determiner = rng.choice(["the", "the", "our", "my", ""])
        if rng.random() < PLURAL_NOUN_SHARE:
            noun, predicate = rng.choice(PLURAL_COURSE_NOUNS), rng.choice(PLURAL_NOUN_PREDICATES)
        else:
            noun, predicate = rng.choice(COURSE_NOUNS), rng.choice(NOUN_PREDICATES)
        phrase = f"{determiner} {{0}} {noun} {predicate}".lstrip()
    elif shape < 0.24:  # Homework for {0} and {1} is posted
        phrase = f"{rng.choice(COURSE_NOUNS)} {rng.choice(NOUN_LINKS)} {names} {rng.choice(NOUN_PREDICATES)}"
    elif shape < 0.42:  # {0} and {1} are full; Both {0} and {1} are full; {0} is full
        if names == "{0}":
            phrase = f"{{0}}{rng.choice(NAME_MODIFIERS)} {rng.choice(NAME_PREDICATES)}"
        else:
            both = "both " if names == "{0} and {1}" and rng.random() < 0.3 else ""
            phrase = f"{both}{names} {rng.choice(NAMES_PREDICATES)}"
    elif shape < 0.52:  # {0} is a prerequisite for {1}; can I substitute {0} for {1}
        if rng.random() < 0.5:
            phrase = f"{{0}} {rng.choice(NAME_RELATIONS)} {{1}}"
        else:
            phrase = rng.choice(NAME_PAIR_PHRASES)
    elif shape < 0.58:  # For {0} we're reading ...
        phrase = rng.choice(NAME_LEAD_INS).replace("<noun>", rng.choice(COURSE_NOUNS))
    else:  # I'm taking {0} and {1}
        phrase = f"{rng.choice(COURSE_VERB_PHRASES)} {names}"
    phrase += rng.choice(AFTER_NAMES)
    return phrase if phrase.startswith("{") else phrase[0].upper() + phrase[1:]


def fill(template: str, titles: list[str], lowercase: bool) -> Example:
    """Place titles into a template, recording where each one lands."""
    text, spans, rest = "", [], template
    for index in range(MAX_NAMES):
        slot = "{" + str(index) + "}"
        if slot not in rest:
            break
        before, rest = rest.split(slot, 1)
        text += before
        spans.append((len(text), len(text) + len(titles[index])))
        text += titles[index]
    text += rest
    return Example(text.lower() if lowercase else text, tuple(spans))


def as_informal(rng: random.Random, title: str, share: float) -> str:
    """``share`` of the time, the title as a student might shorten it, lower-cased a third of those
    times; else the title."""
    if not share or rng.random() >= share:
        return title
    informal = informal_title(rng, title)
    return informal.lower() if rng.random() < INFORMAL_LOWERCASE_SHARE else informal


def is_short(title: str) -> bool:
    """A title of a few words that has no list inside it: "Human Anatomy", "Calculus II"."""
    words = [word.lower() for word in title.split()]
    return len(words) <= SHORT_TITLE_WORDS and not {"and", "&", "or"} & set(words) and "," not in title


def slots(template: str) -> int:
    return sum("{" + str(i) + "}" in template for i in range(MAX_NAMES))


def list_template(rng: random.Random, template: str, weights: tuple[int, ...] = (4, 4, 2, 1)) -> str:
    """Expand {L} into one to four numbered slots with varied connectors."""
    if "{L}" not in template:
        return template
    count = rng.choices(range(1, MAX_NAMES + 1), weights=weights)[0]
    if count == 1:
        names = "{0}"
    elif count == 2:
        names = "{0}" + rng.choice(LIST_CONNECTORS_TWO) + "{1}"
    else:
        names = ", ".join("{" + str(i) + "}" for i in range(count - 1))
        names += rng.choice(LIST_CONNECTORS_LAST) + "{" + str(count - 1) + "}"
    return template.replace("{L}", names)


def _examples(
    rng: random.Random,
    templates: list[str],
    negatives: list[str],
    titles: list[str],
    count: int,
    composed_share: float = 0.0,
    short_list_share: float = 0.0,
    one_word_share: float = 0.0,
    name_first_share: float = 0.0,
    informal_share: float = 0.0,
    catalog: list[str] | None = None,
    catalog_share: float = 0.0,
) -> list[Example]:
    short_titles = [title for title in titles if is_short(title)]
    one_word_titles = [title for title in titles if len(title.split()) == 1]
    examples = []
    for _ in range(count):
        lowercase = rng.random() < LOWERCASE_SHARE
        composed = rng.random() < composed_share
        if rng.random() < NEGATIVE_SHARE:
            shape = composed_template(rng, positive=False) if composed else rng.choice(negatives)
            negative = wrap(rng, shape)
            label = "composed" if composed else shape
            examples.append(Example(negative.lower() if lowercase else negative, (), label))
            continue
        shape = composed_template(rng, positive=True) if composed else rng.choice(templates)
        template = list_template(rng, shape)
        wrapped = wrap(rng, template, name_first_share) if template != "{0}" else template
        names = slots(template)
        short = names > 1 and short_list_share > 0 and rng.random() < short_list_share
        pool = short_titles if short else titles
        if catalog and not short and catalog_share and rng.random() < catalog_share:
            pool = catalog
        chosen = rng.sample(pool, names)
        if one_word_titles and rng.random() < one_word_share:
            chosen[rng.randrange(names)] = rng.choice(one_word_titles)
        chosen = [as_informal(rng, title, informal_share) for title in chosen]
        example = fill(wrapped, chosen, lowercase)
        examples.append(Example(example.text, example.spans, "composed" if composed else shape))
    return examples


def _featuring(
    rng: random.Random, templates: list[str], featured: list[str], others: list[str], per_title: int
) -> list[Example]:
    """Examples that surely contain each featured title (the original exercise's five)."""
    examples = []
    for title in featured:
        for _ in range(per_title):
            shape = rng.choice(templates)
            template = list_template(rng, shape)
            names = [title, *rng.sample(others, slots(template) - 1)]
            rng.shuffle(names)
            example = fill(wrap(rng, template), names, rng.random() < LOWERCASE_SHARE)
            examples.append(Example(example.text, example.spans, shape))
    return examples


@dataclass(frozen=True)
class _Division:
    """Which titles and sentence shapes are held out and which train, for one seed."""

    held_out_titles: list[str]
    train_titles: list[str]
    train_catalog_titles: list[str]
    held_out_positives: list[str]
    held_out_negatives: list[str]
    train_positives: list[str]
    train_negatives: list[str]


def _divide(rng: random.Random) -> _Division:
    real = catalog_titles()
    rng.shuffle(real)
    cut = int(len(real) * HELD_OUT_TITLE_SHARE)
    # The original exercise's titles always train (10 sentences each, `_featuring`): three are
    # catalog titles too, and one the draw holds out would be both trained and scored.
    originals = {title.lower() for title in ORIGINAL_TITLES}
    held_out_titles = [title for title in real[:cut] if title.lower() not in originals]
    train_real = real[cut:]
    train_titles = train_real + generated_titles() + ORIGINAL_TITLES
    never_train = {title.lower() for title in held_out_titles} | never_trained_titles()
    train_titles = [t for t in dict.fromkeys(train_titles) if t.lower() not in never_train]
    catalog = {title.lower() for title in train_real}
    train_catalog_titles = [title for title in train_titles if title.lower() in catalog]

    positives, negatives = list(POSITIVE_TEMPLATES), list(NEGATIVE_TEMPLATES)
    rng.shuffle(positives)
    rng.shuffle(negatives)
    p_cut = int(len(positives) * HELD_OUT_TEMPLATE_SHARE)
    n_cut = int(len(negatives) * HELD_OUT_TEMPLATE_SHARE)
    return _Division(
        held_out_titles,
        train_titles,
        train_catalog_titles,
        positives[:p_cut],
        negatives[:n_cut],
        positives[p_cut:],
        negatives[n_cut:],
    )


def _held_out(rng: random.Random, division: _Division, size: int) -> list[Example]:
    return _examples(
        rng, division.held_out_positives, division.held_out_negatives, division.held_out_titles, size
    )


def held_out_split(
    seed: int = NerTrainingConfig.seed, held_out_size: int = NerTrainingConfig.held_out_size
) -> list[Example]:
    """The held-out sentences of ``build_splits`` with the same seed, without building the rest."""
    rng = random.Random(seed)
    return _held_out(rng, _divide(rng), held_out_size)


def build_splits(
    seed: int = NerTrainingConfig.seed,
    train_size: int = NerTrainingConfig.train_size,
    held_out_size: int = NerTrainingConfig.held_out_size,
    written_refills: int = NerTrainingConfig.written_refills,
    informal_share: float = NerTrainingConfig.informal_share,
    catalog_share: float = NerTrainingConfig.catalog_share,
) -> Splits:
    """Held-out sentences (held-out titles in held-out templates) and training sentences: from
    the templates, the original exercise's titles, Wikipedia prose, and the sentences written
    for training, each with names ``written_refills`` times with training titles in its names."""
    rng = random.Random(seed)
    division = _divide(rng)
    held_out = _held_out(rng, division, held_out_size)
    train_titles, positives = division.train_titles, division.train_positives
    train = _examples(
        rng,
        positives,
        division.train_negatives,
        train_titles,
        train_size,
        COMPOSED_SHARE,
        SHORT_LIST_SHARE,
        ONE_WORD_TITLE_SHARE,
        NAME_FIRST_SHARE,
        informal_share,
        division.train_catalog_titles,
        catalog_share,
    )
    train += _featuring(rng, positives, ORIGINAL_TITLES, train_titles, per_title=10)
    prose = encyclopedia_sentences(int(train_size * ENCYCLOPEDIA_SHARE), seed)
    train += [Example(sentence, (), "encyclopedia") for sentence in prose]
    informal = partial(as_informal, share=informal_share)
    train += written_examples(rng, train_titles, written_refills, informal)
    return Splits(
        train,
        held_out,
        frozenset(division.held_out_titles),
        frozenset(division.held_out_positives + division.held_out_negatives),
        frozenset(train_titles),
    )
