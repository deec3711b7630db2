"""The Textual front end: the guided five-step app (``modelsnap DIR``) and shared widgets.

Nothing here holds selection logic: screens call core functions, long work runs in thread
workers (model runs in the profiler's worker process) and comes back as typed messages.
"""
