"""Function libraries load under names that carry a hash of their code."""

from __future__ import annotations

import pytest

from domain.leaderboards.calls import LIBRARY_CODE
from domain.storage.function_library import FunctionLibrary, function_names

SOURCE = """#!lua name=probe
server.register_function('probe_one', function() return 1 end)
server.register_function{function_name = 'probe_two', callback = function() return 2 end,
  flags = {'no-writes'}}
"""


def test_the_library_and_each_function_are_renamed_by_the_code() -> None:
    library = FunctionLibrary.from_source(SOURCE)
    version = library.name.removeprefix("probe_")
    assert version.startswith("v") and len(version) == 13
    assert library.functions == {
        "probe_one": f"probe_one_{version}",
        "probe_two": f"probe_two_{version}",
    }
    assert library.code.startswith(f"#!lua name={library.name}\n")
    assert f"register_function('probe_one_{version}'" in library.code
    assert f"function_name = 'probe_two_{version}'" in library.code
    assert "'probe_one'" not in library.code and "'probe_two'" not in library.code


def test_any_change_of_the_code_is_another_version_and_the_same_code_the_same() -> None:
    first = FunctionLibrary.from_source(SOURCE)
    assert FunctionLibrary.from_source(SOURCE) == first
    changed = FunctionLibrary.from_source(SOURCE.replace("return 2", "return 3"))
    assert changed.name != first.name
    assert set(changed.functions.values()).isdisjoint(first.functions.values())


def test_every_function_of_the_leaderboards_is_renamed() -> None:
    library = FunctionLibrary.from_source(LIBRARY_CODE)
    assert {"lb_submit", "lb_page", "lb_multi", "lb_board_create"} <= set(library.functions)
    assert LIBRARY_CODE.count("function_name") == len(library.functions)


def test_a_source_without_its_name_line_is_refused() -> None:
    with pytest.raises(ValueError, match="#!lua name="):
        FunctionLibrary.from_source("server.register_function('x', function() end)")


def test_two_libraries_may_not_register_one_function() -> None:
    other = SOURCE.replace("#!lua name=probe", "#!lua name=other")
    with pytest.raises(ValueError, match="probe_one"):
        function_names([FunctionLibrary.from_source(SOURCE), FunctionLibrary.from_source(other)])
