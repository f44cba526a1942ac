"""`initlab demo` prints the course's results and writes both plots."""

import subprocess
import sys

import pytest

from initlab.cli import main


def test_demo_reproduces_the_course_table(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "plots")]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line[:1].isalpha()}
    assert rows["zeros"][1:3] == ["0.5", "0.5"]
    assert rows["large"][3:5] == ["0.83", "0.86"]
    assert rows["He,"][2:4] == ["0.9933", "0.96"]
    assert "0.07357895962677" in out and "0.8830537463419761" in out
    assert "0.6931471805599455" in out  # the published zeros trace, digit for digit, at 10000
    for name in ("cost_curves.png", "decision_boundaries.png"):
        data = (tmp_path / "plots" / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000


def test_demo_refuses_a_file_as_output_folder(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("keep me")
    assert main(["demo", "--out", str(target), "--iterations", "10"]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert target.read_text() == "keep me"


def test_python_dash_m_runs_the_same_command(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "initlab", "demo", "--iterations", "1000", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "He, sqrt(2/n)" in result.stdout


@pytest.mark.parametrize("bad", ["0", "ten"])
def test_bad_iterations_is_a_usage_error(bad, capsys):
    with pytest.raises(SystemExit) as info:
        main(["demo", "--iterations", bad])
    assert info.value.code == 2
    assert "positive integer" in capsys.readouterr().err


def test_a_short_run_records_often_enough_to_show_a_trace(tmp_path, capsys):
    """--iterations 500 records every 50 iterations: the table's cost is at 450, not 0."""
    assert main(["demo", "--out", str(tmp_path), "--iterations", "500"]) == 0
    out = capsys.readouterr().out
    assert "Cost after each 50 iterations:" in out
    assert "cost at 450" in out and "cost at 0" not in out


def test_every_initialization_has_one_colour_in_every_picture():
    from initlab import plots

    names = {"zeros": ["zeros"], "random": ["large random (x10)", "random"],
             "xavier": ["Xavier, sqrt(1/n)", "Xavier"], "he": ["He, sqrt(2/n)", "He"]}  # fmt: skip
    for key, labels in names.items():
        assert {plots.color_of(label) for label in labels} == {plots.INIT_COLORS[key]}
    assert len(set(plots.INIT_COLORS.values())) == 4


def test_a_bare_command_lists_the_commands_and_version_says_which(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert all(command in out for command in ("demo", "grade", "release"))
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith("initlab 0.")
