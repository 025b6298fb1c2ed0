"""The MLP-Mixer on UNSW-NB15 in a few lines: load, train a few epochs, report testing1 metrics.

Run (after `pip install -e .`, with the CSVs where `python train.py` finds them): python examples/mixer_unsw.py
`python train.py` does the same with hold-out model selection, schedules, checkpoints and plots.
"""

import numpy as np

import tinygrad_np as tg
from mixer.data import load_unsw
from mixer.models import MLPMixer1D
from mixer.training import category_sizes, evaluate, format_metrics, loss_fn
from tinygrad_np import nn, optim

tg.manual_seed(0)
data = load_unsw(preprocess="quantile", keep_codes=True)     # fitted on the training file only
model = MLPMixer1D(seq_len=42, dim=32, depth=2, patch_size=3,  # 14 tokens of 3 features each
                   categories=category_sizes(data.encoder))    # proto/service/state: a learned vector per value
optimizer = optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
order_rng = np.random.default_rng(0)

for epoch in range(3):
    model.train()
    for batch in np.array_split(order_rng.permutation(len(data.train.labels)), len(data.train.labels) // 128):
        loss = loss_fn(model(data.train.features[batch]), data.train.labels[batch])
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    print(f"epoch {epoch + 1}: last batch loss {loss.item():.4f} | test: "
          + format_metrics(evaluate(model, data.test)))              # predicted in eval mode
