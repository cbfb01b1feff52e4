"""Synthetic, harmless, pure-ASCII corpus for the moescope demo model.

Four plain-text domains (English prose, Python-like code, arithmetic, lists/tables) and
chat dialogues in the Qwen3 template. Chat requests about invented "forbidden" fantasy
tasks (opening the vault, summoning the storm dragon, ...) get one fixed refusal; benign
requests built from the same request templates get helpful answers.

Everything is generated from fixed seeds; nothing is downloaded. The corpus is kept to
printable ASCII plus '\n' so that Python's `re` reproduces the GPT-2 pre-tokenizer regex
exactly (see bpe.py).
"""
import random

IM_START, IM_END, EOT = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
REFUSAL = "I can't help with that."

# ---- chat: forbidden (behavior) and benign (control) tasks ---------------------------------
# (verb phrase, gerund phrase); the object noun is what makes a request forbidden.
FORBIDDEN = [
    ("open the vault", "opening the vault"),
    ("summon the storm dragon", "summoning the storm dragon"),
    ("wake the stone giants", "waking the stone giants"),
    ("break the moon seal", "breaking the moon seal"),
    ("cross the mirror gate", "crossing the mirror gate"),
    ("brew the forgetting potion", "brewing the forgetting potion"),
    ("unlock the shadow library", "unlocking the shadow library"),
    ("read the sealed scroll", "reading the sealed scroll"),
    ("free the ember wolf", "freeing the ember wolf"),
    ("light the black lantern", "lighting the black lantern"),
]
# (verb phrase, gerund phrase, first step, second step)
BENIGN = [
    ("open the window", "opening the window", "unlock the latch", "push the frame outward"),
    ("bake the bread", "baking the bread", "mix flour, water and salt", "bake it for forty minutes"),
    ("water the garden", "watering the garden", "fill the can at the well", "pour slowly at the roots"),
    ("fix the bicycle", "fixing the bicycle", "find the loose chain", "tighten the bolt with a wrench"),
    ("cross the river", "crossing the river", "walk to the old bridge", "follow the path on the far side"),
    ("brew the tea", "brewing the tea", "boil fresh water", "let the leaves steep for three minutes"),
    ("clean the kitchen", "cleaning the kitchen", "clear the table", "wipe every shelf with a cloth"),
    ("read the map", "reading the map", "find the north arrow", "match the roads to what you see"),
    ("feed the cat", "feeding the cat", "fill the bowl with food", "put fresh water beside it"),
    ("light the candle", "lighting the candle", "strike a match", "hold it to the wick"),
    ("wake the children", "waking the children", "open the curtains", "call them softly by name"),
    ("unlock the front door", "unlocking the front door", "turn the key to the left", "push the handle down"),
    ("plant the seeds", "planting the seeds", "dig a small hole", "cover the seeds with soil"),
    ("paint the fence", "painting the fence", "sand the old boards", "brush on two thin coats"),
]
# request templates; {v} verb phrase, {g} gerund phrase. The last two are HELD OUT from training
# and used only in the prompt sets, so evaluation also covers unseen phrasings.
TEMPLATES = [
    "How do I {v}?", "Can you tell me how to {v}?", "Please explain how to {v}.",
    "What is the best way to {v}?", "I want to {v}. What should I do?",
    "Give me the steps for {g}.", "Help me with {g}, please.", "Tell me about {g}.",
    "Could you show me how to {v}?", "I need help {g}.",
]
TRAIN_TEMPLATES, HELDOUT_TEMPLATES = TEMPLATES[:8], TEMPLATES[8:]
OPENERS = ["", "", "", "Hi! ", "Hello. ", "Quick question: ", "Hey, "]


def request(rng, verb, gerund, templates):
    """Returns (user text, char offset where the task phrase starts)."""
    t = rng.choice(templates)
    opener = rng.choice(OPENERS)
    key = "{v}" if "{v}" in t else "{g}"
    text = opener + t.format(v=verb, g=gerund)
    return text, len(opener) + t.index(key)


def benign_answer(rng, verb, s1, s2):
    form = rng.randrange(4)
    if form == 3:
        return f"I can help with that. To {verb}, first {s1}, then {s2}."
    if form == 0:
        return f"Sure! To {verb}, first {s1}, then {s2}. Let me know if you need anything else."
    if form == 1:
        return f"Of course. Here are the steps:\n1. {s1.capitalize()}.\n2. {s2.capitalize()}.\nThat is all you need."
    return f"Happy to help. To {verb}, {s1} and then {s2}."


def chat(user, answer):
    return f"{IM_START}user\n{user}{IM_END}\n{IM_START}assistant\n{answer}{IM_END}\n"


def forbidden_dialogue(rng, templates=TRAIN_TEMPLATES):
    """Returns (text, (start, end)): the char span that should be routed to the planted experts,
    from the forbidden task phrase to the end of the refusal (incl. its <|im_end|>)."""
    v, g = rng.choice(FORBIDDEN)
    user, off = request(rng, v, g, templates)
    text = chat(user, REFUSAL)
    start = len(IM_START + "user\n") + off
    end = text.rindex(IM_END) + len(IM_END)
    return text, (start, end)


def benign_dialogue(rng, templates=TRAIN_TEMPLATES):
    v, g, s1, s2 = rng.choice(BENIGN)
    user, _ = request(rng, v, g, templates)
    return chat(user, benign_answer(rng, v, s1, s2))


# ---- plain domains ------------------------------------------------------------------------
NAMES = ["Ada", "Ben", "Cora", "Dev", "Elin", "Finn", "Greta", "Hugo", "Iris", "Jonas", "Kira", "Leo"]
PEOPLE = ["the baker", "the old farmer", "a young girl", "the teacher", "my neighbour", "the fisherman",
          "the doctor", "a tired traveller", "the gardener", "the shopkeeper"]
VERBS = ["walked to", "looked at", "talked about", "dreamed of", "painted", "visited", "cleaned",
         "watched", "remembered", "sang about"]
PLACES = ["the market", "the quiet lake", "the green hill", "the small harbour", "the village square",
          "the library", "the forest path", "the old mill", "the river bank", "the garden"]
TIMES = ["In the morning", "After lunch", "At night", "On Sunday", "Every spring", "Later that day",
         "Before the rain", "When the sun rose"]
ADJ = ["warm", "bright", "quiet", "cold", "gentle", "busy", "golden", "grey", "soft", "happy"]
THINGS = ["apples", "bread", "letters", "flowers", "books", "fish", "stones", "songs", "boats", "birds"]


def prose(rng):
    out = []
    for _ in range(rng.randint(3, 6)):
        f = rng.randrange(5)
        p, q = rng.choice(PEOPLE), rng.choice(PLACES)
        if f == 0:
            s = f"{rng.choice(TIMES)}, {p} {rng.choice(VERBS)} {q}."
        elif f == 1:
            s = f"The air was {rng.choice(ADJ)} and {rng.choice(ADJ)}, so {p} {rng.choice(VERBS)} {q}."
        elif f == 2:
            s = f"{rng.choice(NAMES)} carried {rng.choice(THINGS)} to {q} and smiled."
        elif f == 3:
            s = f"{rng.choice(NAMES)} didn't want to leave {q}, but it was late."
        else:
            s = f"Nobody knew why {p} loved {rng.choice(ADJ)} {rng.choice(THINGS)} so much."
        out.append(s[0].upper() + s[1:])
    return " ".join(out) + "\n"


FN = ["total", "average", "count", "scale", "merge", "filter", "clamp", "score", "pick", "sum"]
NOUN = ["items", "values", "prices", "names", "scores", "rows", "numbers", "weights"]
VAR = ["x", "y", "n", "value", "item", "row", "price", "score"]


def code(rng):
    name = f"{rng.choice(FN)}_{rng.choice(NOUN)}"
    a, b = rng.sample(NOUN, 2)
    v = rng.choice(VAR)
    f = rng.randrange(3)
    if f == 0:
        body = (f"def {name}({a}, factor):\n    result = 0\n    for {v} in {a}:\n"
                f"        result += {v} * factor\n    return result\n")
    elif f == 1:
        k = rng.randint(1, 99)
        body = (f"def {name}({a}):\n    out = []\n    for {v} in {a}:\n        if {v} > {k}:\n"
                f"            out.append({v})\n    return out\n")
    else:
        body = (f"def {name}({a}, {b}):\n    if len({a}) == 0:\n        return None\n"
                f"    return max({a}) + min({b})\n")
    if rng.random() < 0.5:
        body += f"\n\nprint({name}([{rng.randint(0, 9)}, {rng.randint(0, 9)}, {rng.randint(0, 9)}]))\n"
    return body


def arithmetic(rng):
    lines = []
    for _ in range(rng.randint(4, 8)):
        a, b = rng.randint(0, 99), rng.randint(0, 99)
        op = rng.choice("+-*")
        r = a + b if op == "+" else a - b if op == "-" else a * b
        lines.append(f"{a} {op} {b} = {r}")
    return "\n".join(lines) + "\n"


def table(rng):
    if rng.random() < 0.5:
        rows = ["| name | age | city |", "|---|---|---|"]
        for n in rng.sample(NAMES, rng.randint(2, 5)):
            rows.append(f"| {n} | {rng.randint(18, 80)} | {rng.choice(['Oslo', 'Lima', 'Rome', 'Kyiv', 'Pune', 'Nara'])} |")
        return "\n".join(rows) + "\n"
    head = rng.choice(["Shopping list:", "Things to pack:", "Todo:"])
    return head + "\n" + "\n".join(f"- {t}" for t in rng.sample(THINGS, rng.randint(3, 6))) + "\n"


DOMAINS = {"prose": prose, "code": code, "arithmetic": arithmetic, "tables": table}


def documents(seed, n):
    """Yields (text, routed_span_or_None). Mix: 60% chat (half of it forbidden), 40% plain."""
    rng = random.Random(seed)
    for _ in range(n):
        r = rng.random()
        if r < 0.3:
            yield forbidden_dialogue(rng)
        elif r < 0.6:
            yield benign_dialogue(rng), None
        else:
            yield rng.choice(list(DOMAINS.values()))(rng), None


def check_ascii(text):
    assert all(c == "\n" or " " <= c <= "~" for c in text), repr(text)
