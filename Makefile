# One entry point per question. Every target builds .venv from pyproject.toml on first use.
#   make help                       this list (also what a bare `make` prints)
#   make compare ENV=BipedalWalker-v3 [ALGOS=sb3-td3,sb3-ddpg] [SEEDS=5] [BUDGET=smoke|quick|full]
#                [STEPS=N] [JOBS=N] [STUDY=name] [DEVICE=auto|cpu|cuda] [PRECISION=fp32|bf16] [SEED_GROUPS=K] [HP=file.yml] [ARGS="..."]
#                [BACKEND=local|ray] [RAY_ADDRESS=host:port] [CHECKPOINT_URI=uri] [MAX_RETRIES=N]   (Ray: docs/cluster.md)
#   make compare ENV=... ALGOS=... SEEDS=adaptive [PER_LOOK=5] [LOOKS=4] [ALPHA=0.05] [COMPARE=all|reference]
#                [MARGIN=M]   a sequential study: seeds look by look until decided (docs/sequential.md)
#   make report STUDY=name
#   make tune ENV=<id> ALGO=<arm> [TRIALS=50] [BUDGET=quick|STEPS=N] [SEEDS_PER_TRIAL=1] [STORAGE=url]
#             [STUDY=name] [JOBS=N] [SAMPLER=tpe|random] [PRUNER=median|halving|none]   (then HP=tuned)
#             [BACKEND=local|ray] [RAY_ADDRESS=host:port] [MAX_RETRIES=N] [PROMOTE=1 [FORCE=1]] [TUNED=dir]
#   make promote STUDY=<tuning study> [FORCE=1] [TUNED=dir]   its best values become what HP=tuned reads
#             [SPACE=search-space.yml]   (default hyperparams/search/<arm>.yml; an agent of your own needs one)
#   make enjoy RUN=<run dir> / make record RUN=<run dir>   watch a saved model (mp4 + GIF)
#   make check-agent AGENT=<module:Class or arm> [ENV=Pendulum-v1] [LEARNING=1] [NO_PROBES=1]
#                                   does an agent keep the contract? do probe envs find its data path right?
#   make parity AGENT=<module:Class> [REFERENCE=sb3-td3|sb3-ddpg]   its update against SB3's, on identical batches
#   make validate-precision FP32=<study> BF16=<study> MARGINS=ENV=M[,ENV=M]   does bf16 change the answer?
#                                   (parameter drift over identical updates; TOST of the two studies' final scores)
#   make bench                      our TD3 beside SB3's and SBX's TD3, per thread count and matmul backend (last line: speedup_vs_sb3)
#   make lint                       ruff (lint and format check) and mypy (strict for custom_td3/)
#   make lock                       refresh requirements.lock (the versions make venv installs)
#   Exit codes: make exits 2 whenever a command fails; a script that must tell a failed check or run (1) from
#   bad input (2) runs the command make echoes (.venv/bin/python -m harness ...), which exits 0, 1 or 2.
#   make test / make test-learning / make test-long (crash, two processes, distributed tuning end to end)
#                                   / make test-systems (every env family end to end) / make test-stats
#                                   (the sequential test's full simulations) / make test-ray
#                                   (a real local Ray cluster: head and worker nodes on 127.0.0.1)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
# The CPU wheel by default; a GPU user overrides, e.g. TORCH="torch==2.13.0 --index-url <cuda index>".
TORCH ?= torch==2.13.0
# Every other package is installed at the version requirements.lock pins (`make lock` refreshes it).
# The lock leaves out torch, so TORCH stays the user's choice (LOCK_TORCH is what it resolves against), and pip.
LOCK := requirements.lock
LOCK_TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
# Extras of pyproject.toml to install; EXTRAS=dev,bullet adds the PyBullet envs (what CI runs).
EXTRAS ?= dev
comma := ,
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

# Options passed to the CLI only when set, so the CLI's own defaults stay the single source. Values are
# single-quoted for the shell, so STUDY="my study" reaches the CLI as one argument (which names the problem).
q = '$(subst ','"'"',$(1))'
opt = $(if $($(1)),$(2) $(call q,$($(1))))
RAY_OPTS = $(call opt,BACKEND,--backend) $(call opt,RAY_ADDRESS,--ray-address) $(call opt,MAX_RETRIES,--max-retries)
SEQUENTIAL_OPTS = --sequential $(call opt,PER_LOOK,--per-look) $(call opt,LOOKS,--looks) $(call opt,ALPHA,--alpha) \
	$(call opt,COMPARE,--compare) $(call opt,MARGIN,--equivalence-margin)
COMPARE_ARGS = $(call opt,ENV,--env) $(call opt,ALGOS,--algos) \
	$(if $(filter adaptive,$(SEEDS)),$(SEQUENTIAL_OPTS),$(call opt,SEEDS,--seeds)) \
	$(call opt,BUDGET,--budget) $(call opt,STEPS,--steps) $(call opt,JOBS,--jobs) \
	$(call opt,STUDY,--study) $(call opt,DEVICE,--device) $(call opt,MATMUL,--matmul-backend) \
	$(call opt,PRECISION,--precision) $(call opt,SEED_GROUPS,--seed-groups) \
	$(if $(filter tuned,$(HP)),--hp-set tuned,$(call opt,HP,--hp-file)) $(call opt,TUNED,--tuned-dir) \
	$(if $(QUIET),--quiet) $(if $(DRY_RUN),--dry-run) $(if $(YES),--yes) $(RAY_OPTS) \
	$(call opt,CHECKPOINT_URI,--checkpoint-uri) $(ARGS)

TUNE_ARGS = $(call opt,ENV,--env) $(call opt,ALGO,--algo) $(call opt,TRIALS,--trials) \
	$(call opt,BUDGET,--budget) $(call opt,STEPS,--steps) $(call opt,SEEDS_PER_TRIAL,--seeds-per-trial) \
	$(call opt,STORAGE,--storage) $(call opt,STUDY,--study) $(call opt,JOBS,--jobs) \
	$(call opt,SAMPLER,--sampler) $(call opt,PRUNER,--pruner) $(call opt,MATMUL,--matmul-backend) \
	$(call opt,SPACE,--space) $(RAY_OPTS) \
	$(if $(PROMOTE),--promote) $(if $(FORCE),--force) $(call opt,TUNED,--tuned-dir) $(ARGS)

.PHONY: help venv lock compare report tune promote enjoy record check-agent parity validate-precision bench lint test test-long test-learning test-systems test-stats test-ray clean-venv

.DEFAULT_GOAL := help

# The comment block at the top of this file.
help:
	@awk '/^[^#]/ {exit} {sub(/^# ?/, ""); print}' $(firstword $(MAKEFILE_LIST))

venv: $(STAMP)

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet --constraint $(LOCK) -e ".[$(EXTRAS)]"
	rm -f $(VENV)/.installed*
	touch $(STAMP)

# Resolve every dependency of every extra again, at the newest versions pyproject.toml admits.
lock: $(STAMP)
	echo "$(LOCK_TORCH)" > $(VENV)/lock-torch.txt
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --upgrade --all-extras --strip-extras \
		--unsafe-package torch --unsafe-package pip --no-emit-index-url --no-emit-find-links --constraint $(VENV)/lock-torch.txt \
		--output-file $(LOCK) pyproject.toml

compare: $(STAMP)
	@test -n "$(ENV)" || { echo "usage: make compare ENV=<gymnasium id>[,<id>...] [ALGOS=...] [SEEDS=N|adaptive] [BUDGET=smoke|quick|full] ..." >&2; exit 2; }
	$(BIN)/python -m harness compare $(strip $(COMPARE_ARGS))

report: $(STAMP)
	@test -n "$(STUDY)" || { echo "usage: make report STUDY=<name>" >&2; exit 2; }
	$(BIN)/python -m harness report $(strip --study $(call q,$(STUDY)) $(ARGS))

tune: $(STAMP)
	@test -n "$(ENV)" -a -n "$(ALGO)" || { echo "usage: make tune ENV=<id> ALGO=<arm> [TRIALS=50] [BUDGET=...|STEPS=N] ..." >&2; exit 2; }
	$(BIN)/python -m harness tune $(strip $(TUNE_ARGS))

promote: $(STAMP)
	@test -n "$(STUDY)" || { echo "usage: make promote STUDY=<tuning study> [FORCE=1] [TUNED=dir]" >&2; exit 2; }
	$(BIN)/python -m harness promote $(strip $(call q,$(STUDY)) $(if $(FORCE),--force) $(call opt,TUNED,--tuned-dir) $(ARGS))

enjoy: $(STAMP)
	@test -n "$(RUN)" || { echo "usage: make enjoy RUN=results/<study>/<arm>/<env>_<seed> [EPISODES=5]" >&2; exit 2; }
	$(BIN)/python -m harness enjoy $(strip --run $(call q,$(RUN)) $(call opt,EPISODES,--episodes) $(ARGS))

record: $(STAMP)
	@test -n "$(RUN)" || { echo "usage: make record RUN=results/<study>/<arm>/<env>_<seed> [EPISODES=1]" >&2; exit 2; }
	$(BIN)/python -m harness record $(strip --run $(call q,$(RUN)) $(call opt,EPISODES,--episodes) $(ARGS))

check-agent: $(STAMP)
	@test -n "$(AGENT)" || { echo "usage: make check-agent AGENT=<module:Class or arm> [ENV=Pendulum-v1] [LEARNING=1] [NO_PROBES=1]" >&2; exit 2; }
	$(BIN)/python -m harness check-agent $(strip --agent $(call q,$(AGENT)) $(call opt,ENV,--env) $(if $(LEARNING),--learning) $(call opt,STEPS,--steps) $(if $(NO_PROBES),--no-probes) $(ARGS))

parity: $(STAMP)
	@test -n "$(AGENT)" || { echo "usage: make parity AGENT=<module:Class> [REFERENCE=sb3-td3|sb3-ddpg]" >&2; exit 2; }
	$(BIN)/python -m harness parity $(strip --agent $(call q,$(AGENT)) $(call opt,REFERENCE,--reference) $(ARGS))

validate-precision: $(STAMP)
	@test -n "$(FP32)" -a -n "$(BF16)" -a -n "$(MARGINS)" || { echo "usage: make validate-precision FP32=<study> BF16=<study> MARGINS=ENV=M[,ENV=M...]" >&2; exit 2; }
	$(BIN)/python -m harness validate-precision $(strip --fp32-study $(call q,$(FP32)) --bf16-study $(call q,$(BF16)) --margins $(call q,$(MARGINS)) $(ARGS))

bench: $(STAMP)
	$(BIN)/python -m harness $(strip bench $(call opt,MATMUL,--matmul-backend) $(ARGS))

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(STAMP)
	$(BIN)/python -m pytest $(strip -m "not slow and not ray and not systems and not stats and not long" $(ARGS))

test-long: $(STAMP)
	$(BIN)/python -m pytest $(strip -m long $(ARGS))

test-learning: $(STAMP)
	$(BIN)/python -m pytest $(strip -m slow $(ARGS))

test-stats: $(STAMP)
	$(BIN)/python -m pytest $(strip -m stats $(ARGS))

test-systems: $(STAMP)
	$(BIN)/python -m pytest $(strip -m systems $(ARGS))

test-ray: $(STAMP)
	$(BIN)/python -m pytest $(strip -m ray $(ARGS))

clean-venv:
	rm -rf $(VENV)
