"""A local Azure Functions host for Firebell.

It runs the same FunctionApp object Azure runs — triggers and bindings come from
`function_app.app.get_functions()` — serving HTTP triggers, polling storage queues, firing timers, writing output
bindings and serving the `$web` static site, so the whole pipeline runs where Core Tools cannot be installed.
"""
