"""Discovery rules decide as ``fnmatch.fnmatchcase`` does, whichever way they are matched.

Names are matched by a set, ``endswith``/``startswith`` and a regular expression for the
rest (see ``discovery._NameMatcher``); these tests hold that to the glob's own meaning."""

import fnmatch

from hypothesis import given, settings
from hypothesis import strategies as st

from snake_pipe_core.config import DiscoverySettings
from snake_pipe_core.ingest.discovery import Rules, _PatternSet

# Names and patterns over a small alphabet, so that matches are common; the glob's special
# characters included, and the dots and tildes of real rules.
_CHARS = "ab.~#*?[]!-"
names = st.text(alphabet="ab.~#-[]", min_size=0, max_size=8)
patterns = st.text(alphabet=_CHARS, min_size=0, max_size=6)


@settings(max_examples=200, deadline=None)
@given(st.lists(patterns, min_size=1, max_size=5), st.lists(names, min_size=1, max_size=10))
def test_a_pattern_set_matches_a_name_exactly_when_fnmatch_does(
    globs: list[str], candidates: list[str]
) -> None:
    rules = _PatternSet("test", tuple(globs))
    for name in candidates:
        expected = any(fnmatch.fnmatchcase(name, g) for g in globs)
        assert rules.matches(name, name) == expected, (globs, name)
        rule = rules.match(name, name)
        assert (rule is not None) == expected
        if rule is not None:  # the first pattern that matches is the one named
            first = next(g for g in globs if fnmatch.fnmatchcase(name, g))
            assert rule == f"test:{first}"


def test_the_default_rules_name_the_rule_that_excludes_a_file() -> None:
    rules = Rules(DiscoverySettings())
    assert rules.exclusion("util.py.ast.json", "src/util.py.ast.json") is None
    assert rules.exclusion("package.json", "package.json") == "non-ast-json:package.json"
    assert rules.exclusion("tsconfig.base.json", "a/tsconfig.base.json") == (
        "non-ast-json:tsconfig.*.json"
    )
    assert rules.exclusion("x.py.ast.json.swp", "x.py.ast.json.swp") == "editor-temp:*.swp"
    assert rules.exclusion(".#x.py.ast.json", ".#x.py.ast.json") == "editor-temp:.#*"
    assert rules.exclusion("#x.json#", "#x.json#") == "editor-temp:#*#"
    assert rules.exclusion("4913", "4913") == "editor-temp:4913"
    assert rules.exclusion("notes.txt", "notes.txt") == "not-included"


def test_path_patterns_and_name_patterns_combine() -> None:
    rules = Rules(
        DiscoverySettings(exclude=("gen/*.json", "*.min.json"), include=("*.json", "*.ast"))
    )
    assert rules.exclusion("a.json", "gen/a.json") == "exclude:gen/*.json"
    assert rules.exclusion("a.json", "src/a.json") is None
    assert rules.exclusion("a.min.json", "src/a.min.json") == "exclude:*.min.json"
    assert rules.exclusion("x.py.ast", "x.py.ast") is None
    assert rules.exclusion("x.py", "x.py") == "not-included"
