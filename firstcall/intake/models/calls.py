"""calls models (filled in by the channel work)"""

__all__: list[str] = []
