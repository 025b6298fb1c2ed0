"""PyTorch's examples/word_language_model (its data.py, model.py, main.py and generate.py in one file), small: a
`Dictionary`/`Corpus` that tokenises a built-in text into `torch.tensor(ids).type(torch.int64)` pieces joined by
`torch.cat`, `batchify` with `.narrow` and `.view(bsz, -1).t().contiguous()`, `get_batch` slicing rows and
flattening targets with `.view(-1)`; `RNNModel` (an `nn.Embedding`, `getattr(nn, rnn_type)` for LSTM or GRU, an
`nn.Linear` decoder optionally tied to the embedding, `init_weights` with `nn.init.uniform_`/`zeros_`, `init_hidden`
from `next(self.parameters()).new_zeros`) and `TransformerModel`, a subclass of `nn.Transformer` that builds the whole
encoder-decoder and then replaces its `decoder` by an `nn.Linear`, with a `PositionalEncoding` buffer and the causal
mask as `torch.log(torch.tril(torch.ones(sz, sz)))`; `repackage_hidden`, training by `model.zero_grad()`,
`nn.NLLLoss`, `clip_grad_norm_` and the update by hand `p.data.add_(p.grad, alpha=-lr)`, `evaluate()` under
`torch.no_grad()`, `lr /= 4.0` when the validation loss does not improve, perplexities by `math.exp`, the best model
saved and loaded back, and generation by `torch.multinomial` over `output.squeeze().div(temperature).exp()`.

Differences from the example: the state_dict is saved, not the pickled module (loading that needs the module's
classes as safe globals); `--dropout` is also passed to `nn.Transformer.__init__` (the example leaves nn.Transformer's
own 0.1 there), so that `dropout=0` turns every Dropout off for the step-by-step comparison (the engines draw different
random masks); the generator also runs greedily (argmax in place of the draw) from a fixed word, since the two engines'
random streams differ, so their multinomial draws do too."""

import argparse
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

###############################################################################
# Data (data.py): the corpus is a text of our own, one sentence a line
###############################################################################

TEXT = """\
the miller wakes before the sun and walks down to the river
the river turns the wheel and the wheel turns the stone
the stone grinds the grain and the grain becomes white flour
the miller carries the flour up the hill to the village
the baker in the village buys the flour from the miller
the baker makes bread in the morning and sells it at noon
the children of the village run to the baker for warm bread
the old dog of the miller sleeps by the door of the mill
in the evening the miller walks back down the hill to the river
the river is cold and the night is long
the miller sleeps and the wheel turns in the dark
in the spring the river is high and the wheel turns fast
in the summer the river is low and the wheel turns slow
the farmer brings the grain to the mill in a small cart
the miller gives the farmer flour and the farmer gives the miller bread
the children watch the wheel from the bridge over the river
the old dog runs after the cart of the farmer
the baker sells warm bread to the farmer and the children
the stone of the mill is old and the miller is old
the wheel of the mill is new and the river is old
in the winter the river is white and the wheel does not turn
the miller sits by the fire and the old dog sleeps by the door
the baker makes small bread for the children of the village
the farmer walks up the hill with the cart and the grain
the sun is high over the village and the children run to the river
the miller and the baker sit by the river in the evening
the river turns the wheel and the miller grinds the grain
the farmer sells the grain and the baker buys the flour
the old dog walks with the children to the bridge
in the morning the village wakes and the wheel turns
the baker walks down the hill to the mill for flour
the children sleep and the night over the village is long
the cart of the farmer is small and the grain is white
in the summer the children sit on the bridge over the river
the miller walks up the hill with the flour in the morning
the wheel turns slow in the dark and the stone grinds the grain
"""


class Dictionary(object):
    def __init__(self):
        self.word2idx = {}
        self.idx2word = []

    def add_word(self, word):
        if word not in self.word2idx:
            self.idx2word.append(word)
            self.word2idx[word] = len(self.idx2word) - 1
        return self.word2idx[word]

    def __len__(self):
        return len(self.idx2word)


class Corpus(object):
    def __init__(self, text):
        self.dictionary = Dictionary()
        lines = text.splitlines()
        self.train = self.tokenize(lines[:16])
        self.valid = self.tokenize(lines[16:26])
        self.test = self.tokenize(lines[26:])

    def tokenize(self, lines):
        """Tokenizes lines of text."""
        # Add words to the dictionary
        for line in lines:
            words = line.split() + ['<eos>']
            for word in words:
                self.dictionary.add_word(word)

        # Tokenize the content
        idss = []
        for line in lines:
            words = line.split() + ['<eos>']
            ids = []
            for word in words:
                ids.append(self.dictionary.word2idx[word])
            idss.append(torch.tensor(ids).type(torch.int64))
        ids = torch.cat(idss)

        return ids


###############################################################################
# Models (model.py)
###############################################################################

class RNNModel(nn.Module):
    """Container module with an encoder, a recurrent module, and a decoder."""

    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False):
        super(RNNModel, self).__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        if rnn_type in ['LSTM', 'GRU']:
            self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        else:
            try:
                nonlinearity = {'RNN_TANH': 'tanh', 'RNN_RELU': 'relu'}[rnn_type]
            except KeyError as e:
                raise ValueError("An invalid option for `--model` was supplied, "
                                 "options are ['LSTM', 'GRU', 'RNN_TANH' or 'RNN_RELU']") from e
            self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)

        # Optionally tie the decoder's weight to the embedding (Press & Wolf 2016, Inan et al. 2016)
        if tie_weights:
            if nhid != ninp:
                raise ValueError('When using the tied flag, nhid must be equal to emsize')
            self.decoder.weight = self.encoder.weight

        self.init_weights()

        self.rnn_type = rnn_type
        self.nhid = nhid
        self.nlayers = nlayers

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output)
        decoded = decoded.view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        if self.rnn_type == 'LSTM':
            return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                    weight.new_zeros(self.nlayers, bsz, self.nhid))
        else:
            return weight.new_zeros(self.nlayers, bsz, self.nhid)


class PositionalEncoding(nn.Module):
    r"""Adds sines and cosines of the position, of geometrically spaced frequencies, to the embeddings:
    PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d_model)).
    Input and output are [sequence length, batch size, embed dim]."""

    def __init__(self, d_model, dropout=0.1, max_len=5000):
        super(PositionalEncoding, self).__init__()
        self.dropout = nn.Dropout(p=dropout)

        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        pe = pe.unsqueeze(0).transpose(0, 1)
        self.register_buffer('pe', pe)

    def forward(self, x):
        x = x + self.pe[:x.size(0), :]
        return self.dropout(x)


class TransformerModel(nn.Transformer):
    """Container module with an encoder, a recurrent or transformer module, and a decoder."""

    def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.5):
        super(TransformerModel, self).__init__(d_model=ninp, nhead=nhead, dim_feedforward=nhid,
                                               num_encoder_layers=nlayers, dropout=dropout)
        self.model_type = 'Transformer'
        self.src_mask = None
        self.pos_encoder = PositionalEncoding(ninp, dropout)

        self.input_emb = nn.Embedding(ntoken, ninp)
        self.ninp = ninp
        # nn.Transformer's decoder stack is replaced (it keeps its place among the submodules) by the output layer
        self.decoder = nn.Linear(ninp, ntoken)

        self.init_weights()

    def _generate_square_subsequent_mask(self, sz):
        return torch.log(torch.tril(torch.ones(sz, sz)))

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.input_emb.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, src, has_mask=True):
        if has_mask:
            device = src.device
            if self.src_mask is None or self.src_mask.size(0) != len(src):
                mask = self._generate_square_subsequent_mask(len(src)).to(device)
                self.src_mask = mask
        else:
            self.src_mask = None

        src = self.input_emb(src) * math.sqrt(self.ninp)
        src = self.pos_encoder(src)
        output = self.encoder(src, mask=self.src_mask)
        output = self.decoder(output)
        return F.log_softmax(output, dim=-1)


###############################################################################
# Training and generation (main.py and generate.py)
###############################################################################

def main(init=None, save_init=None, workdir=".", model='LSTM', tied=False, dropout=0.2, argv=()):
    parser = argparse.ArgumentParser(description='PyTorch RNN/LSTM/GRU/Transformer Language Model')
    parser.add_argument('--model', type=str, default='LSTM',
                        help='type of network (RNN_TANH, RNN_RELU, LSTM, GRU, Transformer)')
    parser.add_argument('--emsize', type=int, default=16, help='size of word embeddings')
    parser.add_argument('--nhid', type=int, default=16, help='number of hidden units per layer')
    parser.add_argument('--nlayers', type=int, default=2, help='number of layers')
    # the example's 20 suits Wikitext-2 in batches of 20 x 35 words; on this little text, 5 (its README's Transformer lr)
    parser.add_argument('--lr', type=float, default=5, help='initial learning rate')
    parser.add_argument('--clip', type=float, default=0.25, help='gradient clipping')
    parser.add_argument('--epochs', type=int, default=2, help='upper epoch limit')
    parser.add_argument('--batch_size', type=int, default=4, metavar='N', help='batch size')
    parser.add_argument('--bptt', type=int, default=8, help='sequence length')
    parser.add_argument('--dropout', type=float, default=0.2, help='dropout applied to layers (0 = no dropout)')
    parser.add_argument('--tied', action='store_true', help='tie the word embedding and softmax weights')
    parser.add_argument('--seed', type=int, default=1111, help='random seed')
    parser.add_argument('--log-interval', type=int, default=4, metavar='N', help='report interval')
    parser.add_argument('--save', type=str, default='model.pt', help='path to save the final model')
    parser.add_argument('--nhead', type=int, default=2, help='the number of heads of the transformer model')
    parser.add_argument('--words', type=int, default=12, help='number of words to generate')
    parser.add_argument('--temperature', type=float, default=1.0, help='temperature - higher will increase diversity')
    args = parser.parse_args(['--model', model, '--dropout', str(dropout)] + (['--tied'] if tied else [])
                             + list(argv))

    # Set the random seed manually for reproducibility.
    torch.manual_seed(args.seed)
    device = torch.device("cpu")
    print("Using device:", device)

    corpus = Corpus(TEXT)

    # batchify arranges the sequence into bsz columns, each continued independently by the model:
    # with the alphabet and bsz 4, the columns are a..f, g..l, m..r, s..x.
    def batchify(data, bsz):
        # Work out how cleanly we can divide the dataset into bsz parts.
        nbatch = data.size(0) // bsz
        # Trim off any extra elements that wouldn't cleanly fit (remainders).
        data = data.narrow(0, 0, nbatch * bsz)
        # Evenly divide the data across the bsz batches.
        data = data.view(bsz, -1).t().contiguous()
        return data.to(device)

    eval_batch_size = 2
    train_data = batchify(corpus.train, args.batch_size)
    val_data = batchify(corpus.valid, eval_batch_size)
    test_data = batchify(corpus.test, eval_batch_size)

    ntokens = len(corpus.dictionary)
    if args.model == 'Transformer':
        model = TransformerModel(ntokens, args.emsize, args.nhead, args.nhid, args.nlayers, args.dropout).to(device)
    else:
        model = RNNModel(args.model, ntokens, args.emsize, args.nhid, args.nlayers, args.dropout, args.tied).to(device)
    if init is not None:
        model.load_state_dict(torch.load(init, weights_only=True))
    if save_init is not None:
        torch.save(model.state_dict(), save_init)

    criterion = nn.NLLLoss()

    def repackage_hidden(h):
        """Wraps hidden states in new Tensors, to detach them from their history."""
        if isinstance(h, torch.Tensor):
            return h.detach()
        else:
            return tuple(repackage_hidden(v) for v in h)

    # get_batch cuts the rows of the batchified data into chunks of bptt steps; the targets are the same chunk one
    # step later, flattened to line up with the model's (seq_len * batch, ntokens) output.
    def get_batch(source, i):
        seq_len = min(args.bptt, len(source) - 1 - i)
        data = source[i:i + seq_len]
        target = source[i + 1:i + 1 + seq_len].view(-1)
        return data, target

    def evaluate(data_source):
        # Turn on evaluation mode which disables dropout.
        model.eval()
        total_loss = 0.
        ntokens = len(corpus.dictionary)
        if args.model != 'Transformer':
            hidden = model.init_hidden(eval_batch_size)
        with torch.no_grad():
            for i in range(0, data_source.size(0) - 1, args.bptt):
                data, targets = get_batch(data_source, i)
                if args.model == 'Transformer':
                    output = model(data)
                    output = output.view(-1, ntokens)
                else:
                    output, hidden = model(data, hidden)
                    hidden = repackage_hidden(hidden)
                total_loss += len(data) * criterion(output, targets).item()
        return total_loss / (len(data_source) - 1)

    losses = []

    def train():
        # Turn on training mode which enables dropout.
        model.train()
        total_loss = 0.
        start_time = time.time()
        ntokens = len(corpus.dictionary)
        if args.model != 'Transformer':
            hidden = model.init_hidden(args.batch_size)
        for batch, i in enumerate(range(0, train_data.size(0) - 1, args.bptt)):
            data, targets = get_batch(train_data, i)
            # Starting each batch, we detach the hidden state from how it was previously produced.
            # If we didn't, the model would try backpropagating all the way to start of the dataset.
            model.zero_grad()
            if args.model == 'Transformer':
                output = model(data)
                output = output.view(-1, ntokens)
            else:
                hidden = repackage_hidden(hidden)
                output, hidden = model(data, hidden)
            loss = criterion(output, targets)
            loss.backward()

            # `clip_grad_norm` helps prevent the exploding gradient problem in RNNs / LSTMs.
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)

            total_loss += loss.item()
            losses.append(loss.item())

            if batch % args.log_interval == 0 and batch > 0:
                cur_loss = total_loss / args.log_interval
                elapsed = time.time() - start_time
                print('| epoch {:3d} | {:5d}/{:5d} batches | lr {:02.2f} | ms/batch {:5.2f} | '
                      'loss {:5.2f} | ppl {:8.2f}'.format(
                          epoch, batch, len(train_data) // args.bptt, lr,
                          elapsed * 1000 / args.log_interval, cur_loss, math.exp(cur_loss)))
                total_loss = 0
                start_time = time.time()

    # Loop over epochs.
    lr = args.lr
    best_val_loss = None
    save = os.path.join(workdir, args.save)
    val_losses, lrs = [], []
    for epoch in range(1, args.epochs + 1):
        epoch_start_time = time.time()
        train()
        val_loss = evaluate(val_data)
        val_losses.append(val_loss)
        print('-' * 89)
        print('| end of epoch {:3d} | time: {:5.2f}s | valid loss {:5.2f} | '
              'valid ppl {:8.2f}'.format(epoch, (time.time() - epoch_start_time), val_loss, math.exp(val_loss)))
        print('-' * 89)
        # Save the model if the validation loss is the best we've seen so far.
        if not best_val_loss or val_loss < best_val_loss:
            with open(save, 'wb') as f:
                torch.save(model.state_dict(), f)
            best_val_loss = val_loss
        else:
            # Anneal the learning rate if no improvement has been seen in the validation dataset.
            lr /= 4.0
        lrs.append(lr)

    # Load the best saved model.
    with open(save, 'rb') as f:
        model.load_state_dict(torch.load(f))
        # Only the RNN modules have flatten_parameters (it makes their weights one chunk of memory).
        if args.model in ['RNN_TANH', 'RNN_RELU', 'LSTM', 'GRU']:
            model.rnn.flatten_parameters()

    # Run on test data.
    test_loss = evaluate(test_data)
    print('=' * 89)
    print('| End of training | test loss {:5.2f} | test ppl {:8.2f}'.format(test_loss, math.exp(test_loss)))
    print('=' * 89)

    # Generate words (generate.py): each drawn from the model's distribution, then fed back in.
    model.eval()
    is_transformer_model = hasattr(model, 'model_type') and model.model_type == 'Transformer'

    def generate(input, sample):
        words, first_weights = [], None
        if not is_transformer_model:
            hidden = model.init_hidden(1)
        with torch.no_grad():  # no tracking history
            for i in range(args.words):
                if is_transformer_model:
                    output = model(input, False)
                    word_weights = output[-1].squeeze().div(args.temperature).exp().cpu()
                    word_idx = torch.multinomial(word_weights, 1)[0] if sample else torch.argmax(word_weights)
                    word_tensor = torch.Tensor([[word_idx]]).long().to(device)
                    input = torch.cat([input, word_tensor], 0)
                else:
                    output, hidden = model(input, hidden)
                    word_weights = output.squeeze().div(args.temperature).exp().cpu()
                    word_idx = torch.multinomial(word_weights, 1)[0] if sample else torch.argmax(word_weights)
                    input.fill_(word_idx)
                if first_weights is None:
                    first_weights = word_weights.tolist()
                words.append(corpus.dictionary.idx2word[word_idx])
        print(' '.join(words))
        return [corpus.dictionary.word2idx[w] for w in words], first_weights

    torch.manual_seed(args.seed)
    sampled, _ = generate(torch.randint(ntokens, (1, 1), dtype=torch.long).to(device), sample=True)
    start = torch.tensor([[corpus.dictionary.word2idx['the']]], dtype=torch.long).to(device)
    greedy, first_weights = generate(start, sample=False)

    return {"losses": losses, "val_losses": val_losses, "lrs": lrs, "test_loss": test_loss,
            "test_ppl": math.exp(test_loss), "ntokens": ntokens, "sampled": sampled, "greedy": greedy,
            "first_weights": first_weights, "state_keys": list(model.state_dict()),
            "num_params": sum(p.numel() for p in model.parameters())}
