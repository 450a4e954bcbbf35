"""Firebell's domain package: pure incident-response logic plus the adapters that persist it.

Importable without azure.functions, so the core is testable and reusable outside the Functions host.
"""
