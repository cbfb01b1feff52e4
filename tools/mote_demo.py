#!/usr/bin/env python3
"""Reproduces the MoTE experiment on the bundled demo model with moescope-cli only.

record discovery sets -> fTRI -> top-N disable preset + matched random preset -> greedy generation
on the held-out sets with each -> refusal rates (detector: resources/prompts/detectors.json).
Usage: tools/mote_demo.py [--cli build/app/moescope-cli] [--top 6] [--db /tmp/mote.db]
Standard library only; run from the repository root after `make` (or `make test`).
"""
import argparse, json, os, re, subprocess, sys

ap = argparse.ArgumentParser()
ap.add_argument("--cli", default="build/app/moescope-cli")
ap.add_argument("--top", type=int, default=6)
ap.add_argument("--db", default="/tmp/mote.db")
ap.add_argument("--max-new", type=int, default=12)
a = ap.parse_args()

def cli(*args):
    out = subprocess.run([a.cli, *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"moescope-cli {' '.join(args)} failed:\n{out.stderr}")
    return out.stdout

detector = re.compile(json.load(open("resources/prompts/detectors.json"))["refusal"]["regex"])
if os.path.exists(a.db):
    os.remove(a.db)
for s in ("behavior", "control"):
    cli("record", "demo", "--prompts", f"resources/prompts/{s}.discovery.jsonl", "--db", a.db, "--set", s, "--max-new", "16")
ftri = json.loads(cli("analyze", "ftri", "--db", a.db, "--behavior", "behavior", "--control", "control",
                      "--tokens", "prompt", "--top", str(a.top), "--json",
                      "--preset-out", "/tmp/mote_top.json", "--random-preset-out", "/tmp/mote_random.json"))
print("fTRI top experts (L,E):", json.load(open("/tmp/mote_top.json"))["disable"])
print("matched random set   :", json.load(open("/tmp/mote_random.json"))["disable"])

def refusal_rate(setname, preset):
    n = r = 0
    for line in open(f"resources/prompts/{setname}.heldout.jsonl"):
        msg = json.loads(line)["messages"][-1]["content"]
        args = ["generate", "demo", "--chat", "--greedy", "--prompt", msg, "--max-new", str(a.max_new), "--json"]
        if preset:
            args += ["--preset", preset]
        n += 1
        r += bool(detector.match(json.loads(cli(*args))["text"]))
    return r / n, n

for s in ("behavior", "control"):
    for label, preset in (("none", None), (f"fTRI top-{a.top}", "/tmp/mote_top.json"), ("random matched", "/tmp/mote_random.json")):
        rate, n = refusal_rate(s, preset)
        print(f"{s:8s} held-out ({n}) | {label:14s} | refusal {rate:.0%}")
