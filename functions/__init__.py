"""Azure Functions blueprints: one module per entry-point family. Thin: decode, call the core, persist, encode."""
