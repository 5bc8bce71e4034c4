"""Schema 5: PTZ presets, masks, mask states and leases (issue 5).

Reserved: filled in by the feature that owns it (empty until then, so that the steps stay
numbered without gaps while features are built in parallel).
"""

VERSION = 5

SQL = """
"""
