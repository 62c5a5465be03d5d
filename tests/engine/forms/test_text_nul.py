"""Text that no database can store is refused by the form, with its field."""

import pytest


def test_a_nul_character_in_text_is_refused_with_its_field():
    """PostgreSQL cannot store NUL in text: the form refuses it before anything is written."""
    from engine.definitions.loader import load_definition
    from engine.errors import FormError
    from engine.specs import compile_app

    loaded = load_definition(
        {
            "app": "nul",
            "name": "NUL",
            "ticket_types": {
                "t": {"name": "T", "form": {"sections": [{"fields": [{"key": "note", "type": "text"}]}]}}
            },
        }
    )
    form = compile_app(loaded.app).types["t"].form
    with pytest.raises(FormError) as refused:
        form.validate({"note": "a\x00b"})
    assert [(p.path, p.code) for p in refused.value.problems] == [("note", "field.nul")]
    assert form.validate({"note": "a b"}) == {"note": "a b"}
