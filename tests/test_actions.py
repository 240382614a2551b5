import numpy as np
import pytest

from convenv.actions import DEFAULT_ACTIONS, ActionCode, ActionSet, as_action_set
from convenv.errors import InvalidArgumentError


def test_default_codes_are_personagpts_training_prompts():
    assert [a.prompt for a in DEFAULT_ACTIONS] == [
        "ask about kids.",
        "ask about pets.",
        "talk about work.",
        "ask about marital status.",
        "talk about travel.",
        "ask about age and gender.",
        "ask about hobbies.",
        "ask about favorite food.",
        "talk about movies.",
        "talk about music.",
        "talk about politics.",
    ]
    assert [a.label for a in DEFAULT_ACTIONS][:3] == [
        "ask about family",
        "ask about pets",
        "talk about work",
    ]


def test_custom_action_set_from_strings():
    actions = as_action_set(["ask about sports", "talk about books."])
    assert actions.prompts == ["ask about sports.", "talk about books."]
    assert actions.code(np.int64(1)).label == "talk about books"
    assert actions.index("ask about sports") == 0


def test_bad_actions_raise_clear_errors():
    actions = ActionSet()
    with pytest.raises(InvalidArgumentError, match=r"action=11 is out of range.*\[0, 10\]"):
        actions.code(11)
    with pytest.raises(InvalidArgumentError, match="not an integer"):
        actions.code("pets")
    with pytest.raises(InvalidArgumentError, match="out of range"):
        actions.code(1.5)
    with pytest.raises(InvalidArgumentError, match="duplicate"):
        ActionSet([ActionCode("a", "x."), ActionCode("b", "x.")])
    with pytest.raises(InvalidArgumentError, match="at least one"):
        ActionSet([])
    with pytest.raises(InvalidArgumentError, match="non-empty"):
        ActionCode("", "x.")
    with pytest.raises(InvalidArgumentError, match="single string"):
        as_action_set("ask about pets")
