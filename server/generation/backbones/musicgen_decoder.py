"""A fast decoder for audiocraft's MusicGen LM: static KV cache, cross-attention computed once.

audiocraft's ``LMModel.generate`` runs its streaming transformer one step at a time: every step
grows each layer's key/value cache with ``torch.cat``, recomputes the cross-attention keys and
values of the (unchanging) text condition, rebuilds masks and goes through several layers of Python
wrappers; on a GPU the step is bound by Python and kernel launches, not by the GPU. This decoder
runs the same weights with the same arithmetic, step by step, but

- the self-attention cache is preallocated once per request (``(rows, heads, steps, head_dim)``
  per layer) and written in place;
- each layer's cross-attention keys and values are computed once per request;
- classifier-free guidance (and the negative-motion rows, which audiocraft sees as its null
  condition) is one batched forward of ``2 B`` rows, as audiocraft does;
- sampling (softmax, top-k, multinomial) stays on the device: no host sync inside the loop;
- on CUDA the whole decode step can be captured once in a CUDA graph and replayed
  (:class:`StaticStep`, with cache length and text length bucketed so graphs are reused).

:meth:`FastMusicGenDecoder.generate` has ``LMModel.generate``'s signature and is installed as the
LM's ``generate`` by :func:`use_decoder`; audiocraft's MusicGen wrapper (prompts, long pieces, audio
decoding) is unchanged around it. Greedy decoding gives audiocraft's tokens; under sampling the same
``torch.multinomial`` draws from the same probabilities, so with one seed the tokens match too
(``tests/models/test_musicgen_decoder.py``). Configurations it does not implement (top-p, two-step
guidance, rotary embeddings, a limited past context, repeated KV heads, QK layer norm, PyTorch's
own MHA, prepended conditions) fall back to audiocraft's loop; :func:`unsupported_reason` says why.
"""

from __future__ import annotations

import math
import typing as tp

import torch
import torch.nn.functional as F

DECODERS = ("fast", "audiocraft")
#: Cache lengths and text lengths are rounded up to these multiples, so one captured CUDA graph
#: serves every request of a bucket (a 5.12 s MusicGen clip is 259 steps: bucket 320).
STEP_BUCKET = 64
TEXT_BUCKET = 16


def unsupported_reason(lm) -> str | None:
    """Why this decoder cannot run ``lm`` (an audiocraft ``LMModel``), or None when it can."""
    transformer = lm.transformer
    if transformer.positional_embedding != "sin":
        return f"positional embedding {transformer.positional_embedding!r} (only 'sin')"
    if len(lm.fuser.fuse2cond.get("prepend", [])) or len(lm.fuser.fuse2cond.get("sum", [])) or \
            len(lm.fuser.fuse2cond.get("input_interpolate", [])):
        return "conditions fused other than by cross-attention"
    if getattr(lm.fuser, "cross_attention_pos_emb", False):
        return "positional embedding on the cross-attention source"
    for layer in transformer.layers:
        attn = layer.self_attn
        if not attn.custom:
            return "PyTorch's own multi-head attention (custom=False, memory_efficient=False)"
        if attn.rope is not None or attn.past_context is not None or attn.kv_repeat != 1 or attn.qk_layer_norm:
            return "rotary embedding, limited past context, repeated KV heads or QK layer norm"
        if attn.memory_efficient:
            from audiocraft.modules import transformer as audiocraft_transformer

            if audiocraft_transformer._efficient_attention_backend != "torch":
                return "xformers attention backend"
        if layer.cross_attention is None or layer.cross_attention.qk_layer_norm:
            return "a layer without cross-attention, or with QK layer norm on it"
    return None


class _Layer(tp.NamedTuple):
    """One transformer layer's weights, unpacked once."""

    module: torch.nn.Module
    in_w: torch.Tensor
    in_b: torch.Tensor | None
    cross_q_w: torch.Tensor
    cross_q_b: torch.Tensor | None
    cross_kv_w: torch.Tensor
    cross_kv_b: torch.Tensor | None


class FastMusicGenDecoder:
    """Static-cache decoding of one audiocraft ``LMModel`` (see the module docstring)."""

    def __init__(self, lm, cuda_graphs: bool | None = None):
        reason = unsupported_reason(lm)
        if reason is not None:
            raise ValueError(f"the fast decoder cannot run this LM: {reason}")
        self.lm = lm
        self.stock_generate = type(lm).generate.__get__(lm)  # audiocraft's own loop, for fallbacks
        first = lm.transformer.layers[0].self_attn
        self.heads = first.num_heads
        self.dim = lm.dim
        self.head_dim = self.dim // self.heads
        self.as_float32 = first.attention_as_float32
        self.norm_first = lm.transformer.layers[0].norm_first
        self.layers = []
        for layer in lm.transformer.layers:
            cross = layer.cross_attention
            d = cross.in_proj_weight.shape[0] // 3
            bias = cross.in_proj_bias
            self.layers.append(_Layer(layer, layer.self_attn.in_proj_weight, layer.self_attn.in_proj_bias,
                                      cross.in_proj_weight[:d], None if bias is None else bias[:d],
                                      cross.in_proj_weight[d:], None if bias is None else bias[d:]))
        device = next(lm.parameters()).device
        self.cuda_graphs = (device.type == "cuda") if cuda_graphs is None else cuda_graphs
        self._graphs: dict[tuple, StaticStep] = {}
        self.last_path = None  # "eager", "graph" or "audiocraft": what the last call ran

    # -- the model, one forward ------------------------------------------------------------------
    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, heads * head_dim) -> (B, heads, T, head_dim)."""
        return x.view(x.shape[0], x.shape[1], self.heads, self.head_dim).transpose(1, 2)

    def _merge(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], self.dim)

    def _attend(self, q, k, v, mask=None, causal=False) -> torch.Tensor:
        dtype = q.dtype
        if self.as_float32:
            q, k, v = q.float(), k.float(), v.float()
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
        return out.to(dtype)

    def cross_kv(self, cross_src: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each layer's cross-attention keys and values (rows, heads, text, head_dim), once per request."""
        out = []
        for layer in self.layers:
            kv = F.linear(cross_src, layer.cross_kv_w, layer.cross_kv_b)
            k, v = kv.chunk(2, dim=-1)
            out.append((self._heads(k), self._heads(v)))
        return out

    def embed(self, tokens: torch.Tensor, rows: int, positions: torch.Tensor) -> torch.Tensor:
        """Codebook embeddings of ``tokens`` (B, K, S) summed, duplicated to ``rows`` (CFG), plus the
        sinusoidal position embedding of ``positions`` (S,) steps: (rows, S, dim)."""
        from audiocraft.modules.transformer import create_sin_embedding

        lm = self.lm
        x = sum(lm.emb[k](tokens[:, k]) for k in range(tokens.shape[1]))
        if rows != x.shape[0]:
            x = torch.cat([x] * (rows // x.shape[0]), dim=0)
        pos = create_sin_embedding(positions.view(1, -1, 1), self.dim, max_period=lm.transformer.max_period,
                                   dtype=x.dtype)
        return x + lm.transformer.positional_scale * pos

    def layer_forward(self, i: int, x: torch.Tensor, self_attention, cross: tuple) -> torch.Tensor:
        """One layer on ``x`` (rows, S, dim); ``self_attention(i, q, k, v)`` writes the cache and
        attends; ``cross`` = (keys, values[, mask]) of the text."""
        layer = self.layers[i]
        m = layer.module

        def sa(h):
            q, k, v = F.linear(h, layer.in_w, layer.in_b).view(h.shape[0], h.shape[1], 3, self.heads,
                                                                 self.head_dim).permute(2, 0, 3, 1, 4)
            return m.self_attn.out_proj(self._merge(self_attention(i, q, k, v)))

        def ca(h):
            q = self._heads(F.linear(h, layer.cross_q_w, layer.cross_q_b))
            out = self._attend(q, cross[0], cross[1], mask=cross[2] if len(cross) > 2 else None)
            return m.cross_attention.out_proj(self._merge(out))

        if self.norm_first:
            x = x + m.layer_scale_1(sa(m.norm1(x)))
            x = x + m.layer_scale_cross(ca(m.norm_cross(x)))
            return x + m.layer_scale_2(m._ff_block(m.norm2(x)))
        src = x
        x = m.norm1(x + m.layer_scale_1(sa(x)))
        x = m.norm_cross(x + m.layer_scale_cross(ca(src)))  # audiocraft attends from the layer's input here
        return m.norm2(x + m.layer_scale_2(m._ff_block(x)))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Last position's logits (rows, K, card) from the transformer output (rows, S, dim)."""
        lm = self.lm
        h = x[:, -1]
        if lm.out_norm is not None:
            h = lm.out_norm(h)
        return torch.stack([lin(h) for lin in lm.linears], dim=1)

    # -- generation ------------------------------------------------------------------------------
    def generate(self, prompt: torch.Tensor | None = None, conditions: list = [], num_samples: int | None = None,
                 max_gen_len: int = 256, use_sampling: bool = True, temp: float = 1.0, top_k: int = 250,
                 top_p: float = 0.0, cfg_coef: float | None = None, two_step_cfg: bool | None = None,
                 remove_prompts: bool = False, check: bool = False,
                 callback: tp.Callable[[int, int], None] | None = None, **kwargs) -> torch.Tensor:
        """``LMModel.generate`` with a static cache: tokens (B, K, max_gen_len)."""
        from audiocraft.modules.conditioners import ClassifierFreeGuidanceDropout

        lm = self.lm
        two_step_cfg = lm.two_step_cfg if two_step_cfg is None else two_step_cfg
        if top_p > 0.0 or two_step_cfg:
            self.last_path = "audiocraft"
            return self.stock_generate(prompt, conditions, num_samples, max_gen_len, use_sampling, temp, top_k,
                                       top_p, cfg_coef, two_step_cfg, remove_prompts, check, callback, **kwargs)
        assert not lm.training, "generation shouldn't be used in training mode."
        device = next(lm.parameters()).device
        cfg_coef = lm.cfg_coef if cfg_coef is None else cfg_coef
        if num_samples is None:
            num_samples = prompt.shape[0] if prompt is not None else (len(conditions) if conditions else 1)
        cfg_conditions = {}
        if conditions:
            null_conditions = ClassifierFreeGuidanceDropout(p=1.0)(conditions)
            cfg_conditions = lm.condition_provider(lm.condition_provider.tokenize(conditions + null_conditions))
        if prompt is None:
            prompt = torch.zeros((num_samples, lm.num_codebooks, 0), dtype=torch.long, device=device)
        B, K, T = prompt.shape
        assert T < max_gen_len
        pattern = lm.pattern_provider.get_pattern(max_gen_len)
        gen_codes = torch.full((B, K, max_gen_len), -1, dtype=torch.long, device=device)
        gen_codes[..., :T] = prompt
        sequence, _, mask = pattern.build_pattern_sequence(gen_codes, lm.special_token_id)
        start = pattern.get_first_step_with_timesteps(T)
        steps = sequence.shape[-1]
        rows = 2 * B if cfg_conditions else B
        cross_src = None
        if cfg_conditions:
            _, cross_src = lm.fuser(torch.zeros(rows, 1, self.dim, device=device), cfg_conditions)
        sampler = _Sampler(use_sampling, temp, top_k, cfg_coef if cfg_conditions else None, B)
        valid = mask.unsqueeze(0).expand(B, -1, -1)

        def write(offset: int, logits: torch.Tensor, token: torch.Tensor | None = None) -> None:
            token = sampler(logits) if token is None else token  # (B, K, 1)
            token = torch.where(valid[..., offset:offset + 1], token, torch.full_like(token, lm.special_token_id))
            current = sequence[..., offset:offset + 1]
            sequence[..., offset:offset + 1] = torch.where(current == -1, token, current)
            if callback is not None:
                callback(1 + offset - start, steps - start)

        with torch.no_grad():
            graph = self._graph_for(rows, steps, cross_src, sampler) if self.cuda_graphs else None
            if graph is None:
                self.last_path = "eager"
                self._eager(sequence, start, steps, rows, cross_src, write)
            else:
                self.last_path = "graph"
                graph.run(self, sequence, start, steps, cross_src, write)
        if (sequence == -1).any():
            raise RuntimeError("the fast decoder left tokens unfilled (a bug): use --decoder audiocraft")
        out_codes, _, _ = pattern.revert_pattern_sequence(sequence, special_token=-1)
        return out_codes[..., (T if remove_prompts else 0):max_gen_len]

    def _eager(self, sequence, start, steps, rows, cross_src, write) -> None:
        """Decode with per-request tensors: the cache sliced to the steps done so far."""
        device, dtype = sequence.device, _compute_dtype(self.lm)
        cache_k = [torch.zeros(rows, self.heads, steps, self.head_dim, device=device, dtype=dtype)
                   for _ in self.layers]
        cache_v = [torch.zeros_like(k) for k in cache_k]
        cross = self.cross_kv(cross_src) if cross_src is not None else None
        state = {"pos": 0}

        def self_attention(i, q, k, v):
            pos, s = state["pos"], q.shape[2]
            cache_k[i][:, :, pos:pos + s] = k
            cache_v[i][:, :, pos:pos + s] = v
            keys, values = cache_k[i][:, :, :pos + s], cache_v[i][:, :, :pos + s]
            return self._attend(q, keys, values, causal=s > 1)  # a prompt (s > 1) only ever starts at 0

        def forward(tokens, pos):
            state["pos"] = pos
            positions = torch.arange(pos, pos + tokens.shape[-1], device=device)
            x = self.embed(tokens, rows, positions)
            for i in range(len(self.layers)):
                x = self.layer_forward(i, x, self_attention, cross[i] if cross else None)
            return self.logits(x)

        logits = forward(sequence[..., :start], 0)
        for offset in range(start, steps):
            write(offset, logits)
            if offset + 1 < steps:
                logits = forward(sequence[..., offset:offset + 1], offset)

    def _graph_for(self, rows, steps, cross_src, sampler) -> "StaticStep | None":
        if cross_src is None:
            return None
        key = (rows, _round_up(steps, STEP_BUCKET), _round_up(cross_src.shape[1], TEXT_BUCKET), sampler.key,
               _compute_dtype(self.lm))
        if key not in self._graphs:
            self._graphs[key] = StaticStep(self, *key[:3], sampler, capture=cross_src.device.type == "cuda")
        return self._graphs[key]


def _compute_dtype(lm) -> torch.dtype:
    """The dtype activations have inside ``lm``: autocast's when it is on (audiocraft's MusicGen
    decodes under float16 autocast on a GPU), else the weights'."""
    weights = lm.emb[0].weight
    kind = weights.device.type
    if kind in ("cuda", "cpu") and torch.is_autocast_enabled(kind):
        return torch.get_autocast_dtype(kind)
    return weights.dtype


def _round_up(n: int, multiple: int) -> int:
    return multiple * math.ceil(n / multiple)


class _Sampler:
    """Next tokens (B, K, 1) from the last logits (rows, K, card), as audiocraft samples them:
    guidance ``uncond + (cond - uncond) * coef``, softmax at ``temp``, top-k keeping ties at the
    k-th probability, then ``torch.multinomial``; argmax when not sampling.

    ``race=True`` draws with the exponential race instead (argmax of p / E, E ~ Exp(1), an exact
    sampler of the same distribution that a CUDA graph can capture)."""

    def __init__(self, use_sampling: bool, temp: float, top_k: int, cfg_coef: float | None, batch: int):
        self.sampling = bool(use_sampling and temp > 0.0)
        self.temp, self.top_k, self.cfg_coef, self.batch = temp, top_k, cfg_coef, batch
        self.key = (self.sampling, float(temp), int(top_k), cfg_coef)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        if self.cfg_coef is not None:
            cond, uncond = logits.split(self.batch, dim=0)
            logits = uncond + (cond - uncond) * self.cfg_coef
        if not self.sampling:
            return logits
        probs = torch.softmax(logits / self.temp, dim=-1)
        if self.top_k > 0:
            kth = torch.topk(probs, self.top_k, dim=-1)[0][..., -1:]
            probs = probs * (probs >= kth).float()
            probs = probs / probs.sum(dim=-1, keepdim=True)
        return probs

    def __call__(self, logits: torch.Tensor, race: bool = False) -> torch.Tensor:
        probs = self.probabilities(logits)
        if not self.sampling:
            return torch.argmax(probs, dim=-1, keepdim=True)
        if race:
            return exponential_race(probs)
        flat = torch.multinomial(probs.reshape(-1, probs.shape[-1]), num_samples=1)
        return flat.reshape(*probs.shape[:-1], 1)


def exponential_race(probs: torch.Tensor) -> torch.Tensor:
    """One draw per row of ``probs`` (..., card) -> (..., 1): argmax of p / E with E ~ Exp(1)
    (P(i wins) = p_i / sum p); zero-probability entries never win."""
    noise = torch.empty_like(probs).exponential_()
    return torch.argmax(probs / noise, dim=-1, keepdim=True)


class StaticStep:
    """The decode step with fixed shapes: cache of ``cache_len`` steps attended under a mask, text
    padded to ``text_len`` (padding masked out), the position a tensor; on CUDA captured once in a
    CUDA graph and replayed each step. On CPU it runs the same code eagerly (what the tests check).
    """

    def __init__(self, decoder: FastMusicGenDecoder, rows: int, cache_len: int, text_len: int, sampler: _Sampler,
                 capture: bool):
        lm = decoder.lm
        device, dtype = next(lm.parameters()).device, _compute_dtype(lm)
        self.decoder, self.rows, self.cache_len, self.text_len, self.sampler = decoder, rows, cache_len, text_len, sampler
        h, d = decoder.heads, decoder.head_dim
        batch = rows // 2 if sampler.cfg_coef is not None else rows
        self.cache_k = [torch.zeros(rows, h, cache_len, d, device=device, dtype=dtype) for _ in decoder.layers]
        self.cache_v = [torch.zeros_like(k) for k in self.cache_k]
        self.cross_k = [torch.zeros(rows, h, text_len, d, device=device, dtype=dtype) for _ in decoder.layers]
        self.cross_v = [torch.zeros_like(k) for k in self.cross_k]
        self.cross_mask = torch.zeros(rows, 1, 1, text_len, device=device, dtype=dtype)
        self.tokens = torch.zeros(batch, lm.num_codebooks, 1, dtype=torch.long, device=device)
        self.pos = torch.zeros((), dtype=torch.long, device=device)
        self.steps = torch.arange(cache_len, device=device)
        self.next_token = torch.zeros(batch, lm.num_codebooks, 1, dtype=torch.long, device=device)
        self.graph = None
        self.capture = capture

    def _step(self) -> None:
        dec = self.decoder

        def self_attention(i, q, k, v):
            self.cache_k[i].index_copy_(2, self.pos.view(1), k.to(self.cache_k[i].dtype))
            self.cache_v[i].index_copy_(2, self.pos.view(1), v.to(self.cache_v[i].dtype))
            seen = torch.where(self.steps <= self.pos, 0.0, float("-inf")).to(q.dtype).view(1, 1, 1, -1)
            return dec._attend(q, self.cache_k[i], self.cache_v[i], mask=seen)

        x = dec.embed(self.tokens, self.rows, self.pos.view(1))
        for i in range(len(dec.layers)):
            x = dec.layer_forward(i, x, self_attention, (self.cross_k[i], self.cross_v[i], self.cross_mask))
        self.next_token.copy_(self.sampler(dec.logits(x), race=self.graph is not None or self.capture))

    def _capture(self) -> None:
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(2):  # warm up kernels and allocator outside the graph
                self._step()
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._step()
        self.graph = graph

    def run(self, dec: FastMusicGenDecoder, sequence, start, steps, cross_src, write) -> None:
        """Decode ``sequence`` from ``start`` to ``steps``: the prompt (if any) eagerly into the
        static cache, then one replay (or eager static step) per position."""
        text = cross_src.shape[1]
        for i, (k, v) in enumerate(dec.cross_kv(cross_src)):
            self.cross_k[i].zero_()
            self.cross_v[i].zero_()
            self.cross_k[i][:, :, :text] = k.to(self.cross_k[i].dtype)
            self.cross_v[i][:, :, :text] = v.to(self.cross_v[i].dtype)
        self.cross_mask.fill_(float("-inf"))
        self.cross_mask[..., :text] = 0.0
        for cache in (*self.cache_k, *self.cache_v):
            cache.zero_()
        # Positions before `start` (the delay pattern's first step, plus any prompt) go in one by
        # one through the same static step, so the cache is filled exactly as when decoding.
        for pos in range(start):
            self._replay(sequence[..., pos:pos + 1], pos)
        for offset in range(start, steps):
            prev = offset - 1
            if prev >= start:
                self._replay(sequence[..., prev:prev + 1], prev)
            write(offset, None, self.next_token.clone())

    def _replay(self, tokens: torch.Tensor, pos: int) -> None:
        self.tokens.copy_(tokens)
        self.pos.fill_(pos)
        if self.capture and self.graph is None:
            try:
                self._capture()
            except RuntimeError as exc:  # a kernel that cannot be captured: run the same step eagerly
                import logging

                logging.getLogger(__name__).warning("CUDA graph capture failed (%s); decoding without graphs",
                                                    str(exc).splitlines()[0][:200])
                self.capture = False
        if self.graph is not None:
            self.graph.replay()
        else:
            self._step()


def use_decoder(mg, decoder: str) -> None:
    """Make ``mg.lm.generate`` the fast decoder (``"fast"``) or audiocraft's own (``"audiocraft"``).
    A LM the fast decoder cannot run keeps audiocraft's loop; :func:`unsupported_reason` says why."""
    if decoder not in DECODERS:
        raise ValueError(f"unknown decoder {decoder!r} (choose from {', '.join(DECODERS)})")
    lm = mg.lm
    lm.__dict__.pop("generate", None)
    if decoder == "fast" and unsupported_reason(lm) is None:
        lm.__dict__["generate"] = FastMusicGenDecoder(lm).generate
