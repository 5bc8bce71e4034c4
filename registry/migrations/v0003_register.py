"""Schema 3: the access register and its supervisor review (issue 3).

Reserved: filled in by the feature that owns it (empty until then, so that the steps stay
numbered without gaps while features are built in parallel).
"""

VERSION = 3

SQL = """
"""
