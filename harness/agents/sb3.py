"""Stable-Baselines3 arms: typed configs with SB3's names and defaults, and a thin adapter.

A hyperparameter that SB3's algorithms share with our TD3 is defined once, in
``custom_td3.TD3Config`` (help, accepted values, check and default; our TD3's defaults are SB3
TD3's): the configs here take those fields through ``ours()``, so both sides read and validate
one configuration the same way. Only what SB3 alone has (OU noise, entropy settings, CrossQ's
batch normalization...) is declared here.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import io
import random
import types
import typing
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import KVWriter, Logger
from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.utils import LinearSchedule

from custom_td3 import TD3Config as OurTD3Config
from custom_td3.networks import ACTIVATION_CLASSES
from custom_td3.serialization import safe_load
from harness.agents.base import StepCallback
from harness.agents.precision import autocast, fp32_between_products
from harness.config import yamlio
from harness.config.schema import build_config, fields_of, hp

_OURS = {f.name: f for f in dataclasses.fields(OurTD3Config)}


def ours(name: str, default: Any = dataclasses.MISSING, *, policy_kwarg: bool = False) -> Any:
    """Our TD3's field ``name`` (help, accepted values, check, default) as a field of an SB3 config;
    ``default`` where the SB3 algorithm's own default differs; ``policy_kwarg`` if SB3 takes it
    through ``policy_kwargs``."""
    f = _OURS[name]
    return dataclasses.field(
        default=f.default if default is dataclasses.MISSING else default,
        metadata={**f.metadata, "policy_kwarg": policy_kwarg},
    )


@dataclass(frozen=True)
class OffPolicyCore:
    """Hyperparameters every SB3 off-policy algorithm takes; defaults are SB3's own."""

    learning_rate: float = ours("learning_rate")
    lr_schedule: str = ours("lr_schedule")
    buffer_size: int = ours("buffer_size")
    learning_starts: int = ours("learning_starts")
    batch_size: int = ours("batch_size")
    gamma: float = ours("gamma")
    train_freq: int = ours("train_freq")
    train_freq_unit: str = ours("train_freq_unit")
    gradient_steps: int = ours("gradient_steps")
    n_steps: int = ours("n_steps")
    noise_type: str | None = hp(
        None, "Exploration noise added to the actor's action", choices=(None, "normal", "ornstein-uhlenbeck")
    )
    noise_std: float = hp(
        0.1,
        "Std of the exploration noise, in units of the normalized action",
        low=0,
        acts_when=("noise_type", lambda v: v is not None, "action noise is on (noise_type not null)"),
    )
    activation_fn: str = ours("activation_fn", policy_kwarg=True)


@dataclass(frozen=True)
class OffPolicyConfig(OffPolicyCore):
    """The actor-critics with target networks and one shared hidden-layer list (TD3, DDPG, SAC, TQC)."""

    tau: float = ours("tau")
    net_arch: tuple[int, ...] = ours("net_arch", policy_kwarg=True)


@dataclass(frozen=True)
class SB3TD3Config(OffPolicyConfig):
    """SB3 TD3: adds the three tricks of Fujimoto et al. (2018)."""

    policy_delay: int = ours("policy_delay")
    target_policy_noise: float = ours("target_policy_noise")
    target_noise_clip: float = ours("target_noise_clip")


@dataclass(frozen=True)
class SB3DDPGConfig(OffPolicyConfig):
    """SB3 DDPG: TD3 with one critic update per actor update and no target smoothing."""


def _entropy_setting(v: Any) -> bool:
    """SAC's ent_coef / target_entropy: 'auto', 'auto_<initial>' or a number."""
    if isinstance(v, str):
        head, sep, tail = v.partition("_")
        if head != "auto":
            return False
        try:
            return not sep or float(tail) > 0
        except ValueError:
            return False
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass(frozen=True)
class MaxEntropyFields:
    """The entropy and exploration settings of SAC and the methods built on it (TQC, CrossQ)."""

    ent_coef: str | float = hp(
        "auto",
        "Entropy coefficient: 'auto' (learned), 'auto_<initial>' or a fixed number",
        predicate=_entropy_setting,
        accepted_text="'auto', 'auto_<float>' or a number",
    )
    target_entropy: str | float = hp(
        "auto",
        "Entropy target when ent_coef is learned: 'auto' is -dim(action)",
        predicate=_entropy_setting,
        accepted_text="'auto' or a number",
    )
    use_sde: bool = hp(
        False, "Generalized state-dependent exploration instead of independent noise", choices=(False, True)
    )
    sde_sample_freq: int = hp(
        -1, "With use_sde: resample the noise matrix every N steps (-1: per rollout)", low=1, also=(-1,)
    )
    use_sde_at_warmup: bool = hp(
        False, "Use gSDE instead of uniform actions before learning starts", choices=(False, True)
    )
    log_std_init: float = hp(-3.0, "Initial log standard deviation of the policy", policy_kwarg=True)
    use_expln: bool = hp(
        False, "With use_sde: expln instead of exp to keep the std positive", choices=(False, True), policy_kwarg=True
    )


@dataclass(frozen=True)
class SB3SACConfig(MaxEntropyFields, OffPolicyConfig):
    """SB3 SAC: a stochastic actor with entropy regularization (Haarnoja et al. 2018); SB3's defaults."""

    learning_rate: float = ours("learning_rate", 3e-4)
    net_arch: tuple[int, ...] = ours("net_arch", (256, 256), policy_kwarg=True)
    target_update_interval: int = hp(1, "Gradient steps between target network updates", low=1)


@dataclass(frozen=True)
class SB3TQCConfig(SB3SACConfig):
    """sb3-contrib TQC: SAC with distributional critics and the top quantiles dropped (Kuznetsov et al. 2020)."""

    top_quantiles_to_drop_per_net: int = hp(2, "Quantiles dropped per critic from the target", low=0)
    n_quantiles: int = hp(25, "Quantiles per critic", low=1, policy_kwarg=True)
    n_critics: int = hp(2, "Number of critics", low=1, policy_kwarg=True)


@dataclass(frozen=True)
class SB3CrossQConfig(MaxEntropyFields, OffPolicyCore):
    """sb3-contrib CrossQ (Bhatt et al. 2024): SAC without target networks, with batch-normalized
    critics evaluated on (s, a) and (s', a') in one joint batch; sb3-contrib's defaults.

    Actor and critic widths differ (wide critics are the point), so ``net_arch`` is compound:
    ``net_arch: {pi: [256, 256], qf: [1024, 1024]}`` as rl-zoo3 writes it, or one list for both.
    """

    COMPOUND: ClassVar[dict[str, dict[str, str]]] = {"net_arch": {"pi": "net_arch_pi", "qf": "net_arch_qf"}}

    net_arch_pi: tuple[int, ...] = hp(
        (256, 256), "Actor hidden layer sizes (net_arch: {pi: ...})", low=1, policy_kwarg=True
    )
    net_arch_qf: tuple[int, ...] = hp(
        (1024, 1024), "Critic hidden layer sizes (net_arch: {qf: ...})", low=1, policy_kwarg=True
    )
    policy_delay: int = hp(3, "Critic updates per actor update", low=1)
    n_critics: int = hp(2, "Number of critics", low=1, policy_kwarg=True)
    batch_norm: bool = hp(True, "Batch Renormalization in actor and critics", choices=(True, False), policy_kwarg=True)
    batch_norm_momentum: float = hp(0.01, "Momentum of the running statistics", low=0, high=1, policy_kwarg=True)
    batch_norm_eps: float = hp(1e-3, "Epsilon of the normalization", low=0, low_open=True, policy_kwarg=True)
    renorm_warmup_steps: int = hp(
        100_000, "Updates before Batch Renormalization's corrections are fully on", low=0, policy_kwarg=True
    )


def sb3_kwargs(config: OffPolicyCore, action_space: gym.Space[Any]) -> dict[str, Any]:
    """The keyword arguments for the SB3 algorithm's constructor, from a typed config."""
    values: dict[str, Any] = {}
    policy_kwargs: dict[str, Any] = {}
    for name, (f, _) in fields_of(type(config)).items():
        value = getattr(config, name)
        if f.metadata.get("policy_kwarg"):
            policy_kwargs[name] = value
        else:
            values[name] = value
    if "net_arch_pi" in policy_kwargs:  # compound widths (CrossQ): SB3's dict form
        policy_kwargs["net_arch"] = {
            "pi": list(policy_kwargs.pop("net_arch_pi")),
            "qf": list(policy_kwargs.pop("net_arch_qf")),
        }
    else:
        policy_kwargs["net_arch"] = list(policy_kwargs["net_arch"])
    policy_kwargs["activation_fn"] = ACTIVATION_CLASSES[policy_kwargs["activation_fn"]]
    if values.pop("lr_schedule") == "linear":
        values["learning_rate"] = LinearSchedule(values["learning_rate"], 0.0, 1.0)
    unit = values.pop("train_freq_unit")
    values["train_freq"] = (values["train_freq"], unit)
    noise_type, std = values.pop("noise_type"), values.pop("noise_std")
    values["action_noise"] = _action_noise(noise_type, std, action_space)
    values["policy_kwargs"] = policy_kwargs
    return values


class _Bridge(BaseCallback):
    """SB3 callback that forwards every env step to the harness's StepCallback, and with a harness
    logger (``every`` updates) dumps SB3's logger once every that many gradient updates."""

    def __init__(self, callback: StepCallback, every: int | None = None):
        super().__init__()
        self._callback = callback
        self._every = every
        self._logged = -1

    def _on_step(self) -> bool:
        if self._every is not None:
            mark = int(getattr(self.model, "_n_updates", 0)) // self._every
            if mark > self._logged:
                if self._logged >= 0:
                    self.model.logger.dump(self.model.num_timesteps)
                self._logged = mark
        return bool(self._callback(self.model.num_timesteps))


def _first(q: Any) -> torch.Tensor:
    return q[0]


def _smallest(q: Any) -> torch.Tensor:
    return torch.min(torch.cat(q, dim=1), dim=1, keepdim=True).values


def _quantile_mean(q: torch.Tensor) -> torch.Tensor:
    return q.mean(dim=(1, 2)).unsqueeze(1)


#: Per algorithm (class name): how its critic's output becomes the one estimate its actor ascends,
#: and what that estimate is. SAC, TQC and CrossQ learn a soft Q: the expected return of the
#: stochastic policy plus the discounted entropy bonuses -alpha log pi of the steps after (s, a).
CRITIC_ESTIMATES: dict[str, tuple[Callable[[Any], torch.Tensor], str]] = {
    "TD3": (_first, "Q: the first of the twin critics, the one the actor ascends"),
    "DDPG": (_first, "Q: the one critic"),
    "SAC": (_smallest, "soft Q (return plus later entropy bonuses): min of the twin critics"),
    "TQC": (_quantile_mean, "soft Q (return plus later entropy bonuses): mean of all critics' quantiles"),
    "CrossQ": (_smallest, "soft Q (return plus later entropy bonuses): min of the critics, batch norm in eval mode"),
}


class _Forward(KVWriter):
    """An output of SB3's logger: its ``train/*`` scalars, under their own names, to the harness's
    logger, with the minibatch mean Q and the exploration noise SB3 does not log."""

    def __init__(self, agent: SB3Agent, logger: Any):
        self.agent, self.logger = agent, logger

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, tuple[str, ...]], step: int = 0) -> None:
        scalars = {
            k: v
            for k, v in key_values.items()
            if k.startswith("train/") and isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
        }
        if scalars:  # a dump after learning started
            scalars.update(self.agent.exploration_scalars())
        for tag, value in scalars.items():
            self.logger.record(tag, float(value), step)

    def close(self) -> None:
        pass


#: What the adapter sets on an SB3 model that its saves must leave out: the update at a precision.
SAVE_EXCLUDE = ["train"]


class SB3Agent:
    """Adapter from an SB3 algorithm to the harness's Agent contract."""

    #: A resumed SB3 run starts a new episode (SB3 saves no env state) and does not store the
    #: transition of the checkpoint's step: a valid run of its spec, not bit-identical to an
    #: uninterrupted one (check-agent checks that it continues, not that it is identical).
    resumes_exactly = False

    def __init__(self, model: BaseAlgorithm):
        self.model = model
        self._logger: Any = None
        self.precision = "fp32"
        # Minibatches for the logged mean Q: drawn from their own generator, so logging leaves
        # the global RNG SB3 samples from (and so training) untouched.
        self._log_rng = np.random.default_rng(0)
        self._reduce, self.critic_estimate = CRITIC_ESTIMATES.get(type(model).__name__, CRITIC_ESTIMATES["TD3"])

    def q_value(self, observations: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """The critic's estimate (``critic_estimate``) for a batch: observations (N, obs_dim) and
        env-scaled actions (N, act_dim) -> (N,), in evaluation mode (batch norm's running statistics)."""
        policy = self.model.policy
        obs, _ = policy.obs_to_tensor(np.asarray(observations, dtype=np.float32))
        scaled = policy.scale_action(np.asarray(actions, dtype=np.float32))
        return self._critic(obs, torch.as_tensor(scaled, dtype=torch.float32, device=policy.device))

    def _critic(self, obs: Any, actions: torch.Tensor) -> np.ndarray:
        policy = self.model.policy
        was_training = policy.training
        policy.set_training_mode(False)
        try:
            with torch.no_grad():
                critic: Any = policy.critic
                q = self._reduce(critic(obs, actions))
        finally:
            policy.set_training_mode(was_training)
        result: np.ndarray = q.reshape(-1).cpu().numpy()
        return result

    def set_logger(self, logger: Any) -> None:
        """Send SB3's training scalars to ``logger`` once every ``logger.every`` gradient updates."""
        self._logger = logger
        self.model.set_logger(Logger(folder=None, output_formats=[_Forward(self, logger)]))

    def exploration_scalars(self) -> dict[str, float]:
        """Mean Q of a replay minibatch (``train/q_mean``) and the action-noise std, where they exist."""
        out: dict[str, float] = {}
        model: Any = self.model  # an off-policy algorithm has a replay buffer; others have none
        buffer = getattr(model, "replay_buffer", None)
        size = buffer.buffer_size if buffer is not None and buffer.full else (buffer.pos if buffer else 0)
        if buffer is not None and size > 0:
            indices = self._log_rng.integers(0, size, size=min(size, int(model.batch_size)))
            data = buffer._get_samples(indices)  # SB3's own sampler, without its global-RNG draw
            out["train/q_mean"] = float(self._critic(data.observations, data.actions).mean())
        sigma = getattr(getattr(model, "action_noise", None), "_sigma", None)
        if sigma is not None:
            out["rollout/noise_std"] = float(np.mean(sigma))
        return out

    @classmethod
    def build(
        cls, algo_cls: type[BaseAlgorithm], env: gym.Env, config: Any, seed: int, device: str, kwargs: dict[str, Any]
    ) -> SB3Agent:
        return cls(algo_cls("MlpPolicy", env, seed=seed, device=device, verbose=0, **kwargs))

    @property
    def num_timesteps(self) -> int:
        return int(self.model.num_timesteps)

    @property
    def num_updates(self) -> int:
        return int(getattr(self.model, "_n_updates", 0))

    def learn(self, total_steps: int, callback: StepCallback) -> None:
        remaining = total_steps - self.model.num_timesteps
        if remaining > 0:
            if self._logger is None and not self.model._custom_logger:
                # SB3's default logger makes a folder under /tmp for every learn(); the harness keeps its own records
                self.model.set_logger(Logger(folder=None, output_formats=[]))
            every = getattr(self._logger, "every", None)
            self.model.learn(
                remaining,
                callback=_Bridge(callback, every),
                reset_num_timesteps=False,
                progress_bar=False,
                # With a harness logger _Bridge dumps every N updates; SB3 reads None as "never" here.
                log_interval=4 if every is None else None,  # type: ignore[arg-type]
            )

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """SB3's ``policy.predict`` for one observation, without its checks for vectorized, image and dict
        observations when the observation space is a flat Box, and switching the policy to evaluation
        mode only when training switched it out (the same actions, tested): evaluation acts through here
        tens of thousands of times a run."""
        policy: Any = self.model.policy
        space = policy.observation_space
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1 or np.asarray(obs).shape != space.shape:
            action, _ = self.model.predict(obs, deterministic=deterministic)
            return action
        if policy.training:  # every module of the policy is visited: only when train() switched it on
            policy.set_training_mode(False)
        with torch.no_grad():
            tensor = torch.as_tensor(np.asarray(obs), device=policy.device).reshape(1, -1)
            out = policy._predict(tensor, deterministic=deterministic)
        actions = out.cpu().numpy().reshape(policy.action_space.shape)
        if policy.squash_output:
            return policy.unscale_action(actions)
        return np.clip(actions, policy.action_space.low, policy.action_space.high)

    def set_precision(self, precision: str) -> None:
        """Run SB3's gradient updates (its ``train``) at ``precision`` (harness.run.precision: bf16 matrix
        products, fp32 weights and optimizer state); acting stays fp32."""
        self.precision = precision
        model: Any = self.model
        model.__dict__.pop("train", None)
        for handle in getattr(self, "_precision_hooks", []):
            handle.remove()
        self._precision_hooks = []
        if precision == "fp32":
            return
        self._precision_hooks = fp32_between_products(model.policy)
        train = type(model).train.__get__(model)

        def train_at(*args: Any, **kwargs: Any) -> Any:
            with autocast(precision, model.device):
                return train(*args, **kwargs)

        model.train = train_at  # an instance attribute, left out of every save (SAVE_EXCLUDE)

    def save(self, path: Path) -> Path:
        path = Path(path).with_suffix(".zip")
        self.model.save(path, exclude=SAVE_EXCLUDE)
        return path

    def load_policy_weights(self, path: Path) -> None:
        """The policy's tensors from an SB3 model zip (its ``policy.pth``), loaded with weights_only."""
        try:
            with zipfile.ZipFile(path) as archive:
                data = archive.read("policy.pth")
        except (zipfile.BadZipFile, KeyError) as exc:
            raise ValueError(f"not an SB3 model zip with policy.pth ({exc})") from None
        state = safe_load(io.BytesIO(data), map_location=self.model.device)
        self.model.policy.load_state_dict(state)

    @property
    def at_episode_boundary(self) -> bool:
        """Always: SB3 restarts the episode on resume anyway (its env state is not saved)."""
        return True

    def diagnose(self) -> str | None:
        """None if every network parameter (and the last logged loss, if any) is finite."""
        logger = getattr(self.model, "_logger", None)  # set once learning has started
        for key in ("train/critic_loss", "train/actor_loss"):
            value = logger.name_to_value.get(key) if logger is not None else None
            if value is not None and not np.isfinite(value):
                return f"{key.split('/')[1]} is {value} at update {self.num_updates}"
        for name, param in self.model.policy.named_parameters():
            if not torch.isfinite(param).all():
                return f"parameter {name} is not finite at update {self.num_updates}"
        return None

    def state_dict(self) -> dict[str, Any]:
        """The model (networks, optimizers, counters, noise), its replay buffer, and the global RNG
        states SB3 draws from. Resuming restarts the current episode (SB3 does not save env state)."""
        model, buffer = io.BytesIO(), io.BytesIO()
        self.model.save(model, exclude=SAVE_EXCLUDE)
        if isinstance(self.model, OffPolicyAlgorithm):
            self.model.save_replay_buffer(buffer)
        return {
            "model": model.getvalue(),
            "replay_buffer": buffer.getvalue(),
            "rng": {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        algo_cls, env, device = type(self.model), self.model.get_env(), self.model.device
        self.model = algo_cls.load(io.BytesIO(state["model"]), env=env, device=device)
        if isinstance(self.model, OffPolicyAlgorithm):
            self.model.load_replay_buffer(io.BytesIO(state["replay_buffer"]))
        if self._logger is not None:
            self.set_logger(self._logger)
        self.set_precision(self.precision)
        random.setstate(state["rng"]["python"])
        np.random.set_state(state["rng"]["numpy"])
        torch.set_rng_state(state["rng"]["torch"])


def builder(
    algo_cls: type[BaseAlgorithm], kwargs: Callable[[Any, gym.Space[Any]], dict[str, Any]] = sb3_kwargs
) -> Callable[[gym.Env, Any, int, str], SB3Agent]:
    """A function building a new ``algo_cls`` learner from a typed config, as an Agent; ``kwargs``
    turns the config into the constructor's keyword arguments."""

    def build(env: gym.Env, config: Any, seed: int, device: str) -> SB3Agent:
        return SB3Agent.build(algo_cls, env, config, seed, device, kwargs(config, env.action_space))

    return build


def loader(
    algo_cls: type[BaseAlgorithm],
    config_cls: type,
    kwargs: Callable[[Any, gym.Space[Any]], dict[str, Any]] = sb3_kwargs,
) -> Callable[[Path, gym.Env, str], SB3Agent]:
    """A function loading a saved SB3 model of ``algo_cls`` as an Agent, for acting, without
    unpickling anything: SB3's own loader unpickles the zip's ``data`` (code may run), so the model is
    rebuilt from the run's recorded ``config.yml`` beside the file and only the policy's tensors are
    read from the zip, with ``torch.load(weights_only=True)``."""

    def load(path: Path, env: gym.Env, device: str) -> SB3Agent:
        path = Path(path)
        recorded = path.parent / "config.yml"
        if not recorded.is_file():
            raise ValueError(
                f"no config.yml beside {path.name}: an SB3 model is rebuilt from its run's recorded "
                "hyperparameters and only its weights are read from the file"
            )
        config: Any = build_config(config_cls, yamlio.load_file(recorded), str(recorded))
        agent = SB3Agent.build(algo_cls, env, config, 0, device, kwargs(config, env.action_space))
        agent.load_policy_weights(path)
        return agent

    return load


# ---------------------------------------------------------------- any SB3 algorithm class
#: Constructor arguments that are not hyperparameters (the harness sets them) or are objects.
NOT_HYPERPARAMETERS = frozenset(
    (
        "self",
        "policy",
        "env",
        "seed",
        "device",
        "verbose",
        "tensorboard_log",
        "_init_setup_model",
        "stats_window_size",
        "action_noise",
        "replay_buffer_class",
        "replay_buffer_kwargs",
        "rollout_buffer_class",
        "rollout_buffer_kwargs",
        "policy_kwargs",
    )
)
_PLAIN = (bool, int, float, str, type(None))


def _plain_type(annotation: Any, default: Any) -> Any:
    """The part of a constructor argument's annotation that YAML can express (bool, int, float,
    str, None), as one type; None when none of it can, or the default is not of it."""
    args = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else ()
    kinds = tuple(a for a in (args or (annotation,)) if a in _PLAIN)
    if not kinds and annotation is inspect.Parameter.empty and type(default) in _PLAIN:
        kinds = (type(default),)
    if type(default) not in kinds and not (type(default) is int and float in kinds):
        return None
    return functools.reduce(lambda a, b: a | b, kinds) if len(kinds) > 1 else kinds[0]


@functools.cache
def derived_config(algo_cls: type[BaseAlgorithm]) -> type:
    """A typed config for any SB3 algorithm class: each constructor keyword argument with a plain
    default (SB3's own), plus ``net_arch`` (through ``policy_kwargs``; null: the policy's default)
    and, where the algorithm takes ``action_noise``, ``noise_type``/``noise_std`` as the
    built-in SB3 arms have them. Instances pickle by the algorithm's import path, so run specs
    travel to worker processes."""
    specs: list[tuple[str, Any, Any]] = []
    seen: set[str] = set()
    for klass in algo_cls.__mro__:  # a subclass taking **kwargs passes them on to its base's __init__
        if "__init__" not in vars(klass):
            continue
        signature = inspect.signature(klass.__init__)  # type: ignore[misc]
        try:
            hints = typing.get_type_hints(klass.__init__)  # type: ignore[misc]
        except Exception:  # an annotation that does not resolve: judge by the defaults
            hints = {}
        for name, p in signature.parameters.items():
            if name in seen:
                continue
            seen.add(name)
            if name in NOT_HYPERPARAMETERS or p.default is inspect.Parameter.empty:
                continue
            annotation = hints.get(name, p.annotation)
            tp = _plain_type(inspect.Parameter.empty if isinstance(annotation, str) else annotation, p.default)
            if tp is not None and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                meta = {"help": f"{klass.__name__}(..., {name}=...), its default", "policy_kwarg": False}
                specs.append((name, tp, dataclasses.field(default=p.default, metadata=meta)))
        if not any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
            break
    specs.append(
        (
            "net_arch",
            tuple[int, ...] | None,
            hp(None, "Hidden layer sizes (policy_kwargs net_arch); null: the policy's default", low=1, also=(None,)),
        )
    )
    if "action_noise" in seen:
        core = {f.name: f for f in dataclasses.fields(OffPolicyCore)}
        for name in ("noise_type", "noise_std"):
            specs.append(
                (name, core[name].type, dataclasses.field(default=core[name].default, metadata=core[name].metadata))
            )
    path = f"{algo_cls.__module__}:{algo_cls.__qualname__}"
    cls = dataclasses.make_dataclass(
        f"{algo_cls.__name__}Config",
        specs,
        frozen=True,
        namespace={
            "__doc__": f"The keyword arguments of {path}'s constructor, as hyperparameters.",
            "__reduce__": lambda self: (_rebuild_config, (path, dataclasses.asdict(self))),
        },
    )
    cls.__module__ = __name__
    return cls


def _rebuild_config(path: str, values: dict[str, Any]) -> Any:
    """Unpickle a derived config: the algorithm class named by ``path``, its config, the values."""
    module, _, qualname = path.partition(":")
    algo_cls = functools.reduce(getattr, qualname.split("."), importlib.import_module(module))
    return derived_config(algo_cls)(**values)


def derived_kwargs(config: Any, action_space: gym.Space[Any]) -> dict[str, Any]:
    """The constructor's keyword arguments from a ``derived_config`` instance."""
    values = dataclasses.asdict(config)
    net_arch = values.pop("net_arch")
    values["policy_kwargs"] = {"net_arch": list(net_arch)} if net_arch is not None else None
    if "noise_type" in values:
        noise_type, std = values.pop("noise_type"), values.pop("noise_std")
        values["action_noise"] = _action_noise(noise_type, std, action_space)
    return values


def _action_noise(noise_type: str | None, std: float, action_space: gym.Space[Any]) -> Any:
    n = int(np.prod(action_space.shape or (1,)))
    noise_cls = {None: None, "normal": NormalActionNoise, "ornstein-uhlenbeck": OrnsteinUhlenbeckActionNoise}[
        noise_type
    ]
    return noise_cls(mean=np.zeros(n), sigma=std * np.ones(n)) if noise_cls else None
