"""Each shipped card carries its notes file (docs/card_notes/<name>.md) word for word: the
packaging command a card quotes passes that file with --notes, so a note edited in one place
and not the other would make the card disagree with what re-packaging writes."""

import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
NOTES = sorted(p for p in (REPO / "docs" / "card_notes").glob("*.md") if p.stem != "README")


def test_every_shipped_model_has_a_notes_file():
    shipped = {p.parent.name for p in (REPO / "models").glob("*/MODEL_CARD.md")}
    assert shipped == {p.stem for p in NOTES}


@pytest.mark.parametrize("notes", NOTES, ids=[p.stem for p in NOTES])
def test_the_card_holds_its_notes_word_for_word(notes):
    card = (REPO / "models" / notes.stem / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert notes.read_text(encoding="utf-8").strip() in card, (
        f"models/{notes.stem}/MODEL_CARD.md lacks the text of {notes.relative_to(REPO)}: copy "
        "the edit into the card, or re-package with --notes"
    )
    assert f"--notes docs/card_notes/{notes.name}" in card
