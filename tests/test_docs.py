"""The README and docs say what the code does: lists and widths come from the code."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def test_the_readme_lists_the_registered_policies():
    from convenv.policies.registry import policy_markdown

    start = README.index("<!-- policies:")
    body = README[README.index("\n", start) + 1 : README.index("<!-- end of policies -->")]
    assert body.strip() == policy_markdown()


def test_the_readme_and_docs_give_the_observation_widths_the_env_has():
    from convenv.actions import ActionSet
    from convenv.tasks.authentication import claim_layout
    from convenv.testing import HashingEncoder

    codes = len(ActionSet())
    authentication = claim_layout(codes)["width"].stop
    identification = 384 + 2 * codes + 1  # MiniLM's 384-wide embedding
    assert f"Box(-1, 1, ({identification},))" in README
    assert f"Box(-1, 1, ({authentication},))" in README
    env_doc = (REPO / "docs" / "env.md").read_text()
    assert f"{identification} wide" in env_doc and f"{authentication} wide" in env_doc
    # An env (on the stand-in encoder) has the widths the layout gives.
    from convenv.testing import stub_env

    assert stub_env("authentication").observation_space.shape == (authentication,)
    assert stub_env().observation_space.shape == (HashingEncoder.dim + 2 * codes + 1,)


def test_the_readme_is_a_front_door():
    assert len(README.splitlines()) <= 200
    commands = re.findall(r"^make (\w+)", README, flags=re.MULTILINE)
    assert commands[:2] == ["run", "test"]


def test_every_doc_page_the_readme_links_exists():
    for link in re.findall(r"\]\(((?:docs/)?[\w./-]+\.md)\)", README):
        assert (REPO / link).exists(), link
