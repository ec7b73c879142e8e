"""The node's request board and mask buffer, without DDS: threads hand each other work."""

import threading

from grasp_seg_ros.ros.requests import RequestBoard, StampedBuffer


def test_a_request_is_answered_only_by_a_later_frame():
    board = RequestBoard()
    req = board.add(after_seq=5)
    assert board and not board.wanted(5) and board.wanted(6)
    assert board.answer(5, True, "frame 5") == 0 and not req.done.is_set()
    assert board.answer(7, True, "frame 7") == 1
    assert req.done.is_set() and req.message == "frame 7" and not board


def test_concurrent_requests_are_all_answered_and_a_timeout_withdraws():
    board = RequestBoard()
    waiting = [board.add(after_seq=3) for _ in range(4)]
    results = []
    threads = [threading.Thread(target=lambda r=r: results.append(board.wait(r, 5.0)))
               for r in waiting]
    for t in threads:
        t.start()
    board.answer(4, False, "no grasp")
    for t in threads:
        t.join()
    assert results == [True] * 4 and all(r.message == "no grasp" for r in waiting)
    late = board.add(after_seq=9)
    assert not board.wait(late, 0.05) and not board  # withdrawn: nothing left pending
    board.add(after_seq=9)
    board.cancel_all("deactivated")
    assert not board


def test_a_mask_waits_for_its_stamp():
    masks = StampedBuffer(size=3)
    assert masks.get(10, 0.01) is None
    threading.Timer(0.05, masks.put, args=(10, "mask 10")).start()
    assert masks.get(10, 5.0) == "mask 10"
    for stamp in (11, 12, 13):
        masks.put(stamp, f"mask {stamp}")
    assert masks.get(10, 0.0) is None and masks.get(13, 0.0) == "mask 13"  # only the newest
