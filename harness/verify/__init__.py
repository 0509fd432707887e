"""Is an agent correct? Checks one agent on its own, before it enters a study: ``conformance``
(``check-agent``: does it keep the contract the runner relies on?), ``probes`` (does its data path do
what an actor-critic needs, on probe envs with known answers?), ``learning`` (``--learning``: does it
beat the random floor?) and ``parity`` (does a TD3-family update compute what Stable-Baselines3's
computes, on identical minibatches?); ``check`` holds the rows they share."""
