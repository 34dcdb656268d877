"""What a retryable failure's message says comes next: another attempt, or none.

The same message is shown for every attempt, and the last one is what the user reads when the
run fails; "…503 (server error); will retry" there was false. The activity knows its attempt
and its retry policy (activity.info()), so the message says which it is.
"""

from __future__ import annotations

from temporalio import activity


def last_attempt() -> tuple[int, int] | None:
    """(attempt, maximum) when this is the activity's last attempt, else None (more follow,
    no limit is set, or this runs outside an activity)."""
    if not activity.in_activity():
        return None
    info = activity.info()
    policy = info.retry_policy
    maximum = policy.maximum_attempts if policy is not None else 0
    if maximum and info.attempt >= maximum:
        return info.attempt, maximum
    return None


def what_next(delay: float | None = None) -> str:
    """`will retry [after Ns as Retry-After asks]`, or, on the last attempt, that it was the
    last (and which setting allows more)."""
    if (last := last_attempt()) is not None:
        attempt, maximum = last
        return (
            f"that was attempt {attempt} of {maximum}, the last: no retry left "
            "(retry.maximum_attempts in the run's config allows more)"
        )
    return "will retry" + (f" after {delay:g}s as Retry-After asks" if delay is not None else "")
