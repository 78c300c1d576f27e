from highway_sim.stats import FAULTS, SimStats


def test_counts_submissions_and_duplicate_identities_in_first_seen_order():
    stats = SimStats()
    for ident in ["/b/x.png", "/b/y.png", "/b/x.png", "/b/z.png", "/b/y.png", "/b/x.png"]:
        stats.task_created({"task_id": ident, "image_identity": ident})
    snap = stats.snapshot()
    assert snap["tasks_created"] == 6
    assert len(snap["submissions"]) == 6
    assert snap["duplicate_identities"] == ["/b/x.png", "/b/y.png"]


def test_counters_faults_and_reset():
    stats = SimStats()
    stats.count("submit_requests")
    stats.count("rate_limited")
    stats.fault("lost_reply")
    snap = stats.snapshot()
    assert snap["submit_requests"] == 1 and snap["rate_limited"] == 1
    assert snap["faults"] == {**dict.fromkeys(FAULTS, 0), "lost_reply": 1}
    stats.reset()
    snap = stats.snapshot()
    assert snap["submit_requests"] == 0 and snap["faults"]["lost_reply"] == 0 and snap["submissions"] == []


def test_snapshot_is_a_copy():
    stats = SimStats()
    stats.task_created({"task_id": "t", "image_identity": "/i"})
    snap = stats.snapshot()
    snap["submissions"][0]["task_id"] = "changed"
    assert stats.snapshot()["submissions"][0]["task_id"] == "t"
