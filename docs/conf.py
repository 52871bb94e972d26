"""Sphinx configuration of the deconvkit documentation (numpydoc, MyST, sphinx-gallery).

Build as CI does: ``bash docs/build.sh`` (``DECONVKIT_DOCS_QUICK=1`` and warnings as errors).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import deconvkit

HERE = Path(__file__).resolve().parent

project = "deconvkit"
author = "the deconvkit developers"
copyright = "the deconvkit developers, BSD-3-Clause"
release = deconvkit.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax served from the build, so the pages work offline
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5", "**.ipynb_checkpoints",
                    "gen_modules",
                    # sphinx-gallery's timing summary of every gallery: kept out of the
                    # glob of docs/*.md pages (auto_examples/ has its own)
                    "sg_execution_times.rst"]
templates_path = ["_templates"]
html_static_path = ["_static"]
html_css_files = ["custom.css"]

# -- MyST: the existing docs/*.md pages, as they are -----------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

# -- API reference: autosummary over each package's __all__, numpydoc sections ---------------
autosummary_generate = True
autosummary_ignore_module_all = False
autosummary_imported_members = True
autodoc_default_options = {"members": False, "inherited-members": False}
autodoc_typehints = "none"  # numpydoc writes the types from the docstrings
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
add_module_names = False

# -- the gallery -----------------------------------------------------------------------------
QUICK = os.environ.get("DECONVKIT_DOCS_QUICK", "") not in ("", "0")
sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": str(HERE / "auto_examples"),
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py|/_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "show_memory": False,
    "min_reported_time": 1,
    "run_stale_examples": False,
    "line_numbers": False,
}

# matplotlib draws the gallery figures off screen, whatever the machine
os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg",
                        category=UserWarning)

# -- HTML ------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"deconvkit {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "header_links_before_dropdown": 6,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False
html_last_updated_fmt = None
