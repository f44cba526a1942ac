"""The message catalog: every message the checks give comes from it, with the
parameters its template names; no check writes a sentence of its own."""

import ast
import string
from pathlib import Path

import pytest

from initlab import assignments
from initlab.messages import CATALOG, say

for _name in assignments.names():  # each assignment adds its own messages
    assignments.get(_name)

SRC = Path(__file__).resolve().parents[1] / "src" / "initlab"
# Ids built at run time from a family prefix: f"method.{method}", ...
FAMILIES = {"method.", "relu_derivative_wrong.", "tanh_derivative_wrong."}
# Ids chosen at run time, by the file that gives them: a scale mistake's code, a loss hint.
CHOSEN = {
    ("initializers.py", "code"): ["scale_xavier", "scale_he", "scale_fan_out", "scale_missing_sqrt"],
    ("propagation.py", "why"): ["loss_wrong.not_divided", "loss_wrong.sign", "loss_wrong.sum",
                                "loss_wrong.nanmean"],
    ("checks.py", "why"): ["layer_sizes_wrong.n_h", "layer_sizes_wrong.hard_coded",
                           "loss_wrong.not_divided", "loss_wrong.sign"],
    ("checks.py", "message"): ["scale_one", "scale_wrong.planar"],
    ("base.py", "status"): ["not_implemented", "missing_function", "load_error", "unavailable",
                            "timeout", "exception", "uses_grader"],
}  # fmt: skip
RUNNER = {
    "not_implemented",
    "missing_function",
    "load_error",
    "unavailable",
    "timeout",
    "exception",
}


def calls():
    """(file, line, message id, keyword names) of every say(...) and text(...) call."""
    for path in sorted(SRC.rglob("*.py")):
        if path.parent.name == "messages":
            continue  # the catalog's own say and text
        for node in ast.walk(ast.parse(path.read_text())):
            func = getattr(node, "func", None)
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if (  # say(...), text(...), and the child's _loader.say(...)
                isinstance(node, ast.Call)
                and name in ("say", "text")
                and (isinstance(func, ast.Name) or getattr(func.value, "id", "") == "_loader")
                and node.args
            ):
                first = node.args[0]
                if isinstance(first, ast.JoinedStr):
                    continue  # a family's f"prefix.{name}": FAMILIES
                key = first.value if isinstance(first, ast.Constant) else None
                if key is None:  # chosen at run time: the name that holds it
                    key = ("chosen", first.id if isinstance(first, ast.Name) else "")
                names = {k.arg for k in node.keywords}
                yield path.name, node.lineno, key, names


def placeholders(template):
    return {
        field.split(".")[0].split("[")[0]
        for _, field, _, _ in string.Formatter().parse(template)
        if field
    }


def test_every_message_id_used_is_in_the_catalog_with_the_parameters_it_names():
    used = list(calls())
    assert len(used) > 40
    for file, line, key, names in used:
        if isinstance(key, tuple):  # chosen at run time: each of the ids it may be
            assert (file, key[1]) in CHOSEN, f"{file}:{line}: say which ids {key[1]} may be"
            for chosen in CHOSEN[(file, key[1])]:
                missing = placeholders(CATALOG[chosen]) - names
                assert not missing, f"{file}:{line} {chosen!r} would not get {sorted(missing)}"
            continue
        assert key in CATALOG, f"{file}:{line} uses {key!r}, which the catalog does not have"
        missing = placeholders(CATALOG[key]) - names
        assert not missing, f"{file}:{line} {key!r} does not give {sorted(missing)}"


def test_every_catalog_message_is_used():
    used = {key for _, _, key, _ in calls() if isinstance(key, str)}
    used |= {k for ids in CHOSEN.values() for k in ids}
    used.add("checked_on")  # messages.checked_on's own
    unused = [
        key for key in CATALOG if key not in used and not any(key.startswith(f) for f in FAMILIES)
    ]
    assert unused == [], f"messages no code gives: {unused}"


def test_no_check_writes_a_sentence_of_its_own():
    for folder in ("checks", "assignments"):
        for path in (SRC / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Diagnosis":
                    pytest.fail(f"{path.name}:{node.lineno} builds a Diagnosis without the catalog")


def test_a_diagnosis_keeps_its_message_id_and_parameters():
    diagnosis = say("transposed", l=2, l_prev=1, shape=(4, 5), expected=(5, 4))
    assert diagnosis.code == "transposed" and diagnosis.key == "transposed"
    assert diagnosis.params == {"l": 2, "l_prev": 1, "shape": (4, 5), "expected": (5, 4)}
    assert diagnosis.message.startswith("W2 has shape (4, 5): it is transposed")
