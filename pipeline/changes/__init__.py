"""Which crates a change touches: file rules, the dependency closure, the git edge."""
