"""TD3's hyperparameters: SB3's names where SB3 has the concept, plus the switches this TD3 adds
(prioritized replay, NoisyNets, exploration-noise decay, an episode-length curriculum).

The dataclass validates itself; a bad value raises ValueError naming the key and what is
accepted. Each field's metadata carries ``help``, ``accepted`` and ``check``, so tools that
build configurations from files can report the same ranges.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from custom_td3.networks import ACTIVATION_CLASSES
from custom_td3.schedules import SCHEDULES, EpisodeLengthSchedule

#: ``(other field, predicate on its value, the condition in words)``: a field acts only while it holds.
ActsWhen = tuple[str, Callable[[Any], bool], str]


def param(
    default: Any, help: str, accepted: str, check: Callable[[Any], bool], acts_when: ActsWhen | None = None
) -> Any:
    """A field with its help, accepted values (text), check and, for a field that some other setting
    switches off (PER's exponents without prioritized replay), ``acts_when``: tools that search
    settings leave it out while the switch is off."""
    meta = {"help": help, "accepted": accepted, "check": check}
    if acts_when is not None:
        meta["acts_when"] = acts_when
    return field(default=default, metadata=meta)


_PER: ActsWhen = ("prioritized", lambda v: v is True, "prioritized replay is on (prioritized: true)")
_DECAY: ActsWhen = ("noise_schedule", lambda v: v != "constant", "the exploration noise decays (noise_schedule)")


def _positive(v: float) -> bool:
    return v > 0 and math.isfinite(v)


def _as_tuples(v: Any) -> Any:
    """Lists from YAML as the tuples of a frozen dataclass, one level of nesting deep."""
    if isinstance(v, (list, tuple)):
        return tuple(tuple(e) if isinstance(e, (list, tuple)) else e for e in v)
    return v


def _count(v: Any) -> bool:
    """A positive integer, not a bool: an episode number or a step cap."""
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def _episode_length_schedule(v: Any) -> bool:
    """None, or ``((until_episode, max_steps), ..., (None, max_steps))`` with increasing ``until_episode``."""
    if v is None:
        return True
    if not isinstance(v, tuple) or not v or not all(isinstance(e, tuple) and len(e) == 2 for e in v):
        return False
    thresholds, caps = [e[0] for e in v], [e[1] for e in v]
    bounded = thresholds[:-1]
    return (
        thresholds[-1] is None
        and all(map(_count, bounded))
        and all(map(_count, caps))
        and all(a < b for a, b in itertools.pairwise(bounded))
    )


@dataclass(frozen=True)
class TD3Config:
    """Every knob of the agent. Defaults are SB3 TD3's, except exploration noise (the paper's N(0, 0.1))."""

    learning_rate: float = param(
        1e-3, "Adam step size for actor and critics (initial value if linear)", "(0, inf)", _positive
    )
    lr_schedule: str = param(
        "constant",
        "'linear' decays learning_rate to 0 over the run",
        "one of 'constant', 'linear'",
        lambda v: v in ("constant", "linear"),
    )
    buffer_size: int = param(1_000_000, "Replay capacity in transitions", "[1, inf)", lambda v: v >= 1)
    learning_starts: int = param(
        100, "Env steps of uniform random actions before learning", "[0, inf)", lambda v: v >= 0
    )
    batch_size: int = param(256, "Minibatch size per gradient step", "[1, inf)", lambda v: v >= 1)
    tau: float = param(0.005, "Polyak coefficient for target networks", "(0, 1]", lambda v: 0 < v <= 1)
    gamma: float = param(0.99, "Discount factor", "[0, 1]", lambda v: 0 <= v <= 1)
    train_freq: int = param(1, "Train every train_freq steps or episodes", "[1, inf)", lambda v: v >= 1)
    train_freq_unit: str = param(
        "step", "Unit of train_freq", "one of 'step', 'episode'", lambda v: v in ("step", "episode")
    )
    gradient_steps: int = param(
        1,
        "Gradient steps per training round; -1: as many as env steps collected",
        "[1, inf) or -1",
        lambda v: v >= 1 or v == -1,
    )
    policy_delay: int = param(2, "Critic updates per actor and target update", "[1, inf)", lambda v: v >= 1)
    target_policy_noise: float = param(
        0.2, "Std of the smoothing noise on target actions", "[0, inf)", lambda v: v >= 0
    )
    target_noise_clip: float = param(0.5, "Clip of the target smoothing noise", "[0, inf)", lambda v: v >= 0)
    n_steps: int = param(1, "n-step returns for the critic target (1: one-step TD)", "[1, inf)", lambda v: v >= 1)
    net_arch: tuple[int, ...] = param(
        (400, 300),
        "Hidden layer sizes of actor and critics",
        "[1, inf)",
        lambda v: len(v) > 0 and all(h >= 1 for h in v),
    )
    activation_fn: str = param(
        "relu",
        "Hidden activation",
        "one of " + ", ".join(map(repr, ACTIVATION_CLASSES)),
        lambda v: v in ACTIVATION_CLASSES,
    )
    noise_type: str | None = param(
        "normal", "Exploration noise on the actor's action", "one of null, 'normal'", lambda v: v in (None, "normal")
    )
    noise_std: float = param(
        0.1,
        "Std of the Gaussian exploration noise (normalized actions); with a noise_schedule, its value at step 0",
        "[0, inf)",
        lambda v: v >= 0,
        ("noise_type", lambda v: v == "normal", "Gaussian action noise is on (noise_type: normal)"),
    )
    noise_schedule: str = param(
        "constant",
        "Decay of the exploration std from noise_std to noise_std_final "
        "over noise_decay_steps env steps: 'linear' (straight line), 'exponential' "
        "(same factor each step)",
        "one of " + ", ".join(map(repr, SCHEDULES)),
        lambda v: v in SCHEDULES,
    )
    noise_std_final: float = param(
        0.01,
        "Exploration std reached at noise_decay_steps and kept after",
        "[0, inf)",
        lambda v: v >= 0 and math.isfinite(v),
        _DECAY,
    )
    noise_decay_steps: int = param(
        100_000, "Env steps (warm-up included) over which noise_schedule decays", "[1, inf)", lambda v: v >= 1, _DECAY
    )
    noisy_nets: bool = param(
        False,
        "NoisyNets (Fortunato et al. 2017): factorized Gaussian noise on the actor's "
        "weights explores instead of action noise (needs noise_type null)",
        "one of true, false",
        lambda v: isinstance(v, bool),
    )
    noisy_sigma0: float = param(
        0.5,
        "NoisyNets: sigma_0; each noise scale starts at sigma_0 / sqrt(fan_in)",
        "[0, inf)",
        lambda v: v >= 0 and math.isfinite(v),
        ("noisy_nets", lambda v: v is True, "NoisyNets are on (noisy_nets: true)"),
    )
    episode_length_schedule: EpisodeLengthSchedule | None = param(  # noqa: RUF009 - param() is a field specifier
        None,
        "Curriculum for training episodes: each [until_episode, max_steps] caps the episodes before "
        "until_episode (the last, [null, max_steps], all later ones); a capped episode is truncated, not terminal",
        "one of null, [[until_episode, max_steps], ..., [null, max_steps]] with increasing until_episode >= 1 "
        "and max_steps >= 1",
        _episode_length_schedule,
    )
    prioritized: bool = param(
        False,
        "Prioritized experience replay (proportional, Schaul et al. 2015)",
        "one of true, false",
        lambda v: isinstance(v, bool),
    )
    per_alpha: float = param(0.6, "PER: priority exponent (0: uniform)", "[0, 1]", lambda v: 0 <= v <= 1, _PER)
    per_beta0: float = param(
        0.4,
        "PER: initial importance-sampling exponent, annealed to 1 over the run",
        "[0, 1]",
        lambda v: 0 <= v <= 1,
        _PER,
    )
    per_eps: float = param(
        1e-6, "PER: added to |TD error| so no transition has zero priority", "(0, inf)", _positive, _PER
    )

    def __post_init__(self) -> None:
        if isinstance(self.net_arch, list):
            object.__setattr__(self, "net_arch", tuple(self.net_arch))
        object.__setattr__(self, "episode_length_schedule", _as_tuples(self.episode_length_schedule))
        for f in fields(self):
            value = getattr(self, f.name)
            if not f.metadata["check"](value):
                raise ValueError(
                    f"hyperparameter '{f.name}' = {value!r} is out of range; accepted: {f.metadata['accepted']}"
                )
        self._check_exploration()

    def _check_exploration(self) -> None:
        """Exploration settings that contradict each other: one would be silently ignored, or a decay would not decay."""
        if self.noisy_nets and self.noise_type is not None:
            raise ValueError(
                f"hyperparameter 'noisy_nets' = True needs 'noise_type' = null (the actor's weight "
                f"noise replaces action noise); got noise_type = {self.noise_type!r}"
            )
        if self.noise_schedule == "constant":
            return
        if self.noise_type is None:
            raise ValueError(
                f"hyperparameter 'noise_schedule' = {self.noise_schedule!r} decays action noise; "
                f"accepted with noise_type 'normal', got noise_type = null"
            )
        # Both decays run from noise_std down to the floor; the exponential one cannot reach 0.
        exponential = self.noise_schedule == "exponential"
        if self.noise_std_final > self.noise_std or (exponential and self.noise_std_final == 0):
            accepted = f"{'(' if exponential else '['}0, noise_std = {self.noise_std!r}]"
            raise ValueError(
                f"hyperparameter 'noise_std_final' = {self.noise_std_final!r} is out of range; "
                f"accepted with noise_schedule {self.noise_schedule!r}: {accepted}"
            )
