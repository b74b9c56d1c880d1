"""The mutation list still fits the code: a refactor that moves a mutated line fails here at
once (in `make test`), not silently in `make mutation-check`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mutation.run import Edit, Mutation, MutationError, apply_edit, load, validate


def test_every_mutation_applies_exactly_once_and_names_existing_tests() -> None:
    mutations = load()
    assert mutations, "the mutation list is empty"
    validate(mutations)  # raises, naming the mutation, if one no longer applies


def test_an_edit_must_match_exactly_once() -> None:
    text = "a = 1\nb = 1\n"
    assert apply_edit(text, Edit("f.py", "a = 1", "a = 2")) == "a = 2\nb = 1\n"
    assert apply_edit(text, Edit("f.py", r"^b = (\d)$", r"b = \1\1", regex=True)) == "a = 1\nb = 11\n"
    for find, regex in (("c = 1", False), ("= 1", False), (r"^\w = 1$", True)):
        with pytest.raises(MutationError, match="not exactly once"):
            apply_edit(text, Edit("f.py", find, "x", regex=regex))
    with pytest.raises(MutationError, match="changes nothing"):
        apply_edit(text, Edit("f.py", "a = 1", "a = 1"))


def test_a_mutant_that_does_not_compile_or_a_missing_test_is_refused(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def f():\n    return 1\n")
    (tmp_path / "test_m.py").write_text("def test_f():\n    pass\n")
    broken = Mutation("broken", "", ("test_m.py::test_f",), (Edit("m.py", "return 1", "return ("),))
    with pytest.raises(MutationError, match="does not compile"):
        validate([broken], tmp_path)
    missing = Mutation("missing", "", ("test_m.py::test_g",), (Edit("m.py", "1", "2"),))
    with pytest.raises(MutationError, match="has no test test_g"):
        validate([missing], tmp_path)
    validate([Mutation("fine", "", ("test_m.py::test_f",), (Edit("m.py", "1", "2"),))], tmp_path)
