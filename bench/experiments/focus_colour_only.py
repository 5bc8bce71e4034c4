"""What-if (benchmark only): the focused tile changes its border colour, not its border type.

``border: heavy`` on focus is a layout rule in Textual (BorderProperty(layout=True)), so each
focus move relayouts and repaints the whole screen. Loaded with ``bench/run_grid.py --patch``.
"""

from screens.widgets.camera_tile import CameraTile

CameraTile.DEFAULT_CSS = CameraTile.DEFAULT_CSS.replace(
    "border: heavy $accent;", "border: round $accent;"
)
