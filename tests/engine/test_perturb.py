import pytest
import torch

from uqcore.errors import InputError
from uqcore.engine.perturb import (
    DIHEDRAL,
    apply_transform,
    check_transforms,
    default_transforms,
    invert_transform,
    sample_seed,
)


@pytest.mark.parametrize("name", list(DIHEDRAL))
@pytest.mark.parametrize("shape", [(1, 3, 5, 7), (2, 1, 4, 4), (3, 6)])
def test_inverse_is_exact(name, shape):
    x = torch.rand(shape)
    assert torch.equal(invert_transform(apply_transform(x, name), name), x)


def test_transforms_are_the_eight_distinct_dihedral_maps():
    x = torch.arange(12.0).reshape(1, 1, 3, 4)
    images = {tuple(apply_transform(x, n).flatten().tolist()) + tuple(apply_transform(x, n).shape) for n in DIHEDRAL}
    assert len(images) == 8


def test_flip_is_horizontal():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert apply_transform(x, "flip").tolist() == [[2.0, 1.0], [4.0, 3.0]]
    assert apply_transform(x, "rot90").tolist() == [[2.0, 4.0], [1.0, 3.0]]  # counter-clockwise


def test_depth_uses_only_flip():
    assert default_transforms("depth") == ("identity", "flip")
    assert len(default_transforms("sr")) == 8


def test_unknown_transform_is_refused():
    with pytest.raises(InputError, match="unknown transforms"):
        check_transforms(["identity", "rot45"])


def test_sample_seeds_are_distinct_and_stable():
    seeds = {sample_seed(0, i) for i in range(1000)} | {sample_seed(1, i) for i in range(1000)}
    assert len(seeds) == 2000
    assert sample_seed(7, 3) == sample_seed(7, 3)
