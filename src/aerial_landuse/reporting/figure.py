"""The Figure every report, curve and leaderboard is drawn on: matplotlib's, with text drawn as
written. File, class and model names are user data, and a ``$`` pair in one would otherwise be
parsed as mathtext (garbled, or a ValueError that stops the report). No figure here uses
mathtext, so it is off for the process (a Text takes the setting when it is made)."""

import matplotlib
from matplotlib.figure import Figure

matplotlib.rcParams["text.parse_math"] = False

__all__ = ["Figure"]
