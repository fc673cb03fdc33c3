"""Weights of MediaPipe's selfie segmentation model (Apache-2.0), read from its `.tflite` file.

The file is a FlatBuffer of float16 constants: it is parsed with LiteRT's schema (no pickle,
no code runs), its sha256 checked, and each kernel op's weights and bias (in the file's op
order) go to the conv of the same order in `segtf.models.selfie` (named `selfie_kN`). Nothing
is downloaded; the file comes from the user (e.g. `../shared/peers/selfie_segmentation.tflite`).
"""

from __future__ import annotations

import pathlib

import keras
import numpy as np

from segtf.models.pretrained.torch_legacy import sha256_of

SELFIE_SHA256 = "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c"
SOURCE = ("selfie_segmentation.tflite from google-ai-edge/mediapipe "
          "(mediapipe/modules/selfie_segmentation), Apache-2.0")
KERNEL_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "Convolution2DTransposeBias")


def _schema():
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError as err:
        raise ImportError('reading a .tflite file needs LiteRT: pip install "segtf[litert]"') from err
    return schema_py_generated


def _op_name(schema, model, op) -> str:
    code = model.OperatorCodes(op.OpcodeIndex())
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    if builtin == schema.BuiltinOperator.CUSTOM:
        return code.CustomCode().decode()
    return next(k for k, v in vars(schema.BuiltinOperator).items() if v == builtin)


def _constant(model, graph, index: int, dequantized: dict) -> np.ndarray:
    """A constant tensor as float32 (following a DEQUANTIZE back to its float16 data)."""
    index = dequantized.get(index, index)
    tensor = graph.Tensors(index)
    data = model.Buffers(tensor.Buffer()).DataAsNumpy()
    dtype = {1: np.float16, 0: np.float32}[tensor.Type()]  # TensorType FLOAT16 / FLOAT32
    return np.frombuffer(data.tobytes(), dtype).reshape(tensor.ShapeAsNumpy()).astype(np.float32)


def read_selfie_kernels(path: str | pathlib.Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """`[(op, weights, bias), ...]` of the file's kernel ops, in order (TFLite layouts)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (the selfie model's .tflite)")
    digest = sha256_of(str(path))
    if digest != SELFIE_SHA256:
        raise ValueError(f"{path}: sha256 {digest[:16]}... is not that of MediaPipe's "
                         f"selfie_segmentation.tflite ({SELFIE_SHA256[:16]}...); pass that file")
    schema = _schema()
    model = schema.Model.GetRootAsModel(path.read_bytes(), 0)
    graph = model.Subgraphs(0)
    ops = [graph.Operators(i) for i in range(graph.OperatorsLength())]
    dequantized = {op.Outputs(0): op.Inputs(0) for op in ops
                   if _op_name(schema, model, op) == "DEQUANTIZE"}
    kernels = []
    for op in ops:
        name = _op_name(schema, model, op)
        if name in KERNEL_OPS:
            kernels.append((name, _constant(model, graph, op.Inputs(1), dequantized),
                            _constant(model, graph, op.Inputs(2), dequantized)))
    return kernels


def _keras_kernel(op: str, weights: np.ndarray) -> np.ndarray:
    if op == "CONV_2D":  # (out, kh, kw, in) -> (kh, kw, in, out)
        return weights.transpose(1, 2, 3, 0)
    if op == "DEPTHWISE_CONV_2D":  # (1, kh, kw, C) -> (kh, kw, C, 1)
        return weights.transpose(1, 2, 3, 0)
    return weights.transpose(1, 2, 0, 3)  # transposed conv (out, kh, kw, in) -> (kh, kw, out, in)


def load_selfie_weights(model: keras.Model, path: str | pathlib.Path) -> int:
    """Sets every `selfie_kN` conv of `model` from the file; returns how many were set."""
    kernels = read_selfie_kernels(path)
    convs = sorted((layer for layer in model.layers if layer.name.startswith("selfie_k")),
                   key=lambda layer: int(layer.name[len("selfie_k"):]))
    if len(convs) != len(kernels):
        raise ValueError(f"{path}: {len(kernels)} kernel ops, but the model has {len(convs)} "
                         "convs; it is not the selfie architecture")
    for layer, (op, weights, bias) in zip(convs, kernels, strict=True):
        kernel = _keras_kernel(op, weights)
        if tuple(layer.kernel.shape) != kernel.shape:
            raise ValueError(f"{path}: {op} weights {kernel.shape} do not fit {layer.name} "
                             f"{tuple(layer.kernel.shape)}")
        layer.set_weights([kernel, bias])
    return len(convs)
