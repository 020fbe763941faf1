import threading

import torch
from torch import nn

from uqcore.engine.hooks import forward_hooks, hook_count


def test_hooks_removed_after_success_and_exception():
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    with forward_hooks(post={net[0]: lambda m, i, o: o * 0}):
        assert hook_count(net) == 1
        assert torch.equal(net(torch.ones(1, 2)), torch.zeros(1, 2))
    assert hook_count(net) == 0
    try:
        with forward_hooks(post={net[0]: lambda m, i, o: o}, pre={net[1]: lambda m, i: None}):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert hook_count(net) == 0


def test_hook_only_acts_in_the_registering_thread():
    net = nn.Linear(2, 2)
    x = torch.ones(1, 2)
    clean = net(x)
    inside = threading.Event()
    release = threading.Event()
    seen = {}

    def perturbing():
        with forward_hooks(post={net: lambda m, i, o: o + 100}):
            seen["own"] = net(x)
            inside.set()
            release.wait(5)

    def other():
        inside.wait(5)
        seen["other"] = net(x)  # runs while the first thread's hook is registered
        release.set()

    threads = [threading.Thread(target=perturbing), threading.Thread(target=other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert torch.equal(seen["own"], clean + 100)
    assert torch.equal(seen["other"], clean)
    assert hook_count(net) == 0
