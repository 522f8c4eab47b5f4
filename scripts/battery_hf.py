#!/usr/bin/env python3
"""The evaluation battery, run independently of fledge: through transformers,
on an exported Hugging Face folder, with the folder's own chat template.

It checks what `fledge eval` reports with code that shares nothing with it:
the model is run by transformers, the prompt is rendered by the folder's Jinja
chat template (a `context` message, then the `user` question), and scoring is
written again here from the rules in evals/README.md.

Usage:
  python scripts/battery_hf.py MODEL_FOLDER [--evals evals] [--split dev|test|all]
      [--babi runs/chat/babi-task1/test.jsonl] [--fairytaleqa runs/chat/fairytaleqa/test.jsonl]
      [--limit N] [--guidance G] [--story-tries N] [--quote] [--out results.json]

--guidance G (default 1.5, what `fledge chat` and `fledge eval` use; 0: off)
steers replies without a context message (the story requests) toward the
user's last message with classifier-free
guidance, written again here: a second pass of the model over the
conversation with that message's text removed, each token's scores
(1 + G) x with - G x without, among the tokens at least a tenth as likely as
the favourite; then the folder's temperature, top-k and top-p.

--story-tries N (default 4, what `fledge chat` and `fledge eval` use; 1: one
sample) samples a story request up to N times and keeps the first story that
uses every word the request is about (its words less the asking ones, as
Snowball stems), else the one that uses the most.

--quote answers every question asked with a context by quoting it, as
`fledge eval --quote` and `fledge ask` do, written again here: unless the
model's favourite first token is the first of its refusal, a beam search (4
beams) over the spans of the context (case aside, starting and ending on word
boundaries), each span scored by its summed log-probability, the end token
included, over its length in tokens to the power 0.5.

Needs torch and transformers (the interop venv of scripts/test.sh has both).
"""

import argparse
import json
import math
import re
import sys
import time

import snowballstemmer

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LogitsProcessor, LogitsProcessorList

STEMMER = snowballstemmer.stemmer("english")
# Candidates of a guided token: at least this fraction as likely as the favourite.
PLAUSIBLE = 0.1

REFUSAL_SIGNS = [
    "doesn't say", "does not say", "don't know", "do not know", "doesn't tell", "does not tell",
    "not in the text", "isn't in the text", "not say", "no way to know", "not mentioned", "can't tell",
]
# The refusal fledge's chat data teaches (src/chat/convert/identity.rs).
REFUSAL = "I don't know; the text doesn't say."
QUOTE_BEAMS, QUOTE_LENGTH_PENALTY = 4, 0.5

IDENTITY_SIGNS = ["fledge", "language model", "i am an ai", "i'm an ai", "as an ai", "a small model"]


def normalize(s):
    s = s.lower()
    s = "".join(c if c.isalnum() or c.isspace() else " " for c in s)
    return " ".join(w for w in s.split() if w not in ("a", "an", "the"))


def f1(pred, ref):
    p, r = normalize(pred).split(), normalize(ref).split()
    if not p or not r:
        return float(p == r)
    common = 0
    rest = list(r)
    for w in p:
        if w in rest:
            rest.remove(w)
            common += 1
    if common == 0:
        return 0.0
    prec, rec = common / len(p), common / len(r)
    return 2 * prec * rec / (prec + rec)


def accurate(reply, answers):
    r = " " + normalize(reply) + " "
    words = len(r.split())
    for a in answers:
        a = normalize(a)
        if a and (" " + a + " ") in r and words <= max(12, 3 * len(a.split())):
            return True
    return False


def refused(reply):
    r = reply.lower().replace("\u2019", "'")
    return any(s in r for s in REFUSAL_SIGNS)


def read_jsonl(path, split=None):
    rows = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
    return [r for r in rows if split in (None, "all") or r.get("split") == split]


class Guided(LogitsProcessor):
    """Classifier-free guidance toward the last user message, then (when
    sampling) temperature, top-k and top-p, in that order. The reply so far
    is appended to the conversation without the request and the whole of it
    run again each step: slower than a cache, and nothing to get wrong."""

    def __init__(self, model, without_ids, prompt_len, weight, sampling):
        self.model, self.without, self.prompt_len = model, without_ids, prompt_len
        self.weight, self.sampling = weight, sampling

    def __call__(self, input_ids, scores):
        ids = torch.cat([self.without, input_ids[:, self.prompt_len:]], dim=1)
        with torch.no_grad():
            without = self.model(ids, attention_mask=torch.ones_like(ids)).logits[:, -1].float()
        floor = scores.max(dim=-1, keepdim=True).values + math.log(PLAUSIBLE)
        mixed = (1 + self.weight) * scores - self.weight * without
        mixed = mixed.masked_fill(scores < floor, -math.inf)
        if self.sampling is None:
            return mixed
        temperature, top_k, top_p = self.sampling
        mixed = mixed / temperature
        if top_k:
            kth = torch.topk(mixed, min(top_k, mixed.shape[-1])).values[:, -1:]
            mixed = mixed.masked_fill(mixed < kth, -math.inf)
        if top_p < 1.0:
            sorted_scores, order = torch.sort(mixed, descending=True)
            cum = torch.softmax(sorted_scores, dim=-1).cumsum(dim=-1)
            drop = cum - torch.softmax(sorted_scores, dim=-1) >= top_p
            mixed = mixed.masked_fill(torch.zeros_like(drop).scatter(1, order, drop), -math.inf)
        return mixed


def letter(c):
    return c.isascii() and c.isalnum() or ord(c) >= 128


class Quoter:
    """Quoted answers (see --quote): the span of the context the model finds
    likeliest. Matching is on lower-cased text; a token's text is what the
    tokenizer decodes it to."""

    def __init__(self, m):
        self.m = m
        self.texts = [m.tok.decode([t]).lower() for t in range(m.model.config.vocab_size)]
        self.special = set(m.tok.all_special_ids)
        self.refusal_first = m.tok(REFUSAL)["input_ids"][0]

    def extend(self, text, spelled, starts, t):
        """(spelled, starts) after token t, or None when t leaves the text."""
        s = self.texts[t]
        if t in self.special or not s:
            return None
        if spelled is None:
            s = s.lstrip()
            if not s or not letter(s[0]):
                return None
            at = [i for i in range(len(text)) if text.startswith(s, i) and (i == 0 or not letter(text[i - 1]))]
            return (s, at) if at else None
        at = [i for i in starts if text.startswith(s, i + len(spelled))]
        return (spelled + s, at) if at else None

    def can_end(self, text, spelled, starts):
        return spelled is not None and any(
            i + len(spelled) >= len(text) or not letter(text[i + len(spelled)]) for i in starts)

    def logprobs(self, ids, tokens):
        seq = torch.cat([ids, torch.tensor([tokens], dtype=torch.long)], 1) if tokens else ids
        with torch.no_grad():
            return torch.log_softmax(self.m.model(seq).logits[0, -1].float(), -1)

    def quote(self, messages, max_new_tokens):
        """The quoted reply, or None when the model declines or nothing fits."""
        ids = self.m.render(messages)
        room = min(max_new_tokens, self.m.window - ids.shape[1])
        if room <= 0:
            return None
        first = self.logprobs(ids, [])
        if int(first.argmax()) == self.refusal_first:
            return None
        text = "\n\n".join(x["content"] for x in messages if x["role"] == "context").lower()
        norm = lambda lp, n: lp / n ** QUOTE_LENGTH_PENALTY
        live, best = [(0.0, [], None, [])], None
        for _ in range(room):
            grown = []
            for lp_sum, tokens, spelled, starts in live:
                lp = first if not tokens else self.logprobs(ids, tokens)
                taken = 0
                for t in torch.argsort(lp, descending=True).tolist():
                    if taken == QUOTE_BEAMS:
                        break
                    if t == self.m.im_end:
                        if self.can_end(text, spelled, starts):
                            score = norm(lp_sum + float(lp[t]), len(tokens) + 1)
                            if best is None or score > best[0]:
                                best = (score, tokens)
                            taken += 1
                        continue
                    nxt = self.extend(text, spelled, starts, t)
                    if nxt:
                        grown.append((lp_sum + float(lp[t]), tokens + [t], nxt[0], nxt[1]))
                        taken += 1
            live = sorted(grown, key=lambda b: -b[0])[:QUOTE_BEAMS]
            top = best[0] if best else -math.inf
            if all(norm(b[0], len(b[1])) < top for b in live):
                break
        tokens = best[1] if best else (live[0][1] if live else None)
        reply = self.m.tok.decode(tokens).strip() if tokens else ""
        return reply or None


class Model:
    def __init__(self, folder, guidance, quote=False):
        self.tok = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        self.model.eval()
        self.window = self.model.config.max_position_embeddings
        self.im_end = self.tok.convert_tokens_to_ids("<|im_end|>")
        self.guidance = guidance
        self.quoter = Quoter(self) if quote else None

    def render(self, messages):
        ids = self.tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
        return ids["input_ids"] if hasattr(ids, "input_ids") else ids

    def reply(self, messages, max_new_tokens, sample=None):
        if self.quoter and any(x["role"] == "context" for x in messages):
            quoted = self.quoter.quote(messages, max_new_tokens)
            if quoted is not None:
                return quoted
        ids = self.render(messages)
        budget = min(max_new_tokens, self.window - ids.shape[1])
        if budget <= 0:
            return None
        kwargs = dict(max_new_tokens=budget, eos_token_id=[self.im_end, self.tok.eos_token_id],
                      pad_token_id=self.tok.eos_token_id)
        gc = self.model.generation_config
        sampling = None if sample is None else (gc.temperature or 1.0, gc.top_k or 0, gc.top_p or 1.0)
        if sample is None:
            kwargs.update(do_sample=False)
        else:
            # Sampled as an outsider's `generate()` samples: with the folder's own
            # generation_config.json (temperature, top-k, top-p).
            torch.manual_seed(sample)
            kwargs.update(do_sample=True)
        last_user = max((i for i, x in enumerate(messages) if x["role"] == "user"), default=None)
        grounded = any(x["role"] == "context" for x in messages)
        if self.guidance > 0 and last_user is not None and not grounded:
            without = [dict(x, content="") if i == last_user else x for i, x in enumerate(messages)]
            guided = Guided(self.model, self.render(without), ids.shape[1], self.guidance, sampling)
            kwargs.update(logits_processor=LogitsProcessorList([guided]))
            if sampling is not None:
                # Guided does temperature, top-k and top-p itself, after the guidance.
                kwargs.update(temperature=1.0, top_k=0, top_p=1.0)
        with torch.no_grad():
            out = self.model.generate(ids, attention_mask=torch.ones_like(ids), **kwargs)
        return self.tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()


def grounded(m, items, max_tokens):
    rows = []
    for it in items:
        reply = m.reply([{"role": "context", "content": it["context"]}, {"role": "user", "content": it["question"]}], max_tokens)
        if reply is None:
            continue
        rows.append(dict(id=it["id"], answerable=it["answerable"], reply=reply,
                         exact=any(normalize(a) == normalize(reply) for a in it["answers"]),
                         f1=max([f1(reply, a) for a in it["answers"]] or [0.0]),
                         accurate=accurate(reply, it["answers"]), refused=refused(reply)))
    yes = [r for r in rows if r["answerable"]]
    no = [r for r in rows if not r["answerable"]]
    mean = lambda v, k: sum(float(r[k]) for r in v) / max(1, len(v))
    return dict(answerable=len(yes), unanswerable=len(no), answer_accuracy=mean(yes, "accurate"),
                exact_match=mean(yes, "exact"), f1=mean(yes, "f1"), false_refusal_rate=mean(yes, "refused"),
                refusal_rate=mean(no, "refused"), answers=rows)


# Story requests in a few tries, written again here (src/chat/tries.rs): a
# request for a story (these words, or asking to continue one) is sampled up to
# --story-tries times, try j with seed i + 100,000 j; the first story that uses
# every word the request is about is kept, else the one that uses the most.
STORY_WORDS = {"story", "stories", "tale", "tales", "continue"}
ASKING = set("""a an the and or but of to in on at for with about from by as into over under is are was were be
been i me my you your he she it we they her him his its our their them this that these those there here who
which what when where why how can could would will should may might must do does did have has had please tell
write make made up give let some any story stories tale tales short little bedtime funny one something
someone time once upon want wants like need now new again just very so too then than also only not no yes
continue happened next happens""".split())
TRY_SEED_STRIDE = 100_000


def asks_for_story(text):
    low = text.lower()
    words = set(re.findall(r"[^\W_]+", low))
    return bool(words & STORY_WORDS) or "what happened next" in low or "once upon a time" in low


def about(text):
    """The Snowball stems of the words a story for this request should use."""
    out = []
    for w in re.findall(r"[^\W\d_]+", text.lower()):
        if len(w) >= 3 and w not in ASKING:
            s = STEMMER.stemWord(w)
            if s not in out:
                out.append(s)
    return out


def uses(wanted, story):
    have = {STEMMER.stemWord(w) for w in re.findall(r"[^\W\d_]+", story.lower())}
    return sum(w in have for w in wanted)


def story_reply(m, prompt, max_tokens, seed, tries):
    messages = [{"role": "user", "content": prompt}]
    if tries <= 1 or not asks_for_story(prompt):
        return m.reply(messages, max_tokens, sample=seed)
    wanted, best = about(prompt), None
    for j in range(tries):
        reply = m.reply(messages, max_tokens, sample=seed + j * TRY_SEED_STRIDE)
        n = uses(wanted, reply)
        if best is None or n > best[0]:
            best = (n, reply)
        if n == len(wanted):
            break
    return best[1]


def stories(m, requests, max_tokens, tries=1):
    rows = []
    for i, rq in enumerate(requests):
        reply = story_reply(m, rq["prompt"], max_tokens, i, tries)
        low = reply.lower()
        missing = [w for w in rq["subject_words"] if w.lower() not in low]
        ident = any(s in low.replace("\u2019", "'") for s in IDENTITY_SIGNS)
        words = len(reply.split())
        rows.append(dict(id=rq["id"], reply=reply, words=words, missing=missing, identity=ident,
                         passed=words >= 40 and not missing and not ident))
    return dict(requests=len(rows), pass_rate=sum(r["passed"] for r in rows) / max(1, len(rows)), answers=rows)


def qa_set(m, path, limit, max_tokens):
    rows = []
    for conv in read_jsonl(path)[: limit or None]:
        msgs = conv["messages"]
        last = max(i for i, x in enumerate(msgs) if x["role"] == "assistant")
        reply = m.reply(msgs[:last], max_tokens)
        if reply is None:
            continue
        ref = msgs[last]["content"]
        rows.append(dict(exact=normalize(reply) == normalize(ref), f1=f1(reply, ref)))
    n = max(1, len(rows))
    return dict(scored=len(rows), exact_match=sum(r["exact"] for r in rows) / n, f1=sum(r["f1"] for r in rows) / n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--evals", default="evals")
    ap.add_argument("--split", default="dev", choices=["dev", "test", "all"])
    ap.add_argument("--babi", help="babi-task1 test.jsonl (fledge data chat)")
    ap.add_argument("--fairytaleqa", help="fairytaleqa test.jsonl (fledge data chat)")
    ap.add_argument("--limit", type=int, default=200, help="items per bAbI / FairytaleQA set (0: all)")
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--story-tokens", type=int, default=300)
    ap.add_argument("--guidance", type=float, default=1.5, help="classifier-free guidance (0: off)")
    ap.add_argument("--story-tries", type=int, default=4,
                    help="stories sampled at most per story request, as fledge chat --story-tries (1: one sample)")
    ap.add_argument("--quote", action="store_true", help="quote answers from their context (default: off)")
    ap.add_argument("--out")
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    m = Model(args.model, args.guidance, args.quote)
    t = time.time()
    result = {"model": args.model, "split": args.split, "guidance": args.guidance, "quote": args.quote}
    result["grounded"] = grounded(m, read_jsonl(f"{args.evals}/grounded-qa.jsonl", args.split), args.max_tokens)
    result["stories"] = stories(m, read_jsonl(f"{args.evals}/story-requests.jsonl", args.split), args.story_tokens, args.story_tries)
    for name in ("babi", "fairytaleqa"):
        if getattr(args, name):
            result[name] = qa_set(m, getattr(args, name), args.limit, args.max_tokens)
    g, s = result["grounded"], result["stories"]
    quoted = ", quoted" if args.quote else ""
    print(f"transformers on {args.model} ({args.split} split, guidance {args.guidance}{quoted}), {time.time() - t:.0f} s")
    print(f"grounded: accuracy {g['answer_accuracy']:.3f}  EM {g['exact_match']:.3f}  F1 {g['f1']:.3f}  "
          f"refusals {g['refusal_rate']:.3f}  false refusals {g['false_refusal_rate']:.3f}  "
          f"({g['answerable']} answerable, {g['unanswerable']} unanswerable)")
    print(f"story requests: told {s['pass_rate']:.3f} of {s['requests']}")
    for name in ("babi", "fairytaleqa"):
        if name in result:
            r = result[name]
            print(f"{name}: EM {r['exact_match']:.3f}  F1 {r['f1']:.3f}  ({r['scored']} scored)")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
