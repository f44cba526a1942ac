"""Mistakes students make, each graded end to end: one diagnosis, the right hint, the
network it was found on, and no points lost elsewhere."""

import json
from pathlib import Path

import pytest

from initlab.assignments.initialization import RUBRICS
from initlab.cli import main

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "graders" / "solutions" / "initialization"
INITIALIZATION = (SOLUTIONS / "initialization.py").read_text()
PROPAGATION = (SOLUTIONS / "propagation.py").read_text()
RUBRIC = RUBRICS["full"]


def graded(tmp_path, capsys, initialization=INITIALIZATION, propagation=PROPAGATION):
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "initialization.py").write_text(initialization)
    (folder / "propagation.py").write_text(propagation)
    assert main(["grade", "--json", str(folder)]) == 0
    report = json.loads(capsys.readouterr().out)
    return report, {t["name"]: t for t in report["tests"]}


def only_wrong(tests, name):
    """Every other function keeps its points."""
    others = {n: t["status"] for n, t in tests.items() if n != name}
    assert set(others.values()) == {"passed"}, others


def function(source, name):
    start = source.index(f"def {name}(")
    end = source.find("\ndef ", start + 1)
    return source[start : end if end > 0 else len(source)]


def replaced(source, name, old, new):
    body = function(source, name)
    assert old in body, (old, body)
    return source.replace(body, body.replace(old, new))


def test_random_biases_drawn_with_randn_are_named_without_blaming_the_seed(tmp_path, capsys):
    source = replaced(
        INITIALIZATION,
        "initialize_parameters_random",
        "np.zeros((layers_dims[l], 1))",
        "np.random.randn(layers_dims[l], 1)",
    )
    report, tests = graded(tmp_path, capsys, initialization=source)
    random = tests["initialize_parameters_random"]
    assert random["diagnoses"] == ["bias_not_zero"], random["message"]
    assert "takes numbers from the generator" in random["message"]
    assert "np.random.seed(3) once" not in random["message"]
    assert random["score"] == RUBRIC["initialize_parameters_random"] / 2
    only_wrong(tests, "initialize_parameters_random")


def test_integer_division_in_he_is_named(tmp_path, capsys):
    source = replaced(INITIALIZATION, "initialize_parameters_he", "2.0 / ", "2 // ")
    _, tests = graded(tmp_path, capsys, initialization=source)
    he = tests["initialize_parameters_he"]
    assert he["diagnoses"] == ["scale_integer_division"], he["message"]
    assert "integer division" in he["message"] and "draw random weights" not in he["message"]
    assert "checked on layers_dims = [" in he["message"]
    only_wrong(tests, "initialize_parameters_he")


THREE_LAYERS = """
def forward_propagation(X, parameters):
    W1, b1 = parameters["W1"], parameters["b1"]
    W2, b2 = parameters["W2"], parameters["b2"]
    W3, b3 = parameters["W3"], parameters["b3"]
    A1 = np.maximum(0, np.dot(W1, X) + b1)
    A2 = np.maximum(0, np.dot(W2, A1) + b2)
    A3 = 1 / (1 + np.exp(-(np.dot(W3, A2) + b3)))
    return A3, [(None, X)]
"""


def test_a_forward_written_for_three_layers_is_told_about_the_network_it_failed_on(
    tmp_path, capsys
):
    source = PROPAGATION.replace(function(PROPAGATION, "forward_propagation"), THREE_LAYERS)
    _, tests = graded(tmp_path, capsys, propagation=source)
    forward = tests["forward_propagation"]
    assert forward["status"] != "passed"
    assert "layers_dims = [" in forward["message"] and "m = " in forward["message"]
    assert "loop over its layers" in forward["message"] or "layers" in forward["message"]


def test_nanmean_in_the_loss_gets_its_own_hint(tmp_path, capsys):
    source = replaced(
        PROPAGATION, "compute_loss", "1.0 / m * np.nansum(logprobs)", "np.nanmean(logprobs)"
    )
    _, tests = graded(tmp_path, capsys, propagation=source)
    loss = tests["compute_loss"]
    assert loss["diagnoses"] == ["loss_wrong"]
    assert "np.nanmean divides by the number of terms" in loss["message"]
    assert "AL of shape" in loss["message"]
    only_wrong(tests, "compute_loss")


@pytest.mark.parametrize(
    "name, old, new",
    [
        ("forward_propagation", "np.maximum(0, Z)", "Z"),
        ("backward_propagation", "np.int64(A_prev > 0)", "1"),
        ("update_parameters", "- learning_rate", "+ learning_rate"),
    ],
)
def test_no_numpy_repr_reaches_a_message_and_each_names_its_network(
    tmp_path, capsys, name, old, new
):
    source = replaced(PROPAGATION, name, old, new)
    _, tests = graded(tmp_path, capsys, propagation=source)
    message = tests[name]["message"]
    assert "np.float64" not in message and "np.int64" not in message
    assert "checked on layers_dims = [" in message


@pytest.mark.parametrize(
    "old, new, code",
    [
        # relu at the output layer
        (
            "1 / (1 + np.exp(-Z)) if l == L else np.maximum(0, Z)",
            "np.maximum(0, Z)",
            "output_activation_wrong",
        ),
        # the loop one layer short
        ("for l in range(1, L + 1):", "for l in range(1, L):", "forward_wrong"),
    ],
)
def test_a_wrong_forward_costs_only_forwards_points(tmp_path, capsys, old, new, code):
    """backward_propagation is called with a correct cache: it keeps its 20 points."""
    source = replaced(PROPAGATION, "forward_propagation", old, new)
    report, tests = graded(tmp_path, capsys, propagation=source)
    # forward's own mistake, and that the (correct) backward reads what it got wrong
    diagnoses = tests["forward_propagation"]["diagnoses"]
    assert diagnoses == [code, "backward_reads_forward"], tests["forward_propagation"]
    assert tests["backward_propagation"]["status"] == "passed"
    assert report["score"] == 100 - RUBRIC["forward_propagation"]


def test_a_cache_in_another_format_is_named_and_costs_half_of_forward(tmp_path, capsys):
    source = replaced(
        PROPAGATION,
        "forward_propagation",
        "cache.append((A_prev, W, b, Z, A))",
        "cache.append((W, A))",
    )
    report, tests = graded(tmp_path, capsys, propagation=source)
    forward = tests["forward_propagation"]
    assert forward["diagnoses"] == ["cache_wrong", "backward_reads_forward"]
    assert (
        "cache[0] is a tuple of 2 items; expected the tuple (A_prev, W, b, Z, A) of layer 1"
        in forward["message"]
    )
    assert forward["score"] == RUBRIC["forward_propagation"] / 2
    assert tests["backward_propagation"]["status"] == "passed"


def test_a_wrong_forward_whose_cache_backward_does_not_read_wrongly_gets_no_note(tmp_path, capsys):
    """A cache with a wrong Z: backward reads A_prev and W only, so it is not misled."""
    source = replaced(
        PROPAGATION,
        "forward_propagation",
        "cache.append((A_prev, W, b, Z, A))",
        "cache.append((A_prev, W, b, 2 * Z, A))",
    )
    _, tests = graded(tmp_path, capsys, propagation=source)
    assert tests["forward_propagation"]["diagnoses"] == ["cache_wrong"]
    assert tests["backward_propagation"]["status"] == "passed"
