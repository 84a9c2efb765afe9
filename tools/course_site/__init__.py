"""The course as a static website: every page from a stored notebook, every explorer as frames.

``python3 course.py site`` (or ``python -m tools.build_site``) runs :func:`tools.course_site.build.build`.
"""
