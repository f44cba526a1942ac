"""The second exercise, planar data with one hidden layer: the solution gets full marks
with the hidden checks, the stubs zero, and each mistake students make costs only
its own function, with its own diagnosis."""

import json
from pathlib import Path

import pytest

from initlab import assignments
from initlab.cli import main

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = (ROOT / "graders" / "solutions" / "planar" / "planar.py").read_text()
RUBRIC = assignments.get("planar").points()


def graded(tmp_path, capsys, source, *options):
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "planar.py").write_text(source)
    assert main(["grade", "--json", "--assignment", "planar", *options, str(folder)]) == 0
    report = json.loads(capsys.readouterr().out)
    return report, {t["name"]: t for t in report["tests"]}


def function(name):
    start = SOLUTION.index(f"def {name}(")
    end = SOLUTION.find("\ndef ", start + 1)
    return SOLUTION[start : end if end > 0 else len(SOLUTION)]


def mistaken(name, old, new):
    body = function(name)
    assert old in body, (name, old)
    return SOLUTION.replace(body, body.replace(old, new))


def test_the_solution_gets_full_marks_with_the_hidden_checks(tmp_path, capsys):
    report, tests = graded(tmp_path, capsys, SOLUTION, "--hidden")
    assert report["assignment"] == "planar" and report["score"] == report["max_score"] == 100
    assert set(tests) == set(RUBRIC)


def test_the_released_stubs_get_zero_with_not_implemented(capsys):
    assert (
        main(["grade", "--json", "--assignment", "planar", str(ROOT / "assignment" / "planar")])
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["score"] == 0
    assert {code for t in report["tests"] for code in t["diagnoses"]} == {"not_implemented"}


MISTAKES = [
    ("layer_sizes", "n_x = X.shape[0]", "n_x = 2", "layer_sizes_wrong"),
    (
        "initialize_parameters",
        "W1 = np.random.randn(n_h, n_x) * 0.01",
        "W1 = np.random.randn(n_h, n_x)",
        "scale_one",
    ),
    (
        "initialize_parameters",
        "b1 = np.zeros((n_h, 1))",
        "b1 = np.random.randn(n_h, 1) * 0.01",
        "bias_not_zero",
    ),
    (
        "initialize_parameters",
        "    W1 = np.random.randn(n_h, n_x) * 0.01",
        "    np.random.seed(3)\n    W1 = np.random.randn(n_h, n_x) * 0.01",
        "wrong_seed",
    ),
    (
        "forward_propagation",
        "A1 = np.tanh(Z1)",
        "A1 = np.maximum(0, Z1)",
        "hidden_activation_wrong",
    ),
    (
        "compute_cost",
        "cost = float(-np.sum(logprobs) / m)",
        "cost = float(-np.sum(logprobs))",
        "loss_wrong",
    ),
    (
        "backward_propagation",
        "1 - np.power(A1, 2)",
        "1 - np.power(cache['Z1'], 2)",
        "tanh_derivative_wrong",
    ),
    (
        "backward_propagation",
        "1 - np.power(A1, 2)",
        "np.multiply(A1, 1 - A1)",
        "tanh_derivative_wrong",
    ),
    (
        "backward_propagation",
        "dW2 = np.dot(dZ2, A1.T) / m",
        "dW2 = np.dot(A1, dZ2.T) / m",
        "grad_transposed",
    ),
    ("backward_propagation", "dZ2 = A2 - Y", "dZ2 = (A2 - Y) / m", "grad_missing_1_over_m"),
    (
        "backward_propagation",
        "dW1 = np.dot(dZ1, X.T) / m",
        "dW1 = np.dot(dZ1, A1.T) / m",
        "dW1_uses_A1",
    ),
    ("update_parameters", "learning_rate=1.2", "learning_rate=0.01", "learning_rate_wrong"),
    (
        "nn_model",
        "parameters = update_parameters(parameters, grads)",
        "parameters = update_parameters(parameters, grads, 0.5)",
        "learning_rate_wrong",
    ),
    ("predict", "predictions = A2 > 0.5", "predictions = A2 >= 0.5", "predict_threshold"),
]


@pytest.mark.parametrize(
    "name, old, new, code", MISTAKES, ids=[m[3] + "-" + m[0] for m in MISTAKES]
)
def test_each_mistake_costs_only_its_function_with_its_own_diagnosis(
    tmp_path, capsys, name, old, new, code
):
    report, tests = graded(tmp_path, capsys, mistaken(name, old, new))
    assert tests[name]["diagnoses"] == [code], tests[name]["message"]
    others = {n: t["status"] for n, t in tests.items() if n != name}
    assert set(others.values()) == {"passed"}, others
    assert "checked on n_x = " in tests[name]["message"] or code == "predict_threshold"


def test_a_wrong_backward_does_not_cost_nn_model_that_calls_it(tmp_path, capsys):
    """nn_model is judged on its own loop: the helpers it calls are correct ones."""
    source = mistaken(
        "backward_propagation", "dW1 = np.dot(dZ1, X.T) / m", "dW1 = np.dot(dZ1, X.T)"
    )
    _, tests = graded(tmp_path, capsys, source)
    assert tests["backward_propagation"]["status"] == "failed"
    assert tests["nn_model"]["status"] == "passed"


def test_both_editions_conventions_get_full_marks(tmp_path, capsys):
    """2017-2021: np.random.seed(2) inside initialize_parameters and compute_cost(A2, Y,
    parameters); 2022+: no seed inside, compute_cost(A2, Y)."""
    older = mistaken(
        "initialize_parameters",
        "    W1 = np.random.randn(n_h, n_x) * 0.01",
        "    np.random.seed(2)\n    W1 = np.random.randn(n_h, n_x) * 0.01",
    ).replace("def compute_cost(A2, Y):", "def compute_cost(A2, Y, parameters):")
    older = older.replace("cost = compute_cost(A2, Y)", "cost = compute_cost(A2, Y, parameters)")
    report, _ = graded(tmp_path, capsys, older, "--hidden")
    assert report["score"] == 100


@pytest.mark.slow
def test_the_self_check_grades_the_planar_folder(tmp_path):
    import shutil
    import subprocess
    import sys

    folder = tmp_path / "planar"
    shutil.copytree(ROOT / "assignment" / "planar", folder)
    run = [sys.executable, "-m", "pytest", "-q"]
    done = subprocess.run(run, cwd=folder, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "8 failed" in done.stdout and "0 / 100" in done.stdout
    (folder / "planar.py").write_text(mistaken("predict", "A2 > 0.5", "A2 >= 0.5"))
    done = subprocess.run(run, cwd=folder, capture_output=True, text=True, timeout=120)
    assert "1 failed, 7 passed" in done.stdout and "[predict_threshold]" in done.stdout
    assert "95 / 100" in done.stdout


# SPEC section 5: hidden sizes 1, 2, 3, 4, 5, 20, 50 give roughly these accuracies (%).
PUBLISHED_SIZES = {1: 67.5, 2: 67.25, 3: 90.75, 4: 90.5, 5: 91.25, 20: 90.0, 50: 90.25}


@pytest.mark.slow
def test_the_planar_demo_prints_the_courses_results(tmp_path, capsys):
    assert main(["demo", "planar", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "       0  0.693048" in out  # the published first cost, seed(2) initialization
    assert "logistic regression [2, 1]            47.00%" in out
    accuracy = float(out.split("4 tanh hidden units [2, 4, 1]")[1].split("%")[0])
    assert 89.5 <= accuracy <= 91.5
    table = out.split("5000 iterations each:")[1].splitlines()[2:9]
    measured = {int(line.split()[0]): float(line.split()[1].rstrip("%")) for line in table}
    assert set(measured) == set(PUBLISHED_SIZES)
    for size, published in PUBLISHED_SIZES.items():
        assert abs(measured[size] - published) <= 0.75, (size, measured[size], published)
    assert (tmp_path / "planar_hidden_sizes.png").stat().st_size > 10_000


PLANAR_NOTEBOOK = ROOT / "tests" / "fixtures" / "course" / "planar2022"


def test_a_course_notebook_of_the_exercise_as_handed_in_gets_full_marks(tmp_path, capsys):
    """planar_utils, testCases_v2, public_tests and sklearn are not there; the course's
    sigmoid from planar_utils stands in; the training and the plots are not run."""
    assert (
        main(["grade", "--json", "--hidden", "--assignment", "planar", str(PLANAR_NOTEBOOK)]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["score"] == 100, [
        t["message"] for t in report["tests"] if t["score"] < t["max_score"]
    ]


def test_a_broken_backward_cell_costs_backward_only(tmp_path, capsys):
    notebook = next(PLANAR_NOTEBOOK.glob("*.ipynb"))
    data = json.loads(notebook.read_text())
    cell = next(c for c in data["cells"] if "def backward_propagation" in "".join(c["source"]))
    cell["source"] = "".join(cell["source"]).replace("dZ2 = A2 - Y", "dZ2 = A2 - Y)")
    (tmp_path / notebook.name).write_text(json.dumps(data))
    assert main(["grade", "--json", "--assignment", "planar", str(tmp_path / notebook.name)]) == 0
    tests = {t["name"]: t for t in json.loads(capsys.readouterr().out)["tests"]}
    assert tests["backward_propagation"]["diagnoses"] == ["load_error"]
    assert "does not parse" in tests["backward_propagation"]["message"]
    assert all(t["status"] == "passed" for n, t in tests.items() if n != "backward_propagation")


def test_one_output_forms_of_the_cost_are_right_for_the_courses_model(tmp_path, capsys):
    """np.dot(Y, log(A2).T) is right for one output unit, the course's model: it keeps
    its points (SPEC section 5), and so does a cost returned as a (1, 1) array."""
    source = mistaken(
        "compute_cost",
        "    logprobs = np.multiply(np.log(A2), Y) + np.multiply(np.log(1 - A2), 1 - Y)\n"
        "    cost = float(-np.sum(logprobs) / m)",
        "    cost = -(np.dot(Y, np.log(A2).T) + np.dot(1 - Y, np.log(1 - A2).T)) / m",
    )
    _, tests = graded(tmp_path, capsys, source)
    assert tests["compute_cost"]["status"] == "passed", tests["compute_cost"]["message"]


@pytest.mark.slow
def test_a_class_of_planar_submissions_is_graded_in_bulk(tmp_path, capsys):
    import csv
    import shutil

    for student, source in {
        "ada": SOLUTION,
        "bo": mistaken("predict", "predictions = A2 > 0.5", "predictions = A2 >= 0.5"),
    }.items():
        (tmp_path / "class" / student).mkdir(parents=True)
        (tmp_path / "class" / student / "planar.py").write_text(source)
    shutil.copytree(PLANAR_NOTEBOOK, tmp_path / "class" / "cy")
    out = tmp_path / "grades.csv"
    db = tmp_path / "g.sqlite"
    args = ["grade", str(tmp_path / "class"), "--db", str(db), "--assignment", "planar"]
    assert main([*args, "--workers", "2", "--csv", str(out)]) == 0
    with out.open() as file:
        rows = {row["student_id"]: row for row in csv.DictReader(file)}
    assert {s: float(r["score"]) for s, r in rows.items()} == {"ada": 100, "bo": 95, "cy": 100}
    assert float(rows["bo"]["predict"]) == 5 and "nn_model" in rows["bo"]
