"""Training and evaluation sentences for course-name extraction, built in the project.

Real catalog titles (DATA_DIR/course_titles) and generated titles are placed into many sentence
shapes (one to three names, lists, questions, names first or last, quotes, lower-cased text, a
title alone), with negatives that mention schools, people, times, places, departments and degrees
but no course. A fixed share of the titles and of the sentence templates is held out: evaluation
uses only those, so the reported scores are on titles and shapes the model never saw.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from shared.data_files import DataFile, read_text

ORIGINAL_TITLES = [
    "Introduction to Artificial Intelligence",
    "Operating Systems",
    "Advanced Mathematics",
    "Machine Learning",
    "Data Structures and Algorithms",
]

SUBJECTS = [
    "Artificial Intelligence",
    "Machine Learning",
    "Operating Systems",
    "Data Structures",
    "Algorithms",
    "Linear Algebra",
    "Calculus",
    "Organic Chemistry",
    "Molecular Biology",
    "Microeconomics",
    "Macroeconomics",
    "Statistics",
    "Probability",
    "Databases",
    "Computer Networks",
    "Compilers",
    "Computer Graphics",
    "Computer Vision",
    "Natural Language Processing",
    "Robotics",
    "Thermodynamics",
    "Fluid Mechanics",
    "Quantum Mechanics",
    "Electromagnetism",
    "Astrophysics",
    "Genetics",
    "Neuroscience",
    "Cognitive Psychology",
    "Social Psychology",
    "World History",
    "European History",
    "Art History",
    "Philosophy of Mind",
    "Ethics",
    "Logic",
    "Creative Writing",
    "Public Speaking",
    "Marketing",
    "Corporate Finance",
    "Accounting",
    "Business Law",
    "Constitutional Law",
    "International Relations",
    "Political Theory",
    "Sociology",
    "Anthropology",
    "Linguistics",
    "Spanish",
    "French",
    "German",
    "Japanese",
    "Mandarin Chinese",
    "Music Theory",
    "Jazz Improvisation",
    "Film Studies",
    "Graphic Design",
    "Architecture",
    "Urban Planning",
    "Environmental Science",
    "Ecology",
    "Oceanography",
    "Geology",
    "Climate Science",
    "Nutrition",
    "Epidemiology",
    "Public Health",
    "Nursing Practice",
    "Pharmacology",
    "Biochemistry",
    "Cell Biology",
    "Discrete Mathematics",
    "Number Theory",
    "Real Analysis",
    "Abstract Algebra",
    "Topology",
    "Differential Equations",
    "Numerical Methods",
    "Cryptography",
    "Computer Security",
    "Software Engineering",
    "Web Development",
    "Distributed Systems",
    "Cloud Computing",
    "Data Science",
    "Deep Learning",
    "Signal Processing",
    "Control Systems",
    "Circuit Analysis",
    "Materials Science",
    "Structural Engineering",
    "Game Design",
    "Human-Computer Interaction",
    "Information Retrieval",
]

TITLE_PATTERNS = [
    "Introduction to {s}", "Advanced {s}", "{s} I", "{s} II", "{s} III", "Topics in {s}",
    "Foundations of {s}", "{s} Laboratory", "Principles of {s}", "Applied {s}", "{s} for Engineers",
    "Seminar in {s}",
    "Fundamentals of {s}", "Elementary {s}", "Intermediate {s}", "{s}", "Special Topics in {s}", "{s} Lab",
    "Honors {s}", "Graduate {s}", "Research Methods in {s}", "{s} and Society", "History of {s}",
]  # fmt: skip

# {0}, {1}, {2} are course names; every template of a list holds as many as it names.
POSITIVE_TEMPLATES = [
    "I'm enrolled in {0} and {1} this term",
    "I am taking {0} this semester.",
    "{0}",
    "{0} is my favorite class.",
    "Has anyone taken {0}?",
    "My schedule: {0}, {1}, and {2}.",
    "This fall I signed up for {0}, {1} and {2}",
    "Should I drop {0} or {1}?",
    "The prerequisite for {0} is {1}.",
    "{0} and {1} meet on the same day.",
    "I need a tutor for {0}",
    "We covered recursion in {0} yesterday",
    "Can I register for {0} without {1}?",
    "Next quarter: {0}; {1}; {2}",
    "She got an A in {0} last year.",
    "Is {0} offered online?",
    "The final exam for {0} is next Tuesday.",
    "Courses I liked: {0}, {1}.",
    "He teaches {0} at the community college.",
    "Professor Lee recommended {0} to me.",
    "I failed {0} twice, so now I'm retaking it",
    "Enrolled: {0} | {1}",
    "Does {0} count toward the major?",
    "My advisor says {0} and {1} are required.",
    'Taking "{0}" in the spring',
    "Just finished the homework for {0}!",
    "I'm thinking about {0}, {1}, or {2} as an elective.",
    "Who else is in {0} with Dr. Patel?",
    "{0} was harder than {1}.",
    "Registration for {0} opens Monday at 8am.",
    "The syllabus of {0} lists three projects.",
    "I switched from {0} to {1} after the first week.",
    "Between {0} and {1}, which is easier?",
    "i really enjoy {0} and {1}",
    "waitlisted for {0} again",
    "For my minor I still need {0}.",
    "Lectures for {0} are recorded.",
    "Last semester I took {0}, and this one I am in {1}.",
    "{0}, {1}, {2}",
    "Is the {0} midterm open book?",
    "I'd like to audit {0}.",
    "The department added a new section of {0}.",
    "Looking for study partners in {0} or {1}",
    "My favorite courses were {0} and {1}, taught by Professor Kim.",
    "After {0} I want to take {1}.",
    "Any tips for '{0}'?",
    "The lab for {0} is in Room 204.",
    "TA office hours for {0} are on Thursdays",
    "She recommends {0} for anyone interested in research.",
    "Can {0} be taken pass/fail?",
    "I have {0} at 9 and {1} at 11.",
    "Our study group covers {0}.",
    "Grades for {0} were posted today",
    "We read three papers in {0} this week.",
    "Dropping {0} was the best decision I made.",
    "I transferred credit for {0} from my old school.",
    "Which textbook do you use in {0}?",
    "Hi, I'm a sophomore taking {0}, {1} and {2} at Ohio State.",
    "The course {0} is full.",
    "{0} starts next week, right?",
]

# {L} is a list of one to three names joined by varied connectors (see list_template).
POSITIVE_TEMPLATES += [
    "I'm taking {L} this term",
    "Should I drop {L}?",
    "Looking for study partners in {L}",
    "my schedule: {L}",
    "Next year I want {L}.",
    "Any advice on {L}?",
    "Enrolled in {L} for fall",
    "I still need notes from {L}.",
    "Tutoring available for {L}",
    "help with {L} please",
    "The midterms for {L} are on the same day.",
    "She is auditing {L}",
    "Does anyone have old exams for {L}?",
    "we compared {L} in class",
    "Thinking of switching into {L}",
    "Books for {L} are on reserve.",
    "I got into {L}!",
    "Waitlisted: {L}",
    "Took {L} over the summer",
    "Remote sections of {L} were cancelled",
    "Anyone selling the textbook for {L}?",
    "Our club tutors students in {L}.",
    "I regret skipping {L}",
    "Is it worth taking {L} as a senior?",
    "Grades are out for {L}",
]
LIST_CONNECTORS_TWO = [
    " and ",
    " or ",
    " & ",
    ", ",
    " / ",
    " and also ",
    " plus ",
    " and then ",
    " as well as ",
]
LIST_CONNECTORS_LAST = [", and ", " and ", ", or ", " or ", ", ", " & "]

NEGATIVE_TEMPLATES = [
    "The cafeteria opens at noon.",
    "I study at Stanford University.",
    "Professor Smith is on sabbatical this year.",
    "Meet me in Room 204 at 3 pm.",
    "The library closes at midnight on weekends.",
    "She works in the Department of Computer Science.",
    "He earned a Bachelor of Science in Biology.",
    "Dr. Maria Lopez will give a talk on Friday.",
    "Registration opens next Monday.",
    "Our campus is in Seattle, Washington.",
    "The School of Engineering hired new staff.",
    "I live near Kane Hall.",
    "The semester ends in December.",
    "Parking is free after 6 pm.",
    "My roommate is from Chicago.",
    "The dean sent an email about tuition.",
    "Office hours are on Tuesdays and Thursdays.",
    "MIT and Harvard are both in Cambridge.",
    "I want to major in physics someday.",
    "The bookstore sells used textbooks.",
    "Graduation is on June 12th.",
    "The gym is closed for renovations.",
    "Can you send me the schedule?",
    "Spring break starts on March 20.",
    "I had lunch with Professor Johnson.",
    "The University of Washington is in Seattle.",
    "She is applying to graduate school.",
    "The shuttle leaves from the main gate every hour.",
    "He is a teaching assistant this year.",
    "The Master of Arts program takes two years.",
    "Our club meets in the student union.",
    "The weather in Boston is cold in January.",
    "I forgot my student ID at home.",
    "Financial aid deadlines are in February.",
    "the exam room is on the second floor",
    "Welcome to the College of Arts and Sciences!",
    "She holds a Master of Science in Electrical Engineering.",
    "He is finishing a PhD in Comparative Literature.",
    "The Department of Mathematics moved to Padelford Hall.",
    "Professor Alvarez chairs the Physics Department.",
    "I was accepted into the School of Public Health!",
    "The Career Center hosts a job fair on Thursday.",
    "Our team won the Robotics Challenge last spring.",
    "The Student Health Center is open until 5 pm.",
    "Dr. Okafor published a paper in Nature.",
    "I am a sophomore majoring in Economics.",
    "My sister studies at the University of Michigan.",
    "The Honors Program sent out acceptance letters.",
    "We met at the Graduate Student Association meeting.",
    "Campus Recreation offers yoga on Sunday mornings.",
    "The Office of the Registrar is in Schmitz Hall.",
    "He got a scholarship from the National Science Foundation.",
    "Tuition went up again this year.",
    "The Computer Science building has a new cafe.",
    "I'm going home to Portland for Thanksgiving.",
    "The commencement speaker is Barack Obama.",
    "Housing applications are due on April 1.",
    "My advisor, Professor Brown, is very helpful.",
    "The Writing Center is closed on Fridays.",
    "She interned at Microsoft last summer.",
    "The marching band practices near Husky Stadium.",
    "Volunteers are needed for the Science Fair.",
    "The Biology Club meets every other Wednesday.",
    "A Doctor of Medicine takes four years here.",
    "The Law School library is open all night during finals week.",
    "The Associated Students elected a new president.",
    "Meet at the Suzzallo Library entrance at noon.",
    "Bring your laptop and a photo ID.",
    "The Department of Chemistry is hiring a lab manager.",
    "He works for Amazon in South Lake Union.",
    "The International Student Office helps with visas.",
    "financial aid and scholarships are handled by the same office",
    "I love the view from the Engineering Library.",
    "Professor Chen won the Distinguished Teaching Award.",
    "Our apartment is near the Burke Museum.",
    "The dean of the College of Engineering resigned.",
]

# Openers and trailers wrap a template to vary what surrounds the names; many carry capitalised
# words that are not courses (people, places, days, schools), so capitals alone never decide.
OPENERS = [
    "",
    "",
    "",
    "",
    "Honestly, ",
    "Quick question: ",
    "Hey all, ",
    "So ",
    "This spring, ",
    "At UW, ",
    "According to Professor Diaz, ",
    "Since Monday, ",
    "FYI: ",
    "Ugh. ",
    "As a junior at Boston College, ",
    "Dear Dr. Nguyen, ",
    "Okay so ",
    "In January ",
    "Update from Kane Hall: ",
    "My mom asked: ",
    "Reminder - ",
]
TRAILERS = [
    "", "", "", "", " next year", " with Dr. Chen", " in Kane Hall", " on Mondays and Wednesdays",
    " at 10:30", " this winter", ", right?", " lol", " (Section B)", " for my Biology major",
    " at the University of Oregon", " before Thanksgiving", " according to Sarah",
    " - Room 118, Gates Center", " in Seattle", " again :(",
]  # fmt: skip
NEGATIVE_SHARE = 0.3
HELD_OUT_TEMPLATE_SHARE = 0.2
HELD_OUT_TITLE_SHARE = 0.1
LOWERCASE_SHARE = 0.15


@dataclass(frozen=True)
class Example:
    text: str
    spans: tuple[tuple[int, int], ...]  # character offsets of each course name
    template: str = ""  # the sentence shape it came from (before wrapping and list expansion)

    def names(self) -> list[str]:
        return [self.text[start:end] for start, end in self.spans]


@dataclass(frozen=True)
class Splits:
    train: list[Example]
    held_out: list[Example]
    held_out_titles: frozenset[str]
    held_out_templates: frozenset[str]


def generated_titles() -> list[str]:
    return sorted({pattern.format(s=subject) for subject in SUBJECTS for pattern in TITLE_PATTERNS})


def catalog_titles() -> list[str]:
    return [line.strip() for line in read_text(DataFile.COURSE_TITLES).splitlines() if line.strip()]


def wrap(rng: random.Random, template: str) -> str:
    core = template.rstrip(".!?")
    ending = template[len(core) :] if rng.random() < 0.7 else ""
    opener = rng.choice(OPENERS)
    continues_sentence = opener and not opener.rstrip().endswith((".", ":", "-", "!"))
    if continues_sentence and core[:1].isupper() and not core.startswith(("I ", "I'", "{")):
        core = core[0].lower() + core[1:]
    return opener + core + rng.choice(TRAILERS) + ending


def fill(template: str, titles: list[str], lowercase: bool) -> Example:
    """Place titles into a template, recording where each one lands."""
    text, spans, rest = "", [], template
    for index in range(3):
        slot = "{" + str(index) + "}"
        if slot not in rest:
            break
        before, rest = rest.split(slot, 1)
        text += before
        spans.append((len(text), len(text) + len(titles[index])))
        text += titles[index]
    text += rest
    return Example(text.lower() if lowercase else text, tuple(spans))


def slots(template: str) -> int:
    return sum("{" + str(i) + "}" in template for i in range(3))


def list_template(rng: random.Random, template: str) -> str:
    """Expand {L} into one to three numbered slots with varied connectors."""
    if "{L}" not in template:
        return template
    count = rng.choices([1, 2, 3], weights=[4, 4, 2])[0]
    if count == 1:
        names = "{0}"
    elif count == 2:
        names = "{0}" + rng.choice(LIST_CONNECTORS_TWO) + "{1}"
    else:
        names = "{0}, {1}" + rng.choice(LIST_CONNECTORS_LAST) + "{2}"
    return template.replace("{L}", names)


def _examples(
    rng: random.Random, templates: list[str], negatives: list[str], titles: list[str], count: int
) -> list[Example]:
    examples = []
    for _ in range(count):
        lowercase = rng.random() < LOWERCASE_SHARE
        if rng.random() < NEGATIVE_SHARE:
            shape = rng.choice(negatives)
            negative = wrap(rng, shape)
            examples.append(Example(negative.lower() if lowercase else negative, (), shape))
            continue
        shape = rng.choice(templates)
        template = list_template(rng, shape)
        wrapped = wrap(rng, template) if template != "{0}" else template
        example = fill(wrapped, rng.sample(titles, slots(template)), lowercase)
        examples.append(Example(example.text, example.spans, shape))
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


def build_splits(seed: int = 0, train_size: int = 8000, held_out_size: int = 1500) -> Splits:
    rng = random.Random(seed)
    real = catalog_titles()
    rng.shuffle(real)
    cut = int(len(real) * HELD_OUT_TITLE_SHARE)
    held_out_titles, train_real = real[:cut], real[cut:]
    train_titles = train_real + generated_titles() + ORIGINAL_TITLES
    train_titles = [t for t in dict.fromkeys(train_titles) if t not in set(held_out_titles)]

    positives, negatives = list(POSITIVE_TEMPLATES), list(NEGATIVE_TEMPLATES)
    rng.shuffle(positives)
    rng.shuffle(negatives)
    p_cut, n_cut = (
        int(len(positives) * HELD_OUT_TEMPLATE_SHARE),
        int(len(negatives) * HELD_OUT_TEMPLATE_SHARE),
    )
    held_out = _examples(rng, positives[:p_cut], negatives[:n_cut], held_out_titles, held_out_size)
    train = _examples(rng, positives[p_cut:], negatives[n_cut:], train_titles, train_size)
    train += _featuring(rng, positives[p_cut:], ORIGINAL_TITLES, train_titles, per_title=10)
    return Splits(
        train, held_out, frozenset(held_out_titles), frozenset(positives[:p_cut] + negatives[:n_cut])
    )
