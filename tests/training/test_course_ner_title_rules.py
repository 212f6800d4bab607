"""What a course title can be: the rules that shape predicted spans, one text at a time."""

from __future__ import annotations

import re
from collections.abc import Callable

from training.course_ner.encoding import capitalised_chars, sentence_starts
from training.course_ner.title_rules import (
    NON_COURSE_LAST_WORDS,
    NOT_OPENING_WORDS,
    add_ap_classes,
    add_class_short_forms,
    add_names_a_class_part_is_of,
    add_names_after_a_grade,
    add_numbered_subjects,
    add_subjects_that_meet,
    complete_pairs_of_subjects,
    drop_books,
    drop_institution_names,
    drop_items_of_a_skills_line,
    drop_languages_and_headings,
    drop_programs,
    drop_the_before_a_kind_of_course,
    drop_unknown_single_words,
    extend_over_a_course_number,
    extend_over_a_last_and_word,
    extend_through_capitals,
    join_a_lone_word_to_the_next,
    join_a_numbered_subject_to_its_title,
    join_a_subtitle,
    join_names_a_space_apart,
    keep_consistent_case,
    last_word,
    merge_quoted_title,
    one_word_titles,
    split_after_a_course_number,
    split_at_line_breaks,
    split_at_slashes,
    split_before_a_capitalised_the,
    split_before_an_opening_word,
    split_both_names,
    split_lists_of_subjects,
    split_the_last_of_a_list,
    take_in_a_leading_the,
    tidy_spans,
    title_vocabulary,
)


def test_spans_are_tidied_to_what_a_title_case_title_can_be() -> None:
    def tidy(text: str, *names: str) -> list[str]:
        spans = [(text.index(name), text.index(name) + len(name)) for name in names]
        return [text[a:b] for a, b in tidy_spans(text, spans)]

    text = "help for Managing People and the Embedded Systems Capstone, also the art of war"
    assert tidy(text, "for Managing People", "the Embedded Systems Capstone,", "the art of war") == [
        "Managing People",
        "Embedded Systems Capstone",
        "the art of war",  # lower-case text keeps its words
    ]
    assert tidy("Remote sections of Web Technologies were cut", "Remote sections of Web Technologies") == [
        "Web Technologies"
    ]
    assert tidy("Is the Intro to Cybersecurity final hard?", "Intro to Cybersecurity final") == [
        "Intro to Cybersecurity"
    ]
    assert tidy("Between Sports Nutrition and Yoga", "Sports Nutrition and") == ["Sports Nutrition"]
    assert tidy("see The Politics of Rights III", "The Politics of Rights III") == [
        "The Politics of Rights III"
    ]
    assert tidy("go for and", "for and") == []
    text = 'Cover letter: "In Knowing, Teaching, and Assessing in Mathematics, I designed a unit"'
    assert tidy(text, "In Knowing, Teaching, and Assessing in Mathematics") == [
        "Knowing, Teaching, and Assessing in Mathematics"
    ]
    assert tidy("I took From Mountains to Sea", "From Mountains to Sea") == ["From Mountains to Sea"]


def _spans(text: str, *names: str) -> list[tuple[int, int]]:
    return [(text.index(name), text.index(name) + len(name)) for name in names]


def test_a_name_runs_on_over_the_capitalised_words_right_after_it() -> None:
    def extend(text: str, *names: str) -> list[str]:
        return [text[a:b] for a, b in extend_through_capitals(text, _spans(text, *names))]

    text = "The professor for Global Environmental Politics used to work at the UN."
    assert extend(text, "Global Environmental") == ["Global Environmental Politics"]
    assert extend("Does Ceramics: Wheel Throwing, a studio, cost more?", "Ceramics: Wheel") == [
        "Ceramics: Wheel Throwing"
    ]
    # Not over "I", weekdays, people's titles, another name, or past punctuation.
    assert extend("Once I finish Calculus I'm off", "Calculus") == ["Calculus"]
    assert extend("I have Calculus Monday and Friday", "Calculus") == ["Calculus"]
    assert extend("Ask for Biology Professor Lee", "Biology") == ["Biology"]
    assert extend("took Sales Management Marketing", "Sales Management", "Marketing") == [
        "Sales Management",
        "Marketing",
    ]
    assert extend("took Biology. Then Chemistry", "Biology") == ["Biology"]
    assert extend("TOOK BIOLOGY LAB", "BIOLOGY") == ["BIOLOGY"]


def test_lower_case_spans_go_when_the_other_names_are_capitalised() -> None:
    def keep(text: str, *names: str) -> list[str]:
        return [text[a:b] for a, b in keep_consistent_case(text, _spans(text, *names))]

    text = "she recommends Election Law for anyone interested in research"
    assert keep(text, "Election Law", "research") == ["Election Law"]
    assert keep("i love intro to psych but stats is hard", "intro to psych", "stats") == [
        "intro to psych",
        "stats",
    ]
    assert keep("Statistics first, then Linear Algebra", "Statistics", "Linear Algebra") == [
        "Statistics",
        "Linear Algebra",
    ]


def test_a_trailing_full_stop_an_unclosed_parenthesis_and_the_i_of_im_leave_the_span() -> None:
    for text, name in [("In Logic I I'm lost", "Logic I"), ("In Logic I'm lost", "Logic")]:
        assert [text[a:b] for a, b in tidy_spans(text, [(3, 10)])] == [name]
    text = "Fifty Oral Lesions - Selective. Then Linear Systems (EE 235) and Optics (A)"
    spans = [
        (text.index("Fifty"), text.index(". Then") + 1),
        (text.index("Linear"), text.index("235")),
        (text.index("Optics"), len(text)),
    ]
    assert [text[a:b] for a, b in tidy_spans(text, spans)] == [
        "Fifty Oral Lesions - Selective",
        "Linear Systems",
        "Optics (A)",
    ]
    text = "Financial Accounting / Managerial Accounting \u2014 done"
    assert [text[a:b] for a, b in tidy_spans(text, [(0, 22), (23, 46)])] == [
        "Financial Accounting",
        "Managerial Accounting",
    ]


def test_a_capitalised_the_starts_the_name_unless_a_noun_after_the_name_takes_it() -> None:
    def take(text: str, *names: str) -> list[str]:
        return [text[a:b] for a, b in take_in_a_leading_the(text, _spans(text, *names))]

    assert take("I'm in The Politics of Rights", "Politics of Rights") == ["The Politics of Rights"]
    assert take("i'm in the politics of rights", "politics of rights") == ["politics of rights"]
    # At a sentence's start: the title's "The", unless it is the noun's after the name.
    assert take("Done. The Cryosphere is next", "Cryosphere") == ["The Cryosphere"]
    assert take("The Age of Empires on Coursera", "Age of Empires") == ["The Age of Empires"]
    assert take("The Operating Systems final is hard", "Operating Systems") == ["Operating Systems"]
    assert take("The Ancient World and Medieval Europe are full", "Ancient World", "Medieval Europe") == [
        "The Ancient World",
        "Medieval Europe",
    ]
    assert take("The Calculus and Physics midterms clash", "Calculus", "Physics") == ["Calculus", "Physics"]
    # A "The" the model made a name of its own is no name; the name after it takes it in, once.
    text = "We offer The History of Modern China"
    tidied = tidy_spans(text, _spans(text, "The", "History of Modern China"))
    assert _names(text, take_in_a_leading_the(text, tidied)) == ["The History of Modern China"]


def _names(text: str, spans: list[tuple[int, int]]) -> list[str]:
    return [text[a:b] for a, b in spans]


def test_a_list_that_goes_on_with_a_capitalised_the_is_split_there() -> None:
    def split(text: str, *names: str) -> list[str]:
        return _names(text, split_before_a_capitalised_the(text, _spans(text, *names)))

    text = "International Justice and The Politics of Rights are one class"
    assert split(text, "International Justice and The Politics of Rights") == [
        "International Justice",
        "The Politics of Rights",
    ]
    text = "Studies in Narrative, and The Theory of Literature I: The Literary Text overlap"
    assert split(text, "Studies in Narrative, and The Theory of Literature I: The Literary Text") == [
        "Studies in Narrative",
        "The Theory of Literature I: The Literary Text",  # ": The" stays inside a title
    ]
    assert split("Ethics, The Self and Society", "Ethics, The Self and Society") == [
        "Ethics",
        "The Self and Society",
    ]
    # A lower-case "the" after "and" is part of many titles.
    assert split("Art and the Study of Chinese Bronzes", "Art and the Study of Chinese Bronzes") == [
        "Art and the Study of Chinese Bronzes"
    ]


def test_names_that_fill_a_pair_of_quotes_become_the_one_quoted_title() -> None:
    def merge(text: str, *names: str) -> list[str]:
        return _names(text, merge_quoted_title(text, _spans(text, *names)))

    text = 'Has anyone taken "Understanding Addiction, Pharmacology of Drugs, and Treatment Methods" yet?'
    assert merge(text, "Understanding Addiction", "Pharmacology of Drugs, and Treatment Methods") == [
        "Understanding Addiction, Pharmacology of Drugs, and Treatment Methods"
    ]
    text = "I loved \u201cRace, Gender, and Class.\u201d Also Yoga"
    assert merge(text, "Race", "Gender, and Class", "Yoga") == ["Race, Gender, and Class", "Yoga"]
    # Names that do not reach both ends of the quotes, or one name alone, stay as found.
    text = 'She said "take Calculus and Physics" to me'
    assert merge(text, "Calculus", "Physics") == ["Calculus", "Physics"]
    text = '"Statistics" and "Linear Algebra" both'
    assert merge(text, "Statistics", "Linear Algebra") == ["Statistics", "Linear Algebra"]


def test_a_name_followed_by_major_minor_or_department_is_no_course() -> None:
    def keep(text: str, *names: str) -> list[str]:
        return _names(text, drop_programs(text, _spans(text, *names)))

    text = "Is Senior Seminar required for the Law, Societies, and Justice major or not?"
    assert keep(text, "Senior Seminar", "Law, Societies, and Justice") == ["Senior Seminar"]
    assert keep("the Marine Biology minor needs Ecology", "Marine Biology", "Ecology") == ["Ecology"]
    assert keep("the Physics Department runs Mechanics", "Physics", "Mechanics") == ["Mechanics"]
    assert keep("Calculus majorly stresses me", "Calculus") == ["Calculus"]


def test_a_name_after_a_degree_or_a_chair_is_no_course() -> None:
    def keep(text: str, *names: str) -> list[str]:
        return _names(text, drop_programs(text, _spans(text, *names)))

    text = "From her M.A. in Latin American Studies she remembers Political Economy most."
    assert keep(text, "Latin American Studies", "Political Economy") == ["Political Economy"]
    text = "Seniors in the B.F.A. in Studio Art take Figure Drawing with an Assistant Professor of Painting."
    assert keep(text, "Studio Art", "Figure Drawing", "Painting") == ["Figure Drawing"]
    assert keep("a PhD in Sociology, then Social Theory", "Sociology", "Social Theory") == ["Social Theory"]
    # "in" after a teacher names the course they teach; a degree far before the name does not count.
    assert keep("Our lecturer in Orbital Mechanics was great", "Orbital Mechanics") == ["Orbital Mechanics"]
    text = "The MBA in two years meant Corporate Finance every fall."
    assert keep(text, "Corporate Finance") == ["Corporate Finance"]


def test_a_name_ending_in_a_committee_award_or_protocol_is_no_course() -> None:
    def keep(text: str, *names: str) -> list[str]:
        return _names(text, drop_institution_names(text, _spans(text, *names)))

    text = "The Curriculum Committee moved Organic Chemistry and the Sepsis Response Protocol."
    assert keep(text, "Curriculum Committee", "Organic Chemistry", "Sepsis Response Protocol") == [
        "Organic Chemistry"
    ]
    text = "Winners of the Dean's Award took Painting Studio and Grant Writing (Fall)."
    assert keep(text, "Dean's Award", "Painting Studio", "Grant Writing (Fall)") == [
        "Painting Studio",
        "Grant Writing (Fall)",  # "Grant" opens it: only the last word counts
    ]
    text = "Project Lead for Pharmacology for Nurses; then the Licensure Track Orientation."
    assert keep(text, "Project Lead", "Pharmacology for Nurses", "Licensure Track Orientation") == [
        "Pharmacology for Nurses"  # a group of people may end a title, a role may not
    ]
    text = "Senior Data Analyst and UX Designer roles want Human-Computer Interaction."
    assert keep(text, "Senior Data Analyst", "UX Designer", "Human-Computer Interaction") == [
        "Human-Computer Interaction"
    ]
    text = "The Phlebotomy Technician course meets at night."  # a trade's course names the trade
    assert keep(text, "Phlebotomy Technician") == ["Phlebotomy Technician"]
    text = "The Applied Statistics M.S. now requires Linear Models."
    assert keep(text, "Applied Statistics M.S.", "Linear Models") == ["Linear Models"]
    # The decoder cuts words at a point: its name ends at "Ph", and the degree is read whole.
    text = "The Mathematics Education Ph.D. faculty rebuilt Linear Models."
    assert keep(text, "Mathematics Education Ph", "Linear Models") == ["Linear Models"]
    assert keep("I took Calculus I. Then Linear Models.", "Calculus I", "Linear Models") == [
        "Calculus I",
        "Linear Models",
    ]


def test_no_catalog_title_ends_in_a_word_that_marks_a_name_as_no_course() -> None:
    from training.course_ner.data import catalog_titles

    titles = catalog_titles()
    assert len(titles) > 6000
    assert not {last_word(title) for title in titles} & NON_COURSE_LAST_WORDS


def test_a_single_capitalised_word_no_training_title_holds_is_dropped() -> None:
    title_words = title_vocabulary(["Business Data Analysis", "Ethics", "Eco-Capitalism", "Calculus II"])
    assert {"business", "ethics", "eco-capitalism", "eco", "capitalism", "ii"} <= title_words

    def keep(text: str, *names: str) -> list[str]:
        return _names(text, drop_unknown_single_words(text, _spans(text, *names), title_words))

    text = "Business Data Analysis is fine, and Foster is already brutal."
    assert keep(text, "Business Data Analysis", "Foster") == ["Business Data Analysis"]
    assert keep("My Ethics class and the Jesuit core", "Ethics", "Jesuit") == ["Ethics"]
    # Known words, hyphenated known parts, several words, lower-case text and a word alone stay.
    assert keep("I take Capitalism and Eco-Ethics", "Capitalism", "Eco-Ethics") == [
        "Capitalism",
        "Eco-Ethics",
    ]
    assert keep("I take Herpetology Lab", "Herpetology Lab") == ["Herpetology Lab"]
    assert keep("i take herpetology", "herpetology") == ["herpetology"]
    assert keep("Herpetology", "Herpetology") == ["Herpetology"]
    # A model saved without a vocabulary drops nothing.
    assert drop_unknown_single_words("I take Herpetology", [(7, 18)], frozenset()) == [(7, 18)]


def test_a_lone_word_before_and_joins_the_next_name_unless_it_is_a_title_of_one_word() -> None:
    known = one_word_titles(["Ethics", "Histology", "Political Philosophy"])
    assert known == frozenset({"ethics", "histology"})

    def join(text: str, *names: str, known: frozenset[str] | None = known) -> list[str]:
        return _names(text, join_a_lone_word_to_the_next(text, _spans(text, *names), known))

    text = "For the Fulbright I lean on Issues and Perspectives in French and Francophone Studies"
    assert join(text, "Issues", "Perspectives in French and Francophone Studies") == [
        "Issues and Perspectives in French and Francophone Studies"
    ]
    assert join(text.lower(), "issues", "perspectives in french and francophone studies") == [
        "issues and perspectives in french and francophone studies"
    ]
    text = "I took Ethics and Political Philosophy, then Histology & Cell Biology"
    names = ("Ethics", "Political Philosophy", "Histology", "Cell Biology")
    assert join(text, *names) == list(names)  # titles of one word begin lists
    text = "Networking, and Marketing Research"  # not an " and " right between them
    assert join(text, "Networking", "Marketing Research") == ["Networking", "Marketing Research"]
    text = "Cases and Issues in Auditing"
    assert join(text, "Cases", "Issues in Auditing", known=None) == ["Cases", "Issues in Auditing"]


def spans_of(text: str, *names: str) -> list[tuple[int, int]]:
    return [(text.index(name), text.index(name) + len(name)) for name in names]


def test_a_list_has_one_name_a_line_and_wrapped_prose_keeps_its_names_whole() -> None:
    """The model tags a bulleted list's lines and bullets as one name."""
    listed = "Courses:\n- Data Structures\n- Linear Algebra\n\u2022 Organic Chemistry"
    spans = spans_of(listed, "Data Structures\n- Linear Algebra\n\u2022 Organic Chemistry")
    names = [listed[a:b] for a, b in split_at_line_breaks(listed, spans)]
    assert names == ["Data Structures", "Linear Algebra", "Organic Chemistry"]
    wrapped = "Hi Professor Lee, this semester I am enrolled in Operating\nSystems and I have a question"
    assert split_at_line_breaks(wrapped, spans_of(wrapped, "Operating\nSystems")) == spans_of(
        wrapped, "Operating\nSystems"
    )


def test_a_name_with_a_tab_or_a_no_break_space_between_its_words_is_no_single_word() -> None:
    """ "Data\\tStructures" was taken for one unknown word and dropped, as pasted text has them."""
    vocabulary = title_vocabulary(["Data Structures", "Organic Chemistry"])
    for text in ("I took Data\tStructures", "I took Organic\u00a0Chemistry", "I took Data\nStructures"):
        name = text.removeprefix("I took ")
        assert drop_unknown_single_words(text, spans_of(text, name), vocabulary) == spans_of(text, name)


def test_sentence_starts_are_found_in_one_pass_as_the_search_back_found_them() -> None:
    """A search back from every word took 16 s for 5,000 characters of newlines and brackets."""
    for text in ("Take Data Structures.  Then Ethics", "a\n \tB;C", " \u00a0B?", "", "x: Y z. \n W"):
        starts = sentence_starts(text)
        searched_back = [
            index == 0 or bool(re.search(r"[.!?:;\n]\s*$", text[:index])) for index in range(len(text))
        ]
        assert starts == searched_back, text
    flags = capitalised_chars("\n" * 2000 + "(a" * 1000 + " Data Structures")
    assert sum(flags) == len("Data") + len("Structures")


def test_what_a_letter_grade_is_given_in_is_a_course() -> None:
    """The models read a bare discipline after a grade as a field, and missed even "Organic
    Chemistry" there: "She earned a B+ in Organic Chemistry" gave nothing."""

    def added(text: str, *found: str) -> list[str]:
        return [text[a:b] for a, b in add_names_after_a_grade(text, spans_of(text, *found) if found else [])]

    assert added("He got an A in Genetics but a C in Cell Biology.") == ["Genetics", "Cell Biology"]
    assert added("She earned a B+ in Organic Chemistry.") == ["Organic Chemistry"]
    assert added("You need a C or better in Statistics to continue") == ["Statistics"]
    assert added("with a minimum grade of B- in Microbiology") == ["Microbiology"]
    assert added("I got an A- in Psychology and a B in Sociology") == ["Psychology", "Sociology"]
    assert added("a B in History of the Americas and Europe!") == ["History of the Americas and Europe"]
    assert added("Got a D in Physics 101, sadly") == ["Physics 101"]
    # the models' own reading stands where they found a name there
    assert added("a B in Calculus II and Linear Algebra", "Calculus II", "Linear Algebra") == [
        "Calculus II",
        "Linear Algebra",
    ]
    # no grade, a person's class, a degree, lower case: nothing added
    for text in (
        "I got an A in Professor Lee's class",
        "an A in Dr. Smith's section",
        "She has a BA in Psychology",
        "Plan A in Seattle",
        "I got an A in it",
        "i got an a in genetics",
        "He has a degree in Psychology",
    ):
        assert added(text) == [], text


def test_what_a_grade_is_given_in_is_found_after_who_got_it_and_in_lower_case_text() -> None:
    """ "The A I got in Public Speaking", "a c in discrete math", "a D in stats" gave nothing."""
    vocabulary = frozenset({"discrete", "math", "genetics", "it", "the", "class", "everything", "history"})

    def added(text: str, words: frozenset[str] = vocabulary) -> list[str]:
        return _names(text, add_names_after_a_grade(text, [], words))

    assert added("The A I got in Public Speaking is all I have") == ["Public Speaking"]
    assert added("straight A's except for the C he got in Spanish 102.") == ["Spanish 102"]
    assert added("need at least a c in discrete math to stay in the major") == ["discrete math"]
    assert added("i got a D in stats and my parents don't know") == ["stats"]  # a student's short form
    assert added("i got an a in genetics, history next") == ["genetics"]
    assert added("an A in history class, finally") == ["history"]
    # a lower-case name needs the vocabulary, and words of it that are no subject end in nothing
    assert added("i got an a in genetics", frozenset()) == []
    for text in (
        "I got an A in it",
        "an A in everything",
        "a B in the class",
        "a C in effort",
        "a c in my class",
    ):
        assert added(text) == [], text


def test_a_signed_letter_grade_ends_no_name() -> None:
    """A transcript line read "Medical-Surgical Nursing B+" as the name."""
    text = "Final grades: Medical-Surgical Nursing B+, Health Assessment A-, Microbiology B-."
    extended = extend_through_capitals(text, _spans(text, "Medical-Surgical Nursing", "Health Assessment"))
    assert _names(text, extended) == ["Medical-Surgical Nursing", "Health Assessment"]
    assert _names(text, tidy_spans(text, _spans(text, "Microbiology B-"))) == ["Microbiology"]
    text = "Programming in C++ and Physics C"  # no grades
    assert _names(text, tidy_spans(text, _spans(text, "Programming in C++", "Physics C"))) == [
        "Programming in C++",
        "Physics C",
    ]


def test_a_headings_word_before_its_colon_is_no_part_of_the_name() -> None:
    text = "Languages: German (B1, Individualized First-Year German). Seminar: Poetry and Place"
    assert _names(text, tidy_spans(text, _spans(text, "Languages: German", "Seminar: Poetry and Place"))) == [
        "German",
        "Seminar: Poetry and Place",  # a title's own part before a colon stays
    ]


def test_a_research_group_or_a_centre_is_no_course() -> None:
    def keep(text: str, *names: str) -> list[str]:
        return _names(text, drop_programs(text, drop_institution_names(text, _spans(text, *names))))

    text = "Robot Perception is run by the Autonomous Systems Lab; Advanced Robotics Lab is full."
    assert keep(text, "Robot Perception", "Autonomous Systems Lab", "Advanced Robotics Lab") == [
        "Robot Perception",
        "Advanced Robotics Lab",  # a course: no "the" before it
    ]
    text = "We met in the General Physics Laboratory, then at the Center for Teaching and Learning."
    assert keep(text, "General Physics Laboratory", "Center for Teaching and Learning") == [
        "General Physics Laboratory"  # "Laboratory" ends 30 catalog titles: "the" does not decide
    ]
    text = "The Lab for Computational Linguistics hosts the lab for General Chemistry I."
    assert keep(text, "Computational Linguistics", "General Chemistry I") == ["General Chemistry I"]
    text = "Just got my associate's in Welding Technology, so Blueprint Reading was worth it."
    assert keep(text, "Welding Technology", "Blueprint Reading") == ["Blueprint Reading"]


def test_a_list_of_school_subjects_is_cut_into_them_and_no_catalog_title_is() -> None:
    """The model read "Art, Music, and Drama" as one title, like "Law, Politics, and Society"."""
    from training.course_ner.data import catalog_titles

    def cut(text: str, *names: str) -> list[str]:
        return _names(text, split_lists_of_subjects(text, _spans(text, *names)))

    text = "This year she's taking Art, Music, and Drama, so"
    assert cut(text, "Art, Music, and Drama") == ["Art", "Music", "Drama"]
    assert cut("english, math & gym today", "english, math & gym") == ["english", "math", "gym"]
    assert cut("french, german, or italian?", "french, german") == ["french", "german"]
    assert cut("Science, Technology, and Society counts", "Science, Technology, and Society") == [
        "Science, Technology, and Society"
    ]
    assert cut("History and Geography", "History and Geography") == ["History and Geography"]  # two: unsure
    titles = catalog_titles()
    assert [
        title for title in titles if split_lists_of_subjects(title, [(0, len(title))]) != [(0, len(title))]
    ] == []


def test_a_course_code_before_a_title_is_no_part_of_it() -> None:
    text = "Transcript: BIO 210 Human Physiology, 4 credits; ECON 302: Intermediate Macroeconomics"
    spans = _spans(text, "BIO 210 Human Physiology", "ECON 302: Intermediate Macroeconomics")
    assert _names(text, tidy_spans(text, spans)) == ["Human Physiology", "Intermediate Macroeconomics"]
    assert _names(text, tidy_spans(text, _spans(text, "BIO 210", "Human Physiology"))) == ["Human Physiology"]


def test_both_makes_a_name_with_one_and_two_unless_it_is_already_one_of_two() -> None:
    def cut(text: str, *names: str) -> list[str]:
        return _names(text, split_both_names(text, _spans(text, *names)))

    text = "Dr. Mensah teaches both Soil Science and Crop Production at the college."
    assert cut(text, "Soil Science and Crop Production") == ["Soil Science", "Crop Production"]
    text = "History and Geography are both taught by Ms. Petrov."
    assert cut(text, "History and Geography") == ["History", "Geography"]
    # the model's own pair stands; a name with two "and"s is not cut
    text = "Coaching and Mentoring Adult Learners and Values and Integrity are both online."
    assert cut(text, "Coaching and Mentoring Adult Learners", "Values and Integrity") == [
        "Coaching and Mentoring Adult Learners",
        "Values and Integrity",
    ]
    text = "Both Low-Temperature Physics and Cryogenics and Special Topics in Physics are offered"
    assert cut(text, "Low-Temperature Physics and Cryogenics", "Special Topics in Physics") == [
        "Low-Temperature Physics and Cryogenics",
        "Special Topics in Physics",
    ]
    assert cut("Signals and Systems is hard", "Signals and Systems") == ["Signals and Systems"]
    # a plural verb after a name that opens a clause: two names; after "sections of", the noun's
    text = "Circuits and Electronics are taught by Dr. Lee. Sections of Knowing Health and Illness were cut"
    assert cut(text, "Circuits and Electronics", "Knowing Health and Illness") == [
        "Circuits",
        "Electronics",
        "Knowing Health and Illness",
    ]
    text = "Introduction to Marketing and Consumer Behavior share a textbook."
    assert cut(text, "Introduction to Marketing and Consumer Behavior") == [
        "Introduction to Marketing",
        "Consumer Behavior",
    ]
    assert cut("Signals and Systems shares a lab", "Signals and Systems") == ["Signals and Systems"]
    text = "Music, Folklore, and Performance were moved"
    assert cut(text, "Music, Folklore, and Performance") == ["Music, Folklore, and Performance"]


def test_a_transcripts_decimal_credits_end_no_name() -> None:
    text = "Transcript: ACCT 201 Principles of Financial Accounting 3.0 A-; Spanish 3 4.0 B"
    spans = _spans(text, "ACCT 201 Principles of Financial Accounting 3", "Spanish 3 4")
    assert _names(text, tidy_spans(text, spans)) == ["Principles of Financial Accounting", "Spanish 3"]


def test_what_a_copy_a_pdf_or_an_edition_is_of_is_a_book() -> None:
    def keep(text: str, *names: str) -> list[str]:
        return _names(text, drop_books(text, _spans(text, *names)))

    text = "Does anyone have a PDF of Griffiths' Introduction to Electrodynamics for Physics III?"
    assert keep(text, "Introduction to Electrodynamics", "Physics III") == ["Physics III"]
    text = "My copy of Principles of Economics is in the 3rd edition of Campbell Biology's box"
    assert keep(text, "Principles of Economics", "Campbell Biology") == []
    text = "Michael Sandel's Justice course and a copy of the syllabus of Ethics"
    assert keep(text, "Justice", "Ethics") == ["Justice", "Ethics"]  # an author's name alone marks no book


def test_a_classs_short_form_is_a_name_unless_a_code_or_a_field_is_meant() -> None:
    def add(text: str, *names: str) -> list[str]:
        return _names(text, add_class_short_forms(text, _spans(text, *names)))

    assert add("Orgo has ruined me and Econ ran late") == ["Orgo", "Econ"]
    assert add("she's retaking gen chem and precalc, then lin alg 2") == ["gen chem", "precalc", "lin alg 2"]
    assert add("Our twins have AP Bio; Research Methods is paired with Psych Stats", "Research Methods") == [
        "AP Bio",
        "Research Methods",
        "Psych Stats",
    ]
    # a code's subject, a field, a longer proper name; and words that name other things too
    assert add("Stress Management (CHEM 211) counts for the econ major, a minor in calc") == []
    assert add("the Psych advisors work at Thermo Fisher; an econ elective") == []
    assert add("the speaker's bio and the stats show a psych consult and a chem panel") == []
    assert add("a calc app, the econ building's wifi, a fast lin alg library; she works in comp sci") == []
    assert add("my calc is killing me and our orgo teacher is out") == ["calc", "orgo"]
    assert add("I got the orgo notes", "orgo notes") == ["orgo notes"]  # within a name: the name stands
    assert add("FINALLY passed calc 3 and diff eq!!!", "calc", "diff") == ["calc 3", "diff eq"]
    assert add("our stats teacher, half a macro lecture, then AP Calc BC") == ["stats", "macro", "AP Calc BC"]
    assert add("macro photography, a micro SD card and player stats") == []


def test_two_subjects_as_students_name_them_are_two_names() -> None:
    def pair(text: str, *names: str) -> list[str]:
        return _names(text, complete_pairs_of_subjects(text, _spans(text, *names)))

    assert pair("I'm taking bio and chem together", "bio") == ["bio", "chem"]
    assert pair("I have calc/physics back to back", "calc/physics") == ["calc", "physics"]
    assert pair("english or spanish 2 next year", "spanish 2") == ["english", "spanish 2"]
    # capitalised, a pair may name a department; a slash within a field's name stays
    assert pair("the History and Philosophy office", "History") == ["History"]
    assert pair("Client/Server Programming", "Client/Server Programming") == ["Client/Server Programming"]
    assert pair("bio and chem majors", "bio and chem") == ["bio and chem"]


def test_a_course_number_then_and_parts_two_names() -> None:
    """None of the catalog's titles goes on after its number with "and"."""
    from training.course_ner.data import catalog_titles

    def split(text: str, *names: str) -> list[str]:
        return _names(text, split_after_a_course_number(text, _spans(text, *names)))

    assert split("Take Spanish 201 or French 201 next", "Spanish 201") == ["Spanish 201", "French 201"]
    text = "She will teach Music Theory III and Orchestration, and Calculus 2 & Linear Algebra."
    assert split(text, "Music Theory III", "Calculus 2 & Linear Algebra") == [
        "Music Theory III",
        "Orchestration",
        "Calculus 2",
        "Linear Algebra",
    ]
    assert split("Anatomy and Physiology I and Dr. Lee", "Anatomy and Physiology I") == [
        "Anatomy and Physiology I"
    ]
    titles = catalog_titles()
    assert [t for t in titles if split_after_a_course_number(t, [(0, len(t))]) != [(0, len(t))]] == []


def test_a_subject_that_meets_starts_or_moves_is_a_class() -> None:
    def add(text: str, *names: str) -> list[str]:
        return _names(text, add_subjects_that_meet(text, _spans(text, *names), {"torts"}))

    assert add("Statistics starts at 8 sharp; Biology meets at 7:45 in Hanley Hall") == [
        "Statistics",
        "Biology",
    ]
    assert add("Torts is on the third floor and Spanish 2 got moved to Tuesdays") == ["Torts", "Spanish 2"]
    assert add("Genetics began with Mendel, where Physics meets Art; the Chemistry Club meets at 5") == []
    assert add("Marketing Research meets at 9", "Marketing Research") == ["Marketing Research"]
    assert add("Hanley starts at 8") == []  # no subject nor training title


def test_a_single_letter_is_no_name_even_if_a_title_holds_it() -> None:
    text = "Relevant coursework: Seminar in Quantitative Methods, R, Stata"
    spans = _spans(text, "Seminar in Quantitative Methods", "R")
    assert _names(text, drop_unknown_single_words(text, spans, {"r", "seminar", "in"})) == [
        "Seminar in Quantitative Methods"
    ]
    assert _names("R", drop_unknown_single_words("R", [(0, 1)], {"r"})) == ["R"]  # a text of it alone


def test_the_nights_rules_on_a_reviews_edge_cases() -> None:
    """A review's inputs: line breaks, the pronoun "I", names added twice, a person after "and"."""

    def short_forms(text: str) -> list[str]:
        return _names(text, add_class_short_forms(text, []))

    assert short_forms("my classes:\ncalc\norgo") == ["calc", "orgo"]  # not one name over the break
    assert short_forms("after calc i want orgo") == ["calc", "orgo"]  # "i" is no course number
    assert short_forms("my orgo prof and our calc hw") == ["orgo", "calc"]
    text = "calc and intro to cs and bio"
    spans = [(0, 4), (len(text) - 3, len(text))]
    assert _names(text, complete_pairs_of_subjects(text, spans)) == ["calc", "intro to cs", "bio"]
    text = "1. bio and chem\n2. physics; a bio and chem major"
    assert _names(
        text, complete_pairs_of_subjects(text, [(3, 6), (text.rindex("bio"), text.rindex("bio") + 3)])
    ) == [
        "bio",
        "chem",
        "bio",
    ]
    text = "Calculus I and II are required"
    assert _names(text, split_after_a_course_number(text, _spans(text, "Calculus I and II"))) == [
        "Calculus I and II"
    ]
    text = "I finished Calculus 2 and Maria finished"
    assert _names(text, split_after_a_course_number(text, _spans(text, "Calculus 2"))) == ["Calculus 2"]
    text = "Can someone send me a copy of Organic Chemistry notes?"
    assert _names(text, drop_books(text, _spans(text, "Organic Chemistry"))) == ["Organic Chemistry"]
    assert add_subjects_that_meet("History met Mr. Darcy; Evidence was moved to a locker", [], set()) == []


def test_a_subject_on_weekdays_or_called_a_period_is_a_class() -> None:
    def add(text: str) -> list[str]:
        return _names(text, add_subjects_that_meet(text, [], set()))

    assert add("My daughter has Woodshop on Tuesdays and comes home smelling like sawdust") == ["Woodshop"]
    assert add("My son says Gym is the only period he likes; Geometry was my worst class") == [
        "Gym",
        "Geometry",
    ]
    assert add("History is the only thing he reads") == []  # no period, no class
    assert add("I volunteer at the Museum of Natural History on Mondays") == []  # a longer proper name


def test_the_and_of_a_list_of_three_parts_its_last_two_names() -> None:
    def split(text: str, *names: str) -> list[str]:
        return _names(text, split_the_last_of_a_list(text, _spans(text, *names)))

    text = "The bootcamp covers Responsive Web Design, JavaScript Foundations and React for Beginners."
    assert split(text, "Responsive Web Design", "JavaScript Foundations and React for Beginners") == [
        "Responsive Web Design",
        "JavaScript Foundations",
        "React for Beginners",
    ]
    text = "Module list: Contract Law, Tort Law, Land Law, Equity and Trusts."  # a list with no conjunction
    assert split(text, "Contract Law", "Tort Law", "Land Law", "Equity and Trusts")[-1] == "Equity and Trusts"
    text = "Compare Data Systems, Design and Analysis of Algorithms II & Software Design"  # a middle name
    assert split(text, "Data Systems", "Design and Analysis of Algorithms II", "Software Design") == [
        "Data Systems",
        "Design and Analysis of Algorithms II",
        "Software Design",
    ]
    assert split("I loved Signals and Systems, Calculus too", "Signals and Systems", "Calculus") == [
        "Signals and Systems",
        "Calculus",
    ]


def test_slashes_part_names_before_ap_or_between_three_short_ones_and_no_catalog_title() -> None:
    from training.course_ner.data import catalog_titles

    def split(text: str, *names: str) -> list[str]:
        return _names(text, split_at_slashes(text, _spans(text, *names)))

    assert split("Next fall: European History/AP Lit", "European History/AP Lit") == [
        "European History",
        "AP Lit",
    ]
    text = "Next term: Pharmacology/Pathophysiology / Health Assessment, pray for me"
    assert split(text, "Pharmacology/Pathophysiology / Health Assessment") == [
        "Pharmacology",
        "Pathophysiology",
        "Health Assessment",
    ]
    for title in ("Dance/Performance Ethnography", "Special Topics in Forms/Genres/Media"):
        assert split(title, title) == [title]
    titles = catalog_titles()
    assert [
        title for title in titles if split_at_slashes(title, [(0, len(title))]) != [(0, len(title))]
    ] == []


def test_a_name_after_an_authors_surname_in_a_sentence_about_books_is_a_book() -> None:
    def keep(text: str, *names: str) -> list[str]:
        return _names(text, drop_books(text, _spans(text, *names)))

    text = "Griffiths' Introduction to Electrodynamics is the assigned book for Electricity and Magnetism II."
    assert keep(text, "Introduction to Electrodynamics", "Electricity and Magnetism II") == [
        "Electricity and Magnetism II"
    ]
    assert keep("I borrowed Strang's Linear Algebra from the library", "Linear Algebra") == []
    text = "Prof. Keller's Intro to Ethics and Coursera's Financial Markets have long readings"
    assert keep(text, "Intro to Ethics", "Financial Markets") == ["Intro to Ethics", "Financial Markets"]
    text = "I missed Tuesday's Pharmacology, so I'm reading the slides"
    assert keep(text, "Pharmacology") == ["Pharmacology"]  # a weekday is no author
    assert keep("Strang's Linear Algebra is hard", "Linear Algebra") == ["Linear Algebra"]  # nothing of books


def test_software_named_alone_is_no_course() -> None:
    def keep(text: str, *names: str) -> list[str]:
        return _names(
            text, drop_unknown_single_words(text, _spans(text, *names), {"matlab", "excel", "numerical"})
        )

    text = "We do everything in MATLAB in Numerical Methods"
    assert keep(text, "MATLAB", "Numerical Methods") == ["Numerical Methods"]
    assert keep("my Excel class is at 9", "Excel") == ["Excel"]  # a course's noun after it


def test_an_and_before_a_word_that_opens_titles_joins_two_names_and_no_catalog_title_holds_one() -> None:
    from training.course_ner.data import catalog_titles

    def split(text: str, *names: str) -> list[str]:
        return _names(text, split_before_an_opening_word(text, _spans(text, *names)))

    text = "She tutors in Pre-Algebra and Honors Physical Science"
    assert split(text, "Pre-Algebra and Honors Physical Science") == [
        "Pre-Algebra",
        "Honors Physical Science",
    ]
    text = "Calculus and Introduction to Logic & Topics in Film and Media"  # the second has two: unsure
    assert split(text, "Calculus and Introduction to Logic", "Topics in Film and Media") == [
        "Calculus",
        "Introduction to Logic",
        "Topics in Film and Media",
    ]
    titles = catalog_titles()
    assert [t for t in titles if split_before_an_opening_word(t, [(0, len(t))]) != [(0, len(t))]] == []


def test_what_a_classs_meeting_or_week_is_of_is_a_name() -> None:
    def add(text: str, *names: str) -> list[str]:
        return _names(text, add_names_a_class_part_is_of(text, _spans(text, *names)))

    text = (
        "You'll need AutoCAD before the first meeting of Architectural Drafting, and week 3 of Intro to Film"
    )
    assert add(text, "AutoCAD") == ["AutoCAD", "Architectural Drafting", "Intro to Film"]
    assert add("Week 4 of Organic Chemistry 2 was rough", "Organic Chemistry 2") == ["Organic Chemistry 2"]
    assert add("the first day of Spring Break, the first lecture of Professor Lee's seminar") == []
    assert add("chapter 3 of Campbell Biology, the first meeting of the club") == []


def test_the_before_a_clinic_an_elective_or_a_rotation_is_no_part_of_it_nor_of_any_catalog_title() -> None:
    from training.course_ner.data import catalog_titles

    def drop(text: str, *names: str) -> list[str]:
        return _names(text, drop_the_before_a_kind_of_course(text, _spans(text, *names)))

    text = "The Immigration Law Clinic represents clients; The Neurology Elective is full"
    assert drop(text, "The Immigration Law Clinic", "The Neurology Elective") == [
        "Immigration Law Clinic",
        "Neurology Elective",
    ]
    assert drop("The Politics of Rights has a guest", "The Politics of Rights") == ["The Politics of Rights"]
    titles = [t for t in catalog_titles() if t.startswith("The ")]
    assert [t for t in titles if drop_the_before_a_kind_of_course(t, [(0, len(t))]) != [(0, len(t))]] == []


def test_a_resumes_languages_with_their_levels_and_its_headings_are_no_courses() -> None:
    def keep(text: str, *names: str) -> list[str]:
        return _names(text, drop_languages_and_headings(text, _spans(text, *names)))

    text = "Languages: Mandarin (native), English (fluent), Japanese (JLPT N2); Skills: Figma"
    assert keep(text, "Mandarin", "English", "Japanese", "Skills") == []
    text = "Took French 202 (advanced) and Spanish (Prof. Ruiz); Coursework: Ethics"
    assert keep(text, "French 202", "Spanish", "Coursework", "Ethics") == ["French 202", "Spanish", "Ethics"]
    text = "Languages: Java, C++, Go; Coursework: Compilers, Logic and Go"
    assert keep(text, "Java, C++", "Compilers, Logic") == ["Compilers, Logic"]  # software only, or none


def test_a_name_runs_on_over_and_and_one_word_where_the_clause_ends() -> None:
    def extend(text: str, *names: str) -> list[str]:
        return _names(text, extend_over_a_last_and_word(text, _spans(text, *names), {"mortality"}))

    text = "He taught Structural Geology and Tectonics at Montana; ARTH 335, Baroque Art in Rome and Madrid,"
    assert extend(text, "Structural Geology", "Baroque Art in Rome") == [
        "Structural Geology and Tectonics",
        "Baroque Art in Rome and Madrid",
    ]
    assert extend("Senior Capstone Design Project I & II.", "Senior Capstone Design Project I") == [
        "Senior Capstone Design Project I & II"
    ]
    text = "I have Linear Algebra and Maria has Physics; Biology and Chemistry."
    assert extend(text, "Linear Algebra", "Physics", "Biology", "Chemistry") == [
        "Linear Algebra",  # a verb after the word: a person
        "Physics",
        "Biology",  # a name lies there
        "Chemistry",
    ]
    assert extend("Calculus and May.", "Calculus") == ["Calculus"]  # a month


def test_a_numbered_subject_a_colon_and_a_title_are_one_name() -> None:
    def join(text: str, *names: str) -> list[str]:
        return _names(text, join_a_numbered_subject_to_its_title(text, _spans(text, *names)))

    text = "completed French 202: Intermediate Conversation, or do I need Spanish 302: Advanced Grammar?"
    assert join(text, "French 202", "Intermediate Conversation", "Spanish", "Advanced Grammar") == [
        "French 202: Intermediate Conversation",
        "Spanish 302: Advanced Grammar",
    ]
    text = "Courses: Ethics, Logic: both easy"
    assert join(text, "Courses", "Ethics", "Logic") == ["Courses", "Ethics", "Logic"]  # no number


def test_a_short_form_with_a_number_and_a_letter_is_a_class() -> None:
    text = "I'm in Bio 1B and Chem 3A this term, and biochem lab"
    assert _names(text, add_class_short_forms(text, [])) == ["Bio 1B", "Chem 3A", "biochem"]


def test_a_lab_a_journal_or_a_board_of_something_is_no_course_and_no_catalog_title_opens_so() -> None:
    from training.course_ner.data import catalog_titles
    from training.course_ner.title_rules import INSTITUTION_OPENING

    text = (
        "Thesis in the Laboratory for Cognitive Aging; TA for Laboratory in Social Psychology; Journal of Law"
    )
    names = _spans(
        text, "Laboratory for Cognitive Aging", "Laboratory in Social Psychology", "Journal of Law"
    )
    assert _names(text, drop_institution_names(text, names)) == ["Laboratory in Social Psychology"]
    assert [title for title in catalog_titles() if INSTITUTION_OPENING.match(title)] == []


def test_a_shouted_and_ends_no_name_and_a_capital_letter_is_no_function_word() -> None:
    text = "Bio 2 AND Discrete Math, then Vitamin A"
    spans = _spans(text, "Bio 2 AND", "Discrete Math", "Vitamin A")
    assert _names(text, tidy_spans(text, spans)) == ["Bio 2", "Discrete Math", "Vitamin A"]


def test_a_name_right_after_book_and_a_comma_is_the_books() -> None:
    text = "We use the CLRS book, Introduction to Algorithms, in Algorithm Design and Analysis"
    spans = _spans(text, "Introduction to Algorithms", "Algorithm Design and Analysis")
    assert _names(text, drop_books(text, spans)) == ["Algorithm Design and Analysis"]


def test_a_school_subject_with_a_course_number_or_a_grades_level_is_a_class() -> None:
    def add(text: str, *names: str) -> list[str]:
        return _names(text, add_numbered_subjects(text, _spans(text, *names)))

    text = "got a Spanish 201 presentation; I tutor Eighth Grade Math and 7th grade Science"
    assert add(text) == ["Spanish 201", "Eighth Grade Math", "7th grade Science"]
    text = "Physics 2000 at the Natural History 101 exhibit, Chemistry 1.5 hours, Biology today, Route 66"
    assert add(text) == []  # a longer number, a capitalised word before, a decimal, none; no subject


def test_two_names_only_a_space_apart_are_one() -> None:
    text = "must complete Preventing Workplace Harassment for Managers; ACCT 2101 Principles of Accounting I"
    spans = _spans(
        text, "Preventing", "Workplace Harassment for Managers", "2101", "Principles of Accounting I"
    )
    assert _names(text, join_names_a_space_apart(text, spans)) == [
        "Preventing Workplace Harassment for Managers",
        "2101",
        "Principles of Accounting I",
    ]


def test_the_late_nights_rules_on_a_reviews_edge_cases() -> None:
    """A review's inputs for the rules of the late night of 2026-12-07."""
    text = "Professor Keller's Intro to Ethics is great; we read Kant. Today's Organic Chemistry: chapter 5"
    assert _names(text, drop_books(text, _spans(text, "Intro to Ethics", "Organic Chemistry"))) == [
        "Intro to Ethics",  # a teacher's title before the name
        "Organic Chemistry",  # "Today" is no author
    ]
    text = "Griffiths' Quantum Physics was hard. We read a lot."  # the book's word is in another sentence
    assert _names(text, drop_books(text, _spans(text, "Quantum Physics"))) == ["Quantum Physics"]
    text = "We're in week 10 of 12, week 1 of Spring Break, and missed the first meeting of Calculus\nBiology"
    assert _names(text, add_names_a_class_part_is_of(text, [])) == ["Calculus"]
    text = "Yesterday Biology met at 9. My Geometry is on Mondays; I do Photography on weekends"
    assert _names(text, add_subjects_that_meet(text, [], set())) == ["Biology", "Geometry"]
    text = (
        "I'm taking Organic Chemistry and Physics in the fall, Data Analysis and Python, Calculus and Sarah."
    )
    names = _spans(text, "Organic Chemistry", "Data Analysis", "Calculus")
    assert _names(text, extend_over_a_last_and_word(text, names, frozenset())) == [
        "Organic Chemistry",
        "Data Analysis",
        "Calculus",
    ]
    text = "I'm taking Elementary and Intermediate Spanish and Sampling and Survey Methods"
    names = _spans(text, "Elementary and Intermediate Spanish", "Sampling and Survey Methods")
    assert _names(text, split_before_an_opening_word(text, names)) == [
        "Elementary and Intermediate Spanish",
        "Sampling and Survey Methods",
    ]
    text = "Physics /AP Bio, then Ancient/Medieval/Modern Philosophy"
    names = _spans(text, "/AP Bio", "Ancient/Medieval/Modern Philosophy")
    assert _names(text, split_at_slashes(text, names)) == ["AP Bio", "Ancient/Medieval/Modern Philosophy"]
    text = "After Calculus, Signals and Systems gets easier."
    names = _spans(text, "Calculus", "Signals and Systems")
    assert _names(text, split_the_last_of_a_list(text, names)) == ["Calculus", "Signals and Systems"]
    text = "Prerequisites for Physics 201: Physics 101; Ethics in AI: Biology majors"
    names = _spans(text, "Physics 201", "Physics 101", "Ethics in AI", "Biology")
    assert _names(text, join_a_numbered_subject_to_its_title(text, names)) == [
        "Physics 201",
        "Physics 101",
        "Ethics in AI",
        "Biology",
    ]
    text = "I'm taking Spanish (Intermediate) and French (Elementary) this fall"
    assert _names(text, drop_languages_and_headings(text, _spans(text, "Spanish", "French"))) == [
        "Spanish",
        "French",
    ]
    text = "I finished stats 20 minutes early; calc 10:30"
    assert _names(text, add_class_short_forms(text, [])) == ["calc"]  # "stats": no number, AP or noun
    text = "The  Neurology Elective is offered at"
    names = _spans(text, "The  Neurology Elective")
    assert _names(text, drop_the_before_a_kind_of_course(text, names)) == ["Neurology Elective"]


def test_a_name_runs_on_over_a_course_number_but_not_a_count() -> None:
    def extend(text: str, *names: str) -> list[str]:
        return _names(text, extend_over_a_course_number(text, _spans(text, *names)))

    text = "Did you register for Spanish 201 or French 201?"
    assert extend(text, "Spanish 201", "French") == ["Spanish 201", "French 201"]
    text = "My schedule is World History, English Composition & Biology 110."
    assert extend(text, "World History", "Biology") == ["World History", "Biology 110"]
    text = "I took Physics 2 times, Calculus 3 credits, Statistics 10:30 and Chemistry 2019"
    names = ("Physics", "Calculus", "Statistics", "Chemistry")
    assert extend(text, *names) == list(names)
    text = "ACCT 2101 Principles of Accounting I and Ethics 12.5 hours"
    assert extend(text, "Principles of Accounting I", "Ethics") == ["Principles of Accounting I", "Ethics"]
    text = "Anyone taking ECON 201 (Intermediate Macroeconomics)?"
    assert extend(text, "ECON", "Intermediate Macroeconomics") == ["ECON", "Intermediate Macroeconomics"]
    text = "Ethics 101 Physics"  # a name that starts at the number keeps it
    assert _names(text, extend_over_a_course_number(text, [(0, 6), (7, 18)])) == ["Ethics", "101 Physics"]


def test_a_numbered_or_topics_name_takes_in_its_subtitle_where_it_ends_the_clause() -> None:
    def join(text: str, *names: str) -> list[str]:
        return _names(text, join_a_subtitle(text, _spans(text, *names)))

    text = "Welding Technology II: Gas Tungsten Arc Welding"
    assert join(text, "Welding Technology II") == [text]
    text = "I'm enrolled in Topics in Algebraic Geometry: Moduli Spaces."
    assert join(text, "Topics in Algebraic Geometry") == ["Topics in Algebraic Geometry: Moduli Spaces"]
    text = "Spanish 302: Advanced Grammar and Composition is hard"
    assert join(text, "Spanish 302", "Advanced Grammar") == ["Spanish 302: Advanced Grammar and Composition"]
    text = "Calculus II: Professor Lee, Calculus III: Series today, Physics 101: Lab Safety Quiz tomorrow"
    names = ("Calculus II", "Calculus III", "Physics 101")
    assert join(text, *names) == list(names)  # a person, no title case to the clause's end
    text = "Organic Chemistry: Reactions and Mechanisms"  # no number, no "Topics in"
    assert join(text, "Organic Chemistry") == ["Organic Chemistry"]
    text = "Physics 201: Physics 101 and Calculus I"  # more than one name in what follows
    assert join(text, "Physics 201", "Physics 101", "Calculus I") == [
        "Physics 201",
        "Physics 101",
        "Calculus I",
    ]


def test_more_short_forms_and_course_numbers_as_students_write_them() -> None:
    def add(text: str) -> list[str]:
        return _names(text, add_class_short_forms(text, []))

    assert add("ugh p chem exam tmrw and i know nothing") == ["p chem"]
    assert add("anybody selling their old book for a&p 1") == ["a&p 1"]
    assert add("I love data viz") == []  # a chart, not a class, without a mark
    assert add("lol bus law was just vibes, then art hist and the data viz final") == [
        "bus law",
        "art hist",
        "data viz",
    ]
    assert add("calc bc was easier than calc 1, and chem 211 than orgo lab") == [
        "calc bc",
        "calc 1",
        "chem 211",
        "orgo lab",
    ]
    assert add("dropping diffeq bc the prof is impossible") == ["diffeq"]
    assert add("should i do soc 101, our gov teacher is great") == ["soc 101", "gov"]
    assert add("check the gov website for geo data from astro people") == []
    assert add("Chem 211 and CHEM 101 are codes; stats 20 minutes early") == []


def test_ap_classes_as_students_name_them_but_not_their_exams() -> None:
    def add(text: str, *names: str) -> list[str]:
        return _names(text, add_ap_classes(text, _spans(text, *names)))

    assert add("our APUSH teacher gave us a 40 page reading") == ["APUSH"]
    assert add("bro AP lang essays are killing me, AP Gov too", "Gov") == ["AP lang", "AP Gov"]
    assert add("the APES review session is after school; apes at the zoo") == ["APES"]
    assert add("I'm studying for the AP Lang exam and AP World test") == []
    assert add("AP Literature is long", "AP Literature") == ["AP Literature"]
    assert add("My AP Biology teacher and AP European History, then AP Calculus BC") == [
        "AP Biology",
        "AP European History",
        "AP Calculus BC",
    ]
    assert add("a 5 on the AP Calculus BC exam; the AP Stylebook; AP News") == []


def test_ta_ing_opens_no_title_and_no_catalog_title_opens_with_it() -> None:
    from training.course_ner.data import catalog_titles

    text = "I'm auditing Art History Survey and TA-ing Drawing I."
    assert _names(text, tidy_spans(text, _spans(text, "TA-ing Drawing I"))) == ["Drawing I"]
    assert not {title.split()[0].lower() for title in catalog_titles()} & NOT_OPENING_WORDS


def test_the_items_of_a_skills_or_interests_line_are_no_courses_unless_they_say_so() -> None:
    def keep(text: str, *names: str) -> list[str]:
        return _names(text, drop_items_of_a_skills_line(text, _spans(text, *names)))

    text = "Skills: Python, R, SQL, statistical modeling, public speaking"
    assert keep(text, "statistical modeling", "public speaking") == []
    text = "Research interests: Bayesian inference, causal modeling, and survey methodology."
    assert keep(text, "Bayesian", "causal modeling") == []
    text = "Certifications: OSHA 30-Hour; coursework in Applied Occupational Health (A, 2022)."
    assert keep(text, "Applied Occupational Health") == ["Applied Occupational Health"]
    text = "Skills: AutoCAD, GPS/RTK (GeoSurveying, 2022)\nCourses: Soil Mechanics"
    assert keep(text, "GeoSurveying", "Soil Mechanics") == ["GeoSurveying", "Soil Mechanics"]
    text = "Bench skills: PCR; Special Laboratory Elective in the Rabinovitch lab"
    assert keep(text, "Special Laboratory Elective") == ["Special Laboratory Elective"]


def test_a_name_said_to_be_a_book_or_to_have_volumes_is_the_books() -> None:
    def keep(text: str, *names: str) -> list[str]:
        return _names(text, drop_books(text, _spans(text, *names)))

    text = "Operating Systems: Three Easy Pieces is a free textbook, and our Operating Systems class uses it"
    assert keep(text, "Operating Systems: Three Easy Pieces") == []
    text = '"The Elements of Style" is the only book required for Expository Writing.'
    assert keep(text, "The Elements of Style", "Expository Writing") == ["Expository Writing"]
    text = "Operating Systems: Three Easy Pieces is a free textbook"  # the model cut at the colon
    assert keep(text, "Operating Systems") == []
    text = "I finished The Art of Computer Programming, Volume 1 over break."
    assert keep(text, "The Art of Computer Programming", "Volume 1") == []
    text = "Linear Algebra is a course I loved; Calculus is the one I booked"
    assert keep(text, "Linear Algebra", "Calculus") == ["Linear Algebra", "Calculus"]


def test_a_lower_case_pair_with_a_short_form_is_two_names_and_a_resumes_heading_none() -> None:
    def pairs(text: str, *names: str) -> list[str]:
        return _names(text, complete_pairs_of_subjects(text, _spans(text, *names)))

    assert pairs("ochem and physics 2 in the same sem", "ochem and physics 2") == ["ochem", "physics 2"]
    assert pairs("anatomy and physiology is hard", "anatomy and physiology") == ["anatomy and physiology"]
    assert pairs("thermo and fluids next sem", "thermo and fluids") == ["thermo and fluids"]
    text = "Licenses & Certifications: Project Management Professional (PMP)"
    assert _names(text, drop_languages_and_headings(text, _spans(text, "Licenses & Certifications"))) == []


def test_this_sessions_rules_on_a_reviews_edge_cases() -> None:
    def run(
        rule: Callable[[str, list[tuple[int, int]]], list[tuple[int, int]]], text: str, *names: str
    ) -> list[str]:
        return _names(text, rule(text, _spans(text, *names)))

    number = extend_over_a_course_number
    assert run(
        number, "Organic Chemistry 10/10 would take, Calculus 3x a week", "Organic Chemistry", "Calculus"
    ) == [
        "Organic Chemistry",
        "Calculus",
    ]
    assert run(
        number, "Data Structures 3 A-, Operating Systems 4 B+", "Data Structures", "Operating Systems"
    ) == [
        "Data Structures",
        "Operating Systems",
    ]
    assert run(number, "Grades: Calculus 95, Physics 88", "Calculus", "Physics") == ["Calculus", "Physics"]
    assert run(number, "Spanish 4 semesters, Organic Chemistry 3 exams", "Spanish", "Organic Chemistry") == [
        "Spanish",
        "Organic Chemistry",
    ]
    assert run(number, "Chem 101 General Chemistry I", "Chem", "General Chemistry I") == [
        "Chem",
        "General Chemistry I",
    ]
    subtitle = join_a_subtitle
    assert run(subtitle, "Grades: Calculus II: A, Physics 101: In Person", "Calculus II", "Physics 101") == [
        "Calculus II",
        "Physics 101",
    ]
    assert run(subtitle, "Calculus II: Midterm Review Session is Friday", "Calculus II") == ["Calculus II"]
    assert run(subtitle, "Data Science III: Scaling, Applications, and Ethics", "Data Science III") == [
        "Data Science III"
    ]
    skills = drop_items_of_a_skills_line
    text = "Interests: hiking, chess. I'm taking Organic Chemistry this term."
    assert run(skills, text, "Organic Chemistry") == ["Organic Chemistry"]
    text = "Skills: Python, SQL | Relevant Coursework: Data Structures, Algorithms"
    assert run(skills, text, "Data Structures", "Algorithms") == ["Data Structures", "Algorithms"]
    books = drop_books
    for text in (
        "Organic Chemistry is a textbook example of a weed-out class.",
        "Intro to Psychology was a book-heavy class.",
        "Organic Chemistry is the class whose textbook costs $300.",
        "Organic Chemistry: Klein is the book we use.",
    ):
        assert run(books, text, text.split(" is ")[0].split(" was ")[0].split(":")[0]) != []
    ap = add_ap_classes
    assert run(ap, "I have AP Biology Tuesday, my AP Chemistry Teacher retired") == [
        "AP Biology",
        "AP Chemistry",
    ]
    assert run(ap, "taking AP Calculus and Physics") == ["AP Calculus"]
    assert _names(
        "dropping calc bc i never study", add_class_short_forms("dropping calc bc i never study", [])
    ) == ["calc"]
    assert (
        _names("the AP Gov exam is tomorrow", add_class_short_forms("the AP Gov exam is tomorrow", [])) == []
    )


def test_a_plural_verb_after_a_clause_opening_conjunction_parts_two_names() -> None:
    def split(text: str, *names: str) -> list[str]:
        return _names(text, split_both_names(text, _spans(text, *names)))

    text = "Law and Economics is cross-listed, but Torts and Contracts are 1L requirements."
    assert split(text, "Law and Economics", "Torts and Contracts") == [
        "Law and Economics",
        "Torts",
        "Contracts",
    ]
    text = "Money and Banking fills up fast, while Econometrics and Public Finance usually have open seats."
    assert split(text, "Money and Banking", "Econometrics and Public Finance") == [
        "Money and Banking",
        "Econometrics",
        "Public Finance",
    ]
    text = "I took it, but Signals and Systems is harder, and sections of Health and Illness are full"
    assert split(text, "Signals and Systems", "Health and Illness") == [
        "Signals and Systems",
        "Health and Illness",
    ]
