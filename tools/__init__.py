"""The course's maintenance tools, run from the repository root as modules:

    python -m tools.notebooks refresh 05     # run notebooks, check their claims, store their outputs
    python -m tools.build_site               # the static website (python3 course.py site runs it)

Not part of ``course_lib``: learners never import them. The tests and benchmarks import
:mod:`tools.execution` (running a notebook) and :mod:`tools.browser` (headless Chromium) from here.
"""
