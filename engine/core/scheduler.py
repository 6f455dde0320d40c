"""Decides what runs next: admits waiting sequences into free KV slots and packs each decode under a token budget."""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from engine.core.sequence import Sequence, Status, Step


class Scheduler:
    """Continuous batching: a finished sequence frees its slot and the next waiting one is admitted at once."""

    def __init__(self, num_slots: int, token_budget: int, max_seq_len: int, warm_up: bool = False):
        """warm_up: start with one running sequence and admit one more each time one finishes, as after a preemption.

        On a CPU a decode costs about as much per token as a prompt chunk, so while other slots' prompts
        are prefilled a decoding sequence advances one token per multi-second call: with every slot admitted
        at once the first result waits for all of their prompts. Warming up, the first comes after one prompt
        and one answer, and the next ones follow one by one (modelled on 64 LoCoMo sessions, 16 slots: first
        result at 10 s instead of 79 s, the fourth at 46 s instead of 100 s, for 3% more total time).
        """
        if num_slots < 1 or token_budget < 1:
            raise ValueError(f"need num_slots >= 1 and token_budget >= 1, got {num_slots}, {token_budget}")
        self.num_slots = num_slots
        # Lowered when the KV cache fills or to warm up, raised by one as each sequence finishes.
        self.max_running = 1 if warm_up else num_slots
        self.token_budget = token_budget
        self.max_seq_len = max_seq_len
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []  # in admission order
        self._free_slots = list(range(num_slots - 1, -1, -1))

    def add(self, seq: Sequence) -> None:
        self.waiting.append(seq)

    def can_admit(self) -> bool:
        return bool(self._free_slots) and len(self.running) < self.max_running

    def is_idle(self) -> bool:
        return not self.waiting and not self.running

    def schedule(self) -> list[Step]:
        """Admit what fits, then one token per decoding sequence and prompt chunks in admission order."""
        while self.waiting and self.can_admit():
            seq = self.waiting.popleft()
            seq.slot = self._free_slots.pop()
            seq.status = Status.PREFILL
            seq.t_admit = time.perf_counter()
            self.running.append(seq)
        steps: list[Step] = []
        budget = self.token_budget
        for seq in self.running:
            if seq.status is Status.DECODE and budget > 0:
                steps.append(Step(seq, (seq.output[-1],), seq.next_pos, True, False))
                budget -= 1
        for seq in self.running:
            if seq.status is Status.PREFILL and budget > 0:
                start = seq.num_prompt_done
                chunk = seq.request.prompt[start : start + budget]
                is_last = start + len(chunk) == seq.num_prompt
                steps.append(Step(seq, chunk, seq.next_pos, is_last, start == 0))
                budget -= len(chunk)
        return steps

    def postprocess(self, steps: list[Step], sampled: dict[int, int], is_eog: Callable[[int], bool]) -> list[Sequence]:
        """Record what the runner fed and sampled; return the sequences that finished."""
        finished = []
        now = time.perf_counter()
        for step in steps:
            seq = step.seq
            if seq.status is Status.PREFILL:
                seq.num_prompt_done += len(step.tokens)
                if seq.num_prompt_done < seq.num_prompt:
                    continue
                seq.status = Status.DECODE
                seq.t_first_token = now
            token = sampled[seq.id]
            if is_eog(token) and not seq.request.ignore_eos:
                self._finish(seq, "stop", now)
            else:
                seq.output.append(token)
                if len(seq.output) >= seq.request.max_tokens:
                    self._finish(seq, "length", now)
                elif seq.next_pos + 1 >= self.max_seq_len:
                    self._finish(seq, "context", now)
            if seq.status is Status.FINISHED:
                finished.append(seq)
        return finished

    def _finish(self, seq: Sequence, reason: str, now: float) -> None:
        seq.status = Status.FINISHED
        seq.finish_reason = reason
        seq.t_finish = now

    def release(self, seq: Sequence) -> None:
        """Give a finished or preempted sequence's slot back."""
        self.running.remove(seq)
        self._free_slots.append(seq.slot)
        # Finished work frees KV cells: room for one more sequence again, after a preemption or while warming up.
        self.max_running = min(self.num_slots, self.max_running + 1)

    def preempt(self) -> int:
        """The KV cache is full: push the newest running sequence back to the queue's front; returns its slot."""
        if len(self.running) <= 1:
            raise RuntimeError("the KV cache cannot hold even one sequence: raise n_ctx or shorten the prompt")
        seq = self.running[-1]
        slot = seq.slot
        self.running.pop()
        self._free_slots.append(slot)
        seq.reset()
        self.waiting.appendleft(seq)
        self.max_running = max(1, len(self.running))
        return slot
