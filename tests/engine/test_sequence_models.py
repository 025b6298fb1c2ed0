"""Programs written for PyTorch run on the engine with only the import changed, and train step by step as they do
under PyTorch from the same weights (float64: losses within 1e-10, weights after training within 1e-9):

- the word-level language model of pytorch/examples (word_language_model): RNNModel with an LSTM, GRU or tanh RNN,
  tied weights, its train loop (hidden state carried across batches and detached, NLL loss, clip_grad_norm_, the
  plain SGD update p -= lr * grad);
- its TransformerModel, which subclasses nn.Transformer, replaces its decoder and adds a sinusoidal
  PositionalEncoding buffer;
- a GPT in nanoGPT's style: causal self-attention through F.scaled_dot_product_attention(is_causal=True) (the
  branch such code takes when the function exists), GELU MLP, LayerNorm, tied embedding and head, AdamW with weight
  decay on the matrices only.

Sizes are tiny and dropout is 0 (each engine draws its own masks); everything else is as written for PyTorch."""

import math
import warnings

import numpy as np
import pytest

import tinygrad_np

TOKENS, BATCH, BPTT, STEPS = 40, 3, 6, 3


def corpus() -> np.ndarray:
    """(length, batch) token ids, as the example's batchify lays a corpus out."""
    return np.random.default_rng(0).integers(0, TOKENS, (BPTT * STEPS + 1, BATCH))


def get_batch(torch, source: np.ndarray, i: int):
    seq_len = min(BPTT, len(source) - 1 - i)
    data = torch.from_numpy(source[i:i + seq_len].copy())
    target = torch.from_numpy(source[i + 1:i + 1 + seq_len].reshape(-1).copy())
    return data, target


# -- pytorch/examples word_language_model ---------------------------------------------------------------------------
def rnn_model(torch, rnn_type: str):
    nn, F = torch.nn, torch.nn.functional

    class RNNModel(nn.Module):
        def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False):
            super().__init__()
            self.ntoken = ntoken
            self.drop = nn.Dropout(dropout)
            self.encoder = nn.Embedding(ntoken, ninp)
            if rnn_type in ["LSTM", "GRU"]:
                self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
            else:
                nonlinearity = {"RNN_TANH": "tanh", "RNN_RELU": "relu"}[rnn_type]
                self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity, dropout=dropout)
            self.decoder = nn.Linear(nhid, ntoken)
            if tie_weights:
                self.decoder.weight = self.encoder.weight
            self.init_weights()
            self.rnn_type, self.nhid, self.nlayers = rnn_type, nhid, nlayers

        def init_weights(self):
            initrange = 0.1
            nn.init.uniform_(self.encoder.weight, -initrange, initrange)
            nn.init.zeros_(self.decoder.bias)
            nn.init.uniform_(self.decoder.weight, -initrange, initrange)

        def forward(self, input, hidden):  # noqa: A002 - the example's names
            emb = self.drop(self.encoder(input))
            output, hidden = self.rnn(emb, hidden)
            output = self.drop(output)
            decoded = self.decoder(output)
            decoded = decoded.view(-1, self.ntoken)
            return F.log_softmax(decoded, dim=1), hidden

        def init_hidden(self, bsz):
            if self.rnn_type == "LSTM":
                return (torch.zeros(self.nlayers, bsz, self.nhid, dtype=torch.float64),
                        torch.zeros(self.nlayers, bsz, self.nhid, dtype=torch.float64))
            return torch.zeros(self.nlayers, bsz, self.nhid, dtype=torch.float64)

    return RNNModel(rnn_type, TOKENS, 8, 8, 2, dropout=0.0, tie_weights=True).double()


def repackage_hidden(torch, h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(torch, v) for v in h)


def train_rnn(torch, model, lr=20.0, clip=0.25):
    """The example's train(): batches in order, the hidden state carried over and detached."""
    model.train()
    criterion = torch.nn.NLLLoss()
    hidden = model.init_hidden(BATCH)
    source, losses = corpus(), []
    for i in range(0, len(source) - 1, BPTT):
        data, targets = get_batch(torch, source, i)
        model.zero_grad()
        hidden = repackage_hidden(torch, hidden)
        output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(p.grad, alpha=-lr)
        losses.append(loss.item())
    return losses


# -- its TransformerModel ----------------------------------------------------------------------------------------------
def transformer_model(torch):
    nn, F = torch.nn, torch.nn.functional

    class PositionalEncoding(nn.Module):
        def __init__(self, d_model, dropout=0.1, max_len=5000):
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            pe = torch.zeros(max_len, d_model)
            position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
            div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
            pe[:, 0::2] = torch.sin(position * div_term)
            pe[:, 1::2] = torch.cos(position * div_term)
            pe = pe.unsqueeze(0).transpose(0, 1)
            self.register_buffer("pe", pe)

        def forward(self, x):
            x = x + self.pe[:x.size(0), :]
            return self.dropout(x)

    class TransformerModel(nn.Transformer):
        def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.5):
            super().__init__(d_model=ninp, nhead=nhead, dim_feedforward=nhid, num_encoder_layers=nlayers,
                             dropout=dropout)
            self.model_type = "Transformer"
            self.src_mask = None
            self.pos_encoder = PositionalEncoding(ninp, dropout, max_len=64)
            self.input_emb = nn.Embedding(ntoken, ninp)
            self.ninp = ninp
            self.decoder = nn.Linear(ninp, ntoken)
            self.init_weights()

        def init_weights(self):
            initrange = 0.1
            nn.init.uniform_(self.input_emb.weight, -initrange, initrange)
            nn.init.zeros_(self.decoder.bias)
            nn.init.uniform_(self.decoder.weight, -initrange, initrange)

        def forward(self, src, has_mask=True):
            if has_mask:
                if self.src_mask is None or self.src_mask.size(0) != len(src):
                    self.src_mask = self.generate_square_subsequent_mask(len(src)).to(torch.float64)
            else:
                self.src_mask = None
            src = self.input_emb(src) * math.sqrt(self.ninp)
            src = self.pos_encoder(src)
            output = self.encoder(src, mask=self.src_mask)
            output = self.decoder(output)
            return F.log_softmax(output, dim=-1)

    return TransformerModel(TOKENS, 8, 2, 16, 2, dropout=0.0).double()


def train_transformer(torch, model, lr=5.0, clip=0.25):
    model.train()
    criterion = torch.nn.NLLLoss()
    source, losses = corpus(), []
    for i in range(0, len(source) - 1, BPTT):
        data, targets = get_batch(torch, source, i)
        model.zero_grad()
        output = model(data)
        loss = criterion(output.view(-1, TOKENS), targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(p.grad, alpha=-lr)
        losses.append(loss.item())
    return losses


# -- a GPT in nanoGPT's style ---------------------------------------------------------------------------------------
def gpt_model(torch, n_layer=2, n_head=2, n_embd=8, block_size=8):
    nn, F = torch.nn, torch.nn.functional

    class LayerNorm(nn.Module):
        def __init__(self, ndim, bias):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(ndim))
            self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

        def forward(self, input):  # noqa: A002
            return F.layer_norm(input, self.weight.shape, self.weight, self.bias, 1e-5)

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(n_embd, 3 * n_embd)
            self.c_proj = nn.Linear(n_embd, n_embd)
            self.attn_dropout, self.resid_dropout = nn.Dropout(0.0), nn.Dropout(0.0)
            self.n_head, self.n_embd, self.dropout = n_head, n_embd, 0.0
            self.flash = hasattr(torch.nn.functional, "scaled_dot_product_attention")
            assert self.flash, "this engine should offer scaled_dot_product_attention"

        def forward(self, x):
            B, T, C = x.size()  # noqa: N806 - nanoGPT's names
            q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
            k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            y = torch.nn.functional.scaled_dot_product_attention(
                q, k, v, attn_mask=None, dropout_p=self.dropout if self.training else 0, is_causal=True)
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.resid_dropout(self.c_proj(y))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc, self.gelu = nn.Linear(n_embd, 4 * n_embd), nn.GELU()
            self.c_proj, self.dropout = nn.Linear(4 * n_embd, n_embd), nn.Dropout(0.0)

        def forward(self, x):
            return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.attn = LayerNorm(n_embd, bias=True), CausalSelfAttention()
            self.ln_2, self.mlp = LayerNorm(n_embd, bias=True), MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(TOKENS, n_embd), wpe=nn.Embedding(block_size, n_embd), drop=nn.Dropout(0.0),
                h=nn.ModuleList([Block() for _ in range(n_layer)]), ln_f=LayerNorm(n_embd, bias=True)))
            self.lm_head = nn.Linear(n_embd, TOKENS, bias=False)
            self.transformer.wte.weight = self.lm_head.weight
            self.apply(self._init_weights)
            for pn, p in self.named_parameters():
                if pn.endswith("c_proj.weight"):
                    torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))

        def _init_weights(self, module):
            if isinstance(module, nn.Linear):
                torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if module.bias is not None:
                    torch.nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

        def forward(self, idx, targets):
            b, t = idx.size()
            pos = torch.arange(0, t, dtype=torch.long)
            tok_emb, pos_emb = self.transformer.wte(idx), self.transformer.wpe(pos)
            x = self.transformer.drop(tok_emb + pos_emb)
            for block in self.transformer.h:
                x = block(x)
            logits = self.lm_head(self.transformer.ln_f(x))
            return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)

        def configure_optimizers(self, weight_decay, learning_rate, betas):
            params = [p for p in self.parameters() if p.requires_grad]
            decay = [p for p in params if p.dim() >= 2]
            nodecay = [p for p in params if p.dim() < 2]
            return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                      {"params": nodecay, "weight_decay": 0.0}], lr=learning_rate, betas=betas)

    return GPT().double()


def train_gpt(torch, model):
    optimizer = model.configure_optimizers(0.1, 3e-2, (0.9, 0.95))
    source, losses = corpus().T, []  # (batch, length): GPT code is batch-first
    for i in range(STEPS):
        x = torch.from_numpy(source[:, i:i + 8].copy())
        y = torch.from_numpy(source[:, i + 1:i + 9].copy())
        loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    return losses


# -- the comparison ---------------------------------------------------------------------------------------------------
def run_both(torch, build, train):
    """Build the program in both engines, load PyTorch's initial weights into ours strictly (a tied weight is listed
    under both its names, as PyTorch lists it), train both, compare."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's nested-tensor notice for nn.Transformer
        torch.manual_seed(0)
        theirs = build(torch)
        ours = build(tinygrad_np)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    their_losses, our_losses = train(torch, theirs), train(tinygrad_np, ours)
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-10)
    assert their_losses[-1] != their_losses[0]
    their_state = theirs.state_dict()
    for name, value in ours.state_dict().items():
        np.testing.assert_allclose(np.asarray(value), their_state[name].numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=name)


@pytest.mark.parametrize("rnn_type", ["LSTM", "GRU", "RNN_TANH"])
def test_word_language_model_trains_as_under_pytorch(torch, rnn_type):
    run_both(torch, lambda engine: rnn_model(engine, rnn_type), train_rnn)


def test_transformer_word_model_trains_as_under_pytorch(torch):
    run_both(torch, transformer_model, train_transformer)


def test_gpt_with_scaled_dot_product_attention_trains_as_under_pytorch(torch):
    run_both(torch, gpt_model, train_gpt)
