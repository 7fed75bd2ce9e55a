"""The live view in a browser: a page, its script and its style, served by the control API
under ``{prefix}ui`` (docs/ui.md). Plain HTML, CSS and JavaScript, no build step, nothing
loaded from the network; the timelines are drawn as SVG by ``app.js`` itself.

Data, not code: this package imports nothing (docs/architecture.md).
"""
