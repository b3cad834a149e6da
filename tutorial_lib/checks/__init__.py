"""Friendly feedback on the exercises: ``check_<exercise>(fn)`` prints pass/fail and returns True/False.

One module per lesson (`setup`, `vae`, `gan`, `stabilize`, `compare`, `divergences`, `conditional`, `stacked`,
...), the shared machinery in `_core`; everything is importable from here, e.g. ``from tutorial_lib.checks import check_elbo``.
Every checker is decorated with `checker`; `use_yours(yours, check, fallback)` picks the learner's code
when its check passed. See `_core` for strict mode, grading mode and the time limit of one case.
"""
from ._core import Case, CheckTimeout, case_seconds, checker, report, run_check, time_limit, use_yours  # noqa: F401
from .compare import *  # noqa: F401,F403
from .conditional import *  # noqa: F401,F403
from .divergences import *  # noqa: F401,F403
from .gan import *  # noqa: F401,F403
from .setup import *  # noqa: F401,F403
from .stabilize import *  # noqa: F401,F403
from .stacked import *  # noqa: F401,F403
from .vae import *  # noqa: F401,F403
