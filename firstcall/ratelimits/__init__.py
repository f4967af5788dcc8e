"""Rate limits on every public endpoint (docs/security.md).

- ``rates``: what each limit is, its default, and reading overrides from the environment (no
  Django imports: settings.py uses it);
- ``counters``: the shared counters (Redis when REDIS_URL is set, else a SQLite file of their own);
- ``limiter``: the view decorator, the client's address behind proxies, and the 429 answers.
"""
