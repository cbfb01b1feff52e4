"""Checks model.py against the independent golden vectors for qwen3_moe
(shared/testdata/golden/qwen3_moe): logits, routing and greedy tokens, baseline and disable.

    /usr/bin/python3 tools/demo-model/check_golden.py /work/shared/testdata/golden/qwen3_moe
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evaluate import greedy  # noqa: E402
from model import load_model  # noqa: E402


def main():
    d = sys.argv[1]
    torch.set_num_threads(1)
    m = load_model(d)
    exp = json.load(open(f"{d}/expected.json"))
    ids = exp["input_ids"]
    with torch.no_grad():
        logits, routing = m(torch.tensor([ids]))
    base = exp["baseline"]
    err = (logits[0] - torch.tensor(base["logits_all"])).abs().max().item()
    zerr = max((routing[i][0] - torch.tensor(r["router_logits"])).abs().max().item() for i, r in enumerate(base["routing"]))
    sel_ok = all(sorted(map(tuple, routing[i][1].tolist())) == sorted(map(tuple, r["experts"]))
                 or all(set(a) == set(b) for a, b in zip(routing[i][1].tolist(), r["experts"]))
                 for i, r in enumerate(base["routing"]))
    g = greedy(m, ids, exp["n_new_tokens"])
    ok = err < 1e-4 and zerr < 1e-5 and sel_ok and g == base["greedy"]["new_tokens"]
    print(f"baseline: max|dlogit| {err:.2e}, max|drouter| {zerr:.2e}, experts {sel_ok}, greedy {g == base['greedy']['new_tokens']}")
    dis = exp["interventions"]["disable"]
    dd = {}
    for l, e in dis["interventions"]["disable"]:
        dd.setdefault(l, []).append(e)
    with torch.no_grad():
        lg, _ = m(torch.tensor([ids]), disable=dd)
    derr = (lg[0, -1] - torch.tensor(dis["logits_last"])).abs().max().item()
    gd = greedy(m, ids, exp["n_new_tokens"], disable=dd) == dis["greedy"]["new_tokens"]
    print(f"disable: max|dlogit_last| {derr:.2e}, greedy {gd}")
    sys.exit(0 if ok and derr < 1e-4 and gd else 1)


if __name__ == "__main__":
    main()
