"""The synchronous contracts users script against, through the real queue and workers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from training.course_ner.data import Example


def test_extract_course_name_contract(api: httpx.Client) -> None:
    response = api.post("/extract-course-name/", json={"text": "Introduction to Artificial Intelligence"})
    assert response.status_code == 200, response.text
    assert response.json() == {"extracted_course_names": ["Introduction to Artificial Intelligence"]}


def test_a_path_asked_with_its_trailing_slash_toggled_is_served_not_redirected(api: httpx.Client) -> None:
    """Both answered a bodiless 307, which `curl -s` shows as nothing and many clients do not follow
    for a POST: the contract's `/extract-course-name/` has a trailing slash, `/generate_text` none."""
    response = api.post("/extract-course-name", json={"text": "Introduction to Artificial Intelligence"})
    assert response.status_code == 200, response.text
    assert response.json() == {"extracted_course_names": ["Introduction to Artificial Intelligence"]}
    request = {"start_word": "the", "length": 3, "seed": 1}
    response = api.post("/generate_text/", json=request)
    assert response.status_code == 200, response.text
    assert response.json() == api.post("/generate_text", json=request).json()
    assert api.get("/health/").status_code == 200
    assert api.get("/extract-course-name//").status_code == 404  # only the one toggle


def _scores_through_the_api(api: httpx.Client, examples: list[Example]) -> dict[str, float]:
    """Entity scores of the served extractor, one request per sentence."""
    from training.course_ner.scoring import entity_scores

    predicted = []
    for example in examples:
        response = api.post("/extract-course-name/", json={"text": example.text})
        assert response.status_code == 200, response.text
        predicted.append(response.json()["extracted_course_names"])
    return entity_scores([e.names() for e in examples], predicted)


def test_trained_extractor_finds_held_out_titles_through_the_api(api: httpx.Client) -> None:
    """Titles and sentence shapes the served model never trained on, one request each."""
    from training.course_ner.data import held_out_split

    examples = held_out_split()[:60]
    scores = _scores_through_the_api(api, examples)
    assert scores["entities"] >= 40
    # the test store's preview (one model, 2 epochs, seed 0): 0.84 on these 60 and on all 1,530
    # names; the full training scores 0.84-0.88 on all, by seed and CPU
    assert scores["f1"] >= 0.75, scores


def test_trained_extractor_on_sentences_written_apart_from_the_project(api: httpx.Client) -> None:
    """Real catalog titles that never train, in sentences no template made, one request each."""
    from training.course_ner.challenge import unseen_examples

    scores = _scores_through_the_api(api, unseen_examples())
    assert scores["entities"] == 179
    # The test store's preview (one model, 2 epochs, seed 0) scored 0.89 here in float32; the full
    # training (two members) 0.93, seeds 0-2 spanning 0.86-0.94 (training/course_ner/EXPERIMENTS.md).
    assert scores["f1"] >= 0.82, scores


def test_two_names_in_one_sentence_come_back_apart(api: httpx.Client) -> None:
    """The issue's first example; its other two are the contract test above and the one below."""
    text = "I'm enrolled in Operating Systems and Advanced Mathematics this term"
    response = api.post("/extract-course-name/", json={"text": text})
    assert response.json() == {"extracted_course_names": ["Operating Systems", "Advanced Mathematics"]}


def test_extract_finds_nothing_in_unrelated_text(api: httpx.Client) -> None:
    response = api.post("/extract-course-name/", json={"text": "The cafeteria opens at noon."})
    assert response.json() == {"extracted_course_names": []}


@pytest.mark.parametrize("path", ["/generate_text", "/generate_with_rnn", "/generate_with_llm"])
def test_generation_contract(api: httpx.Client, path: str) -> None:
    response = api.post(path, json={"start_word": "The", "length": 8})
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["generated_text"]
    assert body["generated_text"].startswith("The")
    assert len(body["generated_text"]) > len("The")


@pytest.mark.parametrize("path", ["/generate_text", "/generate_with_rnn", "/generate_with_llm"])
def test_same_seed_same_text(api: httpx.Client, path: str) -> None:
    request = {"start_word": "love", "length": 12, "seed": 7, "temperature": 0.9}
    first = api.post(path, json=request).json()
    second = api.post(path, json=request).json()
    assert first == second


@pytest.mark.parametrize("path", ["/generate_text", "/generate_with_rnn"])
def test_length_counts_words(api: httpx.Client, path: str) -> None:
    text = api.post(path, json={"start_word": "king", "length": 10, "seed": 3}).json()["generated_text"]
    assert text.startswith("king")
    assert len(text.split()) >= 5


def test_unknown_start_word_is_not_an_error(api: httpx.Client) -> None:
    for path in ("/generate_text", "/generate_with_rnn", "/generate_with_llm"):
        response = api.post(path, json={"start_word": "Zyxquorblat", "length": 4, "seed": 0})
        assert response.status_code == 200, (path, response.text)
        assert response.json()["generated_text"].startswith("Zyxquorblat")
