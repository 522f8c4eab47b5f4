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
    "wrong key": expect(openai.AuthenticationError, lambda: openai.OpenAI(
        base_url=base + "/v1", api_key="wrong", max_retries=0).models.list()),
}
assert seen["errors"]["unknown model"]["code"] == "model_not_found", seen["errors"]
assert seen["errors"]["bad temperature"]["status"] == 400
print(json.dumps(seen))
