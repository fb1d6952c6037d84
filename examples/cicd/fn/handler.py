# SPDX-License-Identifier: Apache-2.0
"""An example function for examples/cicd: greets every name of its data
file and writes the greetings to its output directory. The task root (the
directory above fn/) holds data/names.txt and tmp/, where the output goes."""
import os

import greet

TASK_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def handle(names_path, output_dir):
    with open(names_path) as names_file:
        names = [line.strip() for line in names_file if line.strip()]
    with open(os.path.join(output_dir, "greetings.txt"), "w") as out:
        for name in names:
            out.write(greet.greeting(name) + "\n")
    return len(names)


if __name__ == "__main__":
    count = handle(os.path.join(TASK_ROOT, "data", "names.txt"), os.path.join(TASK_ROOT, "tmp"))
    print("greeted", count, "names")
