"""Built-in agents. Each lives in its own module and imports its search library lazily; this
package registers them through the ``archgym`` entry-point group like any third-party agent."""

# Importing an agent module first (``from archgym_agents.ga import ...``) must not reach the
# plugin loader half-initialised: let archgym finish loading plugins before anything here runs.
import archgym  # noqa: F401
