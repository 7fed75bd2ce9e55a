"""The command-line adapter: ``mockprogress serve``, ``diagram`` and the terminal output.

An adapter: it may import every layer below it and holds no protocol logic
(docs/architecture.md).
"""
