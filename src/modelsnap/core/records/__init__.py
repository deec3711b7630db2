"""The records a project folder keeps, and their integrity.

Append-only files and how they are written (``files``), snapshots (``store``; their shape in
``schema``), the index cache (``index``), the sealing ledger (``ledger``), criteria revisions
(``criteria``), the decision log (``decisions``) and the model-file allow-list (``artifacts``).
"""
