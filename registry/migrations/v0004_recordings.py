"""Schema 4: recorded segments, holds and retention receipts (issue 4).

Reserved: filled in by the feature that owns it (empty until then, so that the steps stay
numbered without gaps while features are built in parallel).
"""

VERSION = 4

SQL = """
"""
