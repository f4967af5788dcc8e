"""Escalation: policies and levels, on-call schedules, pages and acknowledgments."""
