"""Persona authentication on the shared engine, with fast stand-in agents."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import convenv
from convenv.authentication_metrics import (
    accuracy_at,
    calibrate_threshold,
    equal_error_rate,
    roc_auc,
)
from convenv.env import PersonaInterviewEnv
from convenv.errors import InvalidArgumentError
from convenv.impostors import ImpostorDesign
from convenv.statistics import clustered_bootstrap, difference_of, mean_of
from convenv.tasks.authentication import CLAIM_SLOTS
from convenv.vec_env import BatchedDialogVecEnv

PERSONAS = [
    ("i have a dog.", "i work as a nurse.", "i love pizza.", "i play guitar.", "i am married."),
    ("i have a cat.", "i am a teacher.", "i like sushi.", "i listen to jazz.", "i am single."),
    ("i have two kids.", "i drive a truck.", "i love tacos.", "i watch horror movies."),
    ("i travel a lot.", "i am retired.", "i grow tomatoes.", "i vote green."),
]


def auth_env(stub_env_kwargs, **kwargs) -> PersonaInterviewEnv:
    kwargs = {"personas": PERSONAS, "max_turns": 4, **kwargs}
    return PersonaInterviewEnv(**stub_env_kwargs, task="authentication", **kwargs)


def test_ids_registered_and_checkers_pass(stub_env_kwargs):
    import warnings

    from gymnasium.utils.env_checker import check_env as gym_check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    assert {"convenv/PersonaAuthentication-v1", "convenv/PersonaAuthenticationEval-v1"} <= set(
        convenv.ENV_IDS
    )
    assert gym.spec("convenv/PersonaAuthenticationEval-v1").kwargs["split"] == "test"
    env = auth_env(stub_env_kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(env, skip_render_check=True)
        sb3_check_env(env, warn=True)


def test_genuine_rate_under_a_seed(stub_env_kwargs):
    for rate in (0.5, 0.2):
        env = auth_env(stub_env_kwargs, genuine_rate=rate, max_turns=1)
        genuine = []
        for seed in range(400):
            env.reset(seed=seed)
            genuine.append(env.episode.genuine)
        assert np.mean(genuine) == pytest.approx(rate, abs=0.07)
        again = auth_env(stub_env_kwargs, genuine_rate=rate, max_turns=1)
        replay = [again.reset(seed=s) and again.episode.genuine for s in range(400)]
        assert replay == genuine


@pytest.mark.parametrize("differ", [1, 2, 3])
def test_overlap_impostor_shares_and_differs_as_stated(differ):
    design = ImpostorDesign(genuine_rate=0.0, impostor="overlap", differ=differ)
    facts = sorted({f for p in PERSONAS for f in p})
    rng = np.random.default_rng(0)
    for claim in PERSONAS:
        for _ in range(20):
            partner, genuine = design.draw_partner(claim, PERSONAS, facts, rng)
            assert not genuine
            changed = min(differ, len(claim) - 1)
            assert sum(a == b for a, b in zip(partner, claim, strict=True)) == len(claim) - changed
            assert len(set(partner) - set(claim)) == changed  # replacements are new facts
            assert len(set(partner)) == len(partner)


def test_swap_impostor_replaces_facts_with_their_neighbours():
    claim = PERSONAS[0]
    facts = sorted({f for p in PERSONAS for f in p})
    # A hand-made "nearest": each fact's neighbours, a copy of a claimed fact first.
    near = {
        f: ["i'm married", *(g for g in facts if g != f and g[:6] == f[:6]), f"i own {i} hats."]
        for i, f in enumerate(claim)
    }
    design = ImpostorDesign(genuine_rate=0.0, impostor="swap", differ=2)
    rng = np.random.default_rng(3)
    for _ in range(30):
        partner, genuine = design.draw_partner(claim, PERSONAS, facts, rng, nearest=near.get)
        assert not genuine
        changed = [(a, b) for a, b in zip(claim, partner, strict=True) if a != b]
        assert len(changed) == 2
        for old, new in changed:
            assert new in near[old] and new not in claim
            assert new != "i'm married"  # "i am married." is claimed, in other words
        assert len(set(partner)) == len(partner)
    with pytest.raises(InvalidArgumentError, match="pass nearest="):
        design.draw_partner(claim, PERSONAS, facts, rng)
    with pytest.raises(InvalidArgumentError, match="found no fact near"):
        design.draw_partner(claim, PERSONAS, facts, rng, nearest=lambda fact: list(claim))


def test_swap_impostor_in_the_env_shares_the_topic(stub_env_kwargs):
    env = auth_env(stub_env_kwargs, genuine_rate=0.0, impostor="swap", differ=1)
    encoder = env.engine.identifier.encoder
    swapped, other = [], []
    for seed in range(40):
        env.reset(seed=seed)
        episode = env.episode
        ((old, new),) = [
            (a, b) for a, b in zip(episode.claim, episode.persona, strict=True) if a != b
        ]
        assert new in env.candidate_pool.nearest(old, encoder)
        vectors = encoder.encode([old, new, *episode.claim])
        swapped.append(vectors[0] @ vectors[1])
        other.append(
            np.mean([vectors[0] @ v for v in vectors[2:] if not np.allclose(v, vectors[0])])
        )
    # Nearer the fact it replaces than the claim's other facts are: the same topic.
    assert np.mean(swapped) > np.mean(other) + 0.1


def test_random_impostor_is_another_persona(stub_env_kwargs):
    env = auth_env(stub_env_kwargs, genuine_rate=0.0, impostor="random")
    for seed in range(30):
        env.reset(seed=seed)
        episode = env.episode
        assert episode.persona in PERSONAS and not set(episode.persona) & set(episode.claim)


def test_bad_design_values_name_the_argument(stub_env_kwargs):
    with pytest.raises(InvalidArgumentError, match=r"genuine_rate=1\.5"):
        auth_env(stub_env_kwargs, genuine_rate=1.5)
    with pytest.raises(InvalidArgumentError, match="impostor='twin'"):
        auth_env(stub_env_kwargs, impostor="twin")
    with pytest.raises(InvalidArgumentError, match="differ=0"):
        auth_env(stub_env_kwargs, differ=0)
    with pytest.raises(InvalidArgumentError, match="task='verify'"):
        PersonaInterviewEnv(**stub_env_kwargs, task="verify")
    env = auth_env(stub_env_kwargs)
    with pytest.raises(InvalidArgumentError, match="genuine"):
        env.reset(seed=0, options={"genuine": "yes"})


def test_truth_is_hidden_until_the_end(stub_env_kwargs):
    env = auth_env(stub_env_kwargs, genuine_rate=0.0, max_turns=3)
    _, info = env.reset(seed=1)
    assert "persona" not in info and info["claim"] == env.episode.claim
    for turn in range(3):
        _, _, terminated, _, info = env.step(turn)
        assert ("genuine" in info) == terminated and ("persona" in info) == terminated
    assert info["genuine"] is False and info["persona"] != env.episode.claim


def test_observation_changes_with_the_claim(stub_env_kwargs):
    env = auth_env(stub_env_kwargs)
    first, _ = env.reset(seed=0, options={"persona_index": 0})
    second, _ = env.reset(seed=0, options={"persona_index": 2})
    n = len(env.actions)
    topics = slice(0, CLAIM_SLOTS * n)
    assert not np.array_equal(first[topics], second[topics])
    mask = first[CLAIM_SLOTS * n : CLAIM_SLOTS * n + CLAIM_SLOTS]
    assert mask.tolist() == [1, 1, 1, 1, 1]
    mask = second[CLAIM_SLOTS * n : CLAIM_SLOTS * n + CLAIM_SLOTS]
    assert mask.tolist() == [1, 1, 1, 1, 0]  # four claimed facts
    # Before anything is said every claimed fact ties with the negatives: support 0.5.
    dialog = env.engine.dialog_slice()
    assert first[dialog][:CLAIM_SLOTS].tolist() == [0.5] * CLAIM_SLOTS
    # Each fact's topic row is a distribution over the codes.
    rows = first[topics].reshape(CLAIM_SLOTS, n)
    assert rows.sum(axis=1) == pytest.approx([1.0] * CLAIM_SLOTS, abs=1e-5)


def test_evidence_moves_support_for_genuine_and_not_for_impostors(stub_env_kwargs):
    # The echo partner states its own facts: a genuine partner supports its claim.
    env = auth_env(stub_env_kwargs, max_turns=4, impostor="random")
    finals = {True: [], False: []}
    for seed in range(40):
        env.reset(seed=seed)
        for a in range(4):
            *_, info = env.step(a)
        finals[info["genuine"]].append(info["metrics"]["auc"])
    # Bag-of-words stand-in: shared words like "i have a" blur it, but not much.
    assert np.mean(finals[True]) > np.mean(finals[False]) + 0.2
    scores = finals[True] + finals[False]
    assert roc_auc(scores, [True] * len(finals[True]) + [False] * len(finals[False])) > 0.85


@pytest.mark.parametrize("threshold", [0.5, 0.7])
@pytest.mark.parametrize("mode", ["delta", "terminal"])
def test_signed_rewards_sum_to_the_final_signed_support(stub_env_kwargs, mode, threshold):
    env = auth_env(stub_env_kwargs, reward_mode=mode, max_turns=4, threshold=threshold)
    signs = set()
    for seed in range(12):
        env.reset(seed=seed)
        total = 0.0
        for a in (0, 3, 5, 1):
            _, reward, _, _, info = env.step(a)
            total += reward
        sign = 1.0 if info["genuine"] else -1.0
        signs.add(sign)
        assert total == pytest.approx(sign * (info["metrics"]["auc"] - threshold))
    assert signs == {1.0, -1.0}


def test_same_seed_same_episode_in_single_and_vector_envs(stub_env_kwargs):
    single = auth_env(stub_env_kwargs, impostor="overlap")
    vec = BatchedDialogVecEnv(3, env=auth_env(stub_env_kwargs, impostor="overlap"))
    vec.seed(7)
    obs = vec.reset()
    alone = []
    for i in range(3):
        o, _ = single.reset(seed=7 + i)
        alone.append((o, single.episode.claim, single.episode.persona, single.episode.genuine))
    for i in range(3):
        assert np.array_equal(obs[i], alone[i][0])
        episode = vec.envs[i].episode
        assert (episode.claim, episode.persona, episode.genuine) == alone[i][1:]
    actions = np.array([[2, 5, 7], [1, 1, 4], [0, 9, 3], [6, 2, 2]])
    traces = [[] for _ in range(3)]
    for row in actions:
        o, r, _, infos = vec.step(row)
        for i in range(3):
            final = infos[i].get("terminal_observation")
            traces[i].append((final if final is not None else o[i], r[i]))
    for i in range(3):
        single.reset(seed=7 + i)
        for t, row in enumerate(actions):
            o, r, *_ = single.step(int(row[i]))
            assert np.array_equal(o, traces[i][t][0]) and r == traces[i][t][1]


def test_roc_auc_and_eer_against_scikit_learn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    for trial in range(50):
        genuine = rng.random(60) < 0.5
        scores = rng.integers(0, 4, 60) * 1.0 if trial % 2 else rng.random(60) + genuine * 0.3
        assert roc_auc(scores, genuine) == pytest.approx(roc_auc_score(genuine, scores))
    perfect = np.array([0.1, 0.2, 0.8, 0.9])
    truth = np.array([False, False, True, True])
    assert equal_error_rate(perfect, truth) == 0.0
    assert equal_error_rate(perfect, ~truth) == 1.0
    threshold = calibrate_threshold(perfect, truth)
    assert 0.2 < threshold < 0.8 and accuracy_at(perfect, truth, threshold) == 1.0
    # Chance scores: EER near 0.5.
    chance = rng.random(4000)
    assert equal_error_rate(chance, rng.random(4000) < 0.5) == pytest.approx(0.5, abs=0.04)


def test_clustered_intervals_are_wider_than_episode_intervals():
    # 40 personas × 8 episodes that share a per-persona offset: correlated episodes.
    rng = np.random.default_rng(0)
    clusters = np.repeat(np.arange(40), 8)
    values = rng.normal(size=40)[clusters] + 0.3 * rng.normal(size=clusters.size)
    _, low, high = clustered_bootstrap(mean_of(values), clusters)
    _, ep_low, ep_high = clustered_bootstrap(mean_of(values), np.arange(clusters.size))
    assert (high - low) > 1.8 * (ep_high - ep_low)
    # A paired difference of a policy with itself is exactly 0.
    assert clustered_bootstrap(difference_of(mean_of(values), mean_of(values)), clusters) == (
        0.0,
        0.0,
        0.0,
    )
