"""Hand-written sentences that no template produced, most with titles the catalog file does not hold.

The held-out split measures titles and templates the model never saw, but its sentences still come
from the same generator. These were written by hand, in the way students and staff really write
(run-on messages, course codes, quotes, lower case, names in the middle of long sentences,
capitalised words that are not courses), to see how far the scores carry over. Square brackets
mark each course name; they are removed before the text reaches the model.
"""

from __future__ import annotations

from pathlib import Path

from training.course_ner.data import (
    APART_CATALOG_DIR,
    UNSEEN_SENTENCES_FILE,
    catalog_titles,
    generated_titles,
)
from training.course_ner.examples import Example, marked_examples, marked_file
from training.course_ner.informal import informal_forms
from training.course_ner.written import written_sentences

CHALLENGE_SENTENCES = [
    "I'm enrolled in [Operating Systems] and [Advanced Mathematics] this term",
    "[Introduction to Artificial Intelligence]",
    "The cafeteria opens at noon.",
    "Has anybody here survived [Fatigue of Materials] with Professor Hwang?",
    "I need one more language credit so I picked [Second-Year Lithuanian].",
    "Med students are required to pass [P-Introduction to Neurology] before rotations.",
    "my advisor signed me up for [Principles of Digital Communication] and [Stochastic Processes]",
    "We read Dickens in [Victorian Novels and Their Readers] last fall.",
    "Is [Reading, Writing, and Arithmetic: Numeracy in Early Modern England] a seminar or a lecture?",
    "Dropped [Thermal Physics], kept [Classical Mechanics II] and [Vector Calculus].",
    "The hardest class in the Chemistry Department is [Physical Chemistry of Macromolecules].",
    "anyone have notes from [intro to microeconomics]?",
    "She TA'd [Foundations of Data Engineering] while finishing her PhD at Cornell.",
    "Our study group at the Odegaard Library meets Sundays.",
    "Professor Okonkwo moved his office to the third floor of Gates Hall.",
    "Next semester: [Bayesian Data Analysis], [Survey Sampling], [Causal Inference in Public Policy].",
    "Can I take [Organic Synthesis Laboratory] if I haven't finished [Organic Chemistry I] yet?",
    "[Medieval Islamic Philosophy] turned out to be my favorite elective.",
    "The registrar says [Urban Ecology and Design] is cross-listed with Architecture.",
    "Tomorrow's lecture in [Geometric Modeling for Animation] is cancelled because of the storm.",
    "i'm retaking [real analysis ii] in the summer session",
    "He graduated from Georgia Tech in 2019 with a degree in Aerospace Engineering.",
    "The deadline to apply for the Fulbright is October 8.",
    "Thinking about [Wildlife Conservation Genetics] or maybe [Marine Mammal Biology] for my last credits.",
    "Does [Ceramics: Wheel Throwing] have a lab fee?",
    "[Screenwriting for Television] was so much work but worth it",
    "The Dean of Students will be at the town hall in Meany Theater.",
    "My little brother is in fourth grade at Lincoln Elementary.",
    "Comparing [Corporate Governance] and [Mergers and Acquisitions], which has less reading?",
    "For the certificate you need [Clinical Trials Methodology], [Health Economics] and "
    "[Global Health Systems].",
    "Just got my grade back for [Seismic Design of Structures]: a 3.8!",
    "They're renovating the Physics/Astronomy building over the summer.",
    "Reminder that [Advanced Topics in Computational Linguistics] meets in Savery 260 today.",
    "I loved [Korean Cinema and Society] - the films were great.",
    "The Husky Marching Band rehearses on Tuesdays and Thursdays.",
    "Signing up for [Jazz Ensemble] and [Music Theory III] again this spring.",
    "Who teaches [Embedded Systems Design] this year, Dr. Alvarez or Dr. Kim?",
    "Our book club is reading Pride and Prejudice next month.",
    "I took [Principles of Biochemistry] at Bellevue College and it transferred.",
    "Does the [Introduction to Cybersecurity] final cover the lab material?",
    "Between [Sports Nutrition] and [Exercise Physiology], I'd pick the second.",
    "She just accepted an offer from Boeing in Everett.",
    "He's the chair of the Faculty Senate this year.",
    "The capstone, [Software Engineering Studio], takes two quarters.",
    "if you liked [Abnormal Psychology] you should try [Psychology of Personality]",
    "After finishing [Beginning Swahili I] I want to study abroad in Nairobi.",
    "[Topics in Latin American Literature: The Boom Novel] is taught in Spanish.",
    "The financial aid office on the first floor of Schmitz Hall is closed Friday.",
    "Office hours for [Numerical Linear Algebra] moved to Wednesday at 4.",
    "My schedule is [Introduction to Sociology], [Calculus with Analytic Geometry I], "
    "[English Composition] and [Yoga for Beginners].",
    "I really want to get into [Advanced Robotics Lab] but it's capped at 20.",
    "Grad school applications for MIT and Stanford are due in December.",
    "Is [Electromagnetic Waves] harder than [Signals and Systems]?",
    "The professor for [Global Environmental Politics] used to work at the United Nations.",
    "ugh [organic chemistry lab] ran late again",
    "Did you hear that the Computer Science and Engineering Department is hiring?",
    "[History of Modern China] and [Japanese Art Since 1868] fill the history requirement.",
    "Please bring a calculator to [Engineering Statics] on Friday.",
    "The Women's Center hosts a career panel in the HUB on Monday.",
    "I'm auditing [Introduction to Astronomy] just for fun.",
    "Our team from the Robotics Club placed second at the regional competition.",
    "Taking [Cell and Molecular Biology] with [Biostatistics] is a lot at once.",
    "[Land Use Planning Studio] needs a laptop with AutoCAD.",
    "The bus to Tacoma leaves from the Burke-Gilman Trail stop.",
    "Anyone selling the textbook for [Managerial Accounting]?",
    "I switched my major after [Intro to Neuroscience] blew my mind.",
    "The new dean, Dr. Elena Petrova, starts in January.",
    "Why is [Differential Geometry] only offered in autumn?",
    "Registration for [Art of the Italian Renaissance] opens Monday at 7 am.",
    "[Human Anatomy and Physiology II], [General Microbiology], then nursing school.",
]
# A second set, written later and before any training change was scored on it: everyday titles of
# the kind most students take (ten of them are also in the catalog file), plain lists joined by
# "and", and sentences with no course.
CHALLENGE_SENTENCES += [
    "I'm taking [Calculus II] and [Introduction to Psychology] this semester.",
    "Has anyone taken [Linear Algebra] with Professor Smith?",
    "The library is open until 10 pm on weekdays.",
    "My favorite class so far is [Organic Chemistry].",
    "i love [intro to psych] but [stats] is killing me",
    "Can someone explain what [Discrete Structures] covers?",
    "[Principles of Macroeconomics] is a prerequisite for [Money and Banking].",
    "We're meeting at Starbucks before the game on Saturday.",
    "I just registered for [Introduction to Philosophy], [World Religions], and [Public Speaking].",
    "Is [Business Statistics] offered in the summer?",
    "[Data Structures] was way harder than [Programming Fundamentals].",
    "My brother goes to Texas A&M and studies petroleum engineering.",
    "Professor Garcia teaches [Spanish Conversation] on Tuesdays.",
    "Did anyone else fail the midterm in [Physics I]?",
    "I need to drop either [Microbiology] or [Anatomy and Physiology I].",
    "The campus bookstore is having a sale this week.",
    "[Introduction to Computer Science] fills up really fast.",
    "She is a teaching assistant for [Financial Accounting].",
    "The exam for [Ancient Greek Philosophy] is on Friday morning.",
    "Our professor canceled class because of the snowstorm.",
    "He recommended [Critical Thinking] and [Introduction to Ethics] for freshmen.",
    "What's the difference between [Biology 101] and [General Biology]?",
    "I'm enrolled in [Web Programming] this term.",
    "Next year I plan to take [Artificial Intelligence] and [Computer Vision].",
    "The Dean's List was posted on the university website yesterday.",
    "[American Government] is required for all students in Texas.",
    "Any tips for surviving [Thermodynamics]?",
    "I transferred from Miami Dade College last spring.",
    "[Introduction to Marketing] and [Consumer Behavior] share a textbook.",
    "My roommate is taking [Music Appreciation] as an easy elective.",
    "The Student Government meeting is in the Union Ballroom.",
    "I got a B+ in [Differential Equations] last quarter.",
    "[Intro to Film] is my favorite class this year!",
    "Do I need [Precalculus] before [Calculus I]?",
    "The soccer team practices at Husky Field every afternoon.",
    "I'm thinking about [Human Resource Management] or [Organizational Behavior].",
    "Dr. Williams published a book on climate change.",
    "Lectures for [Database Systems] are recorded and posted online.",
    "I'm a junior majoring in Biology with a minor in Chemistry.",
    "[Creative Writing: Poetry] meets in the English building.",
    "My advisor said I should take [Technical Writing] before graduating.",
    "We have a quiz in [Statistics for Engineers] tomorrow.",
    "The parking garage on 15th Avenue is full again.",
    "[Environmental Ethics] was one of the best courses I've taken.",
    "Does anyone have the syllabus for [Cognitive Neuroscience]?",
    "i'm so behind in [computer architecture] and [operating systems]",
    "The Graduate School sends admission decisions in March.",
    "I'm retaking [College Algebra] because I failed it last fall.",
    "[Introduction to Sociology], [Cultural Anthropology] and [Human Geography] all count as social "
    "sciences.",
    "Our study group for [Genetics] meets in the library on Sundays.",
    "Harvard and Yale are playing football this weekend.",
    "Should I take [Machine Learning] or [Deep Learning] first?",
    "The professor who teaches [Medieval History] is retiring.",
    "We learned about recursion in [Introduction to Programming] today.",
    "Apple is recruiting software engineers on campus next week.",
    "Is [Nutrition and Health] an online class?",
    "I finished all the assignments for [Digital Photography] early.",
    "The Math Department is hosting a colloquium on Thursday.",
    "[Astronomy 101] is a fun lab science for non-majors.",
    "I am enrolled in [Marketing Research] and [Sales Management] this fall.",
    # The last 50: written before the decoding and data changes of 2026-11-24, and used to check them.
    "Can I take [Organic Chemistry II] without a lab section?",
    "Registration for [Introduction to Psychology] closes Friday at 5 pm.",
    "I loved [Linear Algebra] but [Real Analysis] destroyed me.",
    "The library is closed on Thanksgiving.",
    "Professor Alvarez teaches [Modern Latin American History] on Tuesdays.",
    "we have a quiz in [data structures] tomorrow",
    "Is [Introduction to Computer Science] the same as CS50?",
    "My schedule: [Calculus I], [General Chemistry], [English Composition], and [Intro to Sociology].",
    "Dr. Patel won the teaching award last year.",
    "For my minor I still need [Principles of Marketing] or [Consumer Behavior].",
    "Anyone selling the textbook for [Cell Biology]?",
    "[Financial Accounting] is a prerequisite for [Managerial Accounting].",
    "The parking garage on Fifth Avenue is full by 9 am.",
    "I'm thinking of auditing [Philosophy of Mind] next spring.",
    "She switched from [Biochemistry] to [Environmental Science] after one week.",
    "Our final project in [Machine Learning] is due December 12.",
    "The dean of students sent an email about the snow day.",
    "Does [World Religions] count toward the humanities requirement?",
    "i failed [statistics for business] twice lol",
    "Lectures for [Quantum Mechanics] are recorded and posted on Canvas.",
    "He is writing a thesis on Renaissance painting at Yale.",
    "The waitlist for [Human Physiology] has 40 people on it.",
    "Next semester I plan to take [Abnormal Psychology], [Developmental Psychology] and [Research Methods].",
    "Office hours for [Discrete Mathematics] moved to room 204.",
    "Microsoft is hiring interns for the summer.",
    "What's the difference between [Macroeconomics] and [International Economics]?",
    "The syllabus for [Introduction to Film Studies] lists twelve movies.",
    "I got a B+ in [Public Speaking].",
    "The gym in the student center opens at 6.",
    "[Computer Networks] and [Database Systems] are both offered online this summer.",
    "My roommate is retaking [Physics for Engineers] because of the lab grade.",
    "We spent the weekend hiking near Lake Tahoe.",
    "Sign up for [Creative Writing: Poetry] before it fills up.",
    "The midterm in [Algorithms] covered dynamic programming and graphs.",
    "Is anyone else in [Spanish 201] this term?",
    "the tutoring center helps with [college algebra] and [precalculus]",
    "Jane Austen's Emma was on the reading list.",
    "Congrats to everyone who passed [Advanced Corporate Finance]!",
    "I'm a TA for [Introduction to Programming in Python].",
    "Our orchestra rehearses in the music building every Thursday.",
    "Take [Software Engineering] before [Senior Capstone Project].",
    "The Department of Mathematics hosts a colloquium every Wednesday.",
    "[Ethics in Artificial Intelligence] was my favorite elective.",
    "Can someone explain the grading policy of [Microbiology]?",
    "I'm dropping [Art History Survey] because the readings are too long.",
    "The career fair is in the ballroom on October 3.",
    "Both [Marine Biology] and [Oceanography] require a boat trip.",
    "Has the [Operations Management] exam been graded yet?",
    "Our team presented at the Google booth during the hackathon.",
    "I recommend [Nutrition and Health] to anyone who needs an easy science credit.",
]


def challenge_examples() -> list[Example]:
    return marked_examples(CHALLENGE_SENTENCES, "challenge")


def unseen_examples() -> list[Example]:
    """150 sentences (179 names) written after the training data was settled, by someone who never
    saw the templates or the phrasebook, with real titles the training never sees (see
    ``data.never_trained_titles``). Closest to how the extractor is finally judged, with
    `apart_catalog_sets`."""
    return marked_file(UNSEEN_SENTENCES_FILE, "unseen")


APART_SENTENCES_DIR = Path(__file__).with_name("apart_sentences")


def apart_sets() -> list[tuple[str, list[Example]]]:
    """The sets written apart by name ("apart-1", ...), in order; see `apart_examples`."""
    return [
        (f"apart-{path.stem.removeprefix('set')}", marked_file(path, "apart"))
        for path in sorted(APART_SENTENCES_DIR.glob("set*.txt"))
    ]


def apart_examples() -> list[Example]:
    """993 sentences (971 names) in five sets of about 200, each written by a helper that saw nothing
    of the project, with titles of its own choosing from catalogs other than the one the training
    uses.

    Set 1 guided the decoding rules and training sentences of 2026-11-29, set 2 chose between two
    versions of those sentences, set 3 stayed unseen until that afternoon's final scores and then,
    with set 2, guided the evening's changes; set 4, written that evening, only ever gave scores,
    never its mistakes. Set 5 (193 sentences, 173 names), written on the evening of 2026-11-29 after
    every training sentence was settled, the same; it lost 7 of its 200 lines that were closer than
    0.75 (difflib ratio) to a training or evaluation sentence. Unlike the unseen sentences, their
    titles are not kept out of the catalog: 24 of set 1's 222 names are catalog titles too.
    """
    return [example for _, examples in apart_sets() for example in examples]


# The sets of `APART_CATALOG_DIR` whose mistakes guide changes; every other set is catalog-test.
CATALOG_DEV_SETS = frozenset({"set3", "set9"})


def apart_catalog_sets() -> list[tuple[str, list[Example]]]:
    """ "catalog-dev" and "catalog-test": sentences written by helpers that saw nothing of the
    project, each given 55 real catalog titles to use once each and one kind of text, about a third
    of the lines with no course. On 2026-12-03 set 3 (careers: resumes, LinkedIn, interviews), the
    development set, and set 4 (course reviews); on 2026-12-04 set 5 (everyday notes: diaries,
    to-do lists, texts to parents, transfer questions), set 6 (staff email, advising notes,
    registrar notices, syllabus snippets), set 7 (campus news, alumni notes, clinical rotations and
    workplace training) and set 8 (student chat, forums, texts); later that day set 9 (campus news,
    clinical and workplace training notices, newsletters, staff email, every line dense with
    program, center, event and award names), a second development set of the kind that scored
    lowest. Sets 3 and 9 are the development sets; the others are the test, whose mistakes are only
    printed when asked. The extractor is finally judged on titles of the same catalog that no file
    here holds, in sentences no template produced: these titles were drawn from seed 0's held-out
    ones that no other file names, and never train whatever the seed (``data.never_trained_titles``)."""
    paths = sorted(APART_CATALOG_DIR.glob("set*.txt"), key=lambda path: int(path.stem.removeprefix("set")))
    dev = [path for path in paths if path.stem in CATALOG_DEV_SETS]
    test = [path for path in paths if path.stem not in CATALOG_DEV_SETS]
    return [
        ("catalog-dev", [e for path in dev for e in marked_file(path, "apart-catalog")]),
        ("catalog-test", [e for path in test for e in marked_file(path, "apart-catalog")]),
    ]


def titles_the_project_holds() -> frozenset[str]:
    """Every title that a file of the project or its data names, lower-cased: the catalog, the
    generated titles, and the names in the sentences written for training, the hand-written and the
    unseen sentences, each in every shortened form training may give it ("Intro to Sculpture",
    "Spanish 3": `informal_forms`). The sentences written apart are left out: they are what is
    measured."""
    named = written_sentences() + challenge_examples() + unseen_examples()
    titles = catalog_titles() + generated_titles() + [name for e in named for name in e.names()]
    return frozenset(form for title in titles for form in {title.lower(), *informal_forms(title)})


def apart_examples_with_new_titles() -> list[Example]:
    """The sentences of `apart_examples` whose every name is a title no other file holds
    (`titles_the_project_holds`), and those with no name: 437 of the 993, with 214 of the 971 names.

    The extractor is finally judged on real titles that no file in the project contains. Of the
    993's names, 58% are names in the sentences written for training too (writers pick alike:
    "Linear Algebra"), 41% catalog or generated titles, 69% one or the other. Such a title trains
    in other sentences, and a change that draws more of those titles raises the 993 without reading
    new titles any better (EXPERIMENTS.md, "Tried and not kept"); this subset shows it.
    """
    held = titles_the_project_holds()
    return [e for e in apart_examples() if not any(name.lower() in held for name in e.names())]
