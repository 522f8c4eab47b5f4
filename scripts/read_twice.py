"""Does a model copy text it has just read? Bits per token of validation stories read once, then
again right after (story + newline + story), through `fledge inspect --json`.

    python3 scripts/read_twice.py MODEL [--data runs/speedrun-reference/data/val.jsonl]
                                        [--stories 20] [--fledge target/release/fledge]

The stories are the first of the `tinystories` validation set longer than 300 characters, cut at a
sentence end before 450 (so both readings fit a 256-token window). A model that copies pays far
less for the second reading; the induction test (`fledge inspect --induction`) asks the same of
random words."""
import argparse, json, subprocess

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("--data", default="runs/speedrun-reference/data/val.jsonl")
ap.add_argument("--stories", type=int, default=20)
ap.add_argument("--fledge", default="target/release/fledge")
args = ap.parse_args()

stories = []
for line in open(args.data):
    d = json.loads(line)
    text = d["text"].replace("\n", " ")
    if d.get("set") == "tinystories" and len(text) > 300:
        cut = text[:450].rfind(". ")
        stories.append(text[: cut + 1] if cut > 200 else text[:450])
    if len(stories) == args.stories:
        break

bits = [0.0, 0.0]
tokens = [0, 0]
for story in stories:
    cmd = [args.fledge, "inspect", "--model", args.model, "--json", "--top", "0", story + "\n" + story]
    out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    first_end = len(story.encode())
    at = 0
    for t in out["tokens"]:
        at += len(t["token"].encode())
        if at <= first_end:
            bits[0] += t["bits"]
            tokens[0] += 1
        elif at > first_end + 1:  # the second reading, after the newline
            bits[1] += t["bits"]
            tokens[1] += 1
print(f"{args.model}: first reading {bits[0] / tokens[0]:.2f} bits per token, second {bits[1] / tokens[1]:.2f} "
      f"({len(stories)} stories, {tokens[0]} / {tokens[1]} tokens)")
