"""The explorers' words in the learner's language (the checks' rule: COURSE_LANG, else the notebook path)."""

from autograde.messages import language


def say(en: str, ko: str) -> str:
    """``ko`` for a Korean learner, ``en`` otherwise."""
    return ko if language() == "ko" else en
