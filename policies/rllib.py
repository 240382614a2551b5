"""A policy trained by RLlib (``convenv train --backend rllib``), as an ActionPolicy.

RLlib's own checkpoints are pickles (they can run code when loaded), so this adapter
reads what the trainer exports next to them instead: the policy network's weights as
safetensors and its model config as JSON. It rebuilds RLlib's default PPO module from
those and acts greedily. A module already in memory (a checkpoint you trust and
restored yourself) can be wrapped with :meth:`RLlibPolicy.from_module`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from convenv.errors import InvalidArgumentError
from convenv.policies.base import ActionPolicy

POLICY_WEIGHTS = "policy.safetensors"
POLICY_SPEC = "policy.json"
# Classes this adapter may rebuild; a JSON file never names code to import freely.
KNOWN_MODULES = {
    "ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module.DefaultPPOTorchRLModule",
}


def is_rllib_run(path: str | Path) -> bool:
    """Whether ``path`` is a run directory written by ``convenv train --backend rllib``."""
    return (Path(path) / POLICY_SPEC).is_file() and (Path(path) / POLICY_WEIGHTS).is_file()


class RLlibPolicy(ActionPolicy):
    """Greedy actions of an RLlib RLModule (the argmax of its action logits)."""

    def __init__(self, module, name: str = "rllib") -> None:
        self.module = module
        self.name = name

    @classmethod
    def from_module(cls, module, name: str = "rllib") -> RLlibPolicy:
        return cls(module, name)

    @classmethod
    def load(cls, path: str | Path, observation_size: int | None = None) -> RLlibPolicy:
        """Rebuild the policy exported in run directory ``path``; ``observation_size``
        (the env's) is checked against the network's input."""
        from gymnasium.spaces import Box, Discrete

        from convenv.ray_support import require_ray

        directory = Path(path)
        if not is_rllib_run(directory):
            raise InvalidArgumentError(
                f"policy {str(path)!r} is not a run directory of convenv train --backend "
                f"rllib (it needs {POLICY_SPEC} and {POLICY_WEIGHTS}); RLlib's pickled "
                "checkpoints are not loaded here: restore one you trust yourself and wrap "
                "its module with RLlibPolicy.from_module."
            )
        spec = json.loads((directory / POLICY_SPEC).read_text())
        if spec.get("module_class") not in KNOWN_MODULES:
            raise InvalidArgumentError(
                f"{directory / POLICY_SPEC} names module {spec.get('module_class')!r}; "
                f"this adapter rebuilds {sorted(KNOWN_MODULES)} only."
            )
        size, n_actions = int(spec["observation_size"]), int(spec["n_actions"])
        if observation_size is not None and observation_size != size:
            raise InvalidArgumentError(
                f"policy {str(path)!r} reads observations of size {size}, the env gives "
                f"{observation_size}; use the env settings it was trained with."
            )
        modules = require_ray(
            "ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module", "An RLlib policy"
        )
        from safetensors.torch import load_file

        module = modules.DefaultPPOTorchRLModule(
            observation_space=Box(-np.inf, np.inf, (size,), np.float32),
            action_space=Discrete(n_actions),
            model_config=spec.get("model_config") or {},
            inference_only=bool(spec.get("inference_only", False)),
        )
        module.load_state_dict(load_file(str(directory / POLICY_WEIGHTS)))
        module.eval()
        return cls(module, name=f"rllib:{directory.name}")

    def act(self, observations: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = self.module.forward_inference(
                {"obs": torch.as_tensor(np.asarray(observations, np.float32))}
            )
        return out["action_dist_inputs"].argmax(dim=-1).cpu().numpy().astype(np.int64)
