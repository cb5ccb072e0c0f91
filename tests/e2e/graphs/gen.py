#!/usr/bin/env python3
"""A random route graph as a kanon session (tests/e2e/test_graphs.sh).

usage: gen.py SEED DIR OUT.json

2..12 decks from the pool in this directory: sources (osc, saw) first, then
effects (gain, delay, filter, ducker, lookahead) that each read one to three
earlier decks (so the graph never loops), with random gains, pre/post taps,
sidechains (the ducker's "side" port), decks taken off the master, and
random mixer settings. Levels stay moderate, but the limiter is on as live.
"""
import json
import random
import sys

seed, pool, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rng = random.Random(seed)
n = rng.randint(2, 12)
nsrc = rng.randint(1, max(1, min(4, n - 1)))
decks, routes = [], []
for i in range(n):
    name = f"g{i}"
    if i < nsrc:
        kind = rng.choice(["osc", "saw"])
    else:
        kind = rng.choice(["gain", "delay", "filter", "ducker", "lookahead"])
    params = {}
    if kind == "osc":
        params["freq"] = rng.choice([110, 220, 330, 440, 550, 660])
    elif kind == "saw":
        params["period"] = rng.choice([80, 120, 200, 333, 480])
    elif kind == "gain":
        params["gain"] = rng.choice([0.25, 0.5, 0.7, 1.0])
    elif kind == "filter":
        params["a"] = rng.choice([0.05, 0.1, 0.3, 0.6])
    mixer = {"gain_db": rng.choice([0, 0, -3, -6, -12]),
             "pan": rng.choice([0, 0, -0.5, 0.5, 1, -1]),
             "mute": rng.random() < 0.08, "solo": False}
    decks.append({"name": name, "file": f"{pool}/{kind}.c", "params": params,
                  "mixer": mixer, "kind": kind})
    if i >= nsrc:
        for src in rng.sample(range(i), rng.randint(1, min(3, i))):
            routes.append({"src": f"g{src}", "dst": name, "port": "in",
                           "gain_db": rng.choice([0, -3, -6, -9]),
                           "pre": rng.random() < 0.3})
        if kind == "ducker":
            key = rng.randrange(i)
            routes.append({"src": f"g{key}", "dst": name, "port": "side",
                           "gain_db": 0, "pre": rng.random() < 0.5})
for d in decks:  # most decks on the master; some send-only
    if rng.random() < 0.8 or d is decks[-1]:
        routes.append({"src": d["name"], "dst": "master", "port": "",
                       "gain_db": rng.choice([0, 0, -6]), "pre": rng.random() < 0.1})
for d in decks:
    del d["kind"]
# a fast tempo and one beat a bar: the session starts on the next bar line
session = {"kanon_session": 1, "tempo": {"bpm": 480, "bar": 1},
           "master": {"gain_db": -6, "limiter": True},
           "decks": decks, "routes": routes}
json.dump(session, open(out, "w"), indent=1)
print(f"seed {seed}: {n} decks, {len(routes)} routes")
