# SPDX-License-Identifier: Apache-2.0
"""The function's own module: handler.py imports it (a second pinned file)."""


def greeting(name):
    return "Hello, " + name + "!"
