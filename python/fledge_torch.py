"""fledge's PyTorch engine: `fledge train --engine torch` runs this file.

Design: fledge drives, PyTorch computes. fledge keeps everything that makes a
run a fledge run: the recipe's shards and batch order (its seeded windows),
the learning-rate schedule, validation sets, metrics, best checkpoint, early
stop, and checkpoints in its own format (so `--resume`, `sft`, `eval`, `chat`
and `export` read them unchanged, and a run moves between the two engines
at any checkpoint). This file holds only the weights and AdamW's moments on
the device and does the arithmetic: fledge sends each step's micro-batches
(token ids) and learning rate, and asks for validation losses and, before a
checkpoint, for the weights and moments. Nothing about data order or
schedule is decided here, so both engines see exactly the same numbers.

Transport: fledge listens on a Unix socket (FLEDGE_TORCH_SOCKET); global rank
0 connects. Each message is an 8-byte little-endian length, a JSON header,
then `header["bytes"]` bytes of payload. Under torchrun every command is
broadcast from rank 0 to the other ranks, so machines other than the first
need neither fledge's data nor a socket.

Data parallel: the rows of a step (grad_accum x batch windows) are cut into
one contiguous, disjoint part per rank, each processed in micro-batches of at
most `batch` rows; gradients are averaged by DistributedDataParallel (gloo on
CPU, nccl on CUDA). Each rank's loss is scaled so the average is the gradient
of the mean loss over every counted target of the step, as in fledge.

The model is fledge's Llama (HF LlamaForCausalLM names): RMSNorm, rotary
embeddings with HF's rotate-half pairing, grouped-query attention, SwiGLU,
no biases, tied or untied output head. AdamW as torch.optim.AdamW with weight
decay on matrices only (norm gains undecayed) and global-norm clipping.
Requires torch only: python -m venv .venv-torch && .venv-torch/bin/pip install torch safetensors numpy
"""

import contextlib
import json
import math
import os
import socket
import struct
import sys

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

IGNORE = -1  # fledge's u32::MAX read as int32


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.heads, self.kv_heads = c["d_model"], c["n_heads"], c["n_kv_heads"]
        self.hd = d // self.heads
        self.q_proj = nn.Linear(d, d, bias=False)
        self.k_proj = nn.Linear(d, self.kv_heads * self.hd, bias=False)
        self.v_proj = nn.Linear(d, self.kv_heads * self.hd, bias=False)
        self.o_proj = nn.Linear(d, d, bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        group = self.heads // self.kv_heads
        if group > 1:  # query head h reads key/value head h // group
            k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        if mask is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.o_proj(y.transpose(1, 2).reshape(b, t, -1))


def rotate(x, cos, sin):
    """HF's rotate-half rotary: dimension i pairs with i + head_dim / 2."""
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, f = c["d_model"], c["ffn_hidden"]
        self.gate_proj = nn.Linear(d, f, bias=False)
        self.up_proj = nn.Linear(d, f, bias=False)
        self.down_proj = nn.Linear(f, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c["d_model"], c["norm_eps"])
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c["d_model"], c["norm_eps"])
        self.mlp = MLP(c)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Inner(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["d_model"])
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["n_layers"]))
        self.norm = RMSNorm(c["d_model"], c["norm_eps"])


class Llama(nn.Module):
    """Parameter names are exactly those of fledge's model.safetensors."""

    def __init__(self, c):
        super().__init__()
        self.model = Inner(c)
        self.tied = c["tie_embeddings"]
        if not self.tied:
            self.lm_head = nn.Linear(c["d_model"], c["vocab_size"], bias=False)
        hd = c["d_model"] // c["n_heads"]
        # The angles in float64, as fledge computes its tables.
        freq = c["rope_theta"] ** (-2.0 * torch.arange(hd // 2, dtype=torch.float64) / hd)
        angle = torch.outer(torch.arange(c["max_seq_len"], dtype=torch.float64), freq)
        self.register_buffer("cos", angle.cos().float(), persistent=False)
        self.register_buffer("sin", angle.sin().float(), persistent=False)

    def forward(self, ids, starts=None):
        t = ids.shape[1]
        mask = None
        if starts is not None:  # packed documents: position i sees keys starts[i]..=i
            j = torch.arange(t, device=ids.device)
            mask = ((j[None, None, :] <= j[None, :, None]) & (j[None, None, :] >= starts[:, :, None]))[:, None]
        x = self.model.embed_tokens(ids)
        cos, sin = self.cos[:t], self.sin[:t]
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        x = self.model.norm(x)
        head = self.model.embed_tokens.weight if self.tied else self.lm_head.weight
        return x @ head.t()


class Worker:
    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        want = os.environ.get("FLEDGE_TORCH_DEVICE", "cpu")
        if want == "cuda":
            if not torch.cuda.is_available():
                sys.exit("fledge torch trainer: --device cuda, but this torch sees no CUDA device")
            torch.cuda.set_device(local)
            self.device = torch.device("cuda", local)
        else:
            self.device = torch.device("cpu")
        if self.world > 1:
            dist.init_process_group("nccl" if want == "cuda" else "gloo")
        self.conn = None
        if self.rank == 0:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(os.environ["FLEDGE_TORCH_SOCKET"])
            self.conn = s.makefile("rwb")
        self.model = self.ddp = self.opt = None

    # ----- messages -----
    def receive(self):
        """The next command from fledge, on every rank."""
        if self.rank == 0:
            raw = self.conn.read(8)
            if len(raw) < 8:  # fledge is gone: stop every rank
                header, payload = b'{"cmd": "quit"}', b""
            else:
                header = self.conn.read(struct.unpack("<Q", raw)[0])
                payload = self.conn.read(json.loads(header).get("bytes", 0))
        if self.world > 1:
            sizes = torch.tensor([len(header), len(payload)] if self.rank == 0 else [0, 0], dtype=torch.int64)
            sizes = self.broadcast(sizes)
            header = self.broadcast_bytes(header if self.rank == 0 else None, int(sizes[0]))
            payload = self.broadcast_bytes(payload if self.rank == 0 else None, int(sizes[1]))
        return json.loads(header), payload

    def broadcast(self, t):
        comm = t.to(self.device)
        dist.broadcast(comm, 0)
        return comm.cpu()

    def broadcast_bytes(self, data, n):
        if n == 0:
            return b""
        t = torch.frombuffer(bytearray(data), dtype=torch.uint8) if data is not None else torch.empty(n, dtype=torch.uint8)
        return bytes(self.broadcast(t).numpy())

    def reply(self, header, payload=b""):
        if self.rank != 0:
            return
        header = dict(header, bytes=len(payload))
        raw = json.dumps(header).encode()
        self.conn.write(struct.pack("<Q", len(raw)) + raw)
        self.conn.write(payload)
        self.conn.flush()

    def ids(self, payload, offset, n, shape):
        t = torch.frombuffer(bytearray(payload[offset * 4 : (offset + n) * 4]), dtype=torch.int32)
        return t.view(shape).long().to(self.device)

    # ----- commands -----
    def init(self, h, payload):
        c = h["config"]
        torch.manual_seed(0)
        self.model = Llama(c).to(self.device)
        self.tensors = h["tensors"]
        params = dict(self.model.named_parameters())
        flat = torch.frombuffer(bytearray(payload), dtype=torch.float32)
        total = sum(math.prod(t["shape"]) for t in self.tensors)
        decay, plain = [], []
        with torch.no_grad():
            for t in self.tensors:
                p = params[t["name"]]
                p.copy_(flat[t["offset"] : t["offset"] + p.numel()].view(p.shape))
                (decay if t["decay"] else plain).append(p)
        a = h["adamw"]
        groups = [{"params": decay, "weight_decay": a["weight_decay"]}, {"params": plain, "weight_decay": 0.0}]
        self.opt = torch.optim.AdamW(groups, lr=0.0, betas=(a["beta1"], a["beta2"]), eps=a["eps"])
        for t in self.tensors:  # the moments (zeros for a fresh run) and the step count
            p, o = params[t["name"]], t["offset"]
            m = flat[total + o : total + o + p.numel()].view(p.shape)
            v = flat[2 * total + o : 2 * total + o + p.numel()].view(p.shape)
            self.opt.state[p] = {
                "step": torch.tensor(float(h["adam_step"])),
                "exp_avg": m.clone().to(self.device),
                "exp_avg_sq": v.clone().to(self.device),
            }
        self.ddp = self.model
        if self.world > 1:
            self.ddp = nn.parallel.DistributedDataParallel(self.model)
        if h.get("compile"):
            self.ddp = torch.compile(self.ddp)
        # Autocast, as fledge's engine does bf16: products in bfloat16, weights,
        # softmax, norms, loss and AdamW in f32. `auto` picks it only on a GPU
        # that has it (on a CPU without AMX, PyTorch's bf16 is slower).
        want = h.get("precision", "f32")
        cuda_bf16 = self.device.type == "cuda" and torch.cuda.is_bf16_supported()
        self.bf16 = want == "bf16" or (want == "auto" and cuda_bf16)
        self.clip = h["clip"]
        self.batch = h["batch"]
        name = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "CPU"
        self.reply({
            "hardware": f"torch {torch.__version__} {self.device.type} ({name}) x {self.world} processes",
            "precision": "bf16" if self.bf16 else "f32",
        })

    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def step(self, h, payload):
        rows, t = h["rows"], h["seq_len"]
        n = rows * t
        inputs = self.ids(payload, 0, n, (rows, t))
        targets = self.ids(payload, n, n, (rows, t))
        starts = self.ids(payload, 2 * n, n, (rows, t)) if h["segments"] else None
        total = max(int((targets != IGNORE).sum()), 1)
        lo, hi = self.rank * rows // self.world, (self.rank + 1) * rows // self.world
        chunks = [(a, min(a + self.batch, hi)) for a in range(lo, hi, self.batch)]
        self.opt.zero_grad(set_to_none=False)
        local = torch.zeros((), dtype=torch.float64, device=self.device)
        for i, (a, b) in enumerate(chunks):
            sync = i == len(chunks) - 1 or self.world == 1
            with contextlib.nullcontext() if sync else self.ddp.no_sync(), self.autocast():
                logits = self.ddp(inputs[a:b], None if starts is None else starts[a:b])
                loss = F.cross_entropy(logits.flatten(0, 1), targets[a:b].flatten(), ignore_index=IGNORE, reduction="sum")
                (loss * (self.world / total)).backward()
            local += loss.detach().double()
        if self.world > 1:
            dist.all_reduce(local)
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip if self.clip > 0 else float("inf"))
        for g in self.opt.param_groups:
            g["lr"] = h["lr"]
        self.opt.step()
        self.reply({"loss": float(local) / total, "grad_norm": float(norm)})

    @torch.no_grad()
    def evaluate(self, h, payload):
        if self.rank != 0:
            return
        rows, t = h["rows"], h["seq_len"]
        n = rows * t
        inputs, targets = self.ids(payload, 0, n, (rows, t)), self.ids(payload, n, n, (rows, t))
        starts = self.ids(payload, 2 * n, n, (rows, t)) if h["segments"] else None
        out = []
        for a in range(0, rows, self.batch):
            with self.autocast():
                logits = self.model(inputs[a : a + self.batch], None if starts is None else starts[a : a + self.batch])
            out.append(F.cross_entropy(logits.flatten(0, 1), targets[a : a + self.batch].flatten(), ignore_index=IGNORE, reduction="none"))
        self.reply({}, torch.cat(out).double().cpu().numpy().tobytes())

    @torch.no_grad()
    def pull(self, h, payload):
        if self.rank != 0:
            return
        params = dict(self.model.named_parameters())
        parts = [[], [], []]
        for t in self.tensors:
            p = params[t["name"]]
            state = self.opt.state[p]
            for part, x in zip(parts, (p, state["exp_avg"], state["exp_avg_sq"])):
                part.append(x.detach().float().cpu().flatten())
        self.reply({}, torch.cat([torch.cat(p) for p in parts]).numpy().tobytes())

    def run(self):
        commands = {"init": self.init, "step": self.step, "eval": self.evaluate, "pull": self.pull}
        while True:
            h, payload = self.receive()
            if h["cmd"] == "quit":
                break
            try:
                commands[h["cmd"]](h, payload)
            except Exception as e:  # fledge shows it; other ranks' errors reach their stderr
                self.reply({"error": f"{type(e).__name__}: {e}"})
                raise
        if self.world > 1:
            # Every rank has read the last broadcast before any leaves: a
            # rank that exits first closes connections the others still read
            # from, and gloo aborts them.
            dist.barrier()
            dist.destroy_process_group()


if __name__ == "__main__":
    Worker().run()
    # Leave without the interpreter's teardown: there, static destructors of
    # the collective library's threads sometimes abort a rank whose peer has
    # already gone ("terminate called without an active exception"), and a
    # finished run would report a crash. Nothing is left to write but stdio.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
