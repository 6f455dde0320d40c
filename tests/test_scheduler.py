"""Scheduler logic without a model: admission, token budget, chunked prefill, finishing, preemption."""
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.scheduler import Scheduler
from engine.core.sequence import Request, Sequence, Status

EOS = 0


def seq(n_prompt: int, max_tokens: int = 4) -> Sequence:
    return Sequence(Request(tuple(range(1, n_prompt + 1)), max_tokens=max_tokens), base_pos=0)


def is_eos(t: int) -> bool:
    return t == EOS


def test_admits_at_most_num_slots_and_one_token_per_decoding_sequence():
    s = Scheduler(num_slots=2, token_budget=100, max_seq_len=1000)
    seqs = [seq(3) for _ in range(3)]
    for q in seqs:
        s.add(q)
    steps = s.schedule()
    assert [st.seq for st in steps] == seqs[:2]
    assert all(st.wants_logits and st.is_first for st in steps)
    finished = s.postprocess(steps, {q.id: 7 for q in seqs[:2]}, is_eos)
    assert finished == []
    steps = s.schedule()
    assert [(st.tokens, st.pos) for st in steps] == [((7,), 3), ((7,), 3)]


def test_warm_up_runs_one_sequence_alone_then_admits_one_more_per_finish():
    s = Scheduler(num_slots=3, token_budget=100, max_seq_len=1000, warm_up=True)
    seqs = [seq(3, max_tokens=1) for _ in range(4)]
    for q in seqs:
        s.add(q)
    steps = s.schedule()
    assert [st.seq for st in steps] == seqs[:1]  # alone: its prompt is not slowed by the others' prefill
    (first,) = s.postprocess(steps, {seqs[0].id: 7}, is_eos)
    s.release(first)
    assert s.max_running == 2 and [st.seq for st in s.schedule()] == seqs[1:3]


def test_long_prompt_is_chunked_under_the_budget_and_logits_only_at_the_end():
    s = Scheduler(num_slots=1, token_budget=4, max_seq_len=1000)
    q = seq(10)
    s.add(q)
    chunks = []
    while q.status is not Status.DECODE:
        steps = s.schedule()
        assert sum(len(x.tokens) for x in steps) <= 4
        chunks.append((steps[0].tokens, steps[0].pos, steps[0].wants_logits, steps[0].is_first))
        s.postprocess(steps, {q.id: 5} if steps[0].wants_logits else {}, is_eos)
    assert chunks == [((1, 2, 3, 4), 0, False, True), ((5, 6, 7, 8), 4, False, False), ((9, 10), 8, True, False)]


def test_finished_sequence_frees_its_slot_for_the_next_at_once():
    s = Scheduler(num_slots=1, token_budget=16, max_seq_len=1000)
    a, b = seq(2), seq(2)
    s.add(a)
    s.add(b)
    steps = s.schedule()
    assert s.postprocess(steps, {a.id: EOS}, is_eos) == [a]
    assert a.finish_reason == "stop" and a.output == []
    s.release(a)
    assert [x.seq for x in s.schedule()] == [b]


def test_max_tokens_and_context_limits_finish_sequences():
    s = Scheduler(num_slots=2, token_budget=16, max_seq_len=6)
    a, b = seq(2, max_tokens=1), seq(4, max_tokens=100)
    s.add(a)
    s.add(b)
    done = s.postprocess(s.schedule(), {a.id: 9, b.id: 9}, is_eos)
    assert [(x, x.finish_reason) for x in done] == [(a, "length")]
    s.release(a)
    done = s.postprocess(s.schedule(), {b.id: 9}, is_eos)
    assert done == [b] and b.finish_reason == "context"


def test_preempt_requeues_newest_first_and_shrinks_then_regrows():
    s = Scheduler(num_slots=3, token_budget=64, max_seq_len=1000)
    qs = [seq(2) for _ in range(3)]
    for q in qs:
        s.add(q)
    s.schedule()
    slot = s.preempt()
    assert slot == 2 or slot in range(3)
    assert s.waiting[0] is qs[2] and qs[2].status is Status.WAITING and qs[2].num_preemptions == 1
    assert s.max_running == 2 and not s.can_admit()
    done = s.postprocess(s.schedule(), {qs[0].id: EOS, qs[1].id: 4}, is_eos)
    s.release(done[0])
    assert s.max_running == 3


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=12), st.integers(1, 5), st.integers(1, 32))
def test_every_sequence_finishes_once_and_budget_always_holds(prompts, slots, budget):
    s = Scheduler(num_slots=slots, token_budget=budget, max_seq_len=10_000)
    seqs = [seq(n, max_tokens=3) for n in prompts]
    for q in seqs:
        s.add(q)
    finished = []
    for _ in range(10_000):
        if s.is_idle():
            break
        steps = s.schedule()
        assert steps and sum(len(x.tokens) for x in steps) <= budget
        assert len({x.seq.slot for x in steps}) == len(steps) <= slots
        done = s.postprocess(steps, {x.seq.id: 1 for x in steps if x.wants_logits}, is_eos)
        for q in done:
            s.release(q)
        finished += done
    assert sorted(q.id for q in finished) == sorted(q.id for q in seqs)
    assert all(len(q.output) == 3 for q in finished)


def test_group_order_puts_similar_vectors_together():
    import numpy as np

    from engine.jobs.grouping import group_order

    v = np.array([[1, 0], [0, 1], [0.99, 0.14], [0.1, 0.995], [1, 0]], dtype=float)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    assert group_order(v, 0.9) == [0, 2, 4, 1, 3]
    assert group_order(v, 1.01) == [0, 1, 2, 3, 4]


def test_ignore_eos_runs_to_max_tokens():
    s = Scheduler(num_slots=1, token_budget=16, max_seq_len=1000)
    q = Sequence(Request((1, 2), max_tokens=3, ignore_eos=True), base_pos=0)
    s.add(q)
    finished = []
    while not finished:
        finished = s.postprocess(s.schedule(), {q.id: EOS}, is_eos)
    assert q.output == [EOS, EOS, EOS] and q.finish_reason == "length"
