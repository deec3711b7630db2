"""core.beside: a forked child's results are exactly the caller's own, or marked for the caller
to do itself; the child is always reaped.

A child is forked only from a process with one thread, and pytest-xdist's workers run threads,
so each test that needs one runs a fresh interpreter (``fresh_interpreter``, in conftest.py)."""

from __future__ import annotations

import sys
import threading

import pytest

from modelsnap.core import beside

needs_fork = pytest.mark.skipif(sys.platform != "linux", reason="the child is Linux-only")


@needs_fork
def test_results_come_back_in_order_and_whole(fresh_interpreter) -> None:
    answer = fresh_interpreter(
        """
        from modelsnap.core import beside
        items = list(range(1003))
        child = beside.start_beside(lambda n: (n, str(n) * 3, {"half": n / 2}), items, chunk=50)
        pid = child._pid
        got = child.results()
        print(json.dumps({"forks": len(forks), "reaped": reaped(pid),
                          "same": got == [(n, str(n) * 3, {"half": n / 2}) for n in items]}))
        """
    )
    assert answer == {"forks": 1, "reaped": True, "same": True}


@needs_fork
def test_poll_counts_what_has_arrived(fresh_interpreter) -> None:
    """The caller counts the child's progress without waiting for it (whole chunks only)."""
    answer = fresh_interpreter(
        """
        from modelsnap.core import beside
        def slow(n):
            time.sleep(0.002)
            return n

        child = beside.start_beside(slow, list(range(400)), chunk=20)
        seen = [child.poll()]
        while seen[-1] < 400:
            time.sleep(0.01)
            seen.append(child.poll())
        print(json.dumps({"seen": seen, "results": child.results() == list(range(400))}))
        """
    )
    seen = answer["seen"]
    assert answer["results"]
    assert seen == sorted(seen) and seen[-1] == 400
    assert all(count % 20 == 0 for count in seen)
    assert len(set(seen)) > 3  # counted as it came, not all at the end


@needs_fork
def test_what_the_child_cannot_send_is_left_to_the_caller(fresh_interpreter) -> None:
    """A chunk whose work raises, or whose results marshal cannot write (a TOML datetime),
    comes back NOT_DONE; the other chunks come back whole."""
    answer = fresh_interpreter(
        """
        from modelsnap.core import beside
        import datetime

        def work(n):
            if n == 7:
                raise ValueError("bad item")
            if n == 25:
                return datetime.date(2026, 12, 1)
            return -n

        got = beside.start_beside(work, list(range(40)), chunk=10).results()
        print(json.dumps({"not_done": [n for n, r in enumerate(got) if r is beside.NOT_DONE],
                          "done": {n: r for n, r in enumerate(got) if r is not beside.NOT_DONE}}))
        """
    )
    assert answer["not_done"] == [*range(0, 10), *range(20, 30)]
    assert answer["done"] == {str(n): -n for n in (*range(10, 20), *range(30, 40))}


@needs_fork
def test_a_child_that_dies_leaves_the_rest_to_the_caller(fresh_interpreter) -> None:
    answer = fresh_interpreter(
        """
        from modelsnap.core import beside
        def work(n):
            if n == 15:
                os._exit(3)  # killed mid-way, as by the OOM killer
            return n

        child = beside.start_beside(work, list(range(30)), chunk=5)
        pid = child._pid
        got = child.results()
        print(json.dumps({"done": [r for r in got if r is not beside.NOT_DONE],
                          "not_done": sum(r is beside.NOT_DONE for r in got),
                          "reaped": reaped(pid)}))
        """
    )
    assert answer == {"done": list(range(15)), "not_done": 15, "reaped": True}


@needs_fork
def test_a_cancelled_child_is_killed_and_reaped_at_once(fresh_interpreter) -> None:
    answer = fresh_interpreter(
        """
        from modelsnap.core import beside
        child = beside.start_beside(lambda n: time.sleep(60), [1, 2], chunk=1)
        pid = child._pid
        started = time.monotonic()
        child.cancel()
        print(json.dumps({"reaped": reaped(pid), "quick": time.monotonic() - started < 30}))
        """
    )
    assert answer == {"reaped": True, "quick": True}


@needs_fork
def test_no_child_from_a_large_process(fresh_interpreter) -> None:
    """A library caller holding gigabytes would pay more for the fork than it saves."""
    answer = fresh_interpreter(
        """
        from modelsnap.core import beside
        allowed = beside.fork_allowed()
        beside.FORK_UNDER_BYTES = 1  # every process is "large"
        child = beside.start_beside(abs, [1, 2, 3])
        print(json.dumps({"allowed": allowed, "child": child is not None, "forks": len(forks)}))
        """
    )
    assert answer == {"allowed": True, "child": False, "forks": 0}


def test_no_child_in_a_process_with_threads() -> None:
    release = threading.Event()
    helper = threading.Thread(target=release.wait)
    helper.start()
    try:
        assert not beside.fork_allowed()
        assert beside.start_beside(abs, [1, 2, 3]) is None
    finally:
        release.set()
        helper.join()


def test_nothing_to_do_needs_no_child() -> None:
    assert beside.start_beside(abs, []) is None


@needs_fork
def test_map_beside_returns_or_raises_what_the_plain_loop_would(fresh_interpreter) -> None:
    """Shared with a child, the results are the plain loop's, in order; what the child could
    not do is done here; an item that fails here fails as it would alone; ``done`` counts up
    to every item."""
    answer = fresh_interpreter(
        """
        from modelsnap.core import beside
        import datetime

        def work(n):
            if n == 150 and os.getpid() != parent:
                raise OSError("only the child fails here")
            return datetime.date(2026, 1, 1 + n % 28) if n == 170 else n * n

        parent = os.getpid()
        counts = []
        got = beside.map_beside(work, list(range(200)), beside_from=10, chunk=25,
                                done=counts.append)
        plain = [work(n) for n in range(200)]

        def fails(n):
            if n == 199:
                raise KeyError("the last item")
            return n

        try:
            beside.map_beside(fails, list(range(200)), beside_from=10)
            raised = None
        except KeyError as error:
            raised = str(error)
        print(json.dumps({"same": got == plain, "forks": len(forks), "raised": raised,
                          "counts_rise": counts == sorted(counts), "last": counts[-1],
                          "here": len(counts)}))
        """
    )
    assert answer["same"] and answer["forks"] == 2
    assert answer["raised"] == "'the last item'"
    assert answer["counts_rise"] and answer["here"] == 90  # 45 % of 200 done here
    assert answer["last"] <= 200


@needs_fork
def test_a_caller_that_ignores_sigchld_still_gets_its_results(fresh_interpreter) -> None:
    """With SIGCHLD ignored the kernel reaps the child itself; waiting for it must not fail."""
    answer = fresh_interpreter(
        """
        from modelsnap.core import beside
        import signal
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        got = beside.map_beside(lambda n: n + 1, list(range(50)), beside_from=1, chunk=5)
        cancelled = beside.start_beside(lambda n: time.sleep(60), [1])
        cancelled.cancel()
        print(json.dumps({"same": got == list(range(1, 51)), "forks": len(forks)}))
        """
    )
    assert answer == {"same": True, "forks": 2}


def test_keep_runs_on_each_result_before_the_next_is_worked_on() -> None:
    """The reader shares a snapshot's strings through ``keep``: an unshared result must never
    wait for the others (at 10,000 files that was 336 MB instead of 139 MB)."""
    calls: list[str] = []
    got = beside.map_beside(
        lambda n: calls.append(f"work {n}") or n,
        [1, 2, 3],
        beside_from=10**9,
        keep=lambda n: calls.append(f"keep {n}") or -n,
    )
    assert got == [-1, -2, -3]
    assert calls == ["work 1", "keep 1", "work 2", "keep 2", "work 3", "keep 3"]


@needs_fork
def test_keep_runs_on_the_childs_results_as_they_arrive(fresh_interpreter) -> None:
    answer = fresh_interpreter(
        """
        from modelsnap.core import beside
        parent = os.getpid()
        calls = []

        def work(n):
            if os.getpid() == parent:
                time.sleep(0.01)  # slower here: the child's chunks arrive meanwhile
                calls.append(("work", n))
            return n

        got = beside.map_beside(work, list(range(100)), beside_from=1, chunk=5,
                                keep=lambda n: calls.append(("keep", n)) or n)
        here = 100 * 9 // 20  # the items done here: 0 to 44
        last_here = calls.index(("work", here - 1))
        early = [n for what, n in calls[:last_here] if what == "keep" and n >= here]
        print(json.dumps({"same": got == list(range(100)), "early": len(early)}))
        """
    )
    assert answer["same"]
    assert answer["early"] > 0  # kept while this process was still working, not at the end


def test_done_every_paces_the_count(monkeypatch) -> None:
    """With ``done_every``, ``done`` hears the count once that long has passed since the call
    began or since it last heard, not after every item (a reading counted on a terminal)."""
    clock = iter(i * 0.04 for i in range(10_000))  # each look at the clock: 40 ms later
    monkeypatch.setattr(beside.time, "monotonic", lambda: next(clock))
    heard: list[int] = []
    got = beside.map_beside(
        lambda n: n, list(range(20)), beside_from=10**6, done=heard.append, done_every=0.1
    )
    assert got == list(range(20))
    assert heard and len(heard) < 20 and heard == sorted(heard)
    assert all(later - earlier >= 2 for earlier, later in zip(heard, heard[1:], strict=False))
    heard.clear()
    beside.map_beside(lambda n: n, list(range(20)), beside_from=10**6, done=heard.append)
    assert heard == list(range(1, 21))  # without it: after each item


# -- a started interpreter, where no child may be forked (by_name) ---------------------------

needs_posix = pytest.mark.skipif(sys.platform == "win32", reason="the helper is POSIX-only")
IDS = [f"20261126T0730{n % 60:02d}-model_{n}-{n:04x}" for n in range(60)]


def _named(counted: list[str], name: str = "short_id"):
    """``store.short_id``, counting the items done in this process, under the name a started
    interpreter imports (where the real one does the rest)."""
    from modelsnap.core.records import store

    def work(item: str) -> str:
        counted.append(item)
        return store.short_id(item)

    work.__module__, work.__qualname__ = "modelsnap.core.records.store", name
    return work


def _in_a_thread(call):
    """``call()`` from a second thread, as in the TUI: no child may be forked there."""
    out: dict[str, object] = {}

    def run() -> None:
        out["fork"] = beside.fork_allowed()
        out["value"] = call()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    assert out["fork"] is False
    return out["value"]


@needs_posix
def test_a_thread_shares_named_work_with_a_started_interpreter(monkeypatch) -> None:
    from modelsnap.core.records.store import short_id

    monkeypatch.setattr(beside, "SPAWN_FROM", 10)
    started: list[object] = []
    spawn = beside._spawn_beside
    monkeypatch.setattr(
        beside, "_spawn_beside", lambda *a: started.append(spawn(*a)) or started[-1]
    )
    here: list[str] = []
    got = _in_a_thread(
        lambda: beside.map_beside(_named(here), IDS, beside_from=1, chunk=7, by_name=True)
    )
    assert got == [short_id(item) for item in IDS]
    (helper,) = started
    assert helper is not None and helper._process.returncode == 0  # reaped, ended well
    assert len(here) == len(IDS) * 9 // 20  # the rest came from the helper


@needs_posix
def test_a_helper_that_cannot_do_the_work_leaves_it_all_here(monkeypatch) -> None:
    """A name the helper cannot import (or anything it cannot read) is answered with nothing:
    every item is done here, with the same results."""
    from modelsnap.core.records.store import short_id

    monkeypatch.setattr(beside, "SPAWN_FROM", 10)
    here: list[str] = []
    work = _named(here, name="no_such_function")
    got = _in_a_thread(lambda: beside.map_beside(work, IDS, beside_from=1, by_name=True))
    assert got == [short_id(item) for item in IDS] and len(here) == len(IDS)


@needs_posix
def test_only_modelsnaps_own_named_work_starts_an_interpreter(monkeypatch) -> None:
    monkeypatch.setattr(beside, "SPAWN_FROM", 10)
    work = _named([])
    # without by_name, below SPAWN_FROM, a function of another module, a nested one, an item
    # marshal cannot write: no interpreter (the caller does it all)
    assert _in_a_thread(lambda: beside.start_beside(work, IDS)) is None
    assert _in_a_thread(lambda: beside.start_beside(work, IDS[:9], by_name=True)) is None
    assert _in_a_thread(lambda: beside.start_beside(str.upper, IDS, by_name=True)) is None
    work.__module__ = "hostile_models"
    assert _in_a_thread(lambda: beside.start_beside(work, IDS, by_name=True)) is None
    work.__module__, work.__qualname__ = "modelsnap.core.records.store", "outer.<locals>.f"
    assert _in_a_thread(lambda: beside.start_beside(work, IDS, by_name=True)) is None
    work.__qualname__ = "short_id"
    unwritable = [object()] * len(IDS)
    assert _in_a_thread(lambda: beside.start_beside(work, unwritable, by_name=True)) is None


@needs_posix
def test_a_cancelled_helper_is_ended_and_reaped(monkeypatch) -> None:
    monkeypatch.setattr(beside, "SPAWN_FROM", 10)
    helper = _in_a_thread(lambda: beside.start_beside(_named([]), IDS * 1000, by_name=True))
    assert helper is not None
    helper.cancel()
    assert helper._process.returncode is not None  # killed or ended, and waited for
    helper.cancel()  # twice: nothing left to do


@needs_posix
def test_the_helper_imports_nothing_but_modelsnaps_own(tmp_path) -> None:
    """What the helper is sent names the work; a name outside modelsnap is refused there too
    (it answers nothing), so no other module's function ever runs on the items."""
    import marshal
    import subprocess

    made = tmp_path / "made"
    for module, name in (("os", "mkdir"), ("modelsnap.core.records.store", "_load.__code__")):
        done = subprocess.run(
            [sys.executable, "-I", "-c", "from modelsnap.core.beside import serve; serve()"],
            input=marshal.dumps((module, name, 1, [str(made)])),
            capture_output=True,
            timeout=60,
        )
        assert done.returncode == 0 and done.stdout == b""
    assert not made.exists()
