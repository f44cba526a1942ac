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
