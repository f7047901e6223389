"""The process-wide memo behind the planner's draws and the may-erase answers."""

from __future__ import annotations

from contracts.bounded_memo import Memo


def test_the_least_recently_used_go_first() -> None:
    memo: Memo[str, int] = Memo(limit=2)
    memo.put("a", 1)
    memo.put("b", 2)
    assert memo.get("a") == 1  # "a" is now the most recently used
    memo.put("c", 3)
    assert list(memo) == ["a", "c"] and memo.get("b") is None


def test_the_bound_is_on_the_cost_and_an_entry_too_costly_alone_is_not_kept() -> None:
    memo: Memo[bytes, bool] = Memo(limit=10, cost=len)
    memo.put(b"12345", False)
    memo.put(b"1234", True)
    assert memo.get(b"12345") is False  # a falsy answer is an answer, and it counts as a use
    memo.put(b"123", True)  # 12 > 10: the least recently used ("1234") goes
    assert list(memo) == [b"12345", b"123"] and memo.total == 8
    memo.put(b"x" * 11, True)
    assert b"x" * 11 not in list(memo) and memo.total == 8
    memo.put(b"123", False)  # kept already: the first answer stays
    assert memo.get(b"123") is True and len(memo) == 2
