"""Built-in agents. Each lives in its own module and imports its search library lazily; this
package registers them through the ``archgym`` entry-point group like any third-party agent."""
