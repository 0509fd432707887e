"""Is an agent correct? Checks one agent on its own, before it enters a study: ``conformance``
(``check-agent``: does it keep the contract the runner relies on?) and ``parity`` (does a
TD3-family update compute what Stable-Baselines3's computes, on identical minibatches?)."""
