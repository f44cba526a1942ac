"""The light figures of a graded notebook (initlab.feedback) and the feedback
page's offline maths (initlab.nbgrader_support.math_to_mathml)."""

import base64
import io
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from initlab import feedback, kernel, reference
from initlab.datasets import load_circles
from initlab.nbgrader_support import math_to_mathml
from initlab.plots import CLASS_COLORS, INIT_COLORS, REGION_COLORS

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def he_run():
    X, Y, _, _ = load_circles()
    np.random.seed(3)
    dims = [2, 10, 5, 1]
    parameters = {}
    for l in range(1, 4):
        parameters[f"W{l}"] = np.random.randn(dims[l], dims[l - 1]) * np.sqrt(2 / dims[l - 1])
        parameters[f"b{l}"] = np.zeros((dims[l], 1))
    trained, costs = kernel.train(X, Y, parameters, num_iterations=15000, record_every=1000)
    return X, Y, trained, costs


def test_png_writes_the_pixels_given():
    rgb = np.zeros((3, 5, 3), dtype=np.uint8)
    rgb[0, 0] = (255, 0, 0)
    rgb[2, 4] = (1, 2, 3)
    decoded = np.asarray(Image.open(io.BytesIO(feedback.png(rgb))).convert("RGB"))
    assert decoded.shape == (3, 5, 3)
    assert np.array_equal(decoded, rgb)


def regions_of(svg: str) -> np.ndarray:
    encoded = re.search(r'href="data:image/png;base64,([^"]+)"', svg).group(1)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))).convert("RGB"))


def test_the_figure_shows_the_run_in_the_colours_of_the_demo(he_run):
    X, Y, trained, costs = he_run
    svg = feedback.training_figure("He", costs, trained, X, Y).svg
    root = ET.fromstring(svg)  # well-formed SVG
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"He: cost", "He: decision boundary", "iteration", "x1", "x2"} <= set(texts)
    line = root.find(f"{SVG}polyline")
    assert line.get("stroke") == INIT_COLORS["he"]
    assert len(line.get("points").split()) == len(costs)
    dots = [c for c in root.iter(f"{SVG}circle") if c.get("stroke") == "#000"]
    fills = [c.get("fill") for c in dots]
    assert fills.count(CLASS_COLORS[0]) == int((Y == 0).sum()) + 1  # + the legend's dot
    assert fills.count(CLASS_COLORS[1]) == int((Y == 1).sum()) + 1


def test_the_regions_are_what_the_network_predicts(he_run):
    X, Y, trained, costs = he_run
    image = regions_of(feedback.training_figure("He", costs, trained, X, Y).svg)
    n = feedback.GRID_POINTS
    low, high = X.min(axis=1) - 0.3, X.max(axis=1) + 0.3
    colours = [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in REGION_COLORS]
    for row, col in [(0, 0), (n // 2, n // 2), (n - 1, n - 1), (n // 3, 2 * n // 3)]:
        x1 = low[0] + (high[0] - low[0]) * col / (n - 1)
        x2 = high[1] - (high[1] - low[1]) * row / (n - 1)  # the top row is the largest x2
        point = np.array([[x1], [x2]])
        label = int(reference.predict(kernel.forward(point, trained))[0, 0])
        assert tuple(image[row, col]) == colours[label], (row, col, label)
    # He separates the circles: the centre is class 1, a corner class 0.
    assert tuple(image[n // 2, n // 2]) == colours[1] and tuple(image[0, 0]) == colours[0]


def test_a_flat_or_infinite_cost_and_a_hostile_name_still_draw(he_run):
    X, Y, trained, _ = he_run
    costs = np.array([np.inf, 0.6931471805599453, 0.6931471805599453])
    svg = feedback.training_figure("<script>alert(1)</script>", costs, trained, X, Y).svg
    root = ET.fromstring(svg)
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "1 infinite cost(s) not drawn" in [t.text for t in root.iter(f"{SVG}text")]
    assert "nan" not in svg and "inf," not in root.find(f"{SVG}polyline").get("points")


def test_math_becomes_mathml_outside_code_only():
    text = "cost $\\log 2 \\approx 0.6931$, code `x = $y$`, $$W^{[l]} := W^{[l]} - \\alpha dW^{[l]}$$ and $5 or $6"
    out = math_to_mathml(text)
    assert out.count("<math") == 2 and 'display="block"' in out and 'display="inline"' in out
    assert "`x = $y$`" in out and "$5 or $6" in out
    inner = [t for m in re.findall(r"<math.*?</math>", out) for t in re.findall(r">([^<]+)<", m)]
    assert not any(ch in "".join(inner) for ch in "*_[]\\$`"), inner
    assert math_to_mathml("$\\frac{1}{$") == "$\\frac{1}{$"  # unreadable: left as written
