"""Adapters: the only modules of the domain package that talk to Azure or HTTP."""
