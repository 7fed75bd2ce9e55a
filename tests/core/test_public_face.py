"""The public face as ``help()`` shows it: ``help(mockprogress)`` is one page naming every
public name and no private module, and every public name, and every public member of the
public classes, has a docstring."""

from __future__ import annotations

import inspect
import pydoc
import re

import mockprogress as mp


def help_text(thing: object) -> str:
    return pydoc.render_doc(thing, renderer=pydoc.plaintext)


def test_help_of_the_package_is_one_page_of_the_public_face() -> None:
    text = help_text(mp)
    assert len(text.splitlines()) < 150
    for name in mp.__all__:
        assert re.search(rf"^ +{re.escape(name)} ", text, re.M), name
    # No private module: no dotted path into the subpackages, no module named with "_".
    assert not re.search(r"mockprogress\.\w+\.", text)
    contents = text.split("PACKAGE CONTENTS\n")[1].split("\n\n")[0].split()
    assert [m for m in contents if m.startswith("_") and m != "__main__"] == []
    assert "CLASSES" not in text and "FUNCTIONS" not in text


def public_members(cls: type) -> list[tuple[str, object]]:
    """The members a user reaches: defined on ``cls`` or a base of ours, not underscored."""
    members = []
    for name in dir(cls):
        if name.startswith("_"):
            continue
        owner = next((k for k in cls.__mro__ if name in vars(k)), None)
        if owner is None or not owner.__module__.startswith("mockprogress"):
            continue
        value = vars(owner)[name]
        if isinstance(value, staticmethod | classmethod):
            value = value.__func__
        if inspect.isfunction(value) or isinstance(value, property):
            members.append((f"{owner.__name__}.{name}", value))
    return members


def test_every_public_name_and_member_has_a_docstring() -> None:
    missing = []
    for name in mp.__all__:
        value = getattr(mp, name)
        if isinstance(value, str):
            continue
        if not (value.__doc__ or "").strip():
            missing.append(name)
        if inspect.isclass(value):
            missing += [member for member, obj in public_members(value) if not inspect.getdoc(obj)]
    assert sorted(set(missing)) == []
