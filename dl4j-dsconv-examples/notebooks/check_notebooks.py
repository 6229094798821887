#!/usr/bin/env python3
"""Checks notebooks; run by run.sh.

  check_notebooks.py stripped NB...   committed notebooks hold no outputs and no execution counts
  check_notebooks.py executed NB...   every code cell ran (execution count set) without an error output,
                                      and each notebook shows at least one image/png output

Prints one line per notebook and a closing 'stripped: N passed, N failed' (or 'executed: ...'); exits 1 on any failure.
Standard library only (Debian's python3 is enough).
"""
import json
import sys


def code_cells(nb):
    return [(i, c) for i, c in enumerate(nb.get("cells", [])) if c.get("cell_type") == "code"]


def check_stripped(nb):
    problems = []
    for i, c in code_cells(nb):
        if c.get("outputs"):
            problems.append(f"cell {i} has {len(c['outputs'])} output(s)")
        if c.get("execution_count") is not None:
            problems.append(f"cell {i} has execution count {c['execution_count']}")
    return problems


def first_line(text):
    if isinstance(text, list):
        text = "".join(text)
    return (text or "").strip().splitlines()[0][:200] if (text or "").strip() else ""


def check_executed(nb):
    problems = []
    cells = code_cells(nb)
    if not cells:
        problems.append("no code cells")
    images = 0
    for i, c in cells:
        if c.get("execution_count") is None:
            problems.append(f"cell {i} was not executed")
        outputs = c.get("outputs", [])
        for o in outputs:
            if o.get("output_type") == "error":
                problems.append(f"cell {i} raised {o.get('ename', '?')}: {first_line(o.get('evalue', ''))}")
            if "image/png" in o.get("data", {}):
                images += 1
    if images == 0:
        problems.append("no image/png output")
    return problems


def main(argv):
    if len(argv) < 3 or argv[1] not in ("stripped", "executed"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    check = check_stripped if argv[1] == "stripped" else check_executed
    passed = failed = 0
    for path in argv[2:]:
        try:
            with open(path, encoding="utf-8") as f:
                problems = check(json.load(f))
        except (OSError, ValueError) as e:
            problems = [f"cannot read: {e}"]
        if problems:
            failed += 1
            print(f"FAIL {path} ({argv[1]}): " + "; ".join(problems))
        else:
            passed += 1
            print(f"ok   {path} ({argv[1]})")
    print(f"{argv[1]}: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
