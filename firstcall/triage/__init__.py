"""Triage: impact × urgency → priority with its reasons, business-critical processes, rules and
downtime cost. The engine (engine.py) is pure; load.py reads what it needs from the database."""
