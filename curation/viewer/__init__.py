"""A static site to look at a run or a published dataset: code, state and narration side by side.

`build_site(folder, out)` writes plain HTML, CSS and JavaScript (bundled in assets/, no CDN, no
build step) and the rows as data files; open OUT/index.html in a browser, no server needed.
"""

from .rows import ViewerInputError
from .site import build_site, default_out

__all__ = ["ViewerInputError", "build_site", "default_out"]
