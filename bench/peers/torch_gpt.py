#!/usr/bin/env python3
"""PyTorch peer of lmforge's GPT training step: the same model and the same step, timed.

lib/bench/peer_torch.ts runs this script; it is not part of the package's runtime. The model mirrors
lib/nn (pre-norm blocks, fused q/k/v projection, RoPE with NeoX 'half' or GPT-J 'interleaved' pairing,
ALiBi, learned or no positions, gated MLPs act(first half) * second half, RMSNorm or LayerNorm, optional
biases, tied embeddings, GPT-2 init), and the step is lmforge's: forward, mean cross-entropy (+ z-loss
when asked), backward, gradient clipping when asked, AdamW (decoupled decay, PyTorch's formula, which
lmforge's AdamW follows), zero the gradients, read the loss on the host.

Modes (one JSON object per line on stdout):
  (default)      build, warm up, time --steps steps, print the medians, exit.
  --serve        build, warm up, print {"ready": ...}; then per stdin line "run N" time N steps,
                 "profile N" profile N steps by op, "quit" to exit. Lets a caller alternate rounds with
                 lmforge without paying the import and warm-up again.
  --probe-blas   time the model's GEMM shapes once per OPENBLAS_CORETYPE candidate (each in a fresh
                 process, since OpenBLAS reads it when it loads) and print which one is fastest.
  --gemm-probe   (internal) the GEMM timing for the current environment.

Threads: --threads sets OMP_NUM_THREADS and OPENBLAS_NUM_THREADS before torch loads (Debian's torch
does not tell OpenBLAS its thread count itself) and torch.set_num_threads after.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--heads", type=int, default=6)
    p.add_argument("--kv-heads", type=int, default=0, help="0: same as --heads")
    p.add_argument("--vocab", type=int, default=8192)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--position", choices=["rope", "alibi", "learned", "none"], default="rope")
    p.add_argument("--rope-base", type=float, default=10000.0)
    p.add_argument("--rope-pairing", choices=["half", "interleaved"], default="half")
    p.add_argument("--activation", choices=["relu", "gelu", "swish", "glu", "swiglu", "geglu", "reglu"], default="swiglu")
    p.add_argument("--mlp-hidden", type=int, default=0, help="0: lmforge's default for the activation")
    p.add_argument("--norm", choices=["rmsnorm", "layernorm"], default="rmsnorm")
    p.add_argument("--norm-eps", type=float, default=-1.0, help="<0: 1e-6 for rmsnorm, 1e-5 for layernorm")
    p.add_argument("--bias", type=int, choices=[0, 1], default=0)
    p.add_argument("--tie", type=int, choices=[0, 1], default=1)
    p.add_argument("--init-std", type=float, default=0.02)
    p.add_argument("--params", type=int, default=0, help="lmforge's parameter count; the model must match it")
    p.add_argument("--optimizer", choices=["adamw", "sgd"], default="adamw")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--clip", type=float, default=0.0, help="clip the total gradient norm to this (0: off)")
    p.add_argument("--z-loss", type=float, default=0.0)
    p.add_argument("--foreach", choices=["auto", "on", "off"], default="auto",
                   help="AdamW's multi-tensor path; auto times both and keeps the faster")
    p.add_argument("--threads", type=int, default=0, help="0: leave torch's default")
    p.add_argument("--coretype", default=None,
                   help="OPENBLAS_CORETYPE to run with ('' for OpenBLAS's own detection); omitted: the environment's")
    p.add_argument("--omp-wait", default=None,
                   help="OMP_WAIT_POLICY to run with ('' for libgomp's default spin-then-sleep); omitted: the environment's")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--serve", action="store_true")
    p.add_argument("--profile", type=int, default=0, help="also profile this many steps by op (default mode)")
    p.add_argument("--probe-blas", action="store_true")
    p.add_argument("--gemm-probe", action="store_true")
    p.add_argument("--check", default=None,
                   help="JSON file with lmforge's parameters (by name) and tokens x, y: print the loss, the gradient "
                        "norm, and the loss after one step, for a test to compare with lmforge's")
    return p.parse_args(argv)


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


ARGS = parse_args(sys.argv[1:])
if ARGS.threads > 0:
    # Read by libgomp and OpenBLAS when they load, which happens when torch is imported.
    os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)
    os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.threads)

if ARGS.coretype is not None:
    # As lib/bench/openblas.ts does for the GEMM peer: name the core type, and drop OPENBLAS_L2_SIZE,
    # which some environments set to a safe, slow value.
    os.environ.pop("OPENBLAS_L2_SIZE", None)
    os.environ.pop("OPENBLAS_CORETYPE", None)
    if ARGS.coretype:
        os.environ["OPENBLAS_CORETYPE"] = ARGS.coretype

if ARGS.omp_wait is not None:
    # libgomp's threads spin between parallel regions by default; when other processes want the cores
    # that spinning can cost more than the work (measured: a 4M-element mul 4 ms PASSIVE, 108 ms default).
    os.environ.pop("OMP_WAIT_POLICY", None)
    if ARGS.omp_wait:
        os.environ["OMP_WAIT_POLICY"] = ARGS.omp_wait

import torch  # noqa: E402  (after the thread and BLAS variables)
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

if ARGS.threads > 0:
    torch.set_num_threads(ARGS.threads)


def gated(act):
    return act in ("glu", "swiglu", "geglu", "reglu")


def default_hidden(dim, act):
    # lmforge's defaultMlpHidden: 4·dim, or 8·dim/3 rounded up to a multiple of 64 for gated MLPs.
    return math.ceil(8 * dim / 3 / 64) * 64 if gated(act) else 4 * dim


def alibi_slopes(n):
    # DESIGN.md: powers of two get 2^(-8h/n); otherwise the largest power of two c below n, then every
    # other slope of the list for 2c until there are n.
    def pow2(k):
        return [2 ** (-8 * (h + 1) / k) for h in range(k)]
    if n & (n - 1) == 0:
        return pow2(n)
    c = 2 ** int(math.floor(math.log2(n)))
    return pow2(c) + pow2(2 * c)[0::2][: n - c]


class Norm(nn.Module):
    def __init__(self, kind, dim, eps, bias):
        super().__init__()
        self.kind, self.eps = kind, eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if kind == "layernorm" and bias else None

    def forward(self, x):
        if self.kind == "layernorm":
            return F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)
        # PyTorch 1.13 has no RMSNorm module; this is the usual composition.
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Rope:
    """cos/sin tables of angle pos·base^(-2i/d), built once per length like lmforge's kernel does per call."""

    def __init__(self, T, D, base, pairing):
        half = D // 2
        theta = base ** (-2.0 * torch.arange(half, dtype=torch.float64) / D)
        ang = torch.arange(T, dtype=torch.float64)[:, None] * theta[None, :]
        self.cos, self.sin, self.pairing = ang.cos().float(), ang.sin().float(), pairing

    def __call__(self, x):  # [B, H, T, D]
        T = x.shape[2]
        c, s = self.cos[:T], self.sin[:T]
        if self.pairing == "half":  # pairs (i, i + D/2): GPT-NeoX
            a, b = x.chunk(2, dim=-1)
            return torch.cat((a * c - b * s, a * s + b * c), dim=-1)
        a, b = x[..., 0::2], x[..., 1::2]  # pairs (2i, 2i + 1): GPT-J, Meta
        return torch.stack((a * c - b * s, a * s + b * c), dim=-1).flatten(-2)


class Attention(nn.Module):
    def __init__(self, a, proj_std):
        super().__init__()
        C, H = a.dim, a.heads
        Hkv = a.kv_heads or H
        self.H, self.Hkv, self.Dh = H, Hkv, C // H
        self.qkv = nn.Linear(C, (H + 2 * Hkv) * self.Dh, bias=bool(a.bias))
        self.proj = nn.Linear(C, C, bias=bool(a.bias))
        init_linear(self.qkv, a.init_std)
        init_linear(self.proj, proj_std)

    def forward(self, x, rope, alibi):
        B, T, _ = x.shape
        H, Hkv, Dh = self.H, self.Hkv, self.Dh
        q, k, v = self.qkv(x).split([H * Dh, Hkv * Dh, Hkv * Dh], dim=-1)
        q = q.view(B, T, H, Dh).transpose(1, 2)
        k = k.view(B, T, Hkv, Dh).transpose(1, 2)
        v = v.view(B, T, Hkv, Dh).transpose(1, 2)
        if rope is not None:
            q, k = rope(q), rope(k)
        if Hkv != H:
            k = k.repeat_interleave(H // Hkv, dim=1)
            v = v.repeat_interleave(H // Hkv, dim=1)
        # PyTorch 1.13 has no fused attention (scaled_dot_product_attention arrived in 2.0): the composed
        # form with a T×T score matrix is what a 1.13 user runs.
        s = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(Dh))
        s = s + alibi[:, :T, :T] if alibi is not None else s
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        p = F.softmax(s.masked_fill(mask, float("-inf")), dim=-1)
        return self.proj((p @ v).transpose(1, 2).reshape(B, T, H * Dh))


class MLP(nn.Module):
    def __init__(self, a, hidden, proj_std):
        super().__init__()
        self.act, self.hidden = a.activation, hidden
        self.fc = nn.Linear(a.dim, 2 * hidden if gated(a.activation) else hidden, bias=bool(a.bias))
        self.proj = nn.Linear(hidden, a.dim, bias=bool(a.bias))
        init_linear(self.fc, a.init_std)
        init_linear(self.proj, proj_std)

    def forward(self, x):
        h = self.fc(x)
        if gated(self.act):
            g, u = h.split(self.hidden, dim=-1)  # lmforge: act(first half) · second half
            act = {"glu": torch.sigmoid, "swiglu": F.silu, "geglu": F.gelu, "reglu": F.relu}[self.act]
            return self.proj(act(g) * u)
        act = {"relu": F.relu, "gelu": F.gelu, "swish": F.silu}[self.act]  # lmforge's gelu is the exact (erf) one, as F.gelu
        return self.proj(act(h))


def init_linear(lin, std):
    nn.init.normal_(lin.weight, std=std)
    if lin.bias is not None:
        nn.init.zeros_(lin.bias)


class Block(nn.Module):
    """Pre-norm: x + attn(norm1(x)), then + mlp(norm2(·)). Module names follow lib/nn, so parameter names match."""

    def __init__(self, a, hidden, proj_std, eps):
        super().__init__()
        self.norm1 = Norm(a.norm, a.dim, eps, bool(a.bias))
        self.attn = Attention(a, proj_std)
        self.norm2 = Norm(a.norm, a.dim, eps, bool(a.bias))
        self.mlp = MLP(a, hidden, proj_std)

    def forward(self, x, rope, alibi):
        x = x + self.attn(self.norm1(x), rope, alibi)
        return x + self.mlp(self.norm2(x))


class GPT(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.a = a
        hidden = a.mlp_hidden or default_hidden(a.dim, a.activation)
        eps = a.norm_eps if a.norm_eps >= 0 else (1e-6 if a.norm == "rmsnorm" else 1e-5)
        self.tokenEmbedding = nn.Embedding(a.vocab, a.dim)
        nn.init.normal_(self.tokenEmbedding.weight, std=a.init_std)
        self.positionEmbedding = None
        if a.position == "learned":
            self.positionEmbedding = nn.Embedding(a.seq, a.dim)
            nn.init.normal_(self.positionEmbedding.weight, std=a.init_std)
        proj_std = a.init_std / math.sqrt(2 * a.layers)  # GPT-2's residual scaling, as lmforge
        self.blocks = nn.ModuleList(Block(a, hidden, proj_std, eps) for _ in range(a.layers))
        self.finalNorm = Norm(a.norm, a.dim, eps, bool(a.bias))
        self.lmHead = None
        if not a.tie:
            self.lmHead = nn.Linear(a.dim, a.vocab, bias=False)
            nn.init.normal_(self.lmHead.weight, std=a.init_std)
        Dh = a.dim // a.heads
        self.rope = Rope(a.seq, Dh, a.rope_base, a.rope_pairing) if a.position == "rope" else None
        self.alibi = None
        if a.position == "alibi":
            i = torch.arange(a.seq)
            dist = (i[:, None] - i[None, :]).clamp(min=0).float()
            self.alibi = -torch.tensor(alibi_slopes(a.heads))[:, None, None] * dist

    def forward(self, idx):
        T = idx.shape[1]
        x = self.tokenEmbedding(idx)
        if self.positionEmbedding is not None:
            x = x + self.positionEmbedding.weight[:T]
        for blk in self.blocks:
            x = blk(x, self.rope, self.alibi)
        x = self.finalNorm(x)
        return self.lmHead(x) if self.lmHead is not None else x @ self.tokenEmbedding.weight.t()


def loss_fn(logits, y, z_loss):
    V = logits.shape[-1]
    flat = logits.reshape(-1, V)
    loss = F.cross_entropy(flat, y.reshape(-1))
    if z_loss > 0:  # PaLM's z-loss, as lmforge's crossEntropy zLoss: mean of z · logsumexp²
        loss = loss + z_loss * torch.logsumexp(flat, dim=-1).pow(2).mean()
    return loss


class Trainer:
    def __init__(self, a):
        torch.manual_seed(a.seed)
        self.a = a
        self.model = GPT(a)
        self.params = list(self.model.parameters())
        self.n_params = sum(p.numel() for p in self.params)
        if a.params and a.params != self.n_params:
            raise SystemExit(f"torch_gpt.py: parameter count {self.n_params} differs from lmforge's {a.params}: the models are not the same")
        g = torch.Generator().manual_seed(a.seed + 1)
        self.x = torch.randint(0, a.vocab, (a.batch, a.seq), generator=g)
        self.y = torch.randint(0, a.vocab, (a.batch, a.seq), generator=g)
        self.foreach = None
        self.opt = self.make_opt(a.foreach == "on")

    def make_opt(self, foreach):
        self.foreach = foreach
        if self.a.optimizer == "sgd":
            return torch.optim.SGD(self.params, lr=self.a.lr, momentum=0.9, weight_decay=0.0, foreach=foreach)
        return torch.optim.AdamW(self.params, lr=self.a.lr, betas=(0.9, 0.999), eps=1e-8,
                                 weight_decay=self.a.weight_decay, foreach=foreach)

    def step(self):
        logits = self.model(self.x)
        loss = loss_fn(logits, self.y, self.a.z_loss)
        loss.backward()
        if self.a.clip > 0:
            self.grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.a.clip)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return loss.item()

    def check(self, path):
        with open(path) as f:
            d = json.load(f)
        named = dict(self.model.named_parameters())
        if sorted(named) != sorted(d["params"]):
            raise SystemExit(f"torch_gpt.py: parameter names differ: torch {sorted(named)} vs lmforge {sorted(d['params'])}")
        with torch.no_grad():
            for name, p in named.items():
                p.copy_(torch.tensor(d["params"][name], dtype=torch.float32).view_as(p))
        self.x = torch.tensor(d["x"], dtype=torch.long)
        self.y = torch.tensor(d["y"], dtype=torch.long)
        self.grad_norm = torch.tensor(float("nan"))
        loss0 = self.step()
        with torch.no_grad():
            loss1 = loss_fn(self.model(self.x), self.y, self.a.z_loss).item()
        return {"loss0": loss0, "grad_norm": float(self.grad_norm), "loss1": loss1}

    def timed(self, n):
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            self.step()
            out.append(time.perf_counter() - t0)
        return out

    def choose_foreach(self):
        """Times the optimizer step alone with and without foreach (same gradients) and keeps the faster."""
        if self.a.foreach != "auto":
            return {}
        loss_fn(self.model(self.x), self.y, self.a.z_loss).backward()
        times = {}
        for fe in (False, True):
            opt = self.make_opt(fe)
            ts = []
            for _ in range(4):
                t0 = time.perf_counter()
                opt.step()
                ts.append(time.perf_counter() - t0)
            times[fe] = statistics.median(ts[1:])
        self.opt.zero_grad(set_to_none=True)
        best = min(times, key=times.get)
        self.opt = self.make_opt(best)
        return {"optimizer_step_ms": {("foreach" if k else "for-loop"): v * 1e3 for k, v in times.items()}}

    def profile(self, n):
        """Self CPU time per aten op over n steps, in ms per step, biggest first."""
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            t0 = time.perf_counter()
            for _ in range(n):
                self.step()
            wall = time.perf_counter() - t0
        rows = []
        for e in prof.key_averages():
            if e.self_cpu_time_total <= 0:
                continue
            rows.append({"op": e.key, "calls": e.count / n, "ms": e.self_cpu_time_total / 1e3 / n})
        rows.sort(key=lambda r: -r["ms"])
        return {"steps": n, "step_ms": wall / n * 1e3, "ops": rows[:40]}


def describe(tr, extra):
    a = tr.a
    return {
        "torch": torch.__version__, "python": sys.version.split()[0], "threads": torch.get_num_threads(),
        "params": tr.n_params, "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
        "foreach": tr.foreach, "blas": blas_info(), "tokens_per_step": a.batch * a.seq, **extra,
    }


def blas_info():
    cfg = torch.__config__.show()
    for line in cfg.splitlines():
        if "BLAS_INFO" in line:
            return line.strip().split("BLAS_INFO=")[1].split(",")[0]
    return "unknown"


def summary(times):
    med = statistics.median(times)
    return {"step_ms": med * 1e3, "times_ms": [t * 1e3 for t in times], "tokens_per_sec": ARGS.batch * ARGS.seq / med}


def gemm_probe(a):
    """The model's projection GEMMs (as F.linear calls them) alone, in GFLOP/s, and followed by an
    elementwise op on each output as a step interleaves them, in ms: a BLAS whose threads spin after a
    call slows the elementwise ops that follow, which GEMM timing alone would not show."""
    M = a.batch * a.seq
    C = a.dim
    hidden = a.mlp_hidden or default_hidden(C, a.activation)
    shapes = [(C, 3 * C), (C, 2 * hidden if gated(a.activation) else hidden), (hidden, C), (C, a.vocab)]
    g = torch.Generator().manual_seed(0)
    ops = [(torch.randn(M, K, generator=g), torch.randn(N, K, generator=g)) for K, N in shapes]
    flops = sum(2.0 * M * K * N for K, N in shapes)

    def gemms():
        for x, w in ops:
            F.linear(x, w)

    def mixed():
        for x, w in ops:
            y = F.linear(x, w)
            F.silu(y).mul_(y)

    def best(f):  # best of 3 after one warm-up: the probe picks a setting, it does not report a figure
        f()
        reps = []
        for _ in range(3):
            t0 = time.perf_counter()
            f()
            reps.append(time.perf_counter() - t0)
        return min(reps)

    return {"gflops": flops / best(gemms) / 1e9, "mixed_ms": best(mixed) * 1e3}


def probe_blas(a, rounds=1):
    """Each candidate (OpenBLAS core type × libgomp wait policy) in a fresh process, since both are read
    when the libraries load; candidates alternate over rounds and each keeps its best. '' means the
    library's own choice. The mixed workload (GEMM then elementwise) decides."""
    args, skip = [], False
    for x in sys.argv[1:]:  # this run's model arguments, less the mode and the settings probed
        if skip or x == "--probe-blas" or x.startswith("--coretype=") or x.startswith("--omp-wait="):
            skip = False
            continue
        skip = x in ("--coretype", "--omp-wait")
        if not skip:
            args.append(x)
    results = [{"coretype": c, "omp_wait": w, "gflops": None, "mixed_ms": None, "error": None}
               for c in ("", "HASWELL", "SKYLAKEX", "COOPERLAKE") for w in ("", "PASSIVE")]
    for _ in range(rounds):
        for res in results:
            if res["error"]:
                continue
            cmd = [sys.executable, os.path.abspath(__file__), "--gemm-probe", f"--coretype={res['coretype']}",
                   f"--omp-wait={res['omp_wait']}"] + args
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            # A core type this CPU lacks dies of an illegal instruction: that candidate is out.
            if r.returncode != 0 or not r.stdout.strip():
                res["error"] = (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1]
                continue
            p = json.loads(r.stdout.strip().splitlines()[-1])
            res["gflops"] = max(p["gflops"], res["gflops"] or 0.0)
            res["mixed_ms"] = min(p["mixed_ms"], res["mixed_ms"] or math.inf)
    ok = [r for r in results if r["mixed_ms"] is not None]
    best = min(ok, key=lambda r: r["mixed_ms"]) if ok else {"coretype": "", "omp_wait": ""}
    return {"blas": blas_info(), "candidates": results, "best": {"coretype": best["coretype"], "omp_wait": best["omp_wait"]}}


def main():
    a = ARGS
    if a.gemm_probe:
        emit(gemm_probe(a))
        return
    if a.probe_blas:
        emit(probe_blas(a))
        return
    tr = Trainer(a)
    if a.check:
        emit(tr.check(a.check))
        return
    extra = tr.choose_foreach()  # first, so that the warm-up also warms the chosen optimizer's state
    for _ in range(a.warmup):
        tr.step()
    if a.serve:
        emit({"ready": True, **describe(tr, extra)})
        for line in sys.stdin:
            cmd = line.split()
            if not cmd or cmd[0] == "quit":
                break
            n = int(cmd[1]) if len(cmd) > 1 else 1
            if cmd[0] == "run":
                emit(summary(tr.timed(n)))
            elif cmd[0] == "profile":
                emit(tr.profile(n))
            else:
                emit({"error": f"unknown command {cmd[0]!r}"})
        return
    out = {**describe(tr, extra), **summary(tr.timed(a.steps))}
    if a.profile > 0:
        out["profile"] = tr.profile(a.profile)
    emit(out)


if __name__ == "__main__":
    main()
