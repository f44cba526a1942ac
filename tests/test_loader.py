"""How a student's file is read: IPython syntax, cells that do not parse, stubs."""

import ast

import pytest

from initlab._loader import Unit, _chunks, _parse, is_stub, python_of_cell


@pytest.mark.parametrize(
    "cell, python",
    [
        ("%matplotlib inline\nimport numpy as np", "pass\nimport numpy as np"),
        ("!pip install h5py", "pass"),
        ("files = !ls\nx = 1", "pass\nx = 1"),
        ("np.random.randn?\nnp.zeros??", "pass\npass"),
        ("?np.zeros", "pass"),
        ("for i in range(3):\n    %time f(i)", "for i in range(3):\n    pass"),
        ("%%time\nx = 1\ny = 2", "\nx = 1\ny = 2"),
        ("%%bash\necho hi\nls", "\n\n\n"),
        (" print(x)", "print(x)"),
        ("\n    def f():\n        return 1", "\ndef f():\n    return 1"),
        ("x = a != b", "x = a != b"),
    ],
)
def test_ipython_syntax_becomes_python_line_for_line(cell, python):
    assert python_of_cell(cell) == python
    assert len(python_of_cell(cell).splitlines()) == len(cell.splitlines())
    ast.parse(python_of_cell(cell))


CELL = """import numpy as np

def zeros(n):
    return np.zeros(n)

def half_done(n):
    for i in range(n):
        # TODO

def ones(n):
    return np.ones(n)
"""


def test_a_cell_that_does_not_parse_loses_only_the_function_that_does_not():
    unit = Unit("nb.ipynb, code cell 3", "nb.ipynb#3", "nb", CELL, CELL)
    statements, lost = _parse(unit)
    assert [getattr(s, "name", "import") for s in statements] == ["import", "zeros", "ones"]
    assert list(lost) == ["half_done"]
    assert lost["half_done"].startswith("nb.ipynb, code cell 3 does not parse: IndentationError")
    assert "after 'for' statement on line 7" in lost["half_done"]


def test_chunks_keep_decorators_and_continuations_with_their_statement():
    text = "@dec\ndef f():\n    pass\nif x:\n    pass\nelse:\n    pass\n)"
    assert [first for first, _ in _chunks(text)] == [1, 4]


@pytest.mark.parametrize(
    "body, stub",
    [
        ('    """Doc."""\n    raise NotImplementedError()', True),
        ("    raise NotImplementedError", True),
        ("    pass", True),
        ("    ...", True),
        (
            "    x = {}\n    for l in range(3):\n        # YOUR CODE HERE\n        raise NotImplementedError()\n    return x",
            True,
        ),
        ("    return 1", False),
        (
            "    if mode == 'tanh':\n        raise NotImplementedError('tanh is not supported')\n    return 1",
            False,
        ),
    ],
)
def test_a_stub_is_a_function_not_written_yet(body, stub):
    node = ast.parse(f"def f(mode):\n{body}\n").body[0]
    assert is_stub(node) is stub
