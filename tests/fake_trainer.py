#!/usr/bin/env python3
"""A stand-in external trainer for the orchestrator tests.

usage: fake_trainer.py RUN_DIR MODE STEPS LR [--fail] [--nan-at N] [--sleep S]

MODE jsonl prints {"step", "tokens", "train_loss"} lines; MODE text prints
"step N loss X" lines (for the regex parser). The loss is a pure function
of (lr, step), so a resumed run reports exactly what an uninterrupted one
does. Progress is checkpointed in RUN_DIR/ckpt after every step; SIGINT
makes it stop after the current step and exit 130.
"""
import os
import signal
import sys
import time

run_dir, mode, steps, lr = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
rest = sys.argv[5:]
fail = "--fail" in rest
nan_at = int(rest[rest.index("--nan-at") + 1]) if "--nan-at" in rest else -1
sleep = float(rest[rest.index("--sleep") + 1]) if "--sleep" in rest else 0.0

stop = False
def on_int(sig, frame):
    global stop
    stop = True
signal.signal(signal.SIGINT, on_int)

ckpt = os.path.join(run_dir, "ckpt")
start = int(open(ckpt).read()) if os.path.exists(ckpt) else 0
print("resuming at step %d" % start if start else "starting", file=sys.stderr, flush=True)
if fail:
    print("error: this configuration is refused on purpose", file=sys.stderr, flush=True)
    sys.exit(3)
for step in range(start + 1, steps + 1):
    loss = 10.0 / (1.0 + lr * 1000 * step)
    if step == nan_at:
        loss = float("nan")
    if mode == "jsonl":
        value = "null" if loss != loss else repr(loss)
        print('{"step": %d, "tokens": %d, "train_loss": %s}' % (step, step * 100, value), flush=True)
    else:
        print("step %d loss %r" % (step, loss), flush=True)
    with open(ckpt + ".tmp", "w") as f:
        f.write(str(step))
    os.replace(ckpt + ".tmp", ckpt)
    if sleep:
        time.sleep(sleep)
    if stop:
        print("interrupted at step %d" % step, file=sys.stderr, flush=True)
        sys.exit(130)
