import pytest
import torch

import uqcore
from uqcore.errors import InputError
from uqcore.engine.hooks import hook_count
from uqcore.engine.layers import resolve_layer


def test_layers_in_forward_order_with_shapes(tiny_sr):
    layers = uqcore.list_layers(tiny_sr)
    names = [layer.name for layer in layers]
    assert names[:3] == ["head", "body", "body.0"]
    assert names.index("body.2") < names.index("drop") < names.index("tail")
    by_name = {layer.name: layer for layer in layers}
    assert by_name["head"].shape == (1, 8, 32, 32)
    assert by_name["tail"].shape == (1, 3, 64, 64)
    assert by_name["head"].kind == "Conv2d" and by_name["head"].parameter_count == 8 * 3 * 9 + 8
    assert hook_count(tiny_sr.module) == 0


def test_layers_for_a_given_input(tiny_sr):
    layers = uqcore.list_layers(tiny_sr, torch.rand(1, 3, 10, 6))
    assert {layer.name: layer.shape for layer in layers}["tail"] == (1, 3, 20, 12)


def test_unknown_layer_lists_valid_names(tiny_sr):
    with pytest.raises(InputError) as info:
        resolve_layer(tiny_sr.module, "body.7")
    message = str(info.value)
    assert "body.7" in message and "head" in message and "Did you mean" in message


def test_list_layers_on_a_model_whose_forward_raises_is_a_clear_error():
    class Broken(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 3, 1)

        def forward(self, x):
            return self.conv(x).view(-1, 7)  # fails for most sizes

    model = uqcore.wrap(Broken(), task="image")
    with pytest.raises(uqcore.InputError, match="forward pass failed"):
        uqcore.list_layers(model)
    assert hook_count(model.module) == 0
