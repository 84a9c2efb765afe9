"""The course as a static website: every page from a stored notebook, every explorer as frames.

``python3 course.py site`` (or ``python tools/build_site.py``) runs :func:`course_site.build.build`. Not part
of ``course_lib``: learners never import it.
"""
