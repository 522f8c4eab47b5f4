# The copy task of tests/engine_learns_to_copy.rs in plain PyTorch, the same model (two layers,
# two heads of 32, RMSNorm, rotary positions, SwiGLU, tied embeddings), init, AdamW and schedule:
# the independent reference for how many steps a correct engine needs to learn to copy.
#   python scripts/copy_task_torch.py [HEAD_DIM=32] [STEPS=600] [MODE=1] [THEN=0]
# MODE 1: a random span comes again at a random later place; MODE 2: the row opens with a random
# sequence read twice. THEN: steps of MODE 1 after the STEPS (the test's switch). Prints the loss on the
# copied tokens every 100 steps and, on fresh rows, at the end of each part.
import math, sys, torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(1)
V, T, B, HD = 64, 128, 16, int(sys.argv[1]) if len(sys.argv) > 1 else 32
STEPS = int(sys.argv[2]) if len(sys.argv) > 2 else 600
D, H, L, FF = 2 * HD, 2, 2, 4 * HD
IGN = -100
MODE = int(sys.argv[3]) if len(sys.argv) > 3 else 1
def rope(T, hd, theta=10000.0):
    inv = theta ** (-torch.arange(0, hd, 2).float() / hd)
    f = torch.outer(torch.arange(T).float(), inv)
    emb = torch.cat([f, f], -1)
    return emb.cos(), emb.sin()
cos, sin = rope(T, HD)
def rot(x):
    x1, x2 = x[..., :HD // 2], x[..., HD // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin
class Block(nn.Module):
    def __init__(s):
        super().__init__()
        s.n1, s.n2 = nn.RMSNorm(D, eps=1e-5), nn.RMSNorm(D, eps=1e-5)
        s.q, s.k, s.v, s.o = [nn.Linear(D, D, bias=False) for _ in range(4)]
        s.g, s.u, s.d = nn.Linear(D, FF, bias=False), nn.Linear(D, FF, bias=False), nn.Linear(FF, D, bias=False)
    def forward(s, x):
        h = s.n1(x)
        q = s.q(h).view(B, T, H, HD).transpose(1, 2); k = s.k(h).view(B, T, H, HD).transpose(1, 2); v = s.v(h).view(B, T, H, HD).transpose(1, 2)
        a = F.scaled_dot_product_attention(rot(q), rot(k), v, is_causal=True).transpose(1, 2).reshape(B, T, D)
        x = x + s.o(a)
        h = s.n2(x)
        return x + s.d(F.silu(s.g(h)) * s.u(h))
class M(nn.Module):
    def __init__(s):
        super().__init__()
        s.e = nn.Embedding(V, D); s.bs = nn.ModuleList([Block() for _ in range(L)]); s.n = nn.RMSNorm(D, eps=1e-5)
        for n_, p in s.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * L) if n_.endswith(('.o.weight', '.d.weight')) else 0.02
                nn.init.normal_(p, std=std)
    def forward(s, x):
        x = s.e(x)
        for b in s.bs: x = b(x)
        return s.n(x) @ s.e.weight.T
def batch():
    import random
    ins, tgs = [], []
    for _ in range(B):
        t = [random.randrange(V) for _ in range(T + 1)]
        n = random.randint(8, 40); a = random.randint(0, T - 2 * n) if MODE == 1 else 0; b = random.randint(a + n, T + 1 - n) if MODE == 1 else n
        t[b:b + n] = t[a:a + n]
        ins.append(t[:T]); tgs.append([t[i + 1] if b <= i and i + 1 < b + n else IGN for i in range(T)])
    return torch.tensor(ins), torch.tensor(tgs)
import random; random.seed(7)
m = M()
decay = [p for p in m.parameters() if p.dim() == 2]; nod = [p for p in m.parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': nod, 'weight_decay': 0.0}], lr=3e-3, betas=(0.9, 0.999), eps=1e-8)
THEN = int(sys.argv[4]) if len(sys.argv) > 4 else 0
def train(steps):
    for step in range(steps):
        for g in opt.param_groups: g['lr'] = 3e-3 * min(1.0, (step + 1) / 50)
        x, y = batch()
        loss = F.cross_entropy(m(x).view(-1, V), y.view(-1), ignore_index=IGN)
        opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0); opt.step()
        if step % 100 == 0: print(f"step {step}: loss {loss.item():.3f}", flush=True)
    with torch.no_grad():
        tot = sum(F.cross_entropy(m(x).view(-1, V), y.view(-1), ignore_index=IGN).item() for x, y in [batch() for _ in range(4)]) / 4
    print(f"MODE {MODE}, {steps} steps: loss on copied tokens of fresh rows {tot:.3f}", flush=True)
train(STEPS)
if THEN:
    MODE = 1
    train(THEN)
