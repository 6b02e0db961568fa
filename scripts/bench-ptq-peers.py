#!/usr/bin/env python3
"""Peer int8 post-training quantization with onnxruntime's own quantizer, for scripts/bench-ptq-peers.ts.

    /work/v/bin/python scripts/bench-ptq-peers.py MODEL CALIB_DIR OUT [--activation uint8|int8]

What a user following onnxruntime's documentation would do: quant_pre_process (symbolic shape inference,
onnxruntime graph optimisation, ONNX shape inference), then quantize_static with QuantFormat.QDQ, per-channel
weights, MinMax calibration over CALIB_DIR (ONNX test-data layout: test_data_set_N/input_K.pb), the types
onnxruntime recommends for CPU (activations QUInt8, weights QInt8; --activation int8 for S8S8). The written
model is loaded with an InferenceSession to check onnxruntime accepts it. When it does not and the model's
opset is below 13 (per-channel QDQ needs DequantizeLinear's `axis`, opset 13), the next thing a user would try
is also run: onnx.version_converter to opset 13, then the same pipeline, written to OUT with `.opset13.onnx`.
When quantize_static quantized no weight because the model keeps them in Constant nodes (paddle2onnx), the
Constants are lifted into initializers (and the opset raised to 13 if lower) and the pipeline re-run, written to
OUT with `.lifted.onnx`.

Prints one JSON line: {"ok": bool, "variants": [{name, path, preprocess, quantize, loads, ...}, ...]}.
Dev-time only (not part of the test suite).
"""
import argparse
import json
import os
import sys
import tempfile
import time
import traceback

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper, version_converter
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                      quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process


def one_line(error):
    """An exception's type and message on one line; a long message keeps its head and its tail (where
    onnxruntime puts the reason, e.g. `Error Unrecognized attribute: axis for operator DequantizeLinear`)."""
    text = ' '.join(str(error).split())
    if len(text) > 1500:
        text = f'{text[:600]} … {text[-700:]}'
    return f'{type(error).__name__}: {text}'


def dataset_sets(calib_dir):
    """test_data_set_N directories in numeric order."""
    names = [n for n in os.listdir(calib_dir) if n.startswith('test_data_set_')]
    return [os.path.join(calib_dir, n) for n in sorted(names, key=lambda n: int(n.rsplit('_', 1)[1]))]


class PbDataReader(CalibrationDataReader):
    """Feeds each set's input_K.pb to the model's K-th graph input (by order, not by the stored tensor name)."""

    def __init__(self, calib_dir, input_names):
        self.feeds = []
        for set_dir in dataset_sets(calib_dir):
            feed = {}
            for k, name in enumerate(input_names):
                path = os.path.join(set_dir, f'input_{k}.pb')
                feed[name] = numpy_helper.to_array(onnx.load_tensor(path))
            self.feeds.append(feed)
        self.iterator = iter(self.feeds)

    def get_next(self):
        return next(self.iterator, None)

    def rewind(self):
        self.iterator = iter(self.feeds)


def graph_input_names(model_path):
    """Graph inputs that are not initializers, in order (what a dataset feeds)."""
    model = onnx.load(model_path, load_external_data=False)
    inits = {i.name for i in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in inits]


def default_opset(model):
    for o in model.opset_import:
        if o.domain in ('', 'ai.onnx'):
            return o.version
    return 0


def quantized_weights(path):
    """DequantizeLinear nodes whose input is an int8/uint8 initializer: the weights the quantizer quantized."""
    model = onnx.load(path, load_external_data=False)
    inits = {i.name: i.data_type for i in model.graph.initializer}
    int8_types = (onnx.TensorProto.INT8, onnx.TensorProto.UINT8)
    return sum(1 for n in model.graph.node if n.op_type == 'DequantizeLinear' and inits.get(n.input[0]) in int8_types)


def constant_tensor_nodes(model):
    return [n for n in model.graph.node if n.op_type == 'Constant' and len(n.attribute) == 1 and n.attribute[0].name == 'value']


def lift_constants(model):
    """Move `Constant(value=tensor)` nodes into initializers (paddle2onnx keeps its weights in Constant nodes,
    which quantize_static does not treat as weights)."""
    for node in constant_tensor_nodes(model):
        tensor = onnx.TensorProto()
        tensor.CopyFrom(node.attribute[0].t)
        tensor.name = node.output[0]
        model.graph.initializer.append(tensor)
        model.graph.node.remove(node)
    return model


def try_load(path):
    """(True, None) when onnxruntime builds a CPU session from `path`, else (False, message)."""
    try:
        ort.InferenceSession(path, providers=['CPUExecutionProvider'])
        return True, None
    except Exception as error:  # noqa: BLE001 - any refusal is the result being measured
        return False, one_line(error)


def quantize_variant(name, model_path, calib_dir, out, activation, workdir):
    """quant_pre_process (falling back to the raw model) + quantize_static; then check that the output loads."""
    report = {'name': name, 'path': out, 'preprocess': None, 'quantize': None, 'loads': False, 'loadError': None}
    started = time.perf_counter()
    source = model_path
    pre_path = os.path.join(workdir, f'{name}.pre.onnx')
    try:
        quant_pre_process(model_path, pre_path, skip_symbolic_shape=False)
        source = pre_path
        report['preprocess'] = 'ok'
    except Exception as error:  # noqa: BLE001
        report['preprocess'] = f'failed, quantizing the raw model: {one_line(error)}'
    try:
        reader = PbDataReader(calib_dir, graph_input_names(source))
        quantize_static(
            source,
            out,
            reader,
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            calibrate_method=CalibrationMethod.MinMax,
            activation_type=QuantType.QInt8 if activation == 'int8' else QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        report['quantize'] = 'ok'
    except Exception as error:  # noqa: BLE001
        report['quantize'] = one_line(error)
        report['traceback'] = traceback.format_exc(limit=3)[-1500:]
    report['seconds'] = round(time.perf_counter() - started, 2)
    if report['quantize'] == 'ok':
        report['loads'], report['loadError'] = try_load(out)
        report['bytes'] = os.path.getsize(out)
        report['weightsQuantized'] = quantized_weights(out)
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('model')
    parser.add_argument('calib_dir')
    parser.add_argument('out')
    parser.add_argument('--activation', choices=['uint8', 'int8'], default='uint8')
    args = parser.parse_args()

    result = {'model': args.model, 'activation': args.activation, 'onnxruntime': ort.__version__, 'variants': []}
    with tempfile.TemporaryDirectory(prefix='ptq-peers-') as workdir:
        opset = default_opset(onnx.load(args.model, load_external_data=False))
        result['opset'] = opset
        first = quantize_variant('ort', args.model, args.calib_dir, args.out, args.activation, workdir)
        result['variants'].append(first)
        if not first['loads'] and opset < 13:
            upgraded = {'name': 'ort-opset13', 'path': None, 'converted': None, 'loads': False}
            out13 = args.out[:-5] + '.opset13.onnx' if args.out.endswith('.onnx') else args.out + '.opset13.onnx'
            model13_path = os.path.join(workdir, 'opset13.onnx')
            try:
                model13 = version_converter.convert_version(onnx.load(args.model), 13)
                onnx.save(model13, model13_path)
                upgraded['converted'] = 'ok'
            except Exception as error:  # noqa: BLE001
                upgraded['converted'] = one_line(error)
            if upgraded['converted'] == 'ok':
                upgraded = {**quantize_variant('ort-opset13', model13_path, args.calib_dir, out13, args.activation, workdir),
                            'converted': 'ok'}
            result['variants'].append(upgraded)
        # Weights kept in Constant nodes are not quantized at all (only activations get Q/DQ pairs): the next thing
        # a user would try is lifting them into initializers (and, below opset 13, upgrading for per-channel).
        raw = onnx.load(args.model)
        if first.get('weightsQuantized') == 0 and constant_tensor_nodes(raw):
            lifted = {'name': 'ort-lifted', 'path': None, 'converted': None, 'loads': False}
            out_lifted = args.out[:-5] + '.lifted.onnx' if args.out.endswith('.onnx') else args.out + '.lifted.onnx'
            lifted_path = os.path.join(workdir, 'lifted.onnx')
            try:
                model = lift_constants(raw)
                if opset < 13:
                    model = version_converter.convert_version(model, 13)
                onnx.save(model, lifted_path)
                lifted['converted'] = 'ok'
            except Exception as error:  # noqa: BLE001
                lifted['converted'] = one_line(error)
            if lifted['converted'] == 'ok':
                lifted = {**quantize_variant('ort-lifted', lifted_path, args.calib_dir, out_lifted, args.activation, workdir),
                          'converted': 'ok'}
            result['variants'].append(lifted)
    result['ok'] = any(v['loads'] for v in result['variants'])
    print(json.dumps(result), flush=True)


if __name__ == '__main__':
    sys.exit(main())
