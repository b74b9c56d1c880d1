"""Mutation check: break each documented guarantee on purpose and require a test to notice.

Every mutation in ``mutations.toml`` is applied to its own scratch copy of the working tree
(tracked and untracked files, minus what git ignores); only the tests it names then run,
against that copy's ``src`` (``PYTHONPATH`` shadows the editable install). The check fails
when a mutation survives (its tests pass), when a mutation no longer applies (its text is not
found exactly once, or the result does not compile), or when the tests fail on the unmutated
copy. Standard library only, so it also runs before anything is installed.

    python tests/mutation/run.py                 # all mutations (make mutation-check)
    python tests/mutation/run.py --only NAME...  # some of them
    python tests/mutation/run.py --check         # only that every mutation still applies
    python tests/mutation/run.py --list
    python tests/mutation/run.py --file my.toml  # try mutations from another list
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MUTATIONS = Path(__file__).with_name("mutations.toml")
_MUTATION_KEYS = {"name", "guarantee", "tests", "edit"}
_EDIT_KEYS = {"file", "find", "replace", "regex"}


class MutationError(Exception):
    """A mutation that cannot be applied as written: fix the list, never skip it."""


@dataclass(frozen=True)
class Edit:
    file: str
    find: str
    replace: str
    regex: bool = False


@dataclass(frozen=True)
class Mutation:
    name: str
    guarantee: str
    tests: tuple[str, ...]
    edits: tuple[Edit, ...]


@dataclass
class Outcome:
    mutation: Mutation
    status: str  # killed | survived | error
    seconds: float
    failed: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    detail: str = ""


def load(path: Path = MUTATIONS) -> list[Mutation]:
    """The mutations of ``path``; raises MutationError for a malformed entry."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    unknown = set(data) - {"mutation"}
    if unknown:
        raise MutationError(f"{path.name}: unknown top-level keys {sorted(unknown)}")
    mutations: list[Mutation] = []
    for index, entry in enumerate(data.get("mutation", []), 1):
        where = f"{path.name}: mutation #{index} ({entry.get('name', 'unnamed')})"
        if set(entry) - _MUTATION_KEYS or not {"name", "tests", "edit"} <= set(entry):
            raise MutationError(f"{where}: needs name, guarantee, tests and [[mutation.edit]]; "
                                f"keys are {sorted(entry)}")
        if not entry["tests"] or not all(isinstance(t, str) and t for t in entry["tests"]):
            raise MutationError(f"{where}: tests must name at least one pytest node id")
        edits = []
        for edit in entry["edit"]:
            if set(edit) - _EDIT_KEYS or not {"file", "find", "replace"} <= set(edit):
                raise MutationError(f"{where}: an edit needs file, find and replace (and "
                                    f"optionally regex); got {sorted(edit)}")
            edits.append(Edit(edit["file"], edit["find"], edit["replace"],
                              bool(edit.get("regex", False))))
        mutations.append(Mutation(entry["name"], entry.get("guarantee", ""),
                                  tuple(entry["tests"]), tuple(edits)))
    names = [m.name for m in mutations]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise MutationError(f"{path.name}: duplicate names {duplicates}")
    return mutations


def apply_edit(text: str, edit: Edit) -> str:
    """``text`` with the edit made; raises MutationError unless ``find`` matches exactly once."""
    if edit.regex:
        pattern = re.compile(edit.find, re.MULTILINE)
        count = len(pattern.findall(text))
        result = pattern.sub(edit.replace, text, count=1) if count == 1 else text
    else:
        count = text.count(edit.find)
        result = text.replace(edit.find, edit.replace, 1) if count == 1 else text
    if count != 1:
        raise MutationError(f"{edit.file}: {'pattern' if edit.regex else 'text'} "
                            f"{_short(edit.find)} matches {count} times, not exactly once "
                            "(the code moved on: update the mutation)")
    if result == text:
        raise MutationError(f"{edit.file}: the edit of {_short(edit.find)} changes nothing")
    return result


def mutated_files(mutation: Mutation, root: Path = ROOT) -> dict[str, str]:
    """The new text of every file the mutation touches (edits of one file apply in order)."""
    texts: dict[str, str] = {}
    for edit in mutation.edits:
        path = root / edit.file
        if edit.file not in texts and not path.is_file():
            raise MutationError(f"{mutation.name}: no file {edit.file}")
        current = texts[edit.file] if edit.file in texts else path.read_text(encoding="utf-8")
        try:
            texts[edit.file] = apply_edit(current, edit)
        except MutationError as exc:
            raise MutationError(f"{mutation.name}: {exc}") from None
    for name, text in texts.items():
        if name.endswith(".py"):
            try:
                compile(text, name, "exec")
            except SyntaxError as exc:
                raise MutationError(f"{mutation.name}: the mutant of {name} does not compile: "
                                    f"{exc}") from None
    return texts


def check_tests_exist(mutation: Mutation, root: Path = ROOT) -> None:
    """Each named test file exists and defines the named test function."""
    for node in mutation.tests:
        file, _, rest = node.partition("::")
        path = root / file
        if not path.is_file():
            raise MutationError(f"{mutation.name}: no test file {file}")
        function = rest.split("::")[-1].split("[")[0]
        if function and not re.search(rf"^\s*def {re.escape(function)}\(",
                                       path.read_text(encoding="utf-8"), re.MULTILINE):
            raise MutationError(f"{mutation.name}: {file} has no test {function}")


def validate(mutations: list[Mutation], root: Path = ROOT) -> None:
    """Raises MutationError for the first mutation that no longer applies to ``root``."""
    for mutation in mutations:
        mutated_files(mutation, root)
        check_tests_exist(mutation, root)


# --- running -----------------------------------------------------------------------------

def tree_files(root: Path = ROOT) -> list[str]:
    """The working tree as git sees it: tracked and untracked files, not ignored ones."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=root, check=True, capture_output=True)
    names = sorted({n for n in listed.stdout.decode().split("\0") if n})
    return [n for n in names if (root / n).is_file()]


def copy_tree(files: list[str], source: Path, dest: Path) -> None:
    for name in files:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, target)


def test_env(scratch: Path) -> dict[str, str]:
    """The environment of ``make test`` with the scratch copy's ``src`` first on the path."""
    env = {k: v for k, v in os.environ.items() if k != "CONTACTGUARD_DEV"}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(scratch / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.setdefault("COLUMNS", "200")
    return env


def check_shadowing(scratch: Path) -> None:
    """Make sure the tests would import the scratch copy, not the editable install."""
    found = subprocess.run([sys.executable, "-c", "import contactguard; print(contactguard.__file__)"],
                           cwd=scratch, env=test_env(scratch), capture_output=True, text=True,
                           check=False)
    where = Path(found.stdout.strip() or "?").resolve()
    if found.returncode != 0 or scratch.resolve() / "src" not in where.parents:
        raise MutationError(f"the tests would import contactguard from {where}, not from the "
                            f"scratch copy {scratch}/src: {found.stderr.strip()}")


def run_tests(scratch: Path, tests: tuple[str, ...], timeout: float
              ) -> tuple[int | None, list[str], list[str], str]:
    """Run ``tests`` in ``scratch``: (exit code or None on timeout, failed, passed, output)."""
    report = scratch / ".mutation-junit.xml"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               f"--basetemp={scratch / '.pytest-tmp'}", f"--junitxml={report}", *tests]
    process = subprocess.Popen(command, cwd=scratch, env=test_env(scratch),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
        code: int | None = process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        code = None
    failed, passed = [], []
    if report.exists():
        for case in ET.parse(report).getroot().iter("testcase"):
            node = (case.get("classname", "").replace(".", "/") + ".py::" + case.get("name", ""))
            if case.find("skipped") is not None:
                continue
            bad = case.find("failure") is not None or case.find("error") is not None
            (failed if bad else passed).append(node)
    return code, failed, passed, output


def run_mutation(mutation: Mutation, base: Path, work: Path, timeout: float) -> Outcome:
    started = time.monotonic()
    scratch = work / mutation.name
    shutil.copytree(base, scratch, ignore=shutil.ignore_patterns("__pycache__", ".pytest-tmp",
                                                                 ".mutation-junit.xml"))
    try:
        for name, text in mutated_files(mutation, base).items():
            (scratch / name).write_text(text, encoding="utf-8")
        code, failed, passed, output = run_tests(scratch, mutation.tests, timeout)
    except MutationError as exc:
        return Outcome(mutation, "error", time.monotonic() - started, detail=str(exc))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    seconds = time.monotonic() - started
    if code is None:
        return Outcome(mutation, "error", seconds, failed, passed,
                       f"timed out after {timeout:.0f} s (a mutation should fail fast, not hang)")
    if code == 0:
        return Outcome(mutation, "survived", seconds, failed, passed, _tail(output))
    if code == 1 and failed:
        return Outcome(mutation, "killed", seconds, failed, passed, _failures(output))
    return Outcome(mutation, "error", seconds, failed, passed,
                   f"pytest exited {code} (not a test failure):\n{_tail(output)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these mutations")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="mutations tested at once (default: 2)")
    parser.add_argument("--timeout", type=float, default=600,
                        help="seconds before one mutation's tests count as hung (default: 600)")
    parser.add_argument("--check", action="store_true",
                        help="only check that every mutation still applies, run no tests")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also show how the tests failed under each killed mutation (check "
                             "that a new mutation is caught for the right reason)")
    parser.add_argument("--file", type=Path, default=MUTATIONS,
                        help="another list of mutations (default: tests/mutation/mutations.toml)")
    args = parser.parse_args(argv)

    try:
        mutations = load(args.file)
        if args.only:
            unknown = set(args.only) - {m.name for m in mutations}
            if unknown:
                raise MutationError(f"no mutation named {sorted(unknown)}")
            mutations = [m for m in mutations if m.name in args.only]
        validate(mutations)
    except MutationError as exc:
        print(f"mutation-check: {exc}", file=sys.stderr)
        return 2
    if args.list:
        for m in mutations:
            print(f"{m.name}\n    {m.guarantee}\n    " + "\n    ".join(m.tests))
        return 0
    if args.check:
        print(f"mutation-check: all {len(mutations)} mutations apply")
        return 0

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cg-mutation-") as tmp:
        work = Path(tmp)
        base = work / "_base"
        copy_tree(tree_files(), ROOT, base)
        try:
            check_shadowing(base)
        except MutationError as exc:
            print(f"mutation-check: {exc}", file=sys.stderr)
            return 2
        everything = tuple(dict.fromkeys(t for m in mutations for t in m.tests))
        print(f"mutation-check: {len(mutations)} mutations, {len(everything)} test ids; "
              "first the unmutated tree", flush=True)
        code, failed, _, output = run_tests(base, everything, args.timeout)
        print(f"  baseline: {'passed' if code == 0 else 'FAILED'} "
              f"({time.monotonic() - started:.1f} s)", flush=True)
        if code != 0:
            print(output, file=sys.stderr)
            print("mutation-check: the tests fail without any mutation "
                  f"({', '.join(failed) or f'pytest exited {code}'}); fix them first",
                  file=sys.stderr)
            return 1
        outcomes: list[Outcome] = []
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            futures = [pool.submit(run_mutation, m, base, work, args.timeout) for m in mutations]
            for future in futures:
                outcome = future.result()
                outcomes.append(outcome)
                _report(outcome, verbose=args.verbose)
    bad = [o for o in outcomes if o.status != "killed"]
    print(f"\nmutation-check: {len(outcomes)} mutations, "
          f"{sum(o.status == 'killed' for o in outcomes)} killed, "
          f"{sum(o.status == 'survived' for o in outcomes)} survived, "
          f"{sum(o.status == 'error' for o in outcomes)} errors "
          f"in {time.monotonic() - started:.0f} s")
    return 1 if bad else 0


def _report(outcome: Outcome, *, verbose: bool = False) -> None:
    m = outcome.mutation
    label = {"killed": "killed  ", "survived": "SURVIVED", "error": "ERROR   "}[outcome.status]
    print(f"  {label} {m.name} ({outcome.seconds:.1f} s)", flush=True)
    if outcome.status == "killed":
        print("           caught by " + ", ".join(outcome.failed))
        if outcome.passed:
            print("           (passed under it: " + ", ".join(outcome.passed) + ")")
        if verbose and outcome.detail:
            print("           " + outcome.detail.replace("\n", "\n           "))
    else:
        print(f"           guarantee: {m.guarantee}\n           tests: {', '.join(m.tests)}")
        if outcome.detail:
            print("           " + outcome.detail.replace("\n", "\n           "))
    sys.stdout.flush()


def _short(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return repr(line if len(line) <= 70 else line[:67] + "...")


def _failures(output: str) -> str:
    """pytest's one-line summary of each failure (the ``FAILED ... - reason`` lines)."""
    return "\n".join(line for line in output.splitlines() if line.startswith(("FAILED", "ERROR")))


def _tail(output: str, lines: int = 25) -> str:
    return "\n".join(output.rstrip().splitlines()[-lines:])


if __name__ == "__main__":
    sys.exit(main())
