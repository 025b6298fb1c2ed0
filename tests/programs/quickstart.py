"""PyTorch's "Quickstart" tutorial (FashionMNIST), on synthetic images: a DataLoader over a TensorDataset, a model of
nn.Flatten and nn.Sequential, CrossEntropyLoss and SGD, the tutorial's train and test loops with their prints, and
`torch.save` / `torch.load(weights_only=True)` of the state dict."""

import os

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"


def synthetic_images(n, seed):
    rng = np.random.default_rng(seed)
    images = rng.random((n, 1, 8, 8), dtype=np.float32)
    labels = (images[:, 0, :4].mean(axis=(1, 2)) * 20).astype(np.int64) % 10
    return TensorDataset(torch.from_numpy(images), torch.from_numpy(labels))


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(8 * 8, 32),
            nn.ReLU(),
            nn.Linear(32, 32),
            nn.ReLU(),
            nn.Linear(32, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


def train(dataloader, model, loss_fn, optimizer, losses):
    size = len(dataloader.dataset)
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        if batch % 4 == 0:
            loss, current = loss.item(), (batch + 1) * len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")


def test(dataloader, model, loss_fn):
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            X, y = X.to(device), y.to(device)
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    test_loss /= num_batches
    correct /= size
    print(f"Test Error: \n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")
    return correct, test_loss


def main(init=None, save_init=None, workdir="."):
    train_dataloader = DataLoader(synthetic_images(256, 0), batch_size=32)
    test_dataloader = DataLoader(synthetic_images(128, 1), batch_size=32)
    for X, y in test_dataloader:
        print(f"Shape of X [N, C, H, W]: {X.shape}")
        print(f"Shape of y: {y.shape} {y.dtype}")
        break
    model = NeuralNetwork().to(device)
    if init is not None:
        model.load_state_dict(torch.load(init, weights_only=True))
    if save_init is not None:
        torch.save(model.state_dict(), save_init)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-1)
    losses, results = [], []
    for t in range(3):
        print(f"Epoch {t+1}\n-------------------------------")
        train(train_dataloader, model, loss_fn, optimizer, losses)
        results.append(test(test_dataloader, model, loss_fn))
    path = os.path.join(workdir, "model.pth")
    torch.save(model.state_dict(), path)
    model = NeuralNetwork().to(device)
    model.load_state_dict(torch.load(path, weights_only=True))
    model.eval()
    x, y = synthetic_images(4, 2)[0]
    with torch.no_grad():
        x = x.to(device)
        pred = model(x)
        predicted = pred[0].argmax(0).item()
    return {"losses": losses, "test": results, "predicted": predicted, "y": int(y)}
