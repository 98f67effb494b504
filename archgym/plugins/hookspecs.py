"""The plugin contract. These hook specifications, with their docstrings, *are* the contract.

A plugin is a plain module exposed through the ``archgym`` entry-point group of its
distribution, with functions marked ``@archgym.hookimpl``::

    # pyproject.toml of the plugin
    [project.entry-points.archgym]
    mysims = "mysims.plugin"

    # mysims/plugin.py
    import archgym

    @archgym.hookimpl
    def archgym_envs():
        return [{"id": "mysims/Cache-v0", "entry_point": "mysims.envs:CacheEnv"}]

``import archgym`` loads every installed plugin, calls its hooks and registers the envs with
Gymnasium, so ``gymnasium.make("mysims/Cache-v0")`` works after ``import archgym`` — or without
it, as ``gymnasium.make("archgym:mysims/Cache-v0")``. Built-in problems and agents use this same
mechanism. Keep the plugin module light: entry points are strings, so listing envs and agents
imports no simulator or agent library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from archgym.env import BackendSpec
    from archgym.search import AgentSpec

PROJECT = "archgym"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def archgym_envs() -> list[dict[str, Any]]:  # type: ignore[empty-body]
    """Return the environments this plugin provides.

    Each item is a dict of :func:`gymnasium.register` keyword arguments, or a
    :class:`gymnasium.envs.registration.EnvSpec`:

    * ``id`` (required): namespaced, ``"<namespace>/<Name>-v<N>"``. Built-ins use the
      ``archgym`` namespace; a third-party plugin uses its own (``archgym/`` is reserved).
    * ``entry_point`` (required): ``"package.module:Class"`` — a string, so nothing heavy is
      imported until the env is made.
    * optional: ``kwargs``, ``max_episode_steps``, ``nondeterministic``, ``reward_threshold``,
      ``order_enforce``, ``disable_env_checker``, ``additional_wrappers``. Multi-objective
      envs set ``disable_env_checker=True``: Gymnasium's passive checker warns on vector
      rewards, and :func:`archgym.check_env` checks them against ``reward_space`` instead.
    * optional, kept by archgym (Gymnasium never sees them): ``doc`` (the env's documentation
      page), ``eval_cost`` (the typical time of one evaluation, as text), both shown by
      ``archgym envs --details``; ``extra`` and ``requires`` — the ``archgym[extra]`` (or your
      package's extra) that installs the env's libraries and the top-level modules it imports.
      Where one of ``requires`` is missing, the env is still listed, marked with the install
      command, and ``gymnasium.make`` raises :class:`archgym.plugins.MissingExtra` saying it;
      ``lean_backends`` names the backends the env runs on without them (NASBench201's
      ``"table"``: ``gymnasium.make(id, backend="table")`` builds it on a lean install).

    The class is a :class:`archgym.DesignEnv` or any plain :class:`gymnasium.Env` whose action
    space is a ``Box``, ``Discrete``, ``MultiDiscrete``, ``MultiBinary`` or a ``Dict`` of those;
    agents then drive it through a derived design space. A malformed item or an id that another
    plugin already registered marks this plugin as broken (a warning; its envs are not
    registered) and the other plugins keep working.
    """


@hookspec
def archgym_agents() -> list[AgentSpec]:  # type: ignore[empty-body]
    """Return the agents this plugin provides, as :class:`archgym.AgentSpec` items.

    An agent spec names the agent (``"ga"``), its ``"module:Class"`` entry point (a string: the
    agent's search library is imported only when the agent is built), a one-line description and
    its hyperparameters as :mod:`archgym.spaces` parameters (type, default, legal range), which
    the loop validates before the first evaluation.

    An :class:`archgym.search.AgentResolver` item claims a library prefix instead: names
    ``<prefix>.<anything>`` that no plugin registered are built by its resolver when asked for
    (``--agent nevergrad.NGOptRW`` reaches any optimizer in Nevergrad's registry), without being
    listed. A prefix another plugin's resolver claimed marks this plugin as broken.
    """


@hookspec
def archgym_backends() -> list[BackendSpec]:  # type: ignore[empty-body]
    """Return the backends this plugin provides, as :class:`archgym.BackendSpec` items.

    A backend answers an env's evaluations instead of its own simulator:
    ``gymnasium.make(ID, backend=NAME, **options)``. Its spec names it, gives its
    ``"module:factory"`` entry point (a string: nothing is imported until an env uses it), a
    one-line description and the ``options`` keywords it takes, which every env then accepts
    with this backend only. The factory is called as ``factory(env, constructor_kwargs,
    **options)`` with the env just constructed and its arguments (defaults filled in); it returns
    an evaluator with ``evaluate(design, context) -> metrics`` and, optionally, ``versions()``
    (recorded instead of the simulator's) and ``fidelity`` (the one it answers at). See
    :mod:`archgym.env.backends`. A name or option another plugin registered marks this plugin
    as broken, whatever the load order of plugins.
    """
