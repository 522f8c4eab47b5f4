"""Drives a running `fledge serve` with the official openai package.

Usage: openai_client.py BASE_URL MODEL API_KEY
Prints one JSON line of what it saw; exits non-zero on the first mismatch.
"""
import json
import sys

import openai

base, model, key = sys.argv[1], sys.argv[2], sys.argv[3]
client = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=60)
seen = {"openai": openai.__version__}

# Models.
ids = [m.id for m in client.models.list().data]
assert ids == [model], ids
seen["models"] = ids

# A chat completion.
messages = [{"role": "system", "content": "be brief."}, {"role": "user", "content": "the cat sat on"}]
chat = client.chat.completions.create(model=model, messages=messages, max_tokens=16, seed=7, temperature=0.9)
choice = chat.choices[0]
assert choice.message.role == "assistant", choice
assert choice.finish_reason in ("stop", "length"), choice.finish_reason
assert chat.usage.completion_tokens <= 16 and chat.usage.prompt_tokens > 0, chat.usage
assert chat.usage.total_tokens == chat.usage.prompt_tokens + chat.usage.completion_tokens
seen["chat"] = {"content": choice.message.content, "finish_reason": choice.finish_reason, "usage": chat.usage.model_dump()}

# The same request streamed: the deltas add up to the same answer.
pieces, finish, usage, chunks = [], None, None, 0
stream = client.chat.completions.create(
    model=model, messages=messages, max_tokens=16, seed=7, temperature=0.9, stream=True,
    stream_options={"include_usage": True},
)
for chunk in stream:
    chunks += 1
    assert chunk.object == "chat.completion.chunk", chunk
    if chunk.choices:
        delta = chunk.choices[0].delta
        if delta.content:
            pieces.append(delta.content)
        finish = chunk.choices[0].finish_reason or finish
    if chunk.usage:
        usage = chunk.usage
assert "".join(pieces) == choice.message.content, (pieces, choice.message.content)
assert finish == choice.finish_reason, finish
assert usage is not None and usage.completion_tokens == chat.usage.completion_tokens, usage
seen["stream"] = {"chunks": chunks, "pieces": len(pieces)}

# A completion, whole and streamed.
completion = client.completions.create(model=model, prompt="the dog ran to", max_tokens=8, seed=3)
assert completion.object == "text_completion", completion
assert completion.usage.completion_tokens <= 8, completion.usage
streamed = "".join(c.choices[0].text for c in client.completions.create(
    model=model, prompt="the dog ran to", max_tokens=8, seed=3, stream=True) if c.choices)
assert streamed == completion.choices[0].text, (streamed, completion.choices[0].text)
seen["completion"] = completion.choices[0].text

# Log-probabilities, whole and streamed, in the client's own types. Greedy,
# so they are the model's: each must match fledge's own forward pass
# (POST /v1/fledge/inspect over the prompt and the answer's tokens) to 1e-4.
import math
import urllib.request

# No repetition penalty and no guidance: the greedy choice is then the model's likeliest token.
greedy = {"repetition_penalty": 1.0, "guidance": 0}
lp_chat = client.chat.completions.create(
    model=model, messages=messages, max_tokens=12, temperature=0, logprobs=True, top_logprobs=5, extra_body=greedy)
content = lp_chat.choices[0].logprobs.content
assert content and len(content) == lp_chat.usage.completion_tokens, (len(content), lp_chat.usage)
assert "".join(t.token for t in content) == lp_chat.choices[0].message.content
for t in content:
    alts = t.top_logprobs
    assert 1 <= len(alts) <= 5, t
    assert sum(math.exp(a.logprob) for a in alts) <= 1 + 1e-5, t
    assert alts[0].token == t.token and abs(alts[0].logprob - t.logprob) < 1e-6, t  # greedy: the likeliest
    assert bytes(t.bytes).decode("utf-8", "replace") == t.token or "\ufffd" in t.token, t
pieces = []
for chunk in client.chat.completions.create(
        model=model, messages=messages, max_tokens=12, temperature=0, logprobs=True, top_logprobs=5, stream=True,
        extra_body=greedy):
    if chunk.choices and chunk.choices[0].logprobs and chunk.choices[0].logprobs.content:
        pieces.extend(chunk.choices[0].logprobs.content)
assert [(p.token, round(p.logprob, 5)) for p in pieces] == [(t.token, round(t.logprob, 5)) for t in content], pieces

def inspect(body):
    request = urllib.request.Request(
        base + "/v1/fledge/inspect", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + key})
    return json.load(urllib.request.urlopen(request))

# The conversation as the server rendered it, then the answer's token ids:
# the inspection's positions from the prompt's end give each answer token's odds.
prompt = inspect({"messages": messages, "add_generation_prompt": True, "top_logprobs": 0})
n = len(prompt["tokens"])
ids = [t["id"] for t in prompt["tokens"]] + [t.model_extra["id"] for t in content]
answered = inspect({"tokens": ids, "top_logprobs": 5})
worst = 0.0
for i, t in enumerate(content):
    assert answered["tokens"][n + i]["token"] == t.token, (answered["tokens"][n + i], t)
    worst = max(worst, abs(answered["positions"][n + i]["logprob"] - t.logprob))
    for a, b in zip(answered["positions"][n + i - 1]["top_logprobs"], t.top_logprobs):
        assert a["token"] == b.token, (a, b)
        worst = max(worst, abs(a["logprob"] - b.logprob))
assert worst <= 1e-4, worst
seen["logprobs"] = {"tokens": len(content), "max_difference_from_forward_pass": worst,
                    "first": {"token": content[0].token, "top": [(a.token, round(a.logprob, 4)) for a in content[0].top_logprobs]}}

# Sampled: the distribution each token was drawn from (top_k 3 keeps at most 3).
sampled = client.chat.completions.create(
    model=model, messages=messages, max_tokens=8, temperature=0.9, seed=5, logprobs=True, top_logprobs=10,
    extra_body={"top_k": 3})
for t in sampled.choices[0].logprobs.content:
    assert len(t.top_logprobs) <= 3 and abs(sum(math.exp(a.logprob) for a in t.top_logprobs) - 1) < 1e-4, t
    assert t.token in [a.token for a in t.top_logprobs], t
# Guided by default (the server's --guidance), and the distribution says so.
assert sampled.choices[0].logprobs.model_extra["distribution"].startswith("guided"), sampled.choices[0].logprobs
assert "sampling" in sampled.choices[0].logprobs.model_extra["distribution"], sampled.choices[0].logprobs

# Completions: logprobs N, and echo gives the prompt's too.
echoed = client.completions.create(model=model, prompt="the dog ran to", max_tokens=4, temperature=0, logprobs=2, echo=True)
lp = echoed.choices[0].logprobs
assert "".join(lp.tokens) == echoed.choices[0].text, (lp.tokens, echoed.choices[0].text)
assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset)
assert all(len(alts) <= 2 for alts in lp.top_logprobs), lp.top_logprobs
seen["completion_logprobs"] = {"tokens": lp.tokens, "token_logprobs": [round(x, 4) for x in lp.token_logprobs]}

# Errors arrive as the client's typed exceptions, with OpenAI's error body.
def expect(exc, call):
    try:
        call()
    except exc as e:
        return {"status": e.status_code, "code": getattr(e, "code", None), "message": str(e)[:120]}
    raise AssertionError(f"expected {exc.__name__}")

seen["errors"] = {
    "unknown model": expect(openai.NotFoundError, lambda: client.chat.completions.create(
        model="no-such-model", messages=messages)),
    "bad temperature": expect(openai.BadRequestError, lambda: client.chat.completions.create(
        model=model, messages=messages, temperature=9)),
    "empty messages": expect(openai.BadRequestError, lambda: client.chat.completions.create(
        model=model, messages=[])),
    "top_logprobs over 20": expect(openai.BadRequestError, lambda: client.chat.completions.create(
        model=model, messages=messages, logprobs=True, top_logprobs=21)),
    "wrong key": expect(openai.AuthenticationError, lambda: openai.OpenAI(
        base_url=base + "/v1", api_key="wrong", max_retries=0).models.list()),
}
assert seen["errors"]["unknown model"]["code"] == "model_not_found", seen["errors"]
assert seen["errors"]["bad temperature"]["status"] == 400
assert "top_logprobs" in seen["errors"]["top_logprobs over 20"]["message"], seen["errors"]
print(json.dumps(seen))
