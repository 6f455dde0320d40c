"""The fixed text decoded before every memory: it tells the model what kind of text follows.

Agents' memories are mostly chat logs, dialogues and notes. A few lines of each, written for this
project, put the model in that register before the memory's first token, so its first sentences cost
fewer bits. Both sides decode it identically (same tokens, same regime), so it is stored once, as a
version id in the numerics profile, never in a record.
"""
from __future__ import annotations

import hashlib

PRIMING_TEXT = (
    "Memories of an assistant: chat sessions, dialogues and notes, stored word for word.\n\n"
    "[4:20 pm on 12 June, 2023]\n"
    "Priya: Hey Tom! Long time no see. How did the move to Denver go?\n"
    "Tom: Hi Priya! It went well, thanks. The new apartment is close to the park, so I walk my dog Biscuit "
    "there every morning. What have you been up to?\n"
    "Priya: I started a pottery class last week! My first bowl came out lopsided, but I love it.\n"
    "Tom: That's awesome. Send me a photo when you make something you're proud of.\n\n"
    "#Person1#: Good morning. I'd like to book a table for four on Friday evening, please.\n"
    "#Person2#: Certainly. What time would you like? We have seven o'clock or half past eight.\n"
    "#Person1#: Seven is fine. And could we sit near the window?\n"
    "#Person2#: Of course. May I have your name and phone number?\n\n"
    "Note, 3 March: call the dentist about the appointment on the 14th; pay the electricity bill ($86.40); "
    "ask Sam whether the team meeting moved to Thursday.\n\n"
)
PRIMING_ID = hashlib.sha256(PRIMING_TEXT.encode()).hexdigest()[:8]
