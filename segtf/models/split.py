"""A segtf model as `[resize to working side] -> network -> resize logits to the input size`.

Runtimes that do the two resizes themselves (LiteRT, the SavedModel's signatures, which resize
the uint8 photo without first making a float32 copy of all its pixels) run the middle part.
"""

from __future__ import annotations


class NotSplittable(ValueError):
    """The network reads the full-size input, so the resizes cannot move outside it."""


def _first_resize(model):
    from segtf.models.layers import ResizeToSide

    return next((layer for layer in model.layers if isinstance(layer, ResizeToSide)), None)


def working_resize(model) -> tuple[int, bool]:
    """`(side, square)` of the model's working-size resize; `(0, False)` when it has none."""
    first = _first_resize(model)
    return (first.side, first.square) if first is not None else (0, False)


def network_ends(model):
    """`(start, end)`: the model's tensors where its network begins (the first `ResizeToSide`'s
    output, or the input) and ends (the final `ResizeLike`'s input, or the output)."""
    from segtf.models.layers import ResizeLike

    output = model.outputs[0] if len(model.outputs) == 1 else model.output["logits"]
    last = next(layer for layer in model.layers if layer.output is output)
    first = _first_resize(model)
    start = first.output if first is not None else model.inputs[0]
    end = last.input[0] if isinstance(last, ResizeLike) else output
    return start, end


def split_model(model):
    """`(network, working_side)`: the Keras model between the first `ResizeToSide` (or the
    input) and the final `ResizeLike` (or the output), sharing the model's weights, and the
    side the input is resized to before it (0: none)."""
    import keras

    start, end = network_ends(model)
    try:
        network = keras.Model(start, end, name=f"{model.name}_network")
    except ValueError as err:
        raise NotSplittable(
            f"model {model.name!r}: its network reads the full-size input"
        ) from err
    return network, working_resize(model)[0]
