"""Reusable pieces of the TUI (step bar, snapshot card, ranking table, trade-off plot, ...).

``modelsnap review`` imports these too, so they take plain snapshot dicts and know nothing of
the screen they sit on.
"""
