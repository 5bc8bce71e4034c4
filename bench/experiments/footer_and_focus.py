"""What-if (benchmark only): both footer_skip_same and focus_colour_only."""

import runpy
from pathlib import Path

here = Path(__file__).parent
runpy.run_path(str(here / "footer_skip_same.py"))
runpy.run_path(str(here / "focus_colour_only.py"))
