"""Choosing among the snapshots: limits (``constraints``), measure profiles, the weighted
ranking (``ranking``) and the selection context (``context``: the criteria in force, the
baseline and the rows that compete).
"""
