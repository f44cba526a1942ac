"""The result channel: what the grader makes of whatever comes down the pipe.

Student code can write to the channel (its descriptor is in the child), so every
frame and every description of a value may be forged. Whatever it holds, the
grader's memory and time stay bounded, and a value it cannot take is the student's
``error`` with a reason: never a traceback in the grader, never ``infrastructure``.
"""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from initlab import assignments, sandbox
from initlab.assignments.base import Outcome
from initlab.checks import Foreign
from initlab.grading import _outcome, _value, grade, judge_all

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = "\n".join(
    (ROOT / "graders" / "solutions" / "initialization" / name).read_text()
    for name in ("initialization.py", "propagation.py")
)
RANDOM = "def initialize_parameters_random(layers_dims):\n"


def frame(header: dict | str, body: bytes = b"") -> bytes:
    encoded = (header if isinstance(header, str) else json.dumps(header)).encode()
    return len(encoded).to_bytes(4, "big") + encoded + body


def decoded(data: bytes, chunk: int = 1 << 20) -> tuple[list, bool]:
    """The frames in data fed chunk bytes at a time, and whether the caps held."""
    frames = sandbox._Frames()
    within = all(frames.feed(data[at : at + chunk]) for at in range(0, len(data), chunk))
    return frames.frames, within


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def ok(value: dict) -> dict:
    return {"status": "ok", "value": value}


# --- frames --------------------------------------------------------------------

READY = frame({"kind": "ready", "size": 0})


@pytest.mark.parametrize(
    "forged",
    [
        '{"kind": "array", "size": Infinity}',
        '{"kind": "array", "size": NaN}',
        '{"kind": "array", "size": 1e400}',
        '{"kind": "array", "size": 99999999999999999999999999}',
        '{"kind": "array", "size": -1}',
        '{"kind": "array", "size": "12"}',
        '{"kind": "array", "size": true}',
        '{"kind": "array"}',
        "[1, 2, 3]",
        '"size"',
        "{not json",
        "[" * 100_000 + "]" * 100_000,
        '{"size": 0, "n": ' + "9" * 5000 + "}",
    ],
)
def test_a_malformed_frame_ends_the_reading_and_keeps_what_came_before(forged):
    data = READY + frame(forged) + READY
    for chunk in (1 << 20, 7, 1):
        frames, within = decoded(data, chunk) if chunk > 1 or len(data) < 5000 else (None, None)
        if frames is not None:
            assert within and frames == [({"kind": "ready", "size": 0}, b"")], frames[:3]


def test_a_header_longer_than_the_cap_ends_the_reading():
    data = READY + (sandbox.MAX_HEADER_BYTES + 1).to_bytes(4, "big") + b"{" * 100
    assert decoded(data) == ([({"kind": "ready", "size": 0}, b"")], True)


def test_a_flood_of_tiny_frames_stops_at_the_frame_cap():
    """Millions of valid frames: the reading stops once MAX_FRAMES came, holding no more."""
    tiny = frame({"size": 0})
    frames = sandbox._Frames()
    fed = 0
    while frames.feed(tiny * 10_000):
        fed += 10_000
        assert fed <= 10 * sandbox.MAX_FRAMES, "the flood was never stopped"
    assert len(frames.frames) == sandbox.MAX_FRAMES + 1
    assert len(frames.pending) == 0


def test_the_byte_cap_holds_whatever_the_frames_are():
    frames = sandbox._Frames()
    block = bytes(1 << 20)
    results = [frames.feed(block) for _ in range(sandbox.MAX_CHANNEL_BYTES // len(block) + 1)]
    assert results[-1] is False and all(results[:-1])
    assert frames.frames == [] and len(frames.pending) == 0  # malformed at once: nothing kept


def test_a_frame_split_anywhere_is_decoded_whole():
    body = npy(np.arange(6.0).reshape(2, 3))
    data = READY + frame({"kind": "array", "name": "a", "size": len(body)}, body) + READY
    for chunk in (1, 3, 5, 64, len(data)):
        frames, within = decoded(data, chunk)
        assert within and [h["kind"] for h, _ in frames] == ["ready", "array", "ready"]
        assert frames[1][1] == body


# --- values ---------------------------------------------------------------------


def forged_npy(header: str, body: bytes = b"") -> bytes:
    """A .npy file of version 1.0 whose header says what it is told to."""
    text = header.encode("latin1")
    text += b" " * (63 - (10 + len(text)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + body


def outcome_of(array_bytes: bytes) -> Outcome:
    return _outcome(ok({"kind": "ndarray", "file": "a"}), {"a": array_bytes})


def test_a_npy_header_claiming_a_huge_shape_allocates_nothing():
    claim = forged_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4096, 1048576, 1024), }")
    assert outcome_of(claim) == Outcome("ok", None)  # not the array claimed: nothing


@pytest.mark.parametrize(
    "array",
    [
        np.ones((2, 2), dtype=complex),
        np.array(["a", "b"]),
        np.array([b"a"]),
        np.array(["2026-01-01"], dtype="datetime64[D]"),
        np.array([1], dtype="timedelta64[s]"),
        np.zeros(2, dtype=[("x", "f8"), ("y", "i4")]),
    ],
    ids=["complex", "str", "bytes", "datetime", "timedelta", "structured"],
)
def test_arrays_of_what_is_not_numbers_are_the_students_error(array):
    outcome = outcome_of(npy(array))
    assert outcome.status == "exception" and "dtype" in outcome.error, outcome


def test_an_object_array_header_is_the_students_error():
    claim = forged_npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", bytes(16))
    outcome = outcome_of(claim)
    assert outcome.status == "exception" and "dtype object" in outcome.error, outcome


def test_numbers_of_every_kind_and_order_come_back_as_they_were():
    for array in (
        np.arange(6.0).reshape(2, 3),
        np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        np.arange(4, dtype=np.float32),
        np.arange(4, dtype=">i8"),
        np.array([True, False]),
        np.zeros((0, 3)),
        np.float64(2.5) * np.ones(()),
    ):
        value = outcome_of(npy(array)).value
        assert value.dtype == array.dtype and np.array_equal(value, array), (array, value)


@pytest.mark.parametrize(
    "description, reason",
    [
        ({"kind": "scalar", "type": "builtins.int", "value": 10**400}, "malformed"),
        ({"kind": "scalar", "type": "builtins.float", "value": "1.0"}, "malformed"),
        ({"kind": "scalar", "type": ["list"], "value": 1.0}, "malformed"),
        ({"kind": "other", "type": "builtins.list"}, None),
        ({"kind": "other", "type": "builtins.dict"}, "claims to be builtins.dict"),
        ({"kind": "other", "type": "numpy.ndarray"}, "claims to be numpy.ndarray"),
        ({"kind": "sequence", "type": "builtins.tuple", "length": 1e9, "items": {}}, "malformed"),
        ({"kind": "sequence", "type": "x.Mine", "length": 1, "items": {}}, "malformed"),
        ({"kind": "dict", "keys": [1], "items": {}}, "malformed"),
        ({"kind": "dict", "keys": ["'a'"], "items": []}, "malformed"),
        ("a string", "malformed"),
    ],
)
def test_forged_descriptions_are_the_students_error_with_a_reason(description, reason):
    outcome = _outcome(ok(description), {})
    if reason is None:
        assert outcome.status == "ok"
    else:
        assert outcome.status == "exception" and reason in outcome.error, outcome


def test_a_description_nested_deeply_is_the_students_error():
    description = {"kind": "ndarray", "file": "a"}
    for _ in range(100_000):
        description = {"kind": "dict", "keys": ["'a'"], "items": {"a": description}}
    outcome = _outcome(ok(description), {})
    assert outcome.status == "exception" and "malformed" in outcome.error


def test_a_tuple_or_list_always_has_the_items_the_checks_read():
    for description in (
        {"kind": "other", "type": "builtins.list"},
        {"kind": "foreign", "type": "builtins.tuple", "file": "a"},
    ):
        value = _value(description, {"a": npy(np.ones(3))})
        assert isinstance(value, Foreign) and {"length", "items"} <= set(value.array), value
    # a tuple of numbers keeps its values too (layer_sizes returns one)
    assert np.array_equal(value.array["array"], np.ones(3)) and value.array["length"] == 3


def test_records_that_are_not_records_are_the_students_error():
    for record in (None, [], "ok", {"status": "ok", "value": None}, {"status": ["x"]}):
        assert _outcome(record, {}).status == "exception", record


# --- everything at once: arbitrary values through the decoder and the checks ----------

DTYPES = st.sampled_from(["<f8", ">f8", "<f4", "<f2", "<i8", "|u1", "|b1", "<c16", "<U3", "<M8[s]"])
SHAPES = st.lists(st.integers(0, 4), max_size=3).map(tuple)


@st.composite
def arrays(draw) -> bytes:
    """Valid .npy bytes of any dtype and shape, or forged ones."""
    if draw(st.booleans()):
        dtype, shape = np.dtype(draw(DTYPES)), draw(SHAPES)
        size = int(np.prod(shape)) * dtype.itemsize
        values = draw(st.binary(min_size=size, max_size=size))
        return npy(np.frombuffer(values, dtype=dtype).reshape(shape))
    header = draw(st.text(st.characters(max_codepoint=255), max_size=120))
    return forged_npy(header, draw(st.binary(max_size=64)))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
NAMES = st.sampled_from(
    ["builtins.float", "builtins.int", "builtins.list", "builtins.tuple", "builtins.dict",
     "numpy.ndarray", "numpy.float64", "numpy.matrix", "x.\x1b[2JY"]
)  # fmt: skip


def descriptions(depth: int = 0):
    leaf = st.one_of(
        st.fixed_dictionaries({"kind": st.just("ndarray"), "file": st.sampled_from("ab")}),
        st.fixed_dictionaries(
            {"kind": st.just("foreign"), "type": NAMES, "file": st.sampled_from("ab")}
        ),
        st.fixed_dictionaries({"kind": st.just("scalar"), "type": NAMES, "value": JSON}),
        st.fixed_dictionaries({"kind": st.sampled_from(["other", "what"]), "type": NAMES | JSON}),
        JSON,
    )
    if depth >= 3:
        return leaf
    inner = st.deferred(lambda: descriptions(depth + 1))
    return st.one_of(
        leaf,
        st.builds(
            lambda items, quote: {
                "kind": "dict",
                "keys": [repr(k) if quote else k for k in items],
                "items": items,
            },
            st.dictionaries(st.sampled_from(["W1", "b1", "W2", "b2", "x"]), inner, max_size=5),
            st.booleans(),
        ),
        st.fixed_dictionaries(
            {
                "kind": st.just("sequence"),
                "type": NAMES,
                "length": st.integers(-1, 3) | JSON,
                "items": st.dictionaries(st.sampled_from(["0", "1", "x"]), inner, max_size=2),
            }
        ),
    )


RECORDS = st.one_of(
    st.fixed_dictionaries({"status": st.just("ok"), "value": descriptions()}),
    st.fixed_dictionaries({"status": JSON, "error": JSON}),
    JSON,
)
ASSIGNMENT = assignments.get()
PLAN = ASSIGNMENT.make_plan(hidden=False)
POINTS = ASSIGNMENT.points()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=RECORDS, stored=st.fixed_dictionaries({"a": arrays(), "b": arrays()}))
def test_any_record_and_arrays_give_an_outcome_the_checks_can_judge(record, stored):
    outcome = _outcome(record, stored)
    assert isinstance(outcome, Outcome) and outcome.status in {
        "ok", "exception", "not_implemented", "missing_function", "load_error", "unavailable",
    }  # fmt: skip
    assert "\x1b" not in outcome.error
    verdicts = judge_all(ASSIGNMENT, POINTS, PLAN, {step.id: outcome for step in PLAN.steps})
    assert [v.name for v in verdicts] == list(POINTS)
    assert all(0 <= v.score <= v.max_score for v in verdicts)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400), chunk=st.integers(1, 64))
def test_any_bytes_on_the_channel_decode_without_error(data, chunk):
    frames, within = decoded(data, chunk)
    assert within and all(isinstance(h, dict) and isinstance(b, bytes) for h, b in frames)


# --- through the sandbox --------------------------------------------------------


def graded_with(tmp_path, body: str) -> tuple:
    """The solution whose random initializer runs body first: its verdict, and
    whether every other function kept its points."""
    source = SOLUTION.replace(
        RANDOM, RANDOM + "    import os, sys\n" + "".join(f"    {line}\n" for line in body.splitlines())
    )
    file = tmp_path / "attack.py"
    file.write_text(source)
    tests = {t.name: t for t in grade(file).tests}
    attacked = tests.pop("initialize_parameters_random")
    return attacked, [t for t in tests.values() if t.status != "passed"]


def test_a_forged_record_is_the_students_error(tmp_path):
    """Records for its own steps that a real child never writes: an object claiming
    to be a dict, and an array of complex numbers."""
    body = npy(np.ones((10, 2), dtype=complex))
    forged = [frame({"kind": "array", "name": "c.npy"}, body)]
    forged[0] = frame({"kind": "array", "name": "c.npy", "size": len(body)}, body)
    for i, value in enumerate([{"kind": "other", "type": "builtins.dict"}] * 2 + [
        {"kind": "dict", "keys": ["'W1'"], "items": {"W1": {"kind": "ndarray", "file": "c.npy"}}}
    ] * 2):
        record = {"kind": "record", "step": f"initialize_parameters_random.{i}", "record": ok(value)}
        forged.append(frame({**record, "size": 0}))
    attacked, others = graded_with(
        tmp_path, f"for data in {forged!r}:\n    os.write(int(sys.argv[2]), data)\nreturn {{}}"
    )
    assert (attacked.status, attacked.score) == ("error", 0), attacked
    assert "claims to be builtins.dict" in attacked.message, attacked.message
    assert others == []


def test_a_frame_of_infinite_length_is_the_students_error(tmp_path):
    forged = frame('{"kind": "array", "size": Infinity}')
    attacked, others = graded_with(tmp_path, f"os.write(int(sys.argv[2]), {forged!r})")
    assert (attacked.status, attacked.score) == ("error", 0), attacked
    assert others == []


def test_a_flood_of_tiny_frames_costs_only_its_function(tmp_path):
    """Valid frames of 37 bytes, a hundred million of them: the reading stops at the
    frame cap, and the function that sent them is an error."""
    tiny = frame({"size": 0}) * 100_000
    attacked, others = graded_with(
        tmp_path, f"for _ in range(1000):\n    os.write(int(sys.argv[2]), {tiny!r})"
    )
    assert (attacked.status, attacked.score) == ("error", 0), attacked
    assert others == []
