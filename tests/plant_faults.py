"""Plant each TD3 fault the parity tests must catch in custom_td3/td3.py, run them, restore the file.

Run from the repository root: `.venv/bin/python tests/plant_faults.py`; it prints caught or MISSED per
fault and exits 1 if any is missed. The file is restored even when interrupted.
"""

import pathlib
import subprocess
import sys

P = pathlib.Path("custom_td3/td3.py")
FAULTS = {
    "min -> max of the twin target critics": (
        "next_q = torch.min(*self.critic_target(",
        "next_q = torch.max(*self.critic_target(",
    ),
    "no policy delay": ("if self.num_updates % c.policy_delay == 0:", "if True:"),
    "wrong noise clip (0.5)": (
        "noise = noise.clamp(-c.target_noise_clip, c.target_noise_clip)",
        "noise = noise.clamp(-0.5, 0.5)",
    ),
    "no target smoothing": (
        "(self.actor_target(batch.next_observations) + noise)",
        "(self.actor_target(batch.next_observations) + 0 * noise)",
    ),
    "online critic in the target": (
        "torch.min(*self.critic_target(batch.next_observations",
        "torch.min(*self.critic(batch.next_observations",
    ),
    "no terminal mask": ("batch.rewards + (1.0 - batch.dones) * batch.discounts", "batch.rewards + batch.discounts"),
    "gamma instead of per-sample discounts": (
        "(1.0 - batch.dones) * batch.discounts * next_q",
        "(1.0 - batch.dones) * c.gamma * next_q",
    ),
    "importance weights ignored": (
        "_weighted_mse(q1, target_q, batch.weights) + _weighted_mse(q2, target_q, batch.weights)",
        "_weighted_mse(q1, target_q, torch.ones_like(batch.weights)) + _weighted_mse(q2, target_q, torch.ones_like(batch.weights))",
    ),
    "wrong Polyak rate (2 tau)": (
        "_polyak(self.critic, self.critic_target, c.tau)",
        "_polyak(self.critic, self.critic_target, 2 * c.tau)",
    ),
    "actor trained on the second critic": (
        "-self.critic.q1(batch.observations, actions).float().mean()",
        "-self.critic(batch.observations, actions)[1].float().mean()",
    ),
}
original = P.read_text()
results = {}
try:
    for name, (a, b) in FAULTS.items():
        assert original.count(a) == 1, name
        P.write_text(original.replace(a, b))
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-x",
                "tests/test_td3_parity.py",
                "-k",
                "default or by_hand",
                "-p",
                "no:cacheprovider",
            ],
            capture_output=True,
            text=True,
        )
        results[name] = "caught" if proc.returncode != 0 else "MISSED"
        print(f"{results[name]:7s} {name}", flush=True)
finally:
    P.write_text(original)
sys.exit(0 if all(v == "caught" for v in results.values()) else 1)
