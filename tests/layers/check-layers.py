#!/usr/bin/env python3
"""The layer rule of src/, as a test: every #include "…" of a file points to
its own layer or one below it.

    base ← media ← backends ← core ← planes/web, planes/gamestream ← app

The two planes never include each other, and GameStream's pure protocol
library (planes/gamestream/protocol/) includes nothing of the GameStream
server side around it. Prints every include that breaks the rule, with its
file and line, and exits 1 if there is one; TAP output for meson.

Usage: check-layers.py SRC_DIR
"""
import os
import re
import sys
import tempfile

# Rank of each layer: a file may include its own rank or a lower one.
# The planes share a rank and are told apart by name below.
LAYERS = [
    ("base", 0),
    ("media", 1),
    ("backends", 2),
    ("core", 3),
    ("planes/gamestream/protocol", 4),
    ("planes/gamestream", 4),
    ("planes/web", 4),
    ("app", 5),
]
# Headers made in the build directory, and where they belong.
GENERATED = {
    "fh-config.h": "base",
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(path):
    """The layer a path below src/ belongs to, or None."""
    for name, _ in LAYERS:
        if path == name or path.startswith(name + "/"):
            return name
    return None


def rank(layer):
    return dict(LAYERS)[layer]


def allowed(src, dst):
    """May a file of layer src include a header of layer dst?"""
    if src == dst:
        return True
    planes = ("planes/web", "planes/gamestream", "planes/gamestream/protocol")
    if src in planes and dst in planes:
        # The GameStream server side builds on its own protocol library;
        # nothing else crosses between planes.
        return src == "planes/gamestream" and dst == "planes/gamestream/protocol"
    return rank(dst) < rank(src)


def check(src_dir):
    """(problems, number of files checked) for the tree at src_dir."""
    problems = []
    checked = 0
    for root, _, files in os.walk(src_dir):
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, src_dir)
            here = layer_of(rel)
            if here is None:
                problems.append(f"{rel}: in no layer (move it into one of "
                                f"{', '.join(n for n, _ in LAYERS)})")
                continue
            checked += 1
            with open(path, encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    target = m.group(1)
                    if "/" not in target:
                        # Beside the file (generated Wayland protocol
                        # headers of media, sibling headers), or made by
                        # the build.
                        there = GENERATED.get(target)
                        if there is None:
                            continue
                    else:
                        there = layer_of(target)
                        if there is None:
                            problems.append(f"{rel}:{lineno}: includes \"{target}\", "
                                            "which is in no layer")
                            continue
                    if not allowed(here, there):
                        problems.append(f"{rel}:{lineno}: {here} includes \"{target}\" "
                                        f"({there}): layers point one way, "
                                        "base ← media ← backends ← core ← planes ← app, "
                                        "and planes never include each other")
    return problems, checked


def self_test():
    """The checker itself catches what it is for, on a planted tree."""
    planted = {
        "core/a.c": '#include "planes/web/b.h"\n',          # up
        "planes/web/b.h": '#include "planes/gamestream/c.h"\n',  # sideways
        "planes/gamestream/protocol/d.c": '#include "planes/gamestream/c.h"\n',
        "planes/gamestream/c.h": '#include "planes/gamestream/protocol/d.h"\n'
                                 '#include "core/e.h"\n',      # both fine
        "media/f.c": '#include "base/g.h"\n#include "fh-config.h"\n',  # fine
    }
    with tempfile.TemporaryDirectory() as tmp:
        for rel, text in planted.items():
            os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
            with open(os.path.join(tmp, rel), "w", encoding="utf-8") as f:
                f.write(text)
        problems, _ = check(tmp)
    flagged = sorted(p.split(":")[0] for p in problems)
    want = ["core/a.c", "planes/gamestream/protocol/d.c", "planes/web/b.h"]
    return flagged == want, flagged


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    print("1..2")
    ok, flagged = self_test()
    if ok:
        print("ok 1 - the checker flags an upward, a sideways and a protocol-to-server include")
    else:
        print(f"not ok 1 - the checker flagged {flagged} in its planted tree")
    problems, checked = check(sys.argv[1])
    if problems:
        for p in problems:
            print(f"# {p}")
        print(f"not ok 2 - {len(problems)} include(s) against the layer rule "
              f"in {checked} files")
    elif checked == 0:
        print(f"not ok 2 - no source files found in {sys.argv[1]}")
        problems = ["none checked"]
    else:
        print(f"ok 2 - {checked} files, every include points down the layers")
    return 0 if ok and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
