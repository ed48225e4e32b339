"""What the later notebooks build on: code a learner has already written and handed in.

``given.network`` holds notebook 1's ``Net``, for notebooks 2-6. It is written by
``python -m autograde sync`` from ``solutions/network.py`` (one source of truth) and holds
nothing else. A graded class hands it out with the assignments after ``01_network`` only, once
that assignment's due date has passed (``python -m autograde release``); the grading sandbox
mounts it for those assignments only.
"""
