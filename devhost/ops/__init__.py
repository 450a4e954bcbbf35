"""Firebell's operator tools (`python -m devhost.ops --help`): replay a poison queue, re-render the status site,
export incidents, reconcile Azure Boards — against Azurite or a real account, through the functions' own settings.
One module per command; cli.py reads the arguments and settings and prints what was done."""
