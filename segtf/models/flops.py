"""Counting FLOPs of a model's forward pass with TensorFlow's graph profiler.

A multiply-add counts as 2 FLOPs (the profiler's convention). Depthwise convolutions are
counted at their true (small) cost, so a FLOP/s figure built on this is honest about them.
"""

from __future__ import annotations

import keras


def count_flops(model: keras.Model, height: int = 512, width: int = 512, batch: int = 1) -> dict:
    """Returns {"total": FLOPs, "by_op": {op type: FLOPs}} for one forward pass."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )
    from tensorflow.python.profiler import model_analyzer, option_builder

    spec = tf.TensorSpec((batch, height, width, 3), tf.float32)
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    frozen = convert_variables_to_constants_v2(concrete)
    options = (
        option_builder.ProfileOptionBuilder(option_builder.ProfileOptionBuilder.float_operation())
        .with_empty_output()
        .build()
    )
    info = model_analyzer.profile(frozen.graph, options=options)
    op_options = (
        option_builder.ProfileOptionBuilder(option_builder.ProfileOptionBuilder.float_operation())
        .with_empty_output()
        .select(["float_ops"])
        .order_by("float_ops")
        .build()
    )
    by_type = model_analyzer.profile(frozen.graph, cmd="op", options=op_options)
    by_op = {
        child.name: child.total_float_ops for child in by_type.children if child.total_float_ops
    }
    # The profiler has no FLOP statistic for depthwise convs: count them from their shapes.
    depthwise = sum(
        _depthwise_flops(op)
        for op in frozen.graph.get_operations()
        if op.type == "DepthwiseConv2dNative"
    )
    if depthwise:
        by_op["DepthwiseConv2dNative"] = depthwise
    return {"total": info.total_float_ops + depthwise, "by_op": by_op}


def _depthwise_flops(op) -> int:
    kh, kw, _, _ = op.inputs[1].shape.as_list()
    return 2 * kh * kw * int(op.outputs[0].shape.num_elements())
